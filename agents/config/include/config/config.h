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
