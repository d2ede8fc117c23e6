// history/history.cpp - opening, migrating and writing the SigmaOps history database; reads and
// full-text search. Export/import live in export.cpp, the CLI in history_cli.cpp.
//
// Durability: WAL with synchronous=NORMAL. A committed transaction survives a crash or SIGKILL of
// the process (it is in the WAL, written before COMMIT returns); after a power loss the last
// transactions may be lost but the file stays consistent. Every group of writes that belong
// together runs in one BEGIN IMMEDIATE transaction.
#include <history/history.h>
#include "history_internal.h"

#include <base/paths.h>
#include <base/text.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <limits>
#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sigmaops::history {

using detail::Stmt;
using sigmaops::ErrorCode;
using sigmaops::Exception;


// ---------------------------------------------------------------------------------------------
// Names

const char* to_string(Risk r) {
    switch (r) {
    case Risk::Unknown: return "unknown";
    case Risk::ReadOnly: return "read-only";
    case Risk::Low: return "low";
    case Risk::Medium: return "medium";
    case Risk::High: return "high";
    }
    return "unknown";
}

const char* to_string(ChangeStatus s) {
    switch (s) {
    case ChangeStatus::Proposed: return "proposed";
    case ChangeStatus::Applied: return "applied";
    case ChangeStatus::RolledBack: return "rolled-back";
    case ChangeStatus::Failed: return "failed";
    }
    return "proposed";
}

const char* to_string(SearchHit::Kind k) {
    switch (k) {
    case SearchHit::Kind::Message: return "message";
    case SearchHit::Kind::Command: return "command";
    case SearchHit::Kind::Finding: return "finding";
    }
    return "message";
}

std::optional<Risk> risk_from_string(std::string_view s) {
    for (Risk r : {Risk::Unknown, Risk::ReadOnly, Risk::Low, Risk::Medium, Risk::High})
        if (s == to_string(r)) return r;
    return std::nullopt;
}

std::optional<ChangeStatus> change_status_from_string(std::string_view s) {
    for (ChangeStatus c : {ChangeStatus::Proposed, ChangeStatus::Applied, ChangeStatus::RolledBack, ChangeStatus::Failed})
        if (s == to_string(c)) return c;
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Paths

std::string default_history_path() { return AppPaths::resolve().history_db; }

std::string format_utc(std::int64_t ms) {
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

namespace detail {

std::string bad_file_hint(const std::string& path) {
    return "\nThe history database " + path +
           " is damaged or is not a SQLite database; nothing was written to it. To start a fresh history, "
           "move it aside (the app offers this; from a terminal: `sigmaops history move-aside`). The old file is "
           "kept next to it for recovery (e.g. `sqlite3 OLDFILE .recover`).";
}


} // namespace detail

namespace {

// Creates every missing directory of `dir` with mode 0700.
void make_dirs(const std::string& dir) {
    if (dir.empty()) return;
    std::string cur;
    std::size_t pos = 0;
    while (pos != std::string::npos) {
        pos = dir.find('/', pos + 1);
        cur = dir.substr(0, pos);
        if (cur.empty()) continue;
        if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
            throw Exception(ErrorCode::Io, "cannot create directory " + cur + ": " + std::strerror(errno));
    }
}

std::string parent_dir(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return "";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::uint32_t be32(const unsigned char* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

// Checks the file header before SQLite sees the file: the magic string, and (when no WAL holds
// newer pages) that the file is as long as the header says. Throws BadFile.
void check_header(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;  // missing: created later; unreadable: SQLite reports it
    struct stat st{};
    unsigned char hdr[100];
    ssize_t n = 0;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) n = ::pread(fd, hdr, sizeof hdr, 0);
    ::close(fd);
    if (st.st_size == 0) return;  // an empty file is an empty database
    if (n < 100 || std::memcmp(hdr, "SQLite format 3", 16) != 0)
        throw Exception(ErrorCode::BadFile, "opening history database " + path + ": the file is not a SQLite database (" +
                                                std::to_string(st.st_size) + " bytes, no SQLite header)");
    std::uint32_t page_size = (std::uint32_t(hdr[16]) << 8) | hdr[17];
    if (page_size == 1) page_size = 65536;
    std::uint32_t n_pages = be32(hdr + 28);
    bool size_valid = be32(hdr + 24) == be32(hdr + 92) && n_pages > 0;
    struct stat wal{};
    bool wal_has_data = ::stat((path + "-wal").c_str(), &wal) == 0 && wal.st_size > 0;
    if (size_valid && !wal_has_data && std::uint64_t(st.st_size) < std::uint64_t(page_size) * n_pages)
        throw Exception(ErrorCode::BadFile, "opening history database " + path + ": the file is truncated (" +
                                                std::to_string(st.st_size) + " bytes; its header says " +
                                                std::to_string(n_pages) + " pages of " + std::to_string(page_size) + ")");
}

int read_user_version(sqlite3* db) {
    sqlite3_stmt* st = nullptr;
    SQL_CHECK(db, sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr));
    int rc = sqlite3_step(st);
    int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    SQL_CHECK(db, rc);
    return v;
}

std::string pragma_text(sqlite3* db, const char* sql) {
    sqlite3_stmt* st = nullptr;
    SQL_CHECK(db, sqlite3_prepare_v2(db, sql, -1, &st, nullptr));
    int rc = sqlite3_step(st);
    std::string v;
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0)) v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    SQL_CHECK(db, rc);
    return v;
}

std::string too_new_message(const std::string& path, int version) {
    return "history database " + path + " has schema version " + std::to_string(version) +
           ", but this SigmaOps knows versions up to " + std::to_string(kSchemaVersion) +
           ": it was written by a newer SigmaOps. Update SigmaOps, or use another file with --db. "
           "The database was not changed.";
}

// ---------------------------------------------------------------------------------------------
// Migrations. migrations[v] takes a database from version v to v+1. Never edit a released step:
// add a new one (and bump kSchemaVersion). Each runs in its own transaction with the version bump.

// v0 -> v1: the base tables.
const char* const kMigrationV1 = R"SQL(
CREATE TABLE sessions(
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  model TEXT NOT NULL DEFAULT '',
  host TEXT NOT NULL DEFAULT '');
CREATE INDEX sessions_updated ON sessions(updated_ms, id);

CREATE TABLE messages(
  id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK(role IN ('system', 'user', 'assistant', 'tool')),
  content TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  n_prompt_tokens INTEGER NOT NULL DEFAULT 0,
  n_tokens INTEGER NOT NULL DEFAULT 0,
  prompt_ms REAL NOT NULL DEFAULT 0,
  decode_ms REAL NOT NULL DEFAULT 0);
CREATE INDEX messages_session ON messages(session_id, id);

CREATE TABLE commands(
  id INTEGER PRIMARY KEY,
  session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
  host TEXT NOT NULL,
  text TEXT NOT NULL,
  risk TEXT NOT NULL CHECK(risk IN ('unknown', 'read-only', 'low', 'medium', 'high')),
  approved_by TEXT NOT NULL DEFAULT '',
  exit_code INTEGER,
  started_ms INTEGER NOT NULL,
  duration_ms REAL NOT NULL DEFAULT 0);
CREATE INDEX commands_session ON commands(session_id);
CREATE INDEX commands_host_time ON commands(host, started_ms);
CREATE INDEX commands_time ON commands(started_ms);

CREATE TABLE command_output(
  command_id INTEGER NOT NULL REFERENCES commands(id) ON DELETE CASCADE,
  stream TEXT NOT NULL CHECK(stream IN ('stdout', 'stderr')),
  content TEXT NOT NULL,
  n_bytes INTEGER NOT NULL,
  truncated INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(command_id, stream));

CREATE TABLE config_changes(
  id INTEGER PRIMARY KEY,
  session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
  host TEXT NOT NULL,
  path TEXT NOT NULL,
  diff TEXT NOT NULL,
  backup_path TEXT NOT NULL DEFAULT '',
  validation_output TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK(status IN ('proposed', 'applied', 'rolled-back', 'failed')),
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL);
CREATE INDEX config_changes_session ON config_changes(session_id);
CREATE INDEX config_changes_host ON config_changes(host, updated_ms);

CREATE TABLE config_change_events(
  id INTEGER PRIMARY KEY,
  change_id INTEGER NOT NULL REFERENCES config_changes(id) ON DELETE CASCADE,
  status TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  note TEXT NOT NULL DEFAULT '');
CREATE INDEX config_change_events_change ON config_change_events(change_id, id);

CREATE TABLE hosts(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  address TEXT NOT NULL DEFAULT '',
  port INTEGER NOT NULL DEFAULT 22,
  user TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '',
  notes TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL);

CREATE TABLE findings(
  id INTEGER PRIMARY KEY,
  session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
  host TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  severity TEXT NOT NULL DEFAULT '',
  summary TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL);
CREATE INDEX findings_session ON findings(session_id);
CREATE INDEX findings_time ON findings(created_ms);

CREATE TABLE finding_evidence(
  finding_id INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
  ord INTEGER NOT NULL,
  ref TEXT NOT NULL,
  excerpt TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(finding_id, ord));
)SQL";

