// config/config.h - the config agent's rules (issue 18). So far: PostgreSQL settings from a
// host's facts, exactly as PGTune (le0pard/pgtune) computes and prints them, each setting
// carrying the PGTune selector it follows (STYLE rule 18). Pure functions: no host, no I/O, no
// command-line code; `sigmaops tune postgres --facts ...` (app/cli/cmd_tune.cpp) is the front door.
#pragma once

#include <base/result.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

// =================================================================================================
// Config documents (issue 18 item 2): parse a service's config files into lines/directives with
// their byte spans, find the effective value of a setting and where it comes from, and plan edits
// as hunks that replace only the bytes they mean to. The document keeps the file's bytes exactly;
// applying no hunk gives the original bytes back, and every byte outside a hunk is untouched.
// Includes are read through a FileSource (local files, or SFTP through agents/remote).
// Parsers fail loudly: an Error with code BadFile and message "FILE:LINE: what is wrong".
// =================================================================================================
namespace sigmaops::config {

enum class Format {
    Sshd,      // sshd_config(5): Keyword args, case-insensitive keywords, Match blocks, Include globs
    Nginx,     // nginx.conf: directives `name args;`, blocks `name args { }`, quotes, include globs
    Postgres,  // postgresql.conf: name [=] value, include/include_dir/include_if_exists, + .auto.conf
    Sysctl,    // sysctl.conf / sysctl.d: key = value, optional leading '-'
    Redis,     // redis.conf: keyword args (quoted strings), include
    Systemd,   // unit files and drop-ins: [Section] Key=Value, continuation lines
};
std::string_view format_name(Format f);                 // "sshd", "nginx", "postgres", "sysctl", "redis", "systemd"
std::optional<Format> parse_format(std::string_view s); // also accepts "postgresql", "sshd_config", "redis.conf"

enum class ItemKind {
    Blank,       // an empty or whitespace-only line
    Comment,     // a comment line ('#', or ';' in systemd units)
    Setting,     // a directive that sets something: key + args
    Include,     // sshd Include, nginx include, postgres include*/include_dir, redis include
    BlockOpen,   // nginx `name args {`; sshd `Match ...` (block runs to the next Match or the end)
    BlockClose,  // nginx `}`
    Section,     // systemd `[Section]`
};

// One syntactic item of a file, with the bytes it covers.
struct Item {
    ItemKind kind = ItemKind::Blank;
    std::size_t begin = 0, end = 0;   // byte span in Document::text; line formats: the whole line with its
                                      // newline; nginx: from the name to the ';' / '{' / '}' (inclusive)
    int line = 0, last_line = 0;      // 1-based lines of begin and end-1
    std::string key;                  // as written: "PermitRootLogin", "listen", "shared_buffers", "net.core.somaxconn",
                                      // "maxmemory", "LimitNOFILE"; Section: the section name; Comment/Blank: empty
    std::string key_norm;             // the key as the service compares it: lowercase for sshd/postgres/redis, as written
                                      // for nginx/systemd; sysctl: '/' turned into '.'
    std::vector<std::string> args;    // the value, unquoted: sshd/nginx/redis split into words; postgres/sysctl/systemd one
                                      // element (the whole value; empty assignment = one empty string)
    std::size_t value_begin = 0, value_end = 0; // span of the value as written (quotes included), for in-place edits
    int parent = -1;                  // index of the enclosing item: nginx BlockOpen, sshd Match, systemd Section; -1 top
    std::string context;              // where the item applies: "" top level; sshd "Match User bob"; systemd "Service";
                                      // nginx a path of block names, each with its index among same-named siblings,
                                      // e.g. "http/server[1]/location[0]"
};

struct Document {
    std::string path;                 // as the loader was given it (local or remote path)
    Format format = Format::Sshd;
    std::string text;                 // the file's bytes, exactly as read
    std::vector<Item> items;          // in file order; line formats cover every byte of text
};

// Parse `text` (the contents of `path`, used in messages). Fails with BadFile "path:LINE: why" on
// anything the format does not allow (an unterminated quote or block, a line that is not a
// setting, a missing '=' ...). Never throws.
Expected<Document> parse(Format format, std::string path, std::string text);

// Where includes are read from. Paths are absolute. `read` fails with NotFound for a missing file;
// `glob` returns the matches of a shell pattern (*, ?, [..]) in sorted order (empty when none).
struct FileSource {
    std::function<Expected<std::string>(const std::string& path)> read;
    std::function<Expected<std::vector<std::string>>(const std::string& pattern)> glob;
};
FileSource local_files();             // the local file system (glob(3))

struct LoadOptions {
    int max_depth = 8;                // include nesting; deeper fails (BadFile "...: includes nested deeper than 8")
    std::size_t max_files = 512;      // total files read
    std::size_t max_file_bytes = 8u << 20;
    std::string include_root;         // where relative include paths resolve; empty = the format's rule
                                      // (sshd: /etc/ssh; nginx: the main file's dir (the conf prefix);
                                      // postgres: the including file's dir; redis: the process's cwd = the main file's dir)
    std::string postgres_auto_conf;   // postgres: path of postgresql.auto.conf (read last, wins); empty = none
};

// A file and the other files it pulls in, in the order the service reads them.
struct ItemRef {
    std::size_t file = 0;             // index into ConfigSet::files
    std::size_t item = 0;             // index into that file's items
};
struct ConfigSet {
    Format format = Format::Sshd;
    std::vector<Document> files;      // files[0] is the main file (or the first file read)
    // Every Setting in the order the service reads them, includes expanded where they stand
    // (postgres: postgresql.auto.conf last; sysctl: files in the order systemd-sysctl applies them).
    std::vector<ItemRef> order;
    std::vector<std::string> contexts; // the context of each entry of `order` with includes resolved (Item::context is
                                      // only within its own file): sshd "" or "Match ..."; nginx "http/server[1]"
                                      // counted over all files; systemd the section
    struct Block {
        std::string context;          // the context inside the block ("http/server[0]", "Match User bob")
        ItemRef open;                 // the nginx BlockOpen / sshd Match item
    };
    std::vector<Block> blocks;        // in read order
    std::vector<std::string> notes;   // how the order was decided (e.g. sysctl's file precedence), for the user
    const Item& at(ItemRef r) const { return files[r.file].items[r.item]; }
};

// Load `path` and its includes (depth-limited, cycles fail with BadFile naming the chain).
// A missing main file fails NotFound. An include glob that matches nothing is fine (sshd, nginx,
// postgres include_dir); postgres `include` and redis `include` of a missing file fail,
// postgres include_if_exists does not.
Expected<ConfigSet> load(Format format, const std::string& path, const FileSource& fs, const LoadOptions& opts = {});

// sysctl: the files systemd-sysctl(8) reads (sysctl.d(5)): *.conf in /etc/sysctl.d, /run/sysctl.d,
// /usr/local/lib/sysctl.d, /usr/lib/sysctl.d, /lib/sysctl.d, a name in an earlier dir masking the
// same name in a later one, applied in lexicographic order of file name; then /etc/sysctl.conf
// (procps `sysctl --system` reads it last; on Debian /etc/sysctl.d/99-sysctl.conf links to it).
// Later assignments win. `root` prefixes every directory (tests: a temp dir; "" = /).
Expected<ConfigSet> load_sysctl(const FileSource& fs, const std::string& root = "", const LoadOptions& opts = {});

// systemd: a unit file and its drop-ins (systemd.unit(5)): <dir>/<unit>.d/*.conf over all
// `dropin_dirs` (default /etc/systemd/system, /run/systemd/system, /usr/lib/systemd/system), a
// name in an earlier dir masking a later one, applied in lexicographic order of file name.
Expected<ConfigSet> load_unit(const std::string& unit_path, const FileSource& fs,
                              std::vector<std::string> dropin_dirs = {}, const LoadOptions& opts = {});

// The effective value of a setting and where it comes from.
struct Effective {
    std::string key;                  // key_norm
    std::vector<std::string> args;    // the value that takes effect
    ItemRef where;                    // the item that sets it
    std::string file;                 // files[where.file].path
    int line = 0;
    std::vector<ItemRef> shadowed;    // other settings of the same key that lose to it, in read order
    std::string rule;                 // why this one wins: "first value wins (sshd_config(5))", "last value wins", ...
};
// `key` in any case the format accepts. `context`: sshd "" = outside every Match block (what a
// connection that matches no Match block gets); nginx a context path (Item::context): the value set
// in that context or inherited from the nearest enclosing one; systemd the section name.
// nullopt when nothing sets it (the built-in default applies).
std::optional<Effective> effective(const ConfigSet& set, std::string_view key, std::string_view context = {});

// What a rule wants changed.
struct Change {
    std::string key;                  // as the format writes it ("PasswordAuthentication", "worker_processes")
    std::optional<std::string> value; // the new value as written in the file (quoted if needed); nullopt: comment the
                                      // setting out so the built-in default applies
    std::string context;              // as for effective(); nginx "" = main context
    std::string rule_id;              // stable id, e.g. "sshd.permit-root-login"
    std::string reason;               // why, one sentence
    std::string source;               // the document it follows: "ssh-audit hardening guide (Debian 12) <url>"
    std::string disagreement;         // where sources differ, which one was followed; may be empty
};

// One replacement of bytes in one file. Hunks of a plan never overlap, so any subset applies.
struct Hunk {
    std::string id;                   // stable within a plan: "<rule_id>@<file>:<line>"
    std::size_t file = 0;             // index into ConfigSet::files
    std::size_t begin = 0, end = 0;   // bytes of files[file].text replaced (begin == end: an insertion)
    std::string replacement;
    int line = 0;                     // the first line it touches (1-based)
    Change change;                    // what asked for it (reason, source)
    std::vector<std::string> notes;   // e.g. "postgresql.auto.conf sets this too: edited there, where it takes effect"
};
struct Plan {
    std::vector<Hunk> hunks;          // sorted by file, then begin
    std::vector<std::string> warnings;
};

// Hunks that make every change take effect, each editing the line that sets the effective value
// (sshd: the first one, never one inside a Match block for a global change; a new setting goes
// before the first Match block; postgres: postgresql.auto.conf when the value comes from there,
// with a note; nginx: the directive in that context, or a new line at the start of the block).
// A change whose value is already in effect yields no hunk. Fails with InvalidArgument when a
// change cannot be placed (a context that does not exist).
Expected<Plan> plan_changes(const ConfigSet& set, const std::vector<Change>& changes);

// The new bytes of each file the given hunks touch (any subset of one plan's hunks, in any order):
// file index -> bytes. Fails with InvalidArgument when two hunks overlap or a span is out of range.
Expected<std::vector<std::pair<std::size_t, std::string>>> apply_hunks(const ConfigSet& set,
                                                                       const std::vector<Hunk>& hunks);

// A unified diff (diff -u style, `context` lines around each change) of one file's bytes.
std::string unified_diff(const std::string& path, std::string_view before, std::string_view after, int context = 3);

// ----- Rules over documents (issue 18 item 3) -----------------------------------------------------

// sshd: facts about the host and the user that the hardening rules need.
struct SshdFacts {
    int openssh_major = 9, openssh_minor = 2;  // `sshd -V`
    std::string distro = "debian";             // os-release ID
    std::string distro_version = "12";         // os-release VERSION_ID
    std::string login_method = "publickey";    // how the user logs in: publickey | password | keyboard-interactive
    std::string login_user;                    // the user applying the change ("root" keeps root's key login)
};
// Hardening changes for sshd (ssh-audit's guide for the detected distro/OpenSSH, Mozilla's OpenSSH
// guideline, Lynis SSH-7408), leaving out what is already in effect. Never removes the user's
// login method. Each Change carries its rule id, reason, source and any disagreement.
std::vector<Change> sshd_hardening(const ConfigSet& set, const SshdFacts& facts);

// nginx: limits and sizes the rules read.
struct NginxFacts {
    int cpus = 1;
    std::uint64_t nofile = 1024;       // the worker's open-files limit (ulimit -n of the nginx user, or LimitNOFILE)
    std::uint64_t ram_kb = 0;
};
std::vector<Change> nginx_rules(const ConfigSet& set, const NginxFacts& facts);

// sysctl: the stated workload.
enum class SysctlWorkload { Web, Database, General };
struct SysctlFacts {
    SysctlWorkload workload = SysctlWorkload::General;
    std::uint64_t ram_kb = 0;
    bool rotating_disk = false;
    std::vector<std::pair<std::string, std::string>> running; // `sysctl -a` of the host (what applies when no file sets a key)
};
std::vector<Change> sysctl_rules(const ConfigSet& set, const SysctlFacts& facts);

// redis: memory.
struct RedisFacts {
    std::uint64_t ram_kb = 0;
    bool cache_only = true;            // a cache (evict) vs a store (noeviction)
};
std::vector<Change> redis_rules(const ConfigSet& set, const RedisFacts& facts);

} // namespace sigmaops::config

