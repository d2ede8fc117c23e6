// history/history.h - the SigmaOps record: every chat, command, config change, host profile and log
// finding, kept in one SQLite database shared by the terminal and desktop apps, searchable with
// FTS5 and safe against crashes (WAL, every related write in one transaction).
//
// Tuned for: one user's history on one machine (10^5..10^6 messages), a few writers at once (the
// app's chat thread, a command runner, a second app instance). Reads are indexed; search is FTS5
// ranked with bm25 over at most the newest SearchQuery::rank_window matches (see search()).
//
// Threads and processes:
//   * A History owns ONE SQLite connection and is not thread-safe: open one per thread (it may be
//     moved to another thread, not shared). Any number of connections, in any number of
//     processes, may use the same file at once: writes take the lock up front (BEGIN IMMEDIATE) and
//     wait up to Options::busy_timeout_ms, so "database is locked" only appears after that wait.
// Errors: every call returns sigmaops::Expected; nothing here throws. Codes used:
//   Database (an SQLite failure; the message names the call and file:line), BadFile (the file is
//   not a SQLite database or is damaged: the message says to move it aside, see move_aside()),
//   TooNew (written by a newer SigmaOps; never downgraded), NotFound (no such id),
//   InvalidArgument (bad role, status transition, JSON...), Io (directories, files).
// Text: all strings are UTF-8; invalid UTF-8 (e.g. binary command output) is stored with U+FFFD
// in place of the bad bytes, so that what is stored is exactly what export/import carry.
// Times: milliseconds since the Unix epoch, UTC (int64).
// Secrets: nothing here stores passwords, keys or passphrases; Host has no field for them.
#pragma once

#include <base/result.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace sigmaops::history {

using sigmaops::Expected;
using Id = std::int64_t;  // row ids; 0 means "none"

// The schema version this build writes (PRAGMA user_version). Older databases are migrated
// forward on open (each step in its own transaction); newer ones are refused with TooNew.
//   v1  sessions, messages, commands (+ output), config_changes (+ events), hosts, findings (+ evidence)
//   v2  sessions.pinned, FTS5 index over messages, commands and findings
//   v3  search_rows: index rowids from one sequence in time order, with each row's host and time
//   v4  config_change_steps (the change journal: each step of applying a change, as it happens),
//       host_facts (a host's facts as JSON with the time they were collected)
//   v5  log_sources + log_templates (the message templates each log source showed in earlier
//       diagnoses, so a new run knows which are new), log_reports (stored diagnosis reports)
inline constexpr int kSchemaVersion = 5;

// How a command was judged before it ran.
enum class Risk { Unknown, ReadOnly, Low, Medium, High };
// The life of a config change: Proposed -> Applied | Failed; Applied -> RolledBack | Failed;
// Failed -> RolledBack. RolledBack is final. Other transitions are InvalidArgument.
enum class ChangeStatus { Proposed, Applied, RolledBack, Failed };

const char* to_string(Risk r);                   // "unknown", "read-only", "low", "medium", "high"
const char* to_string(ChangeStatus s);           // "proposed", "applied", "rolled-back", "failed"
std::optional<Risk> risk_from_string(std::string_view s);
std::optional<ChangeStatus> change_status_from_string(std::string_view s);

// A conversation. `host` is the host context it was about ("db2", "" = none).
struct Conversation {
    Id id = 0;
    std::string title;
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;   // last message/command/change in it
    std::string model;             // model name or file the assistant used
    std::string host;
    bool pinned = false;           // pinned sessions are never removed by apply_retention()
    std::int64_t n_messages = 0;   // filled by list_sessions()/session()
};

// One chat message. role: "system", "user", "assistant" or "tool".
struct Message {
    Id id = 0;
    Id session_id = 0;
    std::string role;
    std::string content;
    std::int64_t created_ms = 0;
    int n_prompt_tokens = 0;       // prompt tokens evaluated for this reply (assistant), else 0
    int n_tokens = 0;              // tokens of this message (decoded tokens for a reply)
    double prompt_ms = 0;          // prompt evaluation time
    double decode_ms = 0;          // generation time
};

// Counters the engine reports with a reply (llm::Usage maps onto it directly).
struct MessageStats {
    int n_prompt_tokens = 0;
    int n_tokens = 0;
    double prompt_ms = 0;
    double decode_ms = 0;
};

// A shell command run (or refused) on a host, with its output.
struct Command {
    Id id = 0;
    Id session_id = 0;             // 0 = not part of a conversation
    std::string host;              // "localhost" or a host profile name
    std::string text;              // the command line
    Risk risk = Risk::Unknown;
    std::string approved_by;       // who approved it ("user", "auto:read-only", ...); "" = not approved
    std::optional<int> exit_code;  // empty: did not run / no status (killed, refused)
    std::string stdout_text;       // capped at Options::output_cap_bytes (see record_command)
    std::string stderr_text;
    bool stdout_truncated = false;
    bool stderr_truncated = false;
    std::int64_t n_stdout_bytes = 0;  // size before capping
    std::int64_t n_stderr_bytes = 0;
    std::int64_t started_ms = 0;   // 0 in record_command(): now
    double duration_ms = 0;
};