// v1 -> v2: pinned sessions and the full-text index. One FTS5 table ranks all three kinds with
// one set of bm25 statistics; rowid = id * 4 + kind (0 message, 1 command, 2 finding), so
// deletes are rowid lookups. Triggers keep it in step with the tables.
const char* const kMigrationV2 = R"SQL(
ALTER TABLE sessions ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;

CREATE VIRTUAL TABLE search_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
  INSERT INTO search_fts(rowid, body) VALUES (new.id * 4, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
  DELETE FROM search_fts WHERE rowid = old.id * 4;
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
  UPDATE search_fts SET body = new.content WHERE rowid = new.id * 4;
END;

CREATE TRIGGER commands_fts_insert AFTER INSERT ON commands BEGIN
  INSERT INTO search_fts(rowid, body) VALUES (new.id * 4 + 1, new.text);
END;
CREATE TRIGGER commands_fts_delete AFTER DELETE ON commands BEGIN
  DELETE FROM search_fts WHERE rowid = old.id * 4 + 1;
END;
CREATE TRIGGER command_output_fts_insert AFTER INSERT ON command_output BEGIN
  UPDATE search_fts SET body = body || char(10) || new.content WHERE rowid = new.command_id * 4 + 1;
END;

CREATE TRIGGER findings_fts_insert AFTER INSERT ON findings BEGIN
  INSERT INTO search_fts(rowid, body)
    VALUES (new.id * 4 + 2, new.summary || char(10) || new.detail || char(10) || new.source);
END;
CREATE TRIGGER findings_fts_delete AFTER DELETE ON findings BEGIN
  DELETE FROM search_fts WHERE rowid = old.id * 4 + 2;
END;
CREATE TRIGGER finding_evidence_fts_insert AFTER INSERT ON finding_evidence BEGIN
  UPDATE search_fts SET body = body || char(10) || new.ref || ' ' || new.excerpt WHERE rowid = new.finding_id * 4 + 2;
END;

INSERT INTO search_fts(rowid, body) SELECT id * 4, content FROM messages;
INSERT INTO search_fts(rowid, body)
  SELECT c.id * 4 + 1, c.text || coalesce((SELECT group_concat(char(10) || o.content, '') FROM
         (SELECT content FROM command_output WHERE command_id = c.id ORDER BY stream DESC) o), '')
  FROM commands c;
INSERT INTO search_fts(rowid, body)
  SELECT f.id * 4 + 2, f.summary || char(10) || f.detail || char(10) || f.source ||
         coalesce((SELECT group_concat(char(10) || e.ref || ' ' || e.excerpt, '') FROM
         (SELECT ref, excerpt FROM finding_evidence WHERE finding_id = f.id ORDER BY ord) e), '')
  FROM findings f;
)SQL";

// v2 -> v3: search index rowids in time order. v2's rowid = id * 4 + kind kept each kind in its
// own id range, so "the newest matches" (see History::search) could not be read off the index.
// v3 gives every indexed row a rowid from ONE sequence (search_rows.id, in insertion order;
// existing rows are numbered by time), and search_rows maps it back to (kind, ref) and carries the
// row's host and time, so that host/time filters are one primary-key lookup. Triggers keep both
// in step with the tables; the FTS text is copied from the v2 index (same tokenizer, same bodies).
const char* const kMigrationV3 = R"SQL(
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TRIGGER commands_fts_insert;
DROP TRIGGER commands_fts_delete;
DROP TRIGGER command_output_fts_insert;
DROP TRIGGER findings_fts_insert;
DROP TRIGGER findings_fts_delete;
DROP TRIGGER finding_evidence_fts_insert;
ALTER TABLE search_fts RENAME TO search_fts_v2;

CREATE TABLE search_rows(
  id INTEGER PRIMARY KEY,            -- = search_fts.rowid
  kind INTEGER NOT NULL,             -- 0 message, 1 command, 2 finding
  ref INTEGER NOT NULL,              -- id in messages / commands / findings
  host TEXT NOT NULL DEFAULT '',     -- command/finding host, or the message's session host
  created_ms INTEGER NOT NULL,       -- message created_ms, command started_ms, finding created_ms
  UNIQUE(kind, ref));
CREATE VIRTUAL TABLE search_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');

INSERT INTO search_rows(kind, ref, host, created_ms)
  SELECT kind, ref, host, t FROM (
    SELECT 0 AS kind, m.id AS ref, coalesce(s.host, '') AS host, m.created_ms AS t
      FROM messages m LEFT JOIN sessions s ON s.id = m.session_id
    UNION ALL SELECT 1, id, host, started_ms FROM commands
    UNION ALL SELECT 2, id, host, created_ms FROM findings)
  ORDER BY t, kind, ref;
INSERT INTO search_fts(rowid, body)
  SELECT r.id, coalesce(o.body, '') FROM search_rows r LEFT JOIN search_fts_v2 o ON o.rowid = r.ref * 4 + r.kind ORDER BY r.id;
DROP TABLE search_fts_v2;

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
  INSERT INTO search_rows(kind, ref, host, created_ms)
    VALUES (0, new.id, coalesce((SELECT host FROM sessions WHERE id = new.session_id), ''), new.created_ms);
  INSERT INTO search_fts(rowid, body) VALUES (last_insert_rowid(), new.content);
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
  DELETE FROM search_fts WHERE rowid = (SELECT id FROM search_rows WHERE kind = 0 AND ref = old.id);
  DELETE FROM search_rows WHERE kind = 0 AND ref = old.id;
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF content ON messages BEGIN
  UPDATE search_fts SET body = new.content WHERE rowid = (SELECT id FROM search_rows WHERE kind = 0 AND ref = new.id);
END;
CREATE TRIGGER sessions_search_host AFTER UPDATE OF host ON sessions BEGIN
  UPDATE search_rows SET host = new.host WHERE kind = 0 AND ref IN (SELECT id FROM messages WHERE session_id = new.id);
END;

CREATE TRIGGER commands_search_insert AFTER INSERT ON commands BEGIN
  INSERT INTO search_rows(kind, ref, host, created_ms) VALUES (1, new.id, new.host, new.started_ms);
  INSERT INTO search_fts(rowid, body) VALUES (last_insert_rowid(), new.text);
