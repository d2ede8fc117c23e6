// signatures.cpp - stage 4 of the log pipeline: the signature library (known trouble, with
// stable category ids), and the Collector that turns matched records into ranked findings.
//
// Each signature is a list of phrases the failing program itself prints (the kernel's "Out of
// memory: Killed process", sshd's "Failed password for", nginx's "[emerg]"), matched as
// substrings of the record's first line, plus a few exclusions for look-alikes. Phrases are
// chosen so that counts and summaries ("0 errors", "failed=0", "Stopped nginx.service", "test is
// successful") do not match; tests/logs/test_logs_signatures.cpp holds a realistic excerpt and a
// near miss for every category.
// Load: one pass over at most a few dozen phrases per record; records that carry no error-ish
// byte pattern are rejected by the first checks of each matcher.
#include "logs_internal.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <map>
#include <unordered_map>
#include <vector>

namespace sigmaops::logs {

namespace {

// Which byte pairs the message being matched contains, so that a phrase whose first two bytes
// never occur there is rejected in O(1) instead of a scan: every matcher calls has()/any() with
// the same message for dozens of phrases, and most messages contain none of them. A necessary
// condition only (a phrase that is present always has its first pair present), so results are
// exactly those of plain find(); other strings (a substring, the app name) fall back to find().
struct BytePairs {
    std::vector<std::uint32_t> epoch = std::vector<std::uint32_t>(65536, 0);   // pair -> last message that had it
    std::uint32_t now = 0;
    const char* data = nullptr;
    std::size_t size = 0;
    void set(std::string_view m) {
        if (++now == 0) {
            std::fill(epoch.begin(), epoch.end(), 0);
            now = 1;
        }
        data = m.data();
        size = m.size();
        for (std::size_t i = 0; i + 1 < m.size(); ++i) epoch[std::size_t(std::uint8_t(m[i])) << 8 | std::uint8_t(m[i + 1])] = now;
    }
    bool maybe(std::string_view s, std::string_view p) const {
        if (s.data() != data || s.size() != size || p.size() < 2) return true;
        return epoch[std::size_t(std::uint8_t(p[0])) << 8 | std::uint8_t(p[1])] == now;
    }
};
thread_local BytePairs t_pairs;

bool has(std::string_view s, std::string_view p) { return t_pairs.maybe(s, p) && s.find(p) != std::string_view::npos; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

// Case-insensitive search for a lower-case phrase.
bool has_i(std::string_view s, std::string_view p) {
    if (p.size() > s.size()) return false;
    for (std::size_t i = 0; i + p.size() <= s.size(); ++i) {
        std::size_t k = 0;
        while (k < p.size() && lower(s[i + k]) == p[k]) ++k;
        if (k == p.size()) return true;
    }
    return false;
}

bool any(std::string_view s, std::initializer_list<std::string_view> phrases) {
    for (std::string_view p : phrases)
        if (has(s, p)) return true;
    return false;
}
// Case-insensitive `any` for lower-case phrases: the text is lowered once (into a per-thread
// buffer), then each phrase is a plain find (memchr-fast), not a byte-by-byte loop per phrase.
bool any_i(std::string_view s, std::initializer_list<std::string_view> phrases) {
    if (phrases.size() <= 2) {
        for (std::string_view p : phrases)
            if (has_i(s, p)) return true;
        return false;
    }
    thread_local std::string low;
    low.resize(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) low[i] = lower(s[i]);
    const std::string_view l(low);
    for (std::string_view p : phrases)
        if (l.find(p) != std::string_view::npos) return true;
    return false;
}

// Categories by index in signatures().
enum Cat {
    Oom, DiskFull, Io, Hung, TimeJump, Segfault, Tls, Network, Database, Permission, WebConfig, UnitFailure, SshBrute, N_cat
};

bool m_oom(std::string_view m, const Record&) {
    // "Killed process N (x) total-vm:..." is the kernel's; systemd's "Killed process N (bash) with
    // signal SIGKILL" when it stops a scope is routine and does not match.
    return any(m, {"Out of memory: Kill", "invoked oom-killer", "Memory cgroup out of memory", "oom-kill:constraint",
                   "oom_reaper: reaped process", "killed by the OOM killer", "Out of memory (oom_kill_allocating_task)"}) ||
           (has(m, "Killed process") && has(m, "total-vm"));
}

bool m_disk_full(std::string_view m, const Record&) {
    return any(m, {"No space left on device", "ENOSPC", "Disk quota exceeded", "disk full", "Disk full",
                   "could not extend file", "No space left"}) ||
           (has(m, "filesystem") && has(m, "is full"));
}

bool m_io(std::string_view m, const Record&) {
    if (has(m, "I/O error") && !has(m, "0 I/O error")) return true;
    return any(m, {"EXT4-fs error", "EXT3-fs error", "XFS (", "BTRFS error", "Remounting filesystem read-only",
                   "Read-only file system", "Medium Error", "medium error", "UNC error", "failed command: READ",
                   "failed command: WRITE", "Buffer I/O", "end_request: I/O", "critical medium error", "SMART error"}) &&
           !has(m, "mounted filesystem") && !(has(m, "XFS (") && !any(m, {"Corruption", "error", "I/O", "shutdown", "Shutting down"}));
}

bool m_hung(std::string_view m, const Record&) {
    return (has(m, "blocked for more than") && has(m, "seconds")) ||
           any(m, {"soft lockup - CPU#", "watchdog: BUG: soft lockup", "hard LOCKUP", "self-detected stall", "detected stalls on CPUs",
                   "rcu_sched detected stalls", "hung_task: blocked tasks"});
}

bool m_time_jump(std::string_view m, const Record&) {
    return any(m, {"System clock wrong by", "Time has been changed", "clock jumped", "time stepped by", "Clock skew detected",
                   "clocksource: timekeeping watchdog", "Marking clocksource 'tsc' as unstable", "time reset +", "time reset -",
                   "clock is unsynchronized", "Can't synchronise: no selectable sources", "no servers can be used",
                   "Clock unsynchronized"});
}

bool m_segfault(std::string_view m, const Record&) {
    return (has(m, "segfault at ") && has(m, " ip ")) ||
           any(m, {"dumped core", "general protection fault", "Segmentation fault", "code=dumped", "status=11/SEGV",
                   "status=6/ABRT", "SIGSEGV", "traps: ", "Process terminated by signal SIGSEGV", "core dumped"});
}

bool m_tls(std::string_view m, const Record&) {
    return any_i(m, {"certificate has expired", "certificate verify failed", "certificate is not yet valid", "x509: certificate",
                     "unable to get local issuer certificate", "self signed certificate in certificate chain",
                     "self-signed certificate in certificate chain", "ssl_do_handshake() failed", "tls: bad certificate",
                     "tls handshake error", "ssl handshake failed", "sslv3 alert", "no shared cipher", "wrong version number",
                     "certificate expired", "unknown ca", "certificate verification failed", "ssl routines:"});
}

bool m_network(std::string_view m, const Record&) {
    if (any(m, {"Temporary failure in name resolution", "Name or service not known", "could not resolve host",
                "Could not resolve host", "SERVFAIL", "NXDOMAIN", "no such host", "Network is unreachable", "No route to host",
                "upstream timed out", "Connection timed out", "connection timed out", "Connection refused", "connection refused",
                "Connection reset by peer", "connection reset by peer", "i/o timeout", "Host is unreachable",
                "Destination Host Unreachable", "getaddrinfo failed", "Name resolution failure", "NIC Link is Down",
                "Link is Down", "carrier lost"}))
        return !has(m, "0 connection");
    return false;
}

bool m_database(std::string_view m, const Record& r) {
    const bool db_app = any_i(r.app, {"postgres", "mysql", "mariadb", "mongod", "redis"}) || has(m, "postgres") ||
                        has(m, "MySQL") || has(m, "mysqld") || has(m, "InnoDB");
    if (any(m, {"deadlock detected", "Deadlock found", "too many connections", "Too many connections",
                "remaining connection slots are reserved", "Lost connection to MySQL server", "is marked as crashed",
                "InnoDB: Database page corruption", "database system was not properly shut down", "could not connect to server",
                "SQLSTATE[", "Access denied for user", "MISCONF Redis", "database is locked", "ORA-0", "ORA-1", "ORA-2",
                "duplicate key value violates unique constraint", "canceling statement due to statement timeout",
                "terminating connection due to administrator command", "the database system is starting up",
                "PANIC:  could not write"}))
        return true;
    // PostgreSQL's own severities at the start of the message.
    return db_app && (m.starts_with("FATAL:") || m.starts_with("PANIC:") || has(m, " FATAL:  ") || has(m, " PANIC:  ") ||
                      (m.starts_with("ERROR:  ") && !has(m, "ERROR:  0")) || has(m, "[ERROR]"));
}

bool m_permission(std::string_view m, const Record&) {
    if (has(m, "Permission denied (publickey") || has(m, "permission denied (publickey")) return false;   // ssh client auth
    return any(m, {"Permission denied", "permission denied", "Operation not permitted", "EACCES", "EPERM",
                   "apparmor=\"DENIED\"", "avc:  denied", "Access is denied", "access forbidden by rule",
                   "client denied by server configuration"});
}

bool m_web_config(std::string_view m, const Record& r) {
    if (has(m, "test is successful") || has(m, "syntax is ok") || has(m, "Syntax OK")) return false;
    const bool web = any_i(r.app, {"nginx", "apache", "httpd"}) || r.format == Format::NginxError ||
                     r.format == Format::ApacheError || has(m, "nginx") || has(m, "AH0");
    if (any(m, {"[emerg]", "unknown directive", "configuration file", "AH00526", "Syntax error on line", "Invalid command '",
                "AH00072: make_sock: could not bind", "could not bind to address", "AH00015: Unable to open logs",
                "no listening sockets available", "duplicate listen options", "\"server_name\" conflicting"}))
        return web && (has(m, "[emerg]") || has(m, "unknown directive") || has(m, "test failed") || has(m, "AH0") ||
                       has(m, "Syntax error") || has(m, "Invalid command") || has(m, "could not bind") ||
                       has(m, "no listening sockets") || has(m, "duplicate listen") || has(m, "conflicting"));
    return web && (has(m, "bind() to") && has(m, "failed"));
}

bool m_unit_failure(std::string_view m, const Record&) {
    if (has(m, "status=0/SUCCESS") || has(m, "Deactivated successfully")) return false;
    return any(m, {"Failed with result '", "entered failed state", "Failed to start ", "Start request repeated too quickly",
                   "start-limit-hit", "Main process exited, code=exited, status=", "Main process exited, code=killed",
                   "Main process exited, code=dumped", "Dependency failed for ", "Job for ", "failed because the control process"}) &&
           !has(m, "status=0/");
}

bool m_ssh_brute(std::string_view m, const Record& r) {
    const bool ssh = has_i(r.app, "sshd") || has(m, "sshd") || has(m, "ssh2") || has(m, "[preauth]");
    return ssh && any(m, {"Failed password for", "Invalid user ", "invalid user ", "authentication failure;",
                          "maximum authentication attempts exceeded", "Failed publickey for", "Too many authentication failures",
                          "POSSIBLE BREAK-IN ATTEMPT", "Did not receive identification string"});
}

using Matcher = bool (*)(std::string_view, const Record&);
// Match order: the most specific phrases first (a unit killed by the OOM killer is an OOM kill).
struct Rule { Cat cat; Matcher fn; };
constexpr Rule k_rules[] = {
    {Oom, m_oom},        {DiskFull, m_disk_full}, {Hung, m_hung},          {Io, m_io},
    {TimeJump, m_time_jump}, {Segfault, m_segfault}, {Tls, m_tls},        {Database, m_database},
    {WebConfig, m_web_config}, {SshBrute, m_ssh_brute}, {Permission, m_permission}, {UnitFailure, m_unit_failure},
    {Network, m_network},
};

} // namespace

const std::vector<Signature>& signatures() {
    static const std::vector<Signature> s = {
        {"oom-killer", "Processes killed by the kernel's out-of-memory killer", Severity::Critical, 0, 1,
         "The kernel ran out of memory (or a cgroup hit its memory limit) and killed a process to free some. "
         "Whatever that process served stopped or restarted; services that failed right after are usually consequences. "
         "Look at which process was killed, its memory at the time, and the limit that was hit.",
         {"journalctl -k --no-pager | grep -iE 'out of memory|oom-kill|killed process'", "free -h", "ps aux --sort=-rss | head -n 15",
          "systemctl status --no-pager"}},
        {"disk-full", "A filesystem ran out of space", Severity::Critical, 0, 1,
         "Writes failed with 'No space left on device' (or a quota was exceeded). Programs that cannot write logs, "
         "databases or temporary files fail in turn. Find the full filesystem and what grew.",
         {"df -h", "df -i", "du -xh --max-depth=2 / 2>/dev/null | sort -h | tail -n 20", "journalctl --disk-usage"}},
        {"io-filesystem-error", "Disk I/O or filesystem errors", Severity::Critical, 0, 1,
         "The kernel reported I/O errors or filesystem corruption; a filesystem may have been remounted read-only. "
         "Data may be at risk: check the device's health before anything else.",
         {"journalctl -k --no-pager | grep -iE 'I/O error|EXT4-fs error|XFS|BTRFS|read-only'", "lsblk -o NAME,SIZE,MOUNTPOINT,RO",
          "findmnt -o TARGET,SOURCE,OPTIONS | grep -w ro", "smartctl -H /dev/sda"}},
        {"kernel-hung-task-soft-lockup", "Kernel hung tasks, soft lockups or RCU stalls", Severity::Error, 0, 1,
         "The kernel saw tasks blocked for minutes or a CPU stuck in kernel code. Causes are usually slow or failing "
         "storage (NFS, a dying disk), an overloaded host, or a kernel/driver bug; everything waiting on that resource stalls.",
         {"journalctl -k --no-pager | grep -iE 'blocked for more than|soft lockup|stall'", "uptime", "cat /proc/pressure/io",
          "vmstat 1 5"}},
        {"time-jump-ntp", "The system clock jumped or lost synchronisation", Severity::Warning, 0, 1,
         "The clock was stepped or found far off, or time synchronisation has no usable source. Timeouts, TLS validity "
         "checks, Kerberos and log ordering can all break around such a jump.",
         {"timedatectl status", "chronyc tracking", "chronyc sources -v", "journalctl -u systemd-timesyncd -u chrony --no-pager -n 50"}},
        {"segfault-core-dump", "A program crashed (segfault, abort, core dump)", Severity::Error, 1, 1,
         "A process died on a signal (SIGSEGV, SIGABRT...) and may have left a core dump. The program that crashed and "
         "the library named in the kernel line say where to look; repeated crashes usually mean a bad update or bad input.",
         {"coredumpctl list --no-pager", "journalctl -k --no-pager | grep -i segfault", "coredumpctl info --no-pager"}},
        {"tls-certificate", "TLS handshakes or certificate checks failed", Severity::Error, 2, 1,
         "A TLS peer's certificate was expired, not yet valid, untrusted or the handshake failed. Clients or upstreams "
         "that rely on it stop working; check the certificate's dates and chain, and the clock.",
         {"openssl s_client -connect HOST:443 -servername HOST </dev/null 2>/dev/null | openssl x509 -noout -dates -issuer -subject",
          "certbot certificates", "timedatectl status"}},
        {"network-connection-dns", "Connections refused, timed out or names not resolved", Severity::Warning, 2, 1,
         "Something could not reach a peer: the connection was refused (nothing listening), timed out (filtered or down), "
         "the route is missing, or the name did not resolve. The peer named in the evidence is where to look.",
         {"ss -tlnp", "ip route", "resolvectl status", "getent hosts HOST", "journalctl -u systemd-resolved --no-pager -n 50"}},
        {"database-error", "Database errors (connections, deadlocks, corruption)", Severity::Error, 2, 1,
         "The database reported fatal errors, refused connections, deadlocks or damaged pages. Applications that use it fail "
         "with their own errors after these.",
         {"systemctl status postgresql mysql mariadb --no-pager", "journalctl -u postgresql -u mysql -u mariadb --no-pager -n 100",
          "ss -tlnp | grep -E ':5432|:3306'"}},
        {"permission-denied", "Access refused by file permissions or a security module", Severity::Warning, 2, 1,
         "A process was refused access by file modes, ownership, AppArmor or SELinux. The path and the process in the "
         "evidence say what to compare (owner, mode, profile).",
         {"namei -l PATH", "ls -l PATH", "journalctl -k --no-pager | grep -iE 'apparmor=\"DENIED\"|avc:  denied'", "id USER"}},
        {"webserver-config-error", "The web server refused its configuration or could not bind", Severity::Error, 2, 1,
         "nginx or Apache stopped at start or reload: a syntax error, an unknown directive, a missing file, or a port "
         "already taken. Until it is fixed the server keeps the old configuration or stays down.",
         {"nginx -t", "apachectl configtest", "ss -tlnp | grep -E ':80|:443'", "systemctl status nginx apache2 --no-pager"}},
        {"systemd-unit-failure", "systemd units failed", Severity::Error, 3, 1,
         "systemd reports units that exited with an error, were killed, or hit their restart limit. A unit failure is often "
         "the consequence of something above (memory, disk, network, configuration): read the unit's own log around the time.",
         {"systemctl --failed --no-pager", "systemctl status UNIT --no-pager", "journalctl -u UNIT --no-pager -n 100"}},
        {"ssh-brute-force", "Repeated failed SSH logins (password guessing)", Severity::Warning, 2, 10,
         "Many failed or invalid SSH logins came in: password guessing from the internet. It is harmful only if a "
         "password is weak or one of the attempts succeeded; check for an 'Accepted' line from the same addresses.",
         {"journalctl -u ssh -u sshd --no-pager | grep -E 'Accepted|Failed password' | tail -n 50", "lastb | head -n 20",
          "last -n 20", "sshd -T | grep -iE 'passwordauthentication|permitrootlogin'"}},
    };
    return s;
}

int match_signature(const Record& record) {
    std::string_view m = record.message;
    if (const std::size_t nl = m.find('\n'); nl != std::string_view::npos) m = m.substr(0, nl);
    t_pairs.set(m);
    for (const Rule& r : k_rules)
        if (r.fn(m, record)) return int(r.cat);
    return -1;
}

// ---------------------------------------------------------------------------------------------
// Collector.

namespace {

// Per-minute counting with an exponentially weighted baseline, O(1) memory: a minute whose count
// is at least `min_count` and `factor` times the baseline (after `warmup` minutes of history)
// is a spike; the largest spike is kept. Records out of time order count in the current minute.
struct Rate {
    static constexpr double k_alpha = 0.1;
    std::int64_t minute = 0;
    bool started = false;
    std::uint32_t count = 0;          // in `minute`
    double baseline = 0;              // EWMA of earlier minutes (empty minutes included)
    std::uint64_t n_minutes = 0;      // minutes of history behind the baseline
    Evidence first;                   // first record of `minute`
    bool spike = false;
    std::int64_t spike_minute = 0;
    std::uint32_t spike_count = 0;
    double spike_baseline = 0;
    Evidence spike_first;