// A status change of a config change, kept as an audit trail.
struct ChangeEvent {
    ChangeStatus status = ChangeStatus::Proposed;
    std::int64_t at_ms = 0;
    std::string note;
};

// A change to a config file on a host: the diff, where the backup went, what validation said.
struct ConfigChange {
    Id id = 0;
    Id session_id = 0;
    std::string host;
    std::string path;              // the file changed, e.g. /etc/nginx/nginx.conf
    std::string diff;              // unified diff
    std::string backup_path;       // where the original was copied ("" until applied)
    std::string validation_output; // e.g. `nginx -t` output
    ChangeStatus status = ChangeStatus::Proposed;
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;
    std::vector<ChangeEvent> events;  // filled by config_change()/config_changes(), oldest first
};

// One step of applying or rolling back a config change, written as it happens (the change
// journal: the intent before acting, each step's outcome after it). `step` is a short word
// ("plan", "backup", "write", "validate", "reload", "health", "restore", "state"); `detail` is
// free text, usually a JSON object (paths, hashes, command output).
struct ChangeStep {
    Id id = 0;
    std::string step;
    bool ok = true;
    std::int64_t at_ms = 0;
    std::string detail;
};

// A host's facts as collected (JSON text, see config::HostFacts) and when.
struct HostFactsRecord {
    std::string host;
    std::string facts_json;
    std::int64_t collected_ms = 0;
};

// A host profile. Never holds secrets: authentication comes from ssh-agent / ~/.ssh.
struct Host {
    Id id = 0;
    std::string name;              // unique, what the user types ("db2")
    std::string address;           // hostname or IP
    int port = 22;
    std::string user;
    std::string tags;              // free text, comma separated
    std::string notes;
    std::int64_t created_ms = 0;
};

// A line of evidence behind a finding: "/var/log/syslog:1234" and the excerpt.
struct Evidence {
    std::string ref;
    std::string excerpt;
};

// A log diagnosis result.
struct Finding {
    Id id = 0;
    Id session_id = 0;
    std::string host;
    std::string source;            // log file or unit: "/var/log/nginx/error.log", "journal:sshd"
    std::string severity;          // "info", "warning", "error", "critical"
    std::string summary;
    std::string detail;
    std::vector<Evidence> evidence;
    std::int64_t created_ms = 0;
};

// A message template a log source showed (the logs agent's miner output, "Failed password for
// <*> from <*> port <*> ssh2"), accumulated over the diagnoses of that source.
struct LogTemplate {
    std::string text;
    std::int64_t n_records = 0;     // records over all runs
    std::int64_t first_seen_ms = 0; // time of the first run that saw it (0 in record_log_templates: now)
    std::int64_t last_seen_ms = 0;
};

// What history knows about one log source (a file's absolute path, "journal:nginx.service",
// "ssh:db2:/var/log/syslog"...): how often it was diagnosed and its templates.
struct LogSourceHistory {
    std::string source;
    std::int64_t n_runs = 0;        // 0: never diagnosed (then no templates)
    std::int64_t first_run_ms = 0, last_run_ms = 0;
    std::vector<LogTemplate> templates;
};

// A stored diagnosis report: the sources read and the report as JSON (logs::report_json).
struct LogReport {
    Id id = 0;
    Id session_id = 0;              // 0 = not part of a conversation
    std::string host;               // "" = this machine
    std::string sources;            // the source names, one per line
    std::string report_json;
    std::int64_t created_ms = 0;
};

// One search result, best first.
struct SearchHit {
    enum class Kind { Message, Command, Finding };
    Kind kind = Kind::Message;
    Id id = 0;                     // id in messages / commands / findings
    Id session_id = 0;             // 0 for a command/finding outside a session
    std::string host;              // command/finding host, or the session's host for a message
    std::string role;              // messages only
    std::int64_t created_ms = 0;
    double score = 0;              // bm25: lower (more negative) is better
    std::string snippet;           // text around the match, matches between '[' and ']'
};
const char* to_string(SearchHit::Kind k);  // "message", "command", "finding"

// Default SearchQuery::rank_window. bm25 costs time per matching row (plus a full pass over each
// term's doclist for its statistics); at 10^5 messages a common word ("nginx") matches tens of
// thousands of rows, and ranking them all dominated a search. Ranking only the newest 2,000
// keeps search in single-digit milliseconds there (docs/benchmarks.md, "History (SQLite)").
inline constexpr int kSearchRankWindow = 2000;

