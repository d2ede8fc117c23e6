// pgtune.cpp - PostgreSQL settings from facts, a transcription of PGTune's selectors
// (le0pard/pgtune at k_pgtune_commit, src/features/configuration/configurationSlice.js) into
// integer arithmetic. Every size is in kB, as in PGTune. PGTune works in JavaScript doubles and
// floors; all its operands here are non-negative integers, so floor(a / b) is a / b, and
// floor(floor(a / b) / n) == a / (b * n) for the work_mem divisors. OS is Linux and the database
// size "mid_ram" (PGTune's defaults), so the Windows/macOS caps and the db-size work_mem factors
// never apply. The grid test (tests/config/test_config_pgtune.cpp) holds this file to a separate
// Python transcription (tools/pgtune_ref.py).
#include <config/config.h>

#include <string>

namespace sigmaops::config {

namespace {

constexpr std::uint64_t k_kb_per_mb = 1024;
constexpr std::uint64_t k_kb_per_gb = 1024 * 1024;

std::string source(std::string_view selector, std::string_view file = "src/features/configuration/configurationSlice.js") {
    return std::string(k_pgtune_repo) + "@" + std::string(k_pgtune_commit.substr(0, 7)) + " " + std::string(file) + " " +
           std::string(selector);
}

// Rules keyed by type, in PGTune's order web, oltp, dw, desktop, mixed.
template <typename T>
T by_type(DbType t, T web, T oltp, T dw, T desktop, T mixed) {
    switch (t) {
    case DbType::Web: return web;
    case DbType::Oltp: return oltp;
    case DbType::Dw: return dw;
    case DbType::Desktop: return desktop;
    case DbType::Mixed: return mixed;
    }
    return web;
}

} // namespace

std::string_view db_type_name(DbType t) { return by_type<std::string_view>(t, "web", "oltp", "dw", "desktop", "mixed"); }

std::string_view disk_name(Disk d) { return d == Disk::Ssd ? "ssd" : d == Disk::Hdd ? "hdd" : "san"; }

std::optional<DbType> parse_db_type(std::string_view s) {
    for (DbType t : {DbType::Web, DbType::Oltp, DbType::Dw, DbType::Desktop, DbType::Mixed})
        if (db_type_name(t) == s) return t;
    return std::nullopt;
}

std::optional<Disk> parse_disk(std::string_view s) {
    for (Disk d : {Disk::Ssd, Disk::Hdd, Disk::San})
        if (disk_name(d) == s) return d;
    return std::nullopt;
}

// selectMaxConnections
int pgtune_default_connections(DbType t) { return by_type(t, 200, 300, 40, 20, 100); }

// formatValue (configurationView/index.jsx): GB when divisible, else MB when divisible, else kB.
std::string pgtune_format_kb(std::uint64_t kb) {
    if (kb % k_kb_per_gb == 0) return std::to_string(kb / k_kb_per_gb) + "GB";
    if (kb % k_kb_per_mb == 0) return std::to_string(kb / k_kb_per_mb) + "MB";
    return std::to_string(kb) + "kB";
}

Expected<PgTuneResult> pgtune(const PgFacts& f) {
    // validation.js: DB_VERSIONS 10..18; totalMemory >= 512 MB, <= 999999 units (TB at most);
    // cpuNum 1..999999 or empty; connectionNum 20..999999 or empty.
    constexpr std::uint64_t k_max_numeric = 999999;
    if (f.version < 10 || f.version > 18)
        return unexpected(ErrorCode::InvalidArgument, "version must be a PostgreSQL major version from 10 to 18");
    if (f.ram_kb < 512 * k_kb_per_mb || f.ram_kb > k_max_numeric * 1024 * k_kb_per_gb)
        return unexpected(ErrorCode::InvalidArgument, "ram must be at least 512MB and at most 999999TB");
    if (f.cpus < 0 || static_cast<std::uint64_t>(f.cpus) > k_max_numeric)
        return unexpected(ErrorCode::InvalidArgument, "cpus must be from 1 to 999999 (or left out)");
    if (f.connections != 0 && (f.connections < 20 || static_cast<std::uint64_t>(f.connections) > k_max_numeric))
        return unexpected(ErrorCode::InvalidArgument, "connections must be from 20 to 999999 (or left out for the type's default)");

    const std::uint64_t ram = f.ram_kb;
    const DbType t = f.type;
    PgTuneResult r;
    auto add = [&](std::string name, std::string value, std::string_view selector) {
        r.settings.push_back({std::move(name), std::move(value), source(selector)});
    };

    // selectMaxConnections
    const std::uint64_t connections = f.connections ? f.connections : pgtune_default_connections(t);
    // selectSharedBuffers: RAM/4, desktop RAM/16 (the Windows 512MB cap is for PG < 10 only).
    const std::uint64_t shared_buffers = by_type(t, ram / 4, ram / 4, ram / 4, ram / 16, ram / 4);
    // selectEffectiveCacheSize: 3/4 of RAM, desktop 1/4.
    const std::uint64_t effective_cache = by_type(t, ram * 3 / 4, ram * 3 / 4, ram * 3 / 4, ram / 4, ram * 3 / 4);
    // selectMaintenanceWorkMem: RAM/16, dw RAM/8, capped at 8GB (Linux).
    std::uint64_t maintenance = by_type(t, ram / 16, ram / 16, ram / 8, ram / 16, ram / 16);
    if (maintenance >= 8 * k_kb_per_gb) maintenance = 8 * k_kb_per_gb;
    // selectWalBuffers: 3% of shared_buffers, at most 16MB, 16MB when above 14MB, at least 32kB.
    std::uint64_t wal_buffers = 3 * shared_buffers / 100;
    if (wal_buffers > 16 * k_kb_per_mb) wal_buffers = 16 * k_kb_per_mb;
    if (wal_buffers > 14 * k_kb_per_mb && wal_buffers < 16 * k_kb_per_mb) wal_buffers = 16 * k_kb_per_mb;
    if (wal_buffers < 32) wal_buffers = 32;
    // selectParallelSettings: only with 4 CPUs or more.
    const std::uint64_t cpus = static_cast<std::uint64_t>(f.cpus);
    const bool parallel = cpus >= 4;
    std::uint64_t workers_per_gather = (cpus + 1) / 2;
    if (t != DbType::Dw && workers_per_gather > 4) workers_per_gather = 4;
    std::uint64_t maintenance_workers = (cpus + 1) / 2;
    if (maintenance_workers > 4) maintenance_workers = 4;
    // selectWorkMem: (RAM - shared_buffers) / ((max_connections + max_worker_processes) * 3),
    // max_worker_processes being the CPU count when parallel settings are printed, else
    // PostgreSQL's default 8; then /2 for dw and mixed, /6 for desktop; at least 4MB.
    const std::uint64_t worker_processes = parallel ? cpus : 8;
    const std::uint64_t divisor = (connections + worker_processes) * 3;
    std::uint64_t work_mem = (ram - shared_buffers) / (divisor * by_type<std::uint64_t>(t, 1, 1, 2, 6, 2));
    if (work_mem < 4 * k_kb_per_mb) work_mem = 4 * k_kb_per_mb;

    add("max_connections", std::to_string(connections), "selectMaxConnections");
    add("shared_buffers", pgtune_format_kb(shared_buffers), "selectSharedBuffers");
    add("effective_cache_size", pgtune_format_kb(effective_cache), "selectEffectiveCacheSize");
    add("maintenance_work_mem", pgtune_format_kb(maintenance), "selectMaintenanceWorkMem");
    add("checkpoint_completion_target", "0.9", "selectCheckpointCompletionTarget");
    add("wal_buffers", pgtune_format_kb(wal_buffers), "selectWalBuffers");
    add("default_statistics_target", t == DbType::Dw ? "500" : "100", "selectDefaultStatisticsTarget");
    // selectRandomPageCost (db size mid_ram): hdd 4; dw on other storage 4 (PGTune warns); else 1.1.
    add("random_page_cost", f.disk == Disk::Hdd || t == DbType::Dw ? "4" : "1.1", "selectRandomPageCost");
    // selectEffectiveIoConcurrency (Linux): hdd 2, ssd 200, san 300.
    add("effective_io_concurrency", f.disk == Disk::Hdd ? "2" : f.disk == Disk::Ssd ? "200" : "300",
        "selectEffectiveIoConcurrency");
    add("work_mem", pgtune_format_kb(work_mem), "selectWorkMem");
    // selectHugePages (Linux): try when shared_buffers >= 2GB.
    add("huge_pages", shared_buffers >= 2 * k_kb_per_gb ? "try" : "off", "selectHugePages");
    // selectJit: off for web, oltp and mixed from PG 12; PostgreSQL's default otherwise.
    if (f.version >= 12 && (t == DbType::Web || t == DbType::Oltp || t == DbType::Mixed)) add("jit", "off", "selectJit");
    // selectWalCompression: lz4 from PG 15, on for 10..14.
    add("wal_compression", f.version >= 15 ? "lz4" : "on", "selectWalCompression");
    // selectAutovacuumMaxWorkers: 5 from 32 CPUs, 4 from 16; PostgreSQL's default 3 otherwise.
    if (cpus >= 32) add("autovacuum_max_workers", "5", "selectAutovacuumMaxWorkers");
    else if (cpus >= 16) add("autovacuum_max_workers", "4", "selectAutovacuumMaxWorkers");
    // selectAutovacuumWorkMem: 2GB once maintenance_work_mem reaches 2GB.
    if (maintenance >= 2 * k_kb_per_gb) add("autovacuum_work_mem", pgtune_format_kb(2 * k_kb_per_gb), "selectAutovacuumWorkMem");
    // selectIoMethod: io_uring from PG 18 (Linux); selectIoWorkers is then omitted.
    if (f.version >= 18) add("io_method", "io_uring", "selectIoMethod");
    // selectCheckpointSegments: min_wal_size and max_wal_size by type.
    add("min_wal_size", pgtune_format_kb(by_type<std::uint64_t>(t, 1024, 2048, 4096, 100, 1024) * k_kb_per_mb),
        "selectCheckpointSegments");
    add("max_wal_size", pgtune_format_kb(by_type<std::uint64_t>(t, 4096, 8192, 16384, 2048, 4096) * k_kb_per_mb),
        "selectCheckpointSegments");
    if (parallel) {
        add("max_worker_processes", std::to_string(cpus), "selectParallelSettings");
        add("max_parallel_workers_per_gather", std::to_string(workers_per_gather), "selectParallelSettings");
        add("max_parallel_workers", std::to_string(cpus), "selectParallelSettings");   // PG >= 10
        if (f.version >= 11)
            add("max_parallel_maintenance_workers", std::to_string(maintenance_workers), "selectParallelSettings");
    }
    // selectWalLevel: a desktop keeps no WAL for replicas.
    if (t == DbType::Desktop) {
        add("wal_level", "minimal", "selectWalLevel");
        add("max_wal_senders", "0", "selectWalLevel");
    }

    // selectWarningInfoMessages
    auto warn = [&](std::initializer_list<const char*> lines) {
        if (!r.warnings.empty()) r.warnings.push_back("");
        for (const char* l : lines) r.warnings.push_back(l);
    };
    if (ram > 100 * k_kb_per_gb) warn({"this tool not being optimal", "for very high memory systems"});
    if (f.version >= 15) warn({"wal_compression = lz4 requires PostgreSQL", "to be compiled with --with-lz4"});
    if (f.version >= 18) warn({"io_method = io_uring requires PostgreSQL", "to be compiled with --with-liburing"});
    if (t == DbType::Dw && f.disk != Disk::Hdd) {
        const std::string drive = f.disk == Disk::Ssd ? "SSDs" : "SAN storage";
        if (!r.warnings.empty()) r.warnings.push_back("");
        r.warnings.push_back("Cost parameters for Data Warehouses on " + drive + " are left at defaults");
        r.warnings.push_back("to avoid catastrophic index scan selections");
        r.warnings.push_back("Monitor query planner behavior and adjust random_page_cost if necessary");
    }
    if (!r.warnings.empty()) r.warnings.insert(r.warnings.begin(), "WARNING");
    return r;
}

} // namespace sigmaops::config