// =================================================================================================
// Hosts (issue 18 items 1 and 4): a host's facts read over SSH, and the change flow that applies
// a proposal to a file on the host as a journaled transaction: propose -> the user approves all or
// some hunks -> backup -> atomic write -> the service's own checker -> reload through the host's
// service manager -> health check -> on any failure restore, reload and verify again. Every step
// is written to history (History::add_change_step) as it happens; rollback reads that journal.
// Nothing here asks the user directly: an Approver does (the terminal one lives in app/cli).
// =================================================================================================
#include <atomic>
#include <chrono>
#include <map>

namespace sigmaops::remote { class SshSession; struct HostProfile; struct ConnectOptions; }
namespace sigmaops::history { class History; }

namespace sigmaops::config {

// ----- Host facts ---------------------------------------------------------------------------------

struct DiskInfo {
    std::string name;                 // "sda", "nvme0n1" (loop/ram/zram devices are left out)
    bool rotational = false;          // /sys/block/<name>/queue/rotational
    std::uint64_t size_bytes = 0;
};

struct HostFacts {
    std::string host;                 // the name it was collected for
    std::int64_t collected_ms = 0;    // when (ms since the epoch, UTC)
    bool from_cache = false;          // true when gather_facts() reused a stored record
    int cpus = 0;                     // online CPUs; 0 = unknown
    std::uint64_t mem_kb = 0;         // MemTotal; 0 = unknown
    std::vector<DiskInfo> disks;
    std::string kernel;               // `uname -sr`
    std::string os_id, os_version_id, os_pretty;  // /etc/os-release ID, VERSION_ID, PRETTY_NAME
    std::map<std::string, std::string> versions;  // "openssh" -> "9.2p1", "nginx" -> "1.22.1",
                                                  // "postgresql" -> "15.10", "redis" -> "7.0.15" (present ones only)
    std::uint64_t nofile_soft = 0, nofile_hard = 0;  // ulimit -n of the login shell (UINT64_MAX = unlimited)
    std::map<std::string, std::string> sysctl;    // a few network/VM sysctls: "net.core.somaxconn" -> "4096"
    std::vector<int> listening_ports; // TCP ports in LISTEN, sorted
    std::string service_manager;      // "systemd" when /run/systemd/system exists, else "none"
    std::vector<std::string> notes;   // what could not be read or understood
    bool any_rotational() const;
};

// The read-only POSIX sh script that prints the facts in labelled sections ("@@nproc" ...).
std::string facts_command();
// Reads that output. Never fails: a missing section, tool or garbled line becomes a note.
HostFacts parse_facts(std::string_view output);
std::string facts_json(const HostFacts& facts);
Expected<HostFacts> facts_from_json(std::string_view json);  // BadFile when it is not facts_json's output

struct FactsOptions {
    std::chrono::seconds ttl{3600};   // a stored record younger than this is reused
    bool refresh = false;             // collect again even when a fresh record exists
    std::chrono::milliseconds timeout{20000};
    const std::atomic<bool>* cancel = nullptr;
};
// The facts of the host `session` is connected to: the cached record from `history` when it is
// younger than options.ttl, else collected with one exec and stored (history may be nullptr).
// Errors: the transport's (Network, ...), Cancelled, Database.
Expected<HostFacts> gather_facts(remote::SshSession& session, history::History* history, const std::string& host,
                                 const FactsOptions& options = {});

// `s` as one single-quoted POSIX shell word.
std::string shell_quote(std::string_view s);

// ----- Services and their own tools -----------------------------------------------------------------

// Sysctl: a sysctl.conf / sysctl.d file, applied to the running kernel. Systemd: a unit drop-in
// (<unit>.d/*.conf), picked up by `systemctl daemon-reload` and by the unit at its next restart.
enum class Service { Sshd, Nginx, Postgres, Redis, Sysctl, Systemd };
std::string_view service_name(Service s);              // "sshd", "nginx", "postgres", "redis", "sysctl", "systemd"
std::optional<Service> parse_service(std::string_view s); // also "ssh", "postgresql", "redis-server", "unit", "dropin"

// Where a service's config lives on the host and how to check, reload and reach it. Empty fields
// take the defaults in the comments (default_target fills them for a Debian host).
struct ServiceTarget {
    Service service = Service::Nginx;
    std::string config_path;          // the file changed: /etc/ssh/sshd_config, /etc/nginx/nginx.conf, ...
    std::string service_manager = "none"; // "systemd": systemctl reload/is-active UNIT; "none": the service's own
    std::string unit;                 // systemd unit: ssh, nginx, postgresql@15-main, redis-server; Systemd: the unit
                                      // the drop-in (config_path) extends, e.g. "nginx.service"
    std::string unit_file;            // Systemd: the unit file, for `systemd-analyze verify` (empty: the unit name, found
                                      // on systemd's unit path); its drop-ins are read from <unit_file>.d/ and that path
    std::string binary;               // sshd: /usr/sbin/sshd; nginx: nginx; postgres: the newest
                                      // /usr/lib/postgresql/*/bin/postgres; redis: redis-server
    std::string pid_file;             // sshd/redis: the daemon's pid file (reload by signal without systemd)
    std::string prefix;               // nginx: -p PREFIX (empty: nginx's compiled-in prefix)
    std::string data_dir;             // postgres: the data directory (pg_ctl -D)
    std::string socket_dir;           // postgres: the Unix socket directory for psql (-h)
    std::string run_as;               // postgres: the server's account ("postgres")
    int port = 0;                     // the port the health check talks to (sshd 22, nginx 80, postgres 5432, redis 6379)
};
// Service by service, what stands in where a service has no checker or no reload of its own:
//  - redis: no config test: a test start on a private socket with no port or persistence; reload =
//    CONFIG SET of each changed directive (never requirepass/masterauth: a secret never reaches a
//    command line; those take effect at the next restart). With requirepass in the file, redis-cli
//    gets it through REDISCLI_AUTH, read from the file on the host by the command itself (never argv,
//    never history).
//  - sysctl: `sysctl -p` has no dry run (it writes every key), so the checker reads without
//    applying: each key exists under /proc/sys and is writable here (a read-only /proc/sys, as in
//    containers, is said plainly: "cannot apply: /proc/sys is read-only"), each value has the shape
//    of the key's current value (integers stay integers, same count). Reload = `sysctl -p FILE`
//    (`sysctl --system` for a file under sysctl.d) after saving every key's running value; when it
//    fails the saved values are written back, so no key stays half-applied. Health = each changed
//    key read back. Rollback writes back the running values saved before the change.
//  - systemd drop-ins: the drop-in must parse (config::parse), then `systemd-analyze verify` on the
//    unit when installed (any diagnostic naming the drop-in fails it: systemd would ignore that
//    line). Reload = `systemctl daemon-reload` when systemd runs (never a restart: the unit picks the
//    change up at its next restart, and the report says so); without systemd as PID 1 nothing loads
//    a drop-in, so the change is not applied: the original is put back and the report says why.
ServiceTarget default_target(Service service, const HostFacts& facts);

// ----- Proposals and hunks ------------------------------------------------------------------------

// One file's proposed change: its bytes as read and non-overlapping hunks over them (config::Hunk,
// file = 0). Any subset of the hunks applies.
struct FileChange {
    std::string path;
    std::string before;
    std::vector<Hunk> hunks;          // sorted by begin
};

// Hunks from a line diff of `before` and `after`: each run of changed lines is one hunk (a byte
// span of whole lines and its replacement). A hunk's change (reason, source, rule id) is the entry
// of `why` whose key is set on one of the hunk's lines (keys compared case-insensitively, the
// first word of the line, '#' comments skipped); hunks no entry explains say "edited text".
std::vector<Hunk> line_hunks(std::string_view before, std::string_view after, const std::vector<Change>& why = {});
// `before` with the chosen hunks applied (any subset, any order). InvalidArgument when two
// overlap or a span is out of range.
Expected<std::string> apply_text_hunks(std::string_view before, const std::vector<Hunk>& hunks);
// The change as the user reads it: per hunk a header "hunk N/M: reason" + "source: ...", then
// the hunk as a unified diff with `context` lines. `selected` (empty = all) picks hunks.
std::string render_file_change(const FileChange& change, const std::vector<bool>& selected = {}, int context = 3);
// The whole selected result as one unified diff (what history stores).
std::string file_change_diff(const FileChange& change, const std::vector<bool>& selected = {});

// A proposal for one host and one file of one service.
struct Proposal {
    std::string host;                 // the name the user typed
    ServiceTarget target;
    FileChange file;
    std::vector<std::string> notes;   // warnings from the rules (shown before the hunks)
};

// PostgreSQL settings (e.g. pgtune()'s) as text edits of postgresql.conf: the last active line of
// each setting gets the new value (its trailing comment kept); a setting that is only commented
// out gets a new line after the commented one; others go at the end. Settings already at the
// value are left out (never recommend what is set).
FileChange postgres_text_change(const std::string& path, const std::string& before, const std::vector<PgSetting>& settings);

// Config files read through an SSH session (`cat`, under sudo when `sudo`); include globs are
// expanded by the remote shell, and a pattern with characters beyond path and glob characters is
// refused (InvalidArgument) so that nothing from a config file reaches a shell otherwise.
FileSource remote_files(remote::SshSession& session, bool sudo);

struct HostPlanOptions {
    bool sudo = false;                    // read the files as root through sudo
    std::string pg_type = "web";          // PostgreSQL workload (PGTune's DB type)
    std::string login_method = "publickey";  // sshd: how the user logs in (never turned off)
    std::string login_user;               // sshd: who logs in
    bool redis_store = false;             // redis: a store (noeviction), not a cache
    std::string sysctl_workload = "general";  // sysctl: web | database | general
};
struct HostPlan {
    std::vector<Proposal> proposals;      // one per file with hunks, in the order the service reads them
    std::vector<std::string> notes;       // the rules' warnings
};
// Reads target.config_path and its includes over `session`, runs the service's rules for `facts`
// (PostgreSQL: pgtune(); sshd: sshd_hardening(); nginx: nginx_rules(); redis: redis_rules()),
// plans the changes and groups the hunks per file. Errors: the files' (NotFound, BadFile
// "FILE:LINE: why"), the transport's, InvalidArgument for a bad pg_type.
Expected<HostPlan> plan_on_host(remote::SshSession& session, const HostFacts& facts, const std::string& host,
                                const ServiceTarget& target, const HostPlanOptions& options = {});

// The same per-host changes for Ansible (`--export-ansible DIR`): DIR/inventory.ini and
// DIR/playbook.yml, one play per host. Each file gets exactly the bytes apply_change() would
// write with every hunk approved (copy, backup: true), then the service's checker runs on it;
// when the checker refuses, the backup is put back and the play fails; a handler reloads the
// service as the change flow does. Returns the files written; Io when DIR is not writable.
struct AnsibleHost {
    std::string name;                 // the inventory name
    std::string address;              // ansible_host
    int port = 22;
    std::string user;                 // ansible_user ("" = Ansible's default)
    std::string identity_file;        // ansible_ssh_private_key_file ("" = none)
    std::string known_hosts;          // a UserKnownHostsFile with strict checking ("" = Ansible's default)
    bool become = false;              // ansible_become (sudo) for a user who is not root
    std::vector<Proposal> proposals;
};
Expected<std::vector<std::string>> export_ansible(const std::vector<AnsibleHost>& hosts, const std::string& dir);

// ----- The change flow ----------------------------------------------------------------------------

// Who approves. The terminal implementation asks on /dev/tty and declines without one; there is
// deliberately no implementation that approves by itself outside tests.
class Approver {
public:
    virtual ~Approver() = default;
    // Shown the proposal (render_file_change), returns one flag per hunk: true = apply it. All
    // false (or a wrong-sized vector) = declined; nothing is written.
    virtual std::vector<bool> choose_hunks(const Proposal& proposal) = 0;
    // Asked before a recorded change is rolled back; `summary` says what will be restored.
    virtual bool confirm_rollback(const std::string& summary) = 0;
};

struct ApplyOptions {
    std::int64_t session_id = 0;      // history session the change belongs to (0 = none)
    std::string backup_dir = "/var/backups/sigmaops";  // on the host; created 0700
    std::chrono::milliseconds health_timeout{10000};   // how long a service may take to answer after a reload
    std::chrono::milliseconds command_timeout{60000};  // each checker/reload command
    // Called before each step ("read", "backup", "write", "validate", "reload", "health",
    // "restore") with what it is about to do: progress for the CLI, fault injection for tests.
    std::function<void(const std::string& step, const std::string& what)> on_step;
    // How to open a second connection: the fresh login that proves sshd still lets the user in
    // (to target.port when set), and a reconnect after the first connection is lost mid-change.
    // Without a profile neither is tried (an sshd change then fails its health check).
    const remote::HostProfile* login_profile = nullptr;
    const remote::ConnectOptions* login_options = nullptr;
};

enum class Outcome {
    Applied,            // written, validated, reloaded, healthy
    Declined,           // the user approved no hunk; nothing written
    Unchanged,          // nothing to change
    ValidationFailed,   // the checker refused it; the original is back; never reloaded
    RolledBack,         // reload or health check failed; the original is back and healthy again
    Failed,             // something failed and the original could not be fully restored or verified: see message
};
std::string_view outcome_name(Outcome o);  // "applied", "declined", "unchanged", "validation-failed", "rolled-back", "failed"

struct ApplyReport {
    std::int64_t change_id = 0;       // history config change id (the CHANGE_ID of `sigmaops rollback`); 0 = none recorded
    Outcome outcome = Outcome::Failed;
    std::string message;              // what happened, for the user
    std::string backup_path;
    std::string validation_output;
    std::string file_state;           // after a lost connection: "old", "new" or "other" as found on reconnect
    std::vector<std::string> notes;   // e.g. "shared_buffers needs a restart to take effect"
};

// Applies `proposal` through `session` (see the section comment). Returns a report for every
// outcome the flow handles (declined, refused by the checker, rolled back...); an Error only
// when it could not start (history not writable, the file changed since the proposal: Conflict
// is InvalidArgument with a message saying to propose again).
Expected<ApplyReport> apply_change(remote::SshSession& session, history::History& history, const Proposal& proposal,
                                   Approver& approver, const ApplyOptions& options = {});
// Restores the file a recorded change replaced (its backup, checked against the journal's hash),
// validates, reloads and checks health, after approver.confirm_rollback. Refuses (InvalidArgument)
// when the file on the host is neither the change's result nor the original (someone edited it
// since), or the change was never written.
Expected<ApplyReport> rollback_change(remote::SshSession& session, history::History& history, std::int64_t change_id,
                                      Approver& approver, const ApplyOptions& options = {});
// Compares the file on the host with the journal's hashes, records a "state" step and returns
// "old" (the original), "new" (the change's result) or "other".
Expected<std::string> check_change_state(remote::SshSession& session, history::History& history, std::int64_t change_id);

} // namespace sigmaops::config