struct SearchQuery {
    std::string text;              // words; all must match (prefix "word*" allowed). See raw.
    int limit = 50;
    std::string host;              // "" = any host
    std::int64_t since_ms = 0;     // 0 = no lower bound
    std::int64_t until_ms = 0;     // 0 = no upper bound (exclusive)
    bool raw = false;              // true: `text` is FTS5 query syntax, passed as is
    // Recency window: when more rows match (after the host/time filters) than this, only the
    // newest rank_window of them are ranked with bm25 (never fewer than `limit`); <= 0 ranks
    // every match. See History::search.
    int rank_window = kSearchRankWindow;
};

struct Options {
    int busy_timeout_ms = 10000;               // how long a writer waits for the lock
    std::int64_t output_cap_bytes = 256 * 1024; // per stream (stdout, stderr) in record_command
    bool create = true;                         // create the file (mode 0600) if missing
    // Source of "now" (ms since epoch); tests set it. Empty: the system clock.
    std::function<std::int64_t()> clock;
};

// $XDG_DATA_HOME/sigmaops/history.db, or ~/.local/share/sigmaops/history.db when XDG_DATA_HOME
// is unset, empty or not absolute (XDG base directory rules; AppPaths). Does not create anything.
std::string default_history_path();
// "2026-11-25 10:25:07 UTC": how history shows a time.
std::string format_utc(std::int64_t ms);

// Renames a damaged database (and its -wal/-shm files) to <path>.corrupt-<YYYYmmdd-HHMMSS>
// (a numeric suffix is added if taken) so that a fresh one can be created. Returns the new path.
Expected<std::string> move_aside(const std::string& path);

class History {
public:
    // Opens (creating it, with its directory, when missing and options.create) the database at
    // `path`, sets WAL, foreign keys and the busy timeout, and migrates it to kSchemaVersion.
    // BadFile: not a SQLite file / damaged / truncated (nothing was written to it; the message
    // says to move it aside). TooNew: user_version > kSchemaVersion (message has both versions).
    static Expected<std::unique_ptr<History>> open(const std::string& path, const Options& options = {});
    ~History();
    History(const History&) = delete;
    History& operator=(const History&) = delete;

    const std::string& path() const { return m_path; }
    int schema_version() const;    // PRAGMA user_version (kSchemaVersion after open)

    // --- sessions and messages (the chat) ---
    Expected<Id> create_session(const std::string& title, const std::string& model, const std::string& host);
    // Appends a message and bumps the session's updated_ms, in one transaction. NotFound: no session.
    Expected<Id> add_message(Id session_id, const std::string& role, const std::string& content,
                             const MessageStats& stats = {});
    Expected<void> rename_session(Id session_id, const std::string& title);
    Expected<void> set_pinned(Id session_id, bool pinned);
    // Most recently updated first.
    Expected<std::vector<Conversation>> list_sessions(int limit = 50, int offset = 0);
    Expected<Conversation> session(Id session_id);
    Expected<std::vector<Message>> messages(Id session_id);  // oldest first

    // --- commands ---
    // Stores the command and its output in one transaction. Output longer than
    // Options::output_cap_bytes per stream keeps its first bytes (cut at a UTF-8 boundary), sets
    // *_truncated, and ends with a note "[sigmaops: output truncated: kept X of Y bytes]".
    // `c.id` is ignored; session_id 0 = none. Returns the new id.
    Expected<Id> record_command(const Command& c);
    Expected<Command> command(Id command_id);
    Expected<std::vector<Command>> commands(Id session_id);   // oldest first
    // Commands on `host` ("" = any) in [since_ms, until_ms) (0 = unbounded), newest first.
    Expected<std::vector<Command>> commands_on(const std::string& host, std::int64_t since_ms,
                                               std::int64_t until_ms, int limit = 100);

    // --- config changes ---
    // Records a proposed change (status forced to Proposed, one "proposed" event). Returns its id.
    Expected<Id> propose_change(const ConfigChange& c);
    // Moves a change to `status`, recording the event and (when non-empty) the backup path and
    // validation output, in one transaction. InvalidArgument: transition not allowed.
    Expected<void> set_change_status(Id change_id, ChangeStatus status, const std::string& note = {},
                                     const std::string& backup_path = {},
                                     const std::string& validation_output = {});
    Expected<ConfigChange> config_change(Id change_id);
    Expected<std::vector<ConfigChange>> config_changes(Id session_id);  // oldest first
    // The change journal. add_change_step appends one step (NotFound: no such change);
    // change_steps lists them oldest first. Steps go with their change when it is deleted. Not
    // part of export_json (the journal describes one host's files, not the conversation).
    Expected<Id> add_change_step(Id change_id, const std::string& step, bool ok, const std::string& detail);
    Expected<std::vector<ChangeStep>> change_steps(Id change_id);
    // Changes on `host` ("" = any), newest first.
    Expected<std::vector<ConfigChange>> config_changes_on(const std::string& host, int limit = 100);