    // Would the current minute be a spike? (also used on the open minute at the end)
    bool is_spike(std::uint32_t min_count, double factor, std::uint64_t warmup) const {
        return started && n_minutes >= warmup && count >= min_count && double(count) >= factor * std::max(baseline, 0.5);
    }
    void close(std::uint32_t min_count, double factor, std::uint64_t warmup) {
        if (is_spike(min_count, factor, warmup) && count > spike_count) {
            spike = true;
            spike_minute = minute;
            spike_count = count;
            spike_baseline = baseline;
            spike_first = first;
        }
    }
    // `since` is the first minute of the whole stream: a template that first appears late has
    // been quiet (zero a minute) until then.
    void add(std::int64_t t_ms, const Evidence& e, std::uint32_t min_count, double factor, std::uint64_t warmup, std::int64_t since) {
        const std::int64_t m = t_ms >= 0 ? t_ms / 60'000 : (t_ms - 59'999) / 60'000;
        if (!started) {
            started = true;
            minute = m;
            first = e;
            n_minutes = std::uint64_t(std::max<std::int64_t>(0, m - since));
        } else if (m < minute - 1) {
            return;   // far back in time (another stream mixed in): not counted
        } else if (m > minute) {
            close(min_count, factor, warmup);
            baseline = k_alpha * count + (1 - k_alpha) * baseline;
            const std::int64_t gap = std::min<std::int64_t>(m - minute - 1, 10'000);
            for (std::int64_t g = 0; g < gap && baseline > 1e-9; ++g) baseline *= 1 - k_alpha;
            n_minutes += std::uint64_t(1 + std::max<std::int64_t>(gap, 0));
            minute = m;
            count = 0;
            first = e;
        }
        ++count;
    }
};

constexpr std::uint32_t k_burst_min = 20;       // a template's records in one minute
constexpr double k_burst_factor = 10;
constexpr std::uint32_t k_errors_min = 10;      // error records in one minute
constexpr double k_errors_factor = 5;
constexpr std::uint64_t k_warmup_minutes = 5;

std::string minute_text(std::int64_t minute) {
    const std::time_t t = std::time_t(minute * 60);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

} // namespace

struct Collector::Impl {
    std::size_t max_evidence = 3;
    // Rates per source (a second file starting earlier than the first ended has its own clock).
    struct SourceRates {
        bool has_since = false;
        std::int64_t since_minute = 0;                 // the source's first minute with a timed record
        Rate errors;                                    // records of severity error and worse, or matching a signature
        std::unordered_map<std::uint32_t, Rate> templates;
    };
    std::unordered_map<std::string, SourceRates> rates;
    std::size_t n_template_rates = 0;                   // over all sources, capped at k_max_templates
    std::uint64_t n_records = 0;
    struct Acc {
        std::uint64_t count = 0;
        bool has_time = false;
        std::int64_t first_ms = 0, last_ms = 0;
        std::uint64_t order = 0;        // record number of the first match (for ties without times)
        std::vector<Evidence> evidence;
    };
    std::array<Acc, N_cat> acc{};
    struct Tpl {
        std::string text;
        std::uint64_t count = 0;
        Severity max_severity = Severity::Unknown;
        Evidence first;
    };
    std::unordered_map<std::uint32_t, Tpl> templates;
    static constexpr std::size_t k_max_templates = 100'000;

