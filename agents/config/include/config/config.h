// config/config.h - the config agent's rules (issue 18). So far: PostgreSQL settings from a
// host's facts, exactly as PGTune (le0pard/pgtune) computes and prints them, each setting
// carrying the PGTune selector it follows (STYLE rule 18). Pure functions: no host, no I/O, no
// command-line code; `sigmaops tune postgres --facts ...` (app/cli/cmd_tune.cpp) is the front door.
#pragma once

#include <base/result.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sigmaops::config {

// The PGTune revision these rules transcribe (read 2026-12-07): the formulas are the selectors
// of src/features/configuration/configurationSlice.js, the units come from formatValue in
// src/common/components/configurationView/index.jsx, the input limits from
// src/common/components/configurationForm/validation.js.
inline constexpr std::string_view k_pgtune_repo = "le0pard/pgtune";
inline constexpr std::string_view k_pgtune_commit = "7caef27c204d304623eda21f23e7d56c1ad78d36";
inline constexpr std::string_view k_pgtune_url = "https://github.com/le0pard/pgtune";

// PGTune's "DB Type": what the database serves.
enum class DbType { Web, Oltp, Dw, Desktop, Mixed };
// PGTune's "Data Storage". (PGTune also offers nvme; the fact set is ssd|hdd|san.)
enum class Disk { Ssd, Hdd, San };

std::string_view db_type_name(DbType t);              // "web", "oltp", "dw", "desktop", "mixed"
std::string_view disk_name(Disk d);                   // "ssd", "hdd", "san"
std::optional<DbType> parse_db_type(std::string_view s);
std::optional<Disk> parse_disk(std::string_view s);

// The facts PGTune's form asks for. PGTune's other inputs are fixed at its defaults: OS Linux,
// database size "mid_ram" (between RAM and disk).
struct PgFacts {
    int version = 16;            // PostgreSQL major version, 10..18 (PGTune's DB_VERSIONS)
    DbType type = DbType::Web;
    std::uint64_t ram_kb = 0;    // total memory in kB; PGTune accepts >= 512MB
    int cpus = 0;                // CPU count; 0 = not given (PGTune then leaves parallel settings out)
    int connections = 0;         // max_connections; 0 = the type's default (pgtune_default_connections)
    Disk disk = Disk::Ssd;
};

// One line PGTune prints: `name = value`, the value exactly as PGTune writes it ("2GB",
// "10082kB", "1.1", "try"), and where the rule comes from.
struct PgSetting {
    std::string name;
    std::string value;
    std::string source;          // "le0pard/pgtune@7caef27 src/features/configuration/configurationSlice.js selectSharedBuffers"
};

struct PgTuneResult {
    std::vector<PgSetting> settings;   // in PGTune's printing order; settings PGTune omits are absent
    std::vector<std::string> warnings; // PGTune's "# WARNING" comment lines, without the "# "
};

// max_connections PGTune uses when none is given: web 200, oltp 300, dw 40, desktop 20, mixed 100.
int pgtune_default_connections(DbType t);

// A size in kB as PGTune prints it: in GB or MB when that loses nothing, else in kB.
std::string pgtune_format_kb(std::uint64_t kb);

// PGTune's settings for `facts`. Fails with InvalidArgument (message naming the fact and the
// range PGTune accepts) when a fact is outside PGTune's form limits: version 10..18, RAM
// >= 512MB, cpus 0 or 1..999999, connections 0 or 20..999999.
Expected<PgTuneResult> pgtune(const PgFacts& facts);

} // namespace sigmaops::config