    // --- host facts (a cache: the newest collection per host replaces the older one) ---
    Expected<void> set_host_facts(const std::string& host, const std::string& facts_json);
    // NotFound when none were stored for `host`.
    Expected<HostFactsRecord> host_facts(const std::string& host);

    // --- hosts ---
    // Inserts or updates (by name) a host profile. Returns its id.
    Expected<Id> upsert_host(const Host& h);
    Expected<std::vector<Host>> hosts();               // by name
    Expected<Host> host(const std::string& name);
    Expected<void> remove_host(const std::string& name);

    // --- findings ---
    Expected<Id> add_finding(const Finding& f);        // finding + its evidence in one transaction
    Expected<std::vector<Finding>> findings(Id session_id);  // oldest first

    // --- log diagnoses (the logs agent) ---
    // What earlier runs saw of `source`; n_runs 0 and no templates for a source never diagnosed.
    Expected<LogSourceHistory> log_source(const std::string& source);
    // Records one diagnosis run of `source` in one transaction: n_runs + 1, and each template of
    // `seen` added (a new row) or updated (n_records added, last_seen_ms now). Template texts are
    // stored as given: the caller masks secrets first.
    Expected<void> record_log_run(const std::string& source, const std::vector<LogTemplate>& seen);
    // Stores a report (its findings go in separately with add_finding). Returns its id.
    Expected<Id> add_log_report(const LogReport& r);
    // Replaces a stored report's JSON (the model's answer came after it was stored). NotFound: no such report.
    Expected<void> set_log_report_json(Id report_id, const std::string& report_json);
    Expected<LogReport> log_report(Id report_id);
    // Reports of a session (0 = those outside any session), oldest first.
    Expected<std::vector<LogReport>> log_reports(Id session_id);

    // --- search ---
    // Full-text search over messages, commands (text + output) and findings, ranked by bm25,
    // best first, with snippets. An empty query gives an empty list.
    // Recency window (the trade-off that keeps search fast at 10^5..10^6 messages): when more
    // than q.rank_window rows match (after the host/time filters), only the newest rank_window
    // matches are ranked; older ones are not returned even if bm25 would score them higher. A
    // sysadmin searching a common word ("nginx") gets the best of the recent hits; a rarer word
    // (fewer matches than the window) is ranked over the whole history, exactly as before. bm25's
    // statistics (document count, term frequencies) still come from the whole index, so scores
    // are comparable across queries. "Newest" is index order: rows are numbered as they are
    // written (rows migrated from v2 by their time), so an imported session counts as new.
    // q.rank_window <= 0 ranks every match (slower: bm25 runs on every matching row).
    Expected<std::vector<SearchHit>> search(const SearchQuery& q);
    Expected<std::vector<SearchHit>> search(const std::string& text, int limit = 50);

    // --- export / import / delete / retention ---
    Expected<std::string> export_markdown(Id session_id);
    // A JSON document {"format":"sigmaops-history-session","version":1,"session":{...},
    // "messages":[...],"commands":[...],"config_changes":[...],"findings":[...]} without row ids,
    // so that export_json(import_json(export_json(s))) == export_json(s) byte for byte.
    Expected<std::string> export_json(Id session_id);
    // Imports one exported session as a new session (one transaction). Returns its id.
    // InvalidArgument: not a SigmaOps export, or a field missing / of the wrong type.
    Expected<Id> import_json(std::string_view json);
    // Deletes a session and everything in it (messages, commands, changes, findings, index rows).
    Expected<void> remove_session(Id session_id);
    // Deletes sessions last updated more than `days` days ago, except pinned ones, and commands,
    // changes, findings and log reports outside any session older than that, and the template
    // history of log sources not diagnosed since then. Returns how many sessions went.
    // days <= 0 is InvalidArgument (use remove_session to delete everything explicitly).
    Expected<std::int64_t> apply_retention(int days);

    // Runs PRAGMA integrity_check; "ok" when healthy.
    Expected<std::string> integrity_check();

    // The raw connection, for tests and tools. Do not close it.
    sqlite3* handle() const { return m_db; }

private:
    History(sqlite3* db, std::string path, Options options);
    std::int64_t now_ms() const;

    struct StatementCache;                    // prepared statements, by SQL text
    sqlite3* m_db = nullptr;
    std::string m_path;
    Options m_options;
    std::unique_ptr<StatementCache> m_cache;

    friend struct HistoryAccess;   // history.cpp's internals
};

} // namespace sigmaops::history