END;
CREATE TRIGGER commands_search_delete AFTER DELETE ON commands BEGIN
  DELETE FROM search_fts WHERE rowid = (SELECT id FROM search_rows WHERE kind = 1 AND ref = old.id);
  DELETE FROM search_rows WHERE kind = 1 AND ref = old.id;
END;
CREATE TRIGGER command_output_search_insert AFTER INSERT ON command_output BEGIN
  UPDATE search_fts SET body = body || char(10) || new.content
    WHERE rowid = (SELECT id FROM search_rows WHERE kind = 1 AND ref = new.command_id);
END;

CREATE TRIGGER findings_search_insert AFTER INSERT ON findings BEGIN
  INSERT INTO search_rows(kind, ref, host, created_ms) VALUES (2, new.id, new.host, new.created_ms);
  INSERT INTO search_fts(rowid, body) VALUES (last_insert_rowid(), new.summary || char(10) || new.detail || char(10) || new.source);
END;
CREATE TRIGGER findings_search_delete AFTER DELETE ON findings BEGIN
  DELETE FROM search_fts WHERE rowid = (SELECT id FROM search_rows WHERE kind = 2 AND ref = old.id);
  DELETE FROM search_rows WHERE kind = 2 AND ref = old.id;
END;
CREATE TRIGGER finding_evidence_search_insert AFTER INSERT ON finding_evidence BEGIN
  UPDATE search_fts SET body = body || char(10) || new.ref || ' ' || new.excerpt
    WHERE rowid = (SELECT id FROM search_rows WHERE kind = 2 AND ref = new.finding_id);
END;
)SQL";

// v3 -> v4: the config change journal and the host facts cache.
const char* const kMigrationV4 = R"SQL(
CREATE TABLE config_change_steps(
  id INTEGER PRIMARY KEY,
  change_id INTEGER NOT NULL REFERENCES config_changes(id) ON DELETE CASCADE,
  step TEXT NOT NULL,
  ok INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  detail TEXT NOT NULL DEFAULT '');
CREATE INDEX config_change_steps_change ON config_change_steps(change_id, id);

CREATE TABLE host_facts(
  host TEXT PRIMARY KEY,
  collected_ms INTEGER NOT NULL,
  facts_json TEXT NOT NULL);
)SQL";

// v4 -> v5: the logs agent's memory: each log source's templates (what a new run compares
// with), and the diagnosis reports.
const char* const kMigrationV5 = R"SQL(
CREATE TABLE log_sources(
  source TEXT PRIMARY KEY,
  n_runs INTEGER NOT NULL,
  first_run_ms INTEGER NOT NULL,
  last_run_ms INTEGER NOT NULL);

CREATE TABLE log_templates(
  source TEXT NOT NULL REFERENCES log_sources(source) ON DELETE CASCADE,
  template TEXT NOT NULL,
  n_records INTEGER NOT NULL,
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  PRIMARY KEY(source, template)) WITHOUT ROWID;

CREATE TABLE log_reports(
  id INTEGER PRIMARY KEY,
  session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
  host TEXT NOT NULL DEFAULT '',
  sources TEXT NOT NULL,
  report_json TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE INDEX log_reports_session ON log_reports(session_id, id);
CREATE INDEX log_reports_time ON log_reports(created_ms);
)SQL";

const char* const kMigrations[] = {kMigrationV1, kMigrationV2, kMigrationV3, kMigrationV4, kMigrationV5};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion, "one migration per schema version");