    static Evidence evidence_of(const Record& r, std::string_view source) {
        Evidence e;
        e.source = std::string(source);
        e.line = r.first_line;
        std::string_view m = r.message;
        if (const std::size_t nl = m.find('\n'); nl != std::string_view::npos) m = m.substr(0, nl);
        e.text = std::string(m.substr(0, 300));
        if (m.size() > 300) {
            while (!e.text.empty() && (std::uint8_t(e.text.back()) & 0xC0) == 0x80) e.text.pop_back();
            if (!e.text.empty() && std::uint8_t(e.text.back()) >= 0xC0) e.text.pop_back();
            e.text += "...";
        }
        return e;
    }
};

Collector::Collector(std::size_t max_evidence) : m_impl(std::make_shared<Impl>()) { m_impl->max_evidence = max_evidence; }

void Collector::add(const Record& r, std::string_view source, std::uint32_t template_id, std::string_view template_text) {
    Impl& m = *m_impl;
    ++m.n_records;
    Impl::SourceRates* sr = nullptr;
    std::int64_t minute = 0;
    if (r.has_time && !r.boot_relative) {
        auto it = m.rates.find(std::string(source));
        if (it == m.rates.end()) it = m.rates.emplace(std::string(source), Impl::SourceRates{}).first;
        sr = &it->second;
        minute = r.time_ms >= 0 ? r.time_ms / 60'000 : (r.time_ms - 59'999) / 60'000;
        if (!sr->has_since) {
            sr->has_since = true;
            sr->since_minute = minute;
        }
    }
    if (template_id) {
        auto it = m.templates.find(template_id);
        if (it == m.templates.end() && m.templates.size() < Impl::k_max_templates)
            it = m.templates.emplace(template_id, Impl::Tpl{std::string(template_text), 0, Severity::Unknown, Impl::evidence_of(r, source)}).first;
        if (it != m.templates.end()) {
            ++it->second.count;
            if (it->second.text.size() != template_text.size() || it->second.count % 64 == 0) it->second.text.assign(template_text);
            it->second.max_severity = std::max(it->second.max_severity, r.severity);
        }
        if (sr) {
            auto rt = sr->templates.find(template_id);
            if (rt == sr->templates.end() && m.n_template_rates < Impl::k_max_templates) {
                rt = sr->templates.emplace(template_id, Rate{}).first;
                ++m.n_template_rates;
            }
            if (rt != sr->templates.end()) {
                Rate& rate = rt->second;
                const bool new_minute = !rate.started || minute > rate.minute;
                rate.add(r.time_ms, new_minute ? Impl::evidence_of(r, source) : Evidence{}, k_burst_min, k_burst_factor, k_warmup_minutes,
                         sr->since_minute);
            }
        }
    }
    const int cat = match_signature(r);
    if (sr && (cat >= 0 || r.severity >= Severity::Error)) {
        const bool new_minute = !sr->errors.started || minute > sr->errors.minute;
        sr->errors.add(r.time_ms, new_minute ? Impl::evidence_of(r, source) : Evidence{}, k_errors_min, k_errors_factor, k_warmup_minutes,
                       sr->since_minute);
    }
    if (cat < 0) return;
    Impl::Acc& a = m.acc[std::size_t(cat)];
    if (a.count == 0) a.order = m.n_records;
    ++a.count;
    if (r.has_time && !r.boot_relative) {
        if (!a.has_time || r.time_ms < a.first_ms) a.first_ms = r.time_ms;
        if (!a.has_time || r.time_ms > a.last_ms) a.last_ms = r.time_ms;
        a.has_time = true;
    }
    // Evidence: the first max_evidence - 1 matches and the latest one.
    if (a.evidence.size() + 1 < m.max_evidence || a.evidence.empty()) a.evidence.push_back(Impl::evidence_of(r, source));
    else if (m.max_evidence > 1) {
        if (a.evidence.size() < m.max_evidence) a.evidence.push_back(Impl::evidence_of(r, source));
        else a.evidence.back() = Impl::evidence_of(r, source);
    }
}

std::vector<Finding> Collector::findings() const {
    const auto& sigs = signatures();
    std::vector<std::size_t> cats;
    for (std::size_t c = 0; c < sigs.size(); ++c)
        if (m_impl->acc[c].count >= sigs[c].min_count) cats.push_back(c);
    std::sort(cats.begin(), cats.end(), [&](std::size_t x, std::size_t y) {
        const Signature &a = sigs[x], &b = sigs[y];
        if (a.cause_tier != b.cause_tier) return a.cause_tier < b.cause_tier;
        if (a.severity != b.severity) return a.severity > b.severity;
        const Impl::Acc &ax = m_impl->acc[x], &ay = m_impl->acc[y];
        if (ax.has_time && ay.has_time && ax.first_ms != ay.first_ms) return ax.first_ms < ay.first_ms;
        return ax.order < ay.order;
    });
    std::vector<Finding> out;
    for (std::size_t c : cats) {
        const Signature& s = sigs[c];
        const Impl::Acc& a = m_impl->acc[c];
        Finding f;
        f.id = std::to_string(out.size() + 1);
        f.id.insert(f.id.begin(), 'F');
        f.category = std::string(s.id);
        f.title = std::string(s.title);
        f.severity = s.severity;
        f.has_time = a.has_time;
        f.first_ms = a.first_ms;
        f.last_ms = a.last_ms;
        f.count = a.count;
        f.evidence = a.evidence;
        f.explanation = std::string(s.explanation);
        for (auto cmd : s.next_commands) f.next_commands.emplace_back(cmd);
        out.push_back(std::move(f));
    }
    // Statistical signals, after the signatures: the error rate jumping, templates bursting.
    auto spike_of = [](const Rate& r, std::uint32_t min_count, double factor, Rate& out_rate) {
        out_rate = r;
        out_rate.close(min_count, factor, k_warmup_minutes);   // the open minute counts too
        return out_rate.spike;
    };
    auto add_signal = [&](const char* category, const std::string& title, Severity sev, const Rate& r, std::string explanation,
                          std::vector<std::string> commands) {
        Finding f;
        f.id = std::to_string(out.size() + 1);
        f.id.insert(f.id.begin(), 'F');
        f.category = category;
        f.title = title;
        f.severity = sev;
        f.has_time = true;
        f.first_ms = r.spike_minute * 60'000;
        f.last_ms = f.first_ms + 59'999;
        f.count = r.spike_count;
        f.evidence.push_back(r.spike_first);
        f.explanation = std::move(explanation);
        f.next_commands = std::move(commands);
        out.push_back(std::move(f));
    };
    Rate r;
    bool error_spike = false;
    for (const auto& [name, sr] : m_impl->rates) {
        Rate candidate;
        if (spike_of(sr.errors, k_errors_min, k_errors_factor, candidate) && (!error_spike || candidate.spike_count > r.spike_count)) {
            r = candidate;
            error_spike = true;
        }
    }
    if (error_spike) {
        char base[32];
        std::snprintf(base, sizeof base, "%.1f", r.spike_baseline);
        add_signal("error-rate-change", "The rate of errors jumped at " + minute_text(r.spike_minute) + " UTC", Severity::Warning, r,
                   "In the minute starting " + minute_text(r.spike_minute) + " UTC, " + std::to_string(r.spike_count) +
                       " error records (or records matching a signature) were logged, against about " + base +
                       " per minute before. Whatever changed just before that minute (a deploy, a restart, a failing "
                       "dependency) is the first suspect.",
                   {"journalctl --since '" + minute_text(r.spike_minute - 5) + "' --until '" + minute_text(r.spike_minute + 1) +
                        "' --no-pager -p err",
                    "last -x -n 20"});
    }
    std::vector<std::pair<std::uint32_t, Rate>> bursts;
    for (const auto& [name, sr] : m_impl->rates)
        for (const auto& [id, rate] : sr.templates)
            if (spike_of(rate, k_burst_min, k_burst_factor, r)) bursts.emplace_back(id, r);
    std::sort(bursts.begin(), bursts.end(), [](const auto& a, const auto& b) {
        return a.second.spike_count != b.second.spike_count ? a.second.spike_count > b.second.spike_count : a.first < b.first;
    });
    if (bursts.size() > 5) bursts.resize(5);
    for (const auto& [id, rate] : bursts) {
        const auto found = m_impl->templates.find(id);
        const std::string text = found == m_impl->templates.end() ? std::string() : found->second.text;
        char base[32];
        std::snprintf(base, sizeof base, "%.1f", rate.spike_baseline);
        add_signal("template-burst", "A burst of one message: " + text.substr(0, 120), Severity::Info, rate,
                   "This message was logged " + std::to_string(rate.spike_count) + " times in the minute starting " +
                       minute_text(rate.spike_minute) + " UTC, against about " + base +
                       " per minute before: a retry loop, a flood of clients, or a failure repeating.",
                   {"journalctl --since '" + minute_text(rate.spike_minute) + "' --until '" + minute_text(rate.spike_minute + 1) +
                        "' --no-pager"});
    }
    return out;
}

std::vector<DigestEntry> Collector::digest(std::size_t n, const TemplateMiner* miner) const {
    std::vector<DigestEntry> all;
    std::unordered_map<std::uint32_t, std::size_t> at;   // final id -> index in `all`
    for (const auto& [id, t] : m_impl->templates) {
        const std::uint32_t final_id = miner ? miner->resolve(id) : id;
        auto [it, fresh] = at.emplace(final_id, all.size());
        if (fresh) {
            all.push_back({final_id, miner ? miner->get(final_id).text : t.text, t.count, t.max_severity, t.first, {}});
            continue;
        }
        DigestEntry& d = all[it->second];
        d.count += t.count;
        d.max_severity = std::max(d.max_severity, t.max_severity);
        if (t.first.line < d.first.line && t.first.source == d.first.source) d.first = t.first;
    }
    std::sort(all.begin(), all.end(), [](const DigestEntry& a, const DigestEntry& b) {
        return a.count != b.count ? a.count > b.count : a.template_id < b.template_id;
    });
    if (all.size() > n) all.resize(n);
    return all;
}

std::uint64_t Collector::n_records() const { return m_impl->n_records; }

} // namespace sigmaops::logs