void migrate(sqlite3* db, const std::string& path) {
    for (;;) {
        detail::Transaction tx(db, __FILE__, __LINE__);
        int v = read_user_version(db);  // re-read under the write lock: another process may have migrated
        if (v > kSchemaVersion) throw Exception(ErrorCode::TooNew, too_new_message(path, v));
        if (v == kSchemaVersion) { tx.commit(); return; }
        try {
            SQL_EXEC(db, kMigrations[v]);
            SQL_EXEC(db, ("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
        } catch (const Exception& e) {
            sigmaops::rethrow_with_stage("migrating history database " + path + " from schema version " +
                                          std::to_string(v) + " to " + std::to_string(v + 1),
                                      e);
        }
        tx.commit();
    }
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Open / close

Expected<std::string> move_aside(const std::string& path) {
    return sigmaops::catch_to_expected([&]() -> std::string {
        struct stat st{};
        if (::stat(path.c_str(), &st) != 0)
            throw Exception(ErrorCode::NotFound, "move aside: " + path + " does not exist");
        // Only a database file is ever renamed: a history path that names a directory (a home,
        // /tmp) must not be moved by a "start fresh" button.
        if (!S_ISREG(st.st_mode))
            throw Exception(ErrorCode::InvalidArgument, "move aside: " + path + " is not a regular file (a directory?); nothing was moved");
        std::time_t t = std::time(nullptr);
        std::tm tm{};
        localtime_r(&t, &tm);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        std::string target = path + ".corrupt-" + stamp;
        for (int i = 1; ::access(target.c_str(), F_OK) == 0; ++i)
            target = path + ".corrupt-" + stamp + "-" + std::to_string(i);
        if (::rename(path.c_str(), target.c_str()) != 0)
            throw Exception(ErrorCode::Io, "move aside: cannot rename " + path + " to " + target + ": " + std::strerror(errno));
        // The WAL and shared-memory files belong to the old file: move them with it, so that a
        // fresh database never picks up the old one's log.
        for (const char* suffix : {"-wal", "-shm", "-journal"}) {
            std::string from = path + suffix;
            if (::access(from.c_str(), F_OK) == 0 && ::rename(from.c_str(), (target + suffix).c_str()) != 0)
                throw Exception(ErrorCode::Io, "move aside: cannot rename " + from + ": " + std::strerror(errno));
        }
        return target;
    });
}

History::History(sqlite3* db, std::string path, Options options)
    : m_db(db), m_path(std::move(path)), m_options(std::move(options)), m_cache(std::make_unique<StatementCache>(db)) {}

History::~History() {
    m_cache.reset();  // statements first: sqlite3_close refuses while any is open
    sqlite3_close(m_db);
}

Expected<std::unique_ptr<History>> History::open(const std::string& path, const Options& options) {
    sqlite3* db = nullptr;
    auto result = detail::guarded(path, [&]() -> std::unique_ptr<History> {
        if (path.empty()) throw Exception(ErrorCode::InvalidArgument, "history database path is empty");
        bool memory = path == ":memory:";
        if (!memory) {
            struct stat st{};
            if (::stat(path.c_str(), &st) != 0) {
                if (!options.create) throw Exception(ErrorCode::NotFound, "history database " + path + " does not exist");
                make_dirs(parent_dir(path));
                // Create it ourselves so that it is 0600 from the first byte (SQLite would use 0644);
                // SQLite gives the -wal and -shm files the database file's mode.
                int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
                if (fd < 0 && errno != EEXIST)
                    throw Exception(ErrorCode::Io, "cannot create history database " + path + ": " + std::strerror(errno));
                if (fd >= 0) ::close(fd);
            } else if (S_ISDIR(st.st_mode)) {
                // Not BadFile: its advice (move it aside) would rename the directory.
                throw Exception(ErrorCode::InvalidArgument,
                                "history database " + path + " is a directory, not a file; give the path of a file "
                                "(it is created if missing)");
            }
            check_header(path);
        }
        int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
        if (rc != SQLITE_OK) {
            std::string msg = "opening history database " + path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
            throw Exception(detail::error_code_for(rc), msg);
        }
        SQL_CHECK(db, sqlite3_extended_result_codes(db, 1));
        SQL_CHECK(db, sqlite3_busy_timeout(db, options.busy_timeout_ms));
        // The first read: "file is not a database" for a foreign file, TooNew before any write.
        int version = read_user_version(db);
        if (version > kSchemaVersion) throw Exception(ErrorCode::TooNew, too_new_message(path, version));
        // Parsing the schema catches a damaged first page / schema table.
        pragma_text(db, "SELECT count(*) FROM sqlite_master");
        std::string mode = pragma_text(db, "PRAGMA journal_mode = WAL");
        if (mode != "wal" && !(memory && mode == "memory"))
            throw Exception(ErrorCode::Database, "history database " + path + ": cannot use WAL mode (journal_mode is " +
                                                     mode + "); is it on a network file system?");
        SQL_EXEC(db, "PRAGMA foreign_keys = ON");
        SQL_EXEC(db, "PRAGMA synchronous = NORMAL");
        migrate(db, path);
        auto h = std::unique_ptr<History>(new History(db, path, options));
        db = nullptr;
        return h;
    });
    if (db) sqlite3_close(db);
    return result;
}

std::int64_t History::now_ms() const {
    if (m_options.clock) return m_options.clock();
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int History::schema_version() const {
    try { return read_user_version(m_db); } catch (...) { return -1; }
}

Expected<std::string> History::integrity_check() {
    return detail::guarded(m_path, [&] { return pragma_text(m_db, "PRAGMA integrity_check"); });
}

// ---------------------------------------------------------------------------------------------
// Sessions and messages

namespace {
constexpr const char* kSessionColumns =
    "s.id, s.title, s.created_ms, s.updated_ms, s.model, s.host, s.pinned, "
    "(SELECT count(*) FROM messages m WHERE m.session_id = s.id)";

Conversation read_session(const Stmt& s) {
    Conversation r;
    r.id = s.i64(0);
    r.title = s.text(1);
    r.created_ms = s.i64(2);
    r.updated_ms = s.i64(3);
    r.model = s.text(4);
    r.host = s.text(5);
    r.pinned = s.i64(6) != 0;
    r.n_messages = s.i64(7);
    return r;
}

bool valid_role(std::string_view role) {
    return role == "system" || role == "user" || role == "assistant" || role == "tool";
}
} // namespace

Expected<Id> History::create_session(const std::string& title, const std::string& model, const std::string& host) {
    return detail::guarded(m_path, [&] {
        std::int64_t now = now_ms();
        auto s = Q("INSERT INTO sessions(title, created_ms, updated_ms, model, host) VALUES (?1, ?2, ?2, ?3, ?4)");
        s.bind(1, detail::to_valid_utf8(title)).bind(2, now).bind(3, detail::to_valid_utf8(model)).bind(4, detail::to_valid_utf8(host));
        s.run();
        return Id(sqlite3_last_insert_rowid(m_db));
    });
}

Expected<Id> History::add_message(Id session_id, const std::string& role, const std::string& content, const MessageStats& stats) {
    return detail::guarded(m_path, [&] {
        if (!valid_role(role))
            throw Exception(ErrorCode::InvalidArgument, "message role must be system, user, assistant or tool, not '" + role + "'");
        std::int64_t now = now_ms();
        auto tx = HISTORY_TRANSACTION(m_db);
        {
            auto u = Q("UPDATE sessions SET updated_ms = max(updated_ms, ?2) WHERE id = ?1");
            u.bind(1, session_id).bind(2, now).run();
            if (sqlite3_changes(m_db) == 0)
                throw Exception(ErrorCode::NotFound, "history session " + std::to_string(session_id) + " does not exist");
        }
        auto s = Q("INSERT INTO messages(session_id, role, content, created_ms, n_prompt_tokens, n_tokens, prompt_ms, decode_ms) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        s.bind(1, session_id).bind(2, role).bind(3, detail::to_valid_utf8(content)).bind(4, now);
        s.bind(5, stats.n_prompt_tokens).bind(6, stats.n_tokens).bind(7, stats.prompt_ms).bind(8, stats.decode_ms);
        s.run();
        Id id = sqlite3_last_insert_rowid(m_db);
        tx.commit();
        return id;
    });
}

namespace {
void require_changed(sqlite3* db, const char* what, Id id) {
    if (sqlite3_changes(db) == 0)
        throw Exception(ErrorCode::NotFound, std::string("history ") + what + " " + std::to_string(id) + " does not exist");
}
} // namespace

Expected<void> History::rename_session(Id session_id, const std::string& title) {
    return detail::guarded(m_path, [&] {
        auto s = Q("UPDATE sessions SET title = ?2 WHERE id = ?1");
        s.bind(1, session_id).bind(2, detail::to_valid_utf8(title)).run();
        require_changed(m_db, "session", session_id);
    });
}

Expected<void> History::set_pinned(Id session_id, bool pinned) {
    return detail::guarded(m_path, [&] {
        auto s = Q("UPDATE sessions SET pinned = ?2 WHERE id = ?1");
        s.bind(1, session_id).bind(2, pinned).run();
        require_changed(m_db, "session", session_id);
    });
}

Expected<std::vector<Conversation>> History::list_sessions(int limit, int offset) {
    return detail::guarded(m_path, [&] {
        static const std::string sql = std::string("SELECT ") + kSessionColumns +
                                       " FROM sessions s ORDER BY s.updated_ms DESC, s.id DESC LIMIT ?1 OFFSET ?2";
        auto s = Q(sql.c_str());
        s.bind(1, limit < 0 ? -1 : limit).bind(2, offset < 0 ? 0 : offset);
        std::vector<Conversation> out;
        while (s.step()) out.push_back(read_session(s));
        return out;
    });
}

Expected<Conversation> History::session(Id session_id) {
    return detail::guarded(m_path, [&] {
        static const std::string sql = std::string("SELECT ") + kSessionColumns + " FROM sessions s WHERE s.id = ?1";
        auto s = Q(sql.c_str());
        s.bind(1, session_id);
        if (!s.step()) throw Exception(ErrorCode::NotFound, "history session " + std::to_string(session_id) + " does not exist");
        return read_session(s);
    });
}

Expected<std::vector<Message>> History::messages(Id session_id) {
    return detail::guarded(m_path, [&] {
        auto s = Q("SELECT id, session_id, role, content, created_ms, n_prompt_tokens, n_tokens, prompt_ms, decode_ms "
                   "FROM messages WHERE session_id = ?1 ORDER BY id");
        s.bind(1, session_id);
        std::vector<Message> out;
        while (s.step()) {
            Message m;
            m.id = s.i64(0);
            m.session_id = s.i64(1);
            m.role = s.text(2);
            m.content = s.text(3);
            m.created_ms = s.i64(4);
            m.n_prompt_tokens = s.i32(5);
            m.n_tokens = s.i32(6);
            m.prompt_ms = s.f64(7);
            m.decode_ms = s.f64(8);
            out.push_back(std::move(m));
        }
        return out;
    });
}

// ---------------------------------------------------------------------------------------------
// Commands

namespace {
// Applies the output cap: keeps a UTF-8-safe prefix and appends the truncation note.
void cap_output(std::string& text, bool& truncated, std::int64_t& n_bytes, std::int64_t cap) {
    std::int64_t original = static_cast<std::int64_t>(text.size());
    text = detail::to_valid_utf8(text);
    n_bytes = std::max(n_bytes, original);
    if (cap >= 0 && static_cast<std::int64_t>(text.size()) > cap) {
        std::string_view kept = utf8_prefix(text, static_cast<std::size_t>(cap));
        std::string note = "\n[sigmaops: output truncated: kept " + std::to_string(kept.size()) + " of " +
                           std::to_string(n_bytes) + " bytes]";
        text = std::string(kept) + note;
        truncated = true;
    }
}
} // namespace

Id detail::insert_command(sqlite3* db, detail::StatementCache& cache, const Command& c) {
    {
        detail::Stmt s(db, cache.get("INSERT INTO commands(session_id, host, text, risk, approved_by, exit_code, started_ms, duration_ms) "
                                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", __FILE__, __LINE__), __FILE__, __LINE__);
        s.bind_id(1, c.session_id).bind(2, c.host).bind(3, c.text).bind(4, to_string(c.risk)).bind(5, c.approved_by);
        s.bind(6, c.exit_code).bind(7, c.started_ms).bind(8, c.duration_ms);
        s.run();
    }
    Id id = sqlite3_last_insert_rowid(db);
    detail::Stmt o(db, cache.get("INSERT INTO command_output(command_id, stream, content, n_bytes, truncated) VALUES (?1, ?2, ?3, ?4, ?5)",
                                 __FILE__, __LINE__), __FILE__, __LINE__);
    o.bind(1, id).bind(2, "stdout").bind(3, c.stdout_text).bind(4, c.n_stdout_bytes).bind(5, c.stdout_truncated);
    o.run();
    sqlite3_reset(o.get());
    o.bind(1, id).bind(2, "stderr").bind(3, c.stderr_text).bind(4, c.n_stderr_bytes).bind(5, c.stderr_truncated);
    o.run();
    return id;
}

void detail::touch_session(sqlite3* db, detail::StatementCache& cache, Id session_id, std::int64_t now) {
    if (!session_id) return;
    detail::Stmt s(db, cache.get("UPDATE sessions SET updated_ms = max(updated_ms, ?2) WHERE id = ?1", __FILE__, __LINE__),
                   __FILE__, __LINE__);
    s.bind(1, session_id).bind(2, now).run();
    if (sqlite3_changes(db) == 0)
        throw Exception(ErrorCode::NotFound, "history session " + std::to_string(session_id) + " does not exist");
}

Expected<Id> History::record_command(const Command& in) {
    return detail::guarded(m_path, [&] {
        Command c = in;
        c.host = detail::to_valid_utf8(c.host);
        c.text = detail::to_valid_utf8(c.text);
        c.approved_by = detail::to_valid_utf8(c.approved_by);
        cap_output(c.stdout_text, c.stdout_truncated, c.n_stdout_bytes, m_options.output_cap_bytes);
        cap_output(c.stderr_text, c.stderr_truncated, c.n_stderr_bytes, m_options.output_cap_bytes);
        std::int64_t now = now_ms();
        if (c.started_ms == 0) c.started_ms = now;
        auto tx = HISTORY_TRANSACTION(m_db);
        detail::touch_session(m_db, *m_cache, c.session_id, now);
        Id id = detail::insert_command(m_db, *m_cache, c);
        tx.commit();
        return id;
    });
}

namespace {
constexpr const char* kCommandSelect =
    "SELECT c.id, coalesce(c.session_id, 0), c.host, c.text, c.risk, c.approved_by, c.exit_code, c.started_ms, c.duration_ms, "
    "coalesce(o.content, ''), coalesce(o.n_bytes, 0), coalesce(o.truncated, 0), "
    "coalesce(e.content, ''), coalesce(e.n_bytes, 0), coalesce(e.truncated, 0) "
    "FROM commands c LEFT JOIN command_output o ON o.command_id = c.id AND o.stream = 'stdout' "
    "LEFT JOIN command_output e ON e.command_id = c.id AND e.stream = 'stderr' ";

Command read_command(const Stmt& s) {
    Command c;
    c.id = s.i64(0);
    c.session_id = s.i64(1);
    c.host = s.text(2);
    c.text = s.text(3);
    c.risk = risk_from_string(s.text(4)).value_or(Risk::Unknown);
    c.approved_by = s.text(5);
    if (!s.is_null(6)) c.exit_code = s.i32(6);
    c.started_ms = s.i64(7);
    c.duration_ms = s.f64(8);
    c.stdout_text = s.text(9);
    c.n_stdout_bytes = s.i64(10);
    c.stdout_truncated = s.i64(11) != 0;
    c.stderr_text = s.text(12);
    c.n_stderr_bytes = s.i64(13);
    c.stderr_truncated = s.i64(14) != 0;
    return c;
}
} // namespace

Expected<Command> History::command(Id command_id) {
    return detail::guarded(m_path, [&] {
        static const std::string sql = std::string(kCommandSelect) + "WHERE c.id = ?1";
        auto s = Q(sql.c_str());
        s.bind(1, command_id);
        if (!s.step()) throw Exception(ErrorCode::NotFound, "history command " + std::to_string(command_id) + " does not exist");
        return read_command(s);
    });
}

Expected<std::vector<Command>> History::commands(Id session_id) {
    return detail::guarded(m_path, [&] {
        static const std::string sql = std::string(kCommandSelect) + "WHERE c.session_id = ?1 ORDER BY c.started_ms, c.id";
        auto s = Q(sql.c_str());
        s.bind(1, session_id);
        std::vector<Command> out;
        while (s.step()) out.push_back(read_command(s));
        return out;
    });
}

Expected<std::vector<Command>> History::commands_on(const std::string& host, std::int64_t since_ms, std::int64_t until_ms, int limit) {
    return detail::guarded(m_path, [&] {
        static const std::string sql = std::string(kCommandSelect) +
                                       "WHERE (?1 = '' OR c.host = ?1) AND c.started_ms >= ?2 AND (?3 = 0 OR c.started_ms < ?3) "
                                       "ORDER BY c.started_ms DESC, c.id DESC LIMIT ?4";
        auto s = Q(sql.c_str());
        s.bind(1, host).bind(2, since_ms).bind(3, until_ms).bind(4, limit);
        std::vector<Command> out;
        while (s.step()) out.push_back(read_command(s));
        return out;
    });
}

// ---------------------------------------------------------------------------------------------
// Config changes

void detail::insert_change_event(sqlite3* db, detail::StatementCache& cache, Id change_id, const ChangeEvent& e) {
    detail::Stmt s(db, cache.get("INSERT INTO config_change_events(change_id, status, at_ms, note) VALUES (?1, ?2, ?3, ?4)",
                                 __FILE__, __LINE__), __FILE__, __LINE__);
    s.bind(1, change_id).bind(2, to_string(e.status)).bind(3, e.at_ms).bind(4, e.note).run();
}

Id detail::insert_change(sqlite3* db, detail::StatementCache& cache, const ConfigChange& c) {
    detail::Stmt s(db, cache.get("INSERT INTO config_changes(session_id, host, path, diff, backup_path, validation_output, status, "
                                 "created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", __FILE__, __LINE__),
                   __FILE__, __LINE__);
    s.bind_id(1, c.session_id).bind(2, c.host).bind(3, c.path).bind(4, c.diff).bind(5, c.backup_path);
    s.bind(6, c.validation_output).bind(7, to_string(c.status)).bind(8, c.created_ms).bind(9, c.updated_ms);
    s.run();
    return sqlite3_last_insert_rowid(db);
}

Expected<Id> History::propose_change(const ConfigChange& in) {
    return detail::guarded(m_path, [&] {
        ConfigChange c = in;
        for (std::string* f : {&c.host, &c.path, &c.diff, &c.backup_path, &c.validation_output}) *f = detail::to_valid_utf8(*f);
        c.status = ChangeStatus::Proposed;
        c.created_ms = c.updated_ms = now_ms();
        auto tx = HISTORY_TRANSACTION(m_db);
        detail::touch_session(m_db, *m_cache, c.session_id, c.created_ms);
        Id id = detail::insert_change(m_db, *m_cache, c);
        detail::insert_change_event(m_db, *m_cache, id, ChangeEvent{ChangeStatus::Proposed, c.created_ms, ""});
        tx.commit();
        return id;
    });
}

namespace {
bool transition_allowed(ChangeStatus from, ChangeStatus to) {
    switch (from) {
    case ChangeStatus::Proposed: return to == ChangeStatus::Applied || to == ChangeStatus::Failed;
    case ChangeStatus::Applied: return to == ChangeStatus::RolledBack || to == ChangeStatus::Failed;
    case ChangeStatus::Failed: return to == ChangeStatus::RolledBack;
    case ChangeStatus::RolledBack: return false;
    }
    return false;
}
} // namespace

Expected<void> History::set_change_status(Id change_id, ChangeStatus status, const std::string& note,
                                          const std::string& backup_path, const std::string& validation_output) {
    return detail::guarded(m_path, [&] {
        std::int64_t now = now_ms();
        auto tx = HISTORY_TRANSACTION(m_db);
        Id session_id = 0;
        ChangeStatus from;
        {
            auto q = Q("SELECT status, coalesce(session_id, 0) FROM config_changes WHERE id = ?1");
            q.bind(1, change_id);
            if (!q.step()) throw Exception(ErrorCode::NotFound, "config change " + std::to_string(change_id) + " does not exist");
            from = change_status_from_string(q.text(0)).value_or(ChangeStatus::Proposed);
            session_id = q.i64(1);
        }
        if (!transition_allowed(from, status))
            throw Exception(ErrorCode::InvalidArgument, "config change " + std::to_string(change_id) + " cannot go from " +
                                                            to_string(from) + " to " + to_string(status));
        {
            auto u = Q("UPDATE config_changes SET status = ?2, updated_ms = ?3, "
                       "backup_path = CASE WHEN ?4 = '' THEN backup_path ELSE ?4 END, "
                       "validation_output = CASE WHEN ?5 = '' THEN validation_output ELSE ?5 END WHERE id = ?1");
            u.bind(1, change_id).bind(2, to_string(status)).bind(3, now);
            u.bind(4, detail::to_valid_utf8(backup_path)).bind(5, detail::to_valid_utf8(validation_output));
            u.run();
        }
        detail::insert_change_event(m_db, *m_cache, change_id, ChangeEvent{status, now, detail::to_valid_utf8(note)});
        detail::touch_session(m_db, *m_cache, session_id, now);
        tx.commit();
    });
}

std::vector<ConfigChange> detail::read_changes(sqlite3* db, detail::StatementCache& cache, const char* where, Id key) {
    std::string sql = std::string("SELECT id, coalesce(session_id, 0), host, path, diff, backup_path, validation_output, status, "
                                  "created_ms, updated_ms FROM config_changes WHERE ") + where + " ORDER BY created_ms, id";
    std::vector<ConfigChange> out;
    {
        detail::Stmt s(db, cache.get(sql.c_str(), __FILE__, __LINE__), __FILE__, __LINE__);
        s.bind(1, key);
        while (s.step()) {
            ConfigChange c;
            c.id = s.i64(0);
            c.session_id = s.i64(1);
            c.host = s.text(2);
            c.path = s.text(3);
            c.diff = s.text(4);
            c.backup_path = s.text(5);
            c.validation_output = s.text(6);
            c.status = change_status_from_string(s.text(7)).value_or(ChangeStatus::Proposed);
            c.created_ms = s.i64(8);
            c.updated_ms = s.i64(9);
            out.push_back(std::move(c));
        }
    }
    for (auto& c : out) {
        detail::Stmt e(db, cache.get("SELECT status, at_ms, note FROM config_change_events WHERE change_id = ?1 ORDER BY id",
                                     __FILE__, __LINE__), __FILE__, __LINE__);
        e.bind(1, c.id);
        while (e.step())
            c.events.push_back(ChangeEvent{change_status_from_string(e.text(0)).value_or(ChangeStatus::Proposed), e.i64(1), e.text(2)});
    }
    return out;
}

Expected<ConfigChange> History::config_change(Id change_id) {
    return detail::guarded(m_path, [&] {
        auto v = detail::read_changes(m_db, *m_cache, "id = ?1", change_id);
        if (v.empty()) throw Exception(ErrorCode::NotFound, "config change " + std::to_string(change_id) + " does not exist");
        return v.front();
    });
}

Expected<std::vector<ConfigChange>> History::config_changes(Id session_id) {
    return detail::guarded(m_path, [&] { return detail::read_changes(m_db, *m_cache, "session_id = ?1", session_id); });
}

Expected<std::vector<ConfigChange>> History::config_changes_on(const std::string& host, int limit) {
    return detail::guarded(m_path, [&] {
        std::vector<ConfigChange> out;
        {
            auto s = Q("SELECT id FROM config_changes WHERE (?1 = '' OR host = ?1) ORDER BY created_ms DESC, id DESC LIMIT ?2");
            s.bind(1, host).bind(2, limit);
            std::vector<Id> ids;
            while (s.step()) ids.push_back(s.i64(0));
            for (Id id : ids) {
                auto one = detail::read_changes(m_db, *m_cache, "id = ?1", id);
                if (!one.empty()) out.push_back(std::move(one.front()));
            }
        }
        return out;
    });
}

Expected<Id> History::add_change_step(Id change_id, const std::string& step, bool ok, const std::string& detail_text) {
    return detail::guarded(m_path, [&] {
        std::int64_t now = now_ms();
        auto tx = HISTORY_TRANSACTION(m_db);
        {
            auto q = Q("SELECT 1 FROM config_changes WHERE id = ?1");
            q.bind(1, change_id);
            if (!q.step()) throw Exception(ErrorCode::NotFound, "config change " + std::to_string(change_id) + " does not exist");
        }
        Id id = 0;
        {
            auto s = Q("INSERT INTO config_change_steps(change_id, step, ok, at_ms, detail) VALUES (?1, ?2, ?3, ?4, ?5)");
            s.bind(1, change_id).bind(2, detail::to_valid_utf8(step)).bind(3, ok).bind(4, now).bind(5, detail::to_valid_utf8(detail_text));
            s.run();
            id = sqlite3_last_insert_rowid(m_db);
        }
        tx.commit();
        return id;
    });
}

Expected<std::vector<ChangeStep>> History::change_steps(Id change_id) {
    return detail::guarded(m_path, [&] {
        std::vector<ChangeStep> out;
        auto s = Q("SELECT id, step, ok, at_ms, detail FROM config_change_steps WHERE change_id = ?1 ORDER BY id");
        s.bind(1, change_id);
        while (s.step()) out.push_back(ChangeStep{s.i64(0), s.text(1), s.i64(2) != 0, s.i64(3), s.text(4)});
        return out;
    });
}

Expected<void> History::set_host_facts(const std::string& host, const std::string& facts_json) {
    return detail::guarded(m_path, [&] {
        if (host.empty()) throw Exception(ErrorCode::InvalidArgument, "host facts need a host name");
        std::int64_t now = now_ms();
        auto tx = HISTORY_TRANSACTION(m_db);
        {
            auto s = Q("INSERT INTO host_facts(host, collected_ms, facts_json) VALUES (?1, ?2, ?3) "
                       "ON CONFLICT(host) DO UPDATE SET collected_ms = excluded.collected_ms, facts_json = excluded.facts_json");
            s.bind(1, detail::to_valid_utf8(host)).bind(2, now).bind(3, detail::to_valid_utf8(facts_json));
            s.run();
        }
        tx.commit();
    });
}

Expected<HostFactsRecord> History::host_facts(const std::string& host) {
    return detail::guarded(m_path, [&] {
        auto s = Q("SELECT host, collected_ms, facts_json FROM host_facts WHERE host = ?1");
        s.bind(1, host);
        if (!s.step()) throw Exception(ErrorCode::NotFound, "no facts stored for host '" + host + "'");
        return HostFactsRecord{s.text(0), s.text(2), s.i64(1)};
    });
}

// ---------------------------------------------------------------------------------------------
// Hosts

Expected<Id> History::upsert_host(const Host& h) {
    return detail::guarded(m_path, [&] {
        if (h.name.empty()) throw Exception(ErrorCode::InvalidArgument, "a host profile needs a name");
        auto tx = HISTORY_TRANSACTION(m_db);
        auto s = Q("INSERT INTO hosts(name, address, port, user, tags, notes, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                   "ON CONFLICT(name) DO UPDATE SET address = excluded.address, port = excluded.port, user = excluded.user, "
                   "tags = excluded.tags, notes = excluded.notes");
        s.bind(1, detail::to_valid_utf8(h.name)).bind(2, detail::to_valid_utf8(h.address)).bind(3, h.port);
        s.bind(4, detail::to_valid_utf8(h.user)).bind(5, detail::to_valid_utf8(h.tags)).bind(6, detail::to_valid_utf8(h.notes));
        s.bind(7, now_ms());
        s.run();
        auto q = Q("SELECT id FROM hosts WHERE name = ?1");
        q.bind(1, detail::to_valid_utf8(h.name));
        Id id = q.step() ? q.i64(0) : 0;
        tx.commit();
        return id;
    });
}

namespace {
Host read_host(const Stmt& s) {
    Host h;
    h.id = s.i64(0);
    h.name = s.text(1);
    h.address = s.text(2);
    h.port = s.i32(3);
    h.user = s.text(4);
    h.tags = s.text(5);
    h.notes = s.text(6);
    h.created_ms = s.i64(7);
    return h;
}
} // namespace

Expected<std::vector<Host>> History::hosts() {
    return detail::guarded(m_path, [&] {
        auto s = Q("SELECT id, name, address, port, user, tags, notes, created_ms FROM hosts ORDER BY name");
        std::vector<Host> out;
        while (s.step()) out.push_back(read_host(s));
        return out;
    });
}

Expected<Host> History::host(const std::string& name) {
    return detail::guarded(m_path, [&] {
        auto s = Q("SELECT id, name, address, port, user, tags, notes, created_ms FROM hosts WHERE name = ?1");
        s.bind(1, name);
        if (!s.step()) throw Exception(ErrorCode::NotFound, "no host profile named '" + name + "'");
        return read_host(s);
    });
}

Expected<void> History::remove_host(const std::string& name) {
    return detail::guarded(m_path, [&] {
        auto s = Q("DELETE FROM hosts WHERE name = ?1");
        s.bind(1, name).run();
        if (sqlite3_changes(m_db) == 0) throw Exception(ErrorCode::NotFound, "no host profile named '" + name + "'");
    });
}

// ---------------------------------------------------------------------------------------------
// Findings

Id detail::insert_finding(sqlite3* db, detail::StatementCache& cache, const Finding& f) {
    {
        detail::Stmt s(db, cache.get("INSERT INTO findings(session_id, host, source, severity, summary, detail, created_ms) "
                                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", __FILE__, __LINE__), __FILE__, __LINE__);
        s.bind_id(1, f.session_id).bind(2, f.host).bind(3, f.source).bind(4, f.severity).bind(5, f.summary).bind(6, f.detail);
        s.bind(7, f.created_ms).run();
    }
    Id id = sqlite3_last_insert_rowid(db);
    for (std::size_t i = 0; i < f.evidence.size(); ++i) {
        detail::Stmt e(db, cache.get("INSERT INTO finding_evidence(finding_id, ord, ref, excerpt) VALUES (?1, ?2, ?3, ?4)",
                                     __FILE__, __LINE__), __FILE__, __LINE__);
        e.bind(1, id).bind(2, static_cast<std::int64_t>(i)).bind(3, f.evidence[i].ref).bind(4, f.evidence[i].excerpt).run();
    }
    return id;
}

Expected<Id> History::add_finding(const Finding& in) {
    return detail::guarded(m_path, [&] {
        Finding f = in;
        for (std::string* s : {&f.host, &f.source, &f.severity, &f.summary, &f.detail}) *s = detail::to_valid_utf8(*s);
        for (auto& e : f.evidence) { e.ref = detail::to_valid_utf8(e.ref); e.excerpt = detail::to_valid_utf8(e.excerpt); }
        std::int64_t now = now_ms();
        if (f.created_ms == 0) f.created_ms = now;
        auto tx = HISTORY_TRANSACTION(m_db);
        detail::touch_session(m_db, *m_cache, f.session_id, now);
        Id id = detail::insert_finding(m_db, *m_cache, f);
        tx.commit();
        return id;
    });
}

std::vector<Finding> detail::read_findings(sqlite3* db, detail::StatementCache& cache, Id session_id) {
    std::vector<Finding> out;
    {
        detail::Stmt s(db, cache.get("SELECT id, coalesce(session_id, 0), host, source, severity, summary, detail, created_ms "
                                     "FROM findings WHERE session_id = ?1 ORDER BY created_ms, id", __FILE__, __LINE__),
                       __FILE__, __LINE__);
        s.bind(1, session_id);
        while (s.step()) {
            Finding f;
            f.id = s.i64(0);
            f.session_id = s.i64(1);
            f.host = s.text(2);
            f.source = s.text(3);
            f.severity = s.text(4);
            f.summary = s.text(5);
            f.detail = s.text(6);
            f.created_ms = s.i64(7);
            out.push_back(std::move(f));
        }
    }
    for (auto& f : out) {
        detail::Stmt e(db, cache.get("SELECT ref, excerpt FROM finding_evidence WHERE finding_id = ?1 ORDER BY ord", __FILE__, __LINE__),
                       __FILE__, __LINE__);
        e.bind(1, f.id);
        while (e.step()) f.evidence.push_back(Evidence{e.text(0), e.text(1)});
    }
    return out;
}

Expected<std::vector<Finding>> History::findings(Id session_id) {
    return detail::guarded(m_path, [&] { return detail::read_findings(m_db, *m_cache, session_id); });
}

// ---------------------------------------------------------------------------------------------
// Search

std::string detail::fts_query(std::string_view text) {
    // Each whitespace-separated word becomes a quoted FTS5 string (so punctuation such as
    // "nginx.conf" or "-rf" is literal), all of them required; a trailing '*' keeps prefix search.
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        std::size_t j = i;
        while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
        if (j > i) {
            std::string_view word = text.substr(i, j - i);
            bool prefix = word.size() > 1 && word.back() == '*';
            if (prefix) word.remove_suffix(1);
            if (!out.empty()) out += ' ';
            out += '"';
            for (char c : word) {
                if (c == '"') out += '"';
                out += c;
            }
            out += '"';
            if (prefix) out += '*';
        }
        i = j;
    }
    return out;
}

Expected<std::vector<SearchHit>> History::search(const std::string& text, int limit) {
    SearchQuery q;
    q.text = text;
    q.limit = limit;
    return search(q);
}

Expected<std::vector<SearchHit>> History::search(const SearchQuery& q) {
    return detail::guarded(m_path, [&] {
        std::vector<SearchHit> out;
        std::string match = q.raw ? q.text : detail::fts_query(detail::to_valid_utf8(q.text));
        if (match.find_first_not_of(" \t\r\n") == std::string::npos || q.limit == 0) return out;
        bool filtered = !q.host.empty() || q.since_ms != 0 || q.until_ms != 0;
        // The recency window (see SearchQuery::rank_window): never smaller than the limit.
        std::int64_t window = q.rank_window > 0 && q.limit > 0 ? std::max(q.rank_window, q.limit) : 0;
        // search_fts rowids are search_rows ids: one sequence in insertion (~ time) order, so
        // "ORDER BY rowid DESC" walks the matches newest first, reading only the doclists.
        //
        // Unfiltered: the rowid of the window-th newest match bounds the ranking (none when fewer
        // match: rank them all), and FTS5 ranks and cuts alone. "ORDER BY rank" (not "ORDER BY
        // bm25(...)") lets FTS5 sort internally, so SQLite evaluates snippet() only for the rows
        // returned (3-10x).
        const char* sql_cut =
            "SELECT rowid FROM search_fts WHERE search_fts MATCH ?1 ORDER BY rowid DESC LIMIT 1 OFFSET ?2";
        const char* sql_rank =
            "SELECT rowid, bm25(search_fts), snippet(search_fts, 0, '[', ']', '...', 16) "
            "FROM search_fts WHERE search_fts MATCH ?1 AND rowid >= ?3 ORDER BY rank LIMIT ?2";
        // Filtered: one pass over the matches, newest first; each is checked against its
        // search_rows entry (host, time, a primary-key lookup) before bm25 runs, so only matching
        // rows are ranked, at most `window` of them, and the limit counts only them. They are
        // sorted here; snippets are made afterwards for the rows returned.
        const char* sql_filtered =
            "SELECT f.rowid, bm25(search_fts) FROM search_fts f CROSS JOIN search_rows r ON r.id = f.rowid "
            "WHERE search_fts MATCH ?1 AND (?3 = '' OR r.host = ?3) AND r.created_ms >= ?4 AND (?5 = 0 OR r.created_ms < ?5) "
            "ORDER BY f.rowid DESC LIMIT ?2";
        const char* sql_snippet =
            "SELECT snippet(search_fts, 0, '[', ']', '...', 16) FROM search_fts WHERE search_fts MATCH ?1 AND rowid = ?2";
        std::vector<std::int64_t> rowids;
        try {
            if (!filtered) {
                std::int64_t cut = std::numeric_limits<std::int64_t>::min();
                if (window > 0) {
                    auto s = Q(sql_cut);
                    s.bind(1, match).bind(2, window - 1);
                    if (s.step()) cut = s.i64(0);
                }
                auto s = Q(sql_rank);
                s.bind(1, match).bind(2, q.limit < 0 ? -1 : q.limit).bind(3, cut);
                while (s.step()) {
                    SearchHit h;
                    rowids.push_back(s.i64(0));
                    h.score = s.f64(1);
                    h.snippet = s.text(2);
                    out.push_back(std::move(h));
                }
            } else {
                std::vector<std::pair<double, std::int64_t>> ranked;  // (bm25, rowid)
                {
                    auto s = Q(sql_filtered);
                    s.bind(1, match).bind(2, window > 0 ? window : -1);
                    s.bind(3, q.host).bind(4, q.since_ms).bind(5, q.until_ms);
                    while (s.step()) ranked.emplace_back(s.f64(1), s.i64(0));
                }
                // Best score first; on a tie, the newer row.
                auto better = [](const auto& a, const auto& b) { return a.first != b.first ? a.first < b.first : a.second > b.second; };
                std::size_t n = q.limit < 0 ? ranked.size() : std::min<std::size_t>(ranked.size(), std::size_t(q.limit));
                std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(n), ranked.end(), better);
                for (std::size_t i = 0; i < n; ++i) {
                    SearchHit h;
                    h.score = ranked[i].first;
                    rowids.push_back(ranked[i].second);
                    auto s = Q(sql_snippet);
                    s.bind(1, match).bind(2, ranked[i].second);
                    if (s.step()) h.snippet = s.text(0);
                    out.push_back(std::move(h));
                }
            }
        } catch (const Exception& e) {
            // A malformed raw FTS5 query is the caller's mistake, not a database failure.
            if (q.raw && std::string(e.what()).find("fts5") != std::string::npos)
                throw Exception(ErrorCode::InvalidArgument, std::string("search: bad FTS5 query: ") + e.what());
            throw;
        }
        for (std::size_t i = 0; i < out.size(); ++i) {
            SearchHit& h = out[i];
            {
                auto s = Q("SELECT kind, ref, host, created_ms FROM search_rows WHERE id = ?1");
                s.bind(1, rowids[i]);
                if (!s.step()) continue;
                h.kind = static_cast<SearchHit::Kind>(s.i32(0));
                h.id = s.i64(1);
                h.host = s.text(2);
                h.created_ms = s.i64(3);
            }
            switch (h.kind) {
            case SearchHit::Kind::Message: {
                auto s = Q("SELECT session_id, role FROM messages WHERE id = ?1");
                s.bind(1, h.id);
                if (s.step()) { h.session_id = s.i64(0); h.role = s.text(1); }
                break;
            }
            case SearchHit::Kind::Command: {
                auto s = Q("SELECT coalesce(session_id, 0) FROM commands WHERE id = ?1");
                s.bind(1, h.id);
                if (s.step()) h.session_id = s.i64(0);
                break;
            }
            case SearchHit::Kind::Finding: {
                auto s = Q("SELECT coalesce(session_id, 0) FROM findings WHERE id = ?1");
                s.bind(1, h.id);
                if (s.step()) h.session_id = s.i64(0);
                break;
            }
            }
        }
        return out;
    });
}

// ---------------------------------------------------------------------------------------------
// Delete and retention

Expected<void> History::remove_session(Id session_id) {
    return detail::guarded(m_path, [&] {
        auto tx = HISTORY_TRANSACTION(m_db);
        {
            // Foreign keys cascade to messages, commands (+ output), changes (+ events) and findings
            // (+ evidence); their triggers remove the index rows.
            auto s = Q("DELETE FROM sessions WHERE id = ?1");
            s.bind(1, session_id).run();
            require_changed(m_db, "session", session_id);
        }
        tx.commit();
    });
}

Expected<std::int64_t> History::apply_retention(int days) {
    return detail::guarded(m_path, [&] {
        if (days <= 0) throw Exception(ErrorCode::InvalidArgument, "retention must keep at least 1 day (got " + std::to_string(days) + ")");
        std::int64_t cutoff = now_ms() - std::int64_t(days) * 86'400'000;
        auto tx = HISTORY_TRANSACTION(m_db);
        std::int64_t n_removed = 0;
        {
            auto s = Q("DELETE FROM sessions WHERE pinned = 0 AND updated_ms < ?1");
            s.bind(1, cutoff).run();
            n_removed = sqlite3_changes(m_db);
        }
        Q("DELETE FROM commands WHERE session_id IS NULL AND started_ms < ?1").bind(1, cutoff).run();
        Q("DELETE FROM config_changes WHERE session_id IS NULL AND updated_ms < ?1").bind(1, cutoff).run();
        Q("DELETE FROM findings WHERE session_id IS NULL AND created_ms < ?1").bind(1, cutoff).run();
        Q("DELETE FROM log_reports WHERE session_id IS NULL AND created_ms < ?1").bind(1, cutoff).run();
        Q("DELETE FROM log_sources WHERE last_run_ms < ?1").bind(1, cutoff).run();
        tx.commit();
        return n_removed;
    });
}

} // namespace sigmaops::history
