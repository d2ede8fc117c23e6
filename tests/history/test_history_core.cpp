// tests/history/test_history_core.cpp - the history module on real SQLite files in temp dirs: schema and
// migrations from every earlier version (v1, v2), TooNew, file mode, CRUD and transactions, FTS ranking on
// a fixed corpus, export/import round trip, retention with pinned sessions, damaged files and
// move_aside, and the `sigmaops history` CLI.
#include <catch2/catch.hpp>

#include "history/history.h"
#include <cli/command.h>
#include "history_test_util.h"

#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <random>



using namespace sigmaops::history;
using namespace history_test;
using sigmaops::ErrorCode;

namespace {

std::unique_ptr<History> open_ok(const std::string& path, const Options& o = {}) {
    auto h = History::open(path, o);
    if (!h) FAIL("open failed: " << h.error().message);
    return std::move(*h);
}

// The v1 schema exactly as released (kept here, independent of the library, to build old files).
const char* const kV1Schema = R"SQL(
CREATE TABLE sessions(id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL, model TEXT NOT NULL DEFAULT '', host TEXT NOT NULL DEFAULT '');
CREATE INDEX sessions_updated ON sessions(updated_ms, id);
CREATE TABLE messages(id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK(role IN ('system', 'user', 'assistant', 'tool')), content TEXT NOT NULL,
  created_ms INTEGER NOT NULL, n_prompt_tokens INTEGER NOT NULL DEFAULT 0, n_tokens INTEGER NOT NULL DEFAULT 0,
  prompt_ms REAL NOT NULL DEFAULT 0, decode_ms REAL NOT NULL DEFAULT 0);
CREATE INDEX messages_session ON messages(session_id, id);
CREATE TABLE commands(id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
  host TEXT NOT NULL, text TEXT NOT NULL,
  risk TEXT NOT NULL CHECK(risk IN ('unknown', 'read-only', 'low', 'medium', 'high')),
  approved_by TEXT NOT NULL DEFAULT '', exit_code INTEGER, started_ms INTEGER NOT NULL, duration_ms REAL NOT NULL DEFAULT 0);
CREATE INDEX commands_session ON commands(session_id);
CREATE INDEX commands_host_time ON commands(host, started_ms);
CREATE INDEX commands_time ON commands(started_ms);
CREATE TABLE command_output(command_id INTEGER NOT NULL REFERENCES commands(id) ON DELETE CASCADE,
  stream TEXT NOT NULL CHECK(stream IN ('stdout', 'stderr')), content TEXT NOT NULL, n_bytes INTEGER NOT NULL,
  truncated INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(command_id, stream));
CREATE TABLE config_changes(id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
  host TEXT NOT NULL, path TEXT NOT NULL, diff TEXT NOT NULL, backup_path TEXT NOT NULL DEFAULT '',
  validation_output TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK(status IN ('proposed', 'applied', 'rolled-back', 'failed')),
  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
CREATE INDEX config_changes_session ON config_changes(session_id);
CREATE INDEX config_changes_host ON config_changes(host, updated_ms);
CREATE TABLE config_change_events(id INTEGER PRIMARY KEY, change_id INTEGER NOT NULL REFERENCES config_changes(id) ON DELETE CASCADE,
  status TEXT NOT NULL, at_ms INTEGER NOT NULL, note TEXT NOT NULL DEFAULT '');
CREATE INDEX config_change_events_change ON config_change_events(change_id, id);
CREATE TABLE hosts(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, address TEXT NOT NULL DEFAULT '',
  port INTEGER NOT NULL DEFAULT 22, user TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '',
  notes TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL);
CREATE TABLE findings(id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
  host TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '', severity TEXT NOT NULL DEFAULT '',
  summary TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL);
CREATE INDEX findings_session ON findings(session_id);
CREATE INDEX findings_time ON findings(created_ms);
CREATE TABLE finding_evidence(finding_id INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
  ord INTEGER NOT NULL, ref TEXT NOT NULL, excerpt TEXT NOT NULL DEFAULT '', PRIMARY KEY(finding_id, ord));
)SQL";

// What v2 added on top of v1, exactly as released (index rowid = id * 4 + kind).
const char* const kV2Additions = R"SQL(
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
)SQL";

bool has_hit(const std::vector<SearchHit>& hits, SearchHit::Kind k, Id id) {
    return std::any_of(hits.begin(), hits.end(), [&](const SearchHit& h) { return h.kind == k && h.id == id; });
}

} // namespace

// `sigmaops history ARGS... --history DB`, run in-process through the CLI's table.
static int run_history_cli(std::vector<std::string> args, std::ostream& out, std::ostream& err, const std::string& db) {
    args.insert(args.begin(), "history");
    args.push_back("--history");
    args.push_back(db);
    std::istringstream in;
    sigmaops::cli::Io io{in, out, err};
    return sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), args, io);
}

TEST_CASE("history: a new database gets the current schema, WAL, 0600 file and 0700 dirs", "[history]") {
    TempDir dir;
    std::string path = dir.file("a/b/history.db");
    auto h = open_ok(path);
    CHECK(h->schema_version() == kSchemaVersion);
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat(dir.file("a/b").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(h->create_session("t", "m", "h"));
    REQUIRE(::stat((path + "-wal").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(scalar(h->handle(), "PRAGMA foreign_keys") == 1);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(h->handle(), "PRAGMA journal_mode", -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))) == "wal");
    sqlite3_finalize(s);
    CHECK(*h->integrity_check() == "ok");
}

TEST_CASE("history: default path follows XDG rules", "[history]") {
    const char* old_xdg = std::getenv("XDG_DATA_HOME");
    std::string saved = old_xdg ? old_xdg : "";
    ::setenv("XDG_DATA_HOME", "/srv/xdg", 1);
    CHECK(default_history_path() == "/srv/xdg/sigmaops/history.db");
    ::setenv("XDG_DATA_HOME", "relative/dir", 1);  // not absolute: ignored per the spec
    std::string home = std::getenv("HOME") ? std::getenv("HOME") : ".";
    CHECK(default_history_path() == home + "/.local/share/sigmaops/history.db");
    ::unsetenv("XDG_DATA_HOME");
    CHECK(default_history_path() == home + "/.local/share/sigmaops/history.db");
    if (old_xdg) ::setenv("XDG_DATA_HOME", saved.c_str(), 1);
}

TEST_CASE("history: migrates a v1 database, keeping and indexing its rows", "[history][migration]") {
    TempDir dir;
    std::string path = dir.file("v1.db");
    raw_exec(path, std::string("PRAGMA journal_mode=DELETE;") + kV1Schema + R"SQL(
INSERT INTO sessions VALUES (1, 'old session', 1000, 2000, 'sigma-1b', 'db2');
INSERT INTO messages VALUES (1, 1, 'user', 'why is the replication lagging', 1000, 0, 6, 0, 0);
INSERT INTO messages VALUES (2, 1, 'assistant', 'check pg_stat_replication first', 1500, 12, 5, 1.5, 2.5);
INSERT INTO commands VALUES (1, 1, 'db2', 'psql -c "select * from pg_stat_replication"', 'read-only', 'user', 0, 1600, 40.0);
INSERT INTO command_output VALUES (1, 'stdout', 'walsender streaming 0/3000148', 29, 0);
INSERT INTO command_output VALUES (1, 'stderr', '', 0, 0);
INSERT INTO findings VALUES (1, 1, 'db2', '/var/log/postgresql/main.log', 'warning', 'checkpoints too frequent', 'raise max_wal_size', 1700);
INSERT INTO finding_evidence VALUES (1, 0, 'main.log:42', 'LOG:  checkpoints are occurring too frequently');
PRAGMA user_version = 1;
)SQL");
    auto h = open_ok(path);
    CHECK(h->schema_version() == kSchemaVersion);
    auto s = h->session(1);
    REQUIRE(s);
    CHECK(s->title == "old session");
    CHECK(s->pinned == false);
    CHECK(s->n_messages == 2);
    auto msgs = h->messages(1);
    REQUIRE(msgs);
    REQUIRE(msgs->size() == 2);
    CHECK(msgs->at(1).prompt_ms == 1.5);
    // The v2 index covers rows written by v1: message text, command output, finding evidence.
    CHECK(has_hit(*h->search("replication lagging"), SearchHit::Kind::Message, 1));
    CHECK(has_hit(*h->search("walsender"), SearchHit::Kind::Command, 1));
    CHECK(has_hit(*h->search("frequently"), SearchHit::Kind::Finding, 1));
    REQUIRE(h->set_pinned(1, true));
    CHECK(h->session(1)->pinned);
    // And the migrated file keeps working for new writes.
    REQUIRE(h->add_message(1, "user", "thanks"));
    CHECK(has_hit(*h->search("thanks"), SearchHit::Kind::Message, 3));
    CHECK(*h->integrity_check() == "ok");
}

TEST_CASE("history: migrates from version 0 (empty file) and is idempotent on reopen", "[history][migration]") {
    TempDir dir;
    std::string path = dir.file("empty.db");
    write_file(path, "");
    {
        auto h = open_ok(path);
        CHECK(h->schema_version() == kSchemaVersion);
        REQUIRE(h->create_session("x", "", ""));
    }
    auto h = open_ok(path);
    CHECK(h->schema_version() == kSchemaVersion);
    CHECK(h->list_sessions()->size() == 1);
}

TEST_CASE("history: a newer database is refused with TooNew and left untouched", "[history][migration]") {
    TempDir dir;
    std::string path = dir.file("new.db");
    { auto h = open_ok(path); }
    raw_exec(path, "PRAGMA user_version = 99");
    std::string before = read_file(path);
    auto h = History::open(path);
    REQUIRE_FALSE(h);
    CHECK(h.error().code == ErrorCode::TooNew);
    CHECK(h.error().message.find("99") != std::string::npos);
    CHECK(h.error().message.find(std::to_string(kSchemaVersion)) != std::string::npos);
    CHECK(h.error().message.find("newer") != std::string::npos);
    CHECK(read_file(path) == before);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    CHECK(scalar(db, "PRAGMA user_version") == 99);
    sqlite3_close(db);
}

TEST_CASE("history: migrates a v2 database to v3, renumbering the index by time", "[history][migration]") {
    TempDir dir;
    std::string path = dir.file("v2.db");
    // Rows written in v2 (through its triggers), with times out of id order across kinds.
    raw_exec(path, std::string("PRAGMA journal_mode=DELETE;") + kV1Schema + kV2Additions + R"SQL(
INSERT INTO sessions VALUES (1, 'web', 1000, 9000, 'm', 'web1', 0);
INSERT INTO sessions VALUES (2, 'db', 1000, 9000, 'm', 'db2', 1);
INSERT INTO messages VALUES (1, 1, 'user', 'nginx returns 502 on web1', 5000, 0, 6, 0, 0);
INSERT INTO messages VALUES (2, 2, 'user', 'postgres is slow, nginx too', 7000, 0, 6, 0, 0);
INSERT INTO commands VALUES (1, 1, 'web1', 'journalctl -u nginx', 'read-only', 'user', 0, 6000, 40.0);
INSERT INTO command_output VALUES (1, 'stdout', 'nginx: upstream timed out', 25, 0);
INSERT INTO command_output VALUES (1, 'stderr', '', 0, 0);
INSERT INTO findings VALUES (1, 2, 'db2', 'journal:postgresql', 'warning', 'slow queries', 'nginx waits on postgres', 2000);
INSERT INTO finding_evidence VALUES (1, 0, 'main.log:7', 'duration: 5000 ms');
PRAGMA user_version = 2;
)SQL");
    auto h = open_ok(path);
    CHECK(h->schema_version() == kSchemaVersion);
    CHECK(*h->integrity_check() == "ok");
    sqlite3* db = h->handle();
    REQUIRE(sqlite3_exec(db, "INSERT INTO search_fts(search_fts) VALUES('integrity-check')", nullptr, nullptr, nullptr) == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM search_fts") == 4);
    CHECK(scalar(db, "SELECT count(*) FROM search_rows") == 4);
    CHECK(scalar(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'search_fts_v2%'") == 0);
    // Index rowids follow time: finding (2000), message 1 (5000), command (6000), message 2 (7000).
    CHECK(scalar(db, "SELECT group_concat(kind || ':' || ref, ' ') = '2:1 0:1 1:1 0:2' FROM (SELECT * FROM search_rows ORDER BY id)") == 1);
    // Bodies carried over, command output and finding evidence included; hits carry host and time.
    auto hits = *h->search("nginx");
    REQUIRE(hits.size() == 4);
    CHECK(has_hit(*h->search("upstream timed"), SearchHit::Kind::Command, 1));
    CHECK(has_hit(*h->search("5000 ms"), SearchHit::Kind::Finding, 1));
    auto m2 = *h->search("postgres is slow");
    REQUIRE(m2.size() == 1);
    CHECK(m2[0].kind == SearchHit::Kind::Message);
    CHECK(m2[0].id == 2);
    CHECK(m2[0].session_id == 2);
    CHECK(m2[0].host == "db2");
    CHECK(m2[0].role == "user");
    CHECK(m2[0].created_ms == 7000);
    CHECK(m2[0].snippet.find("[postgres]") != std::string::npos);
    SearchQuery q;
    q.text = "nginx";
    q.host = "web1";
    auto web = *h->search(q);
    CHECK(web.size() == 2);
    CHECK(has_hit(web, SearchHit::Kind::Message, 1));
    CHECK(has_hit(web, SearchHit::Kind::Command, 1));
    // New writes and deletes keep the index in step.
    Id m3 = *h->add_message(1, "assistant", "reload nginx");
    CHECK(has_hit(*h->search("reload"), SearchHit::Kind::Message, m3));
    CHECK(scalar(db, "SELECT max(id) = (SELECT id FROM search_rows WHERE kind = 0 AND ref = " + std::to_string(m3) + ") FROM search_rows") == 1);
    REQUIRE(h->remove_session(1));
    CHECK(h->search("nginx")->size() == 2);
    CHECK(scalar(db, "SELECT count(*) FROM search_rows") == 2);
    CHECK(scalar(db, "SELECT count(*) FROM search_fts") == 2);
    REQUIRE(sqlite3_exec(db, "INSERT INTO search_fts(search_fts) VALUES('integrity-check')", nullptr, nullptr, nullptr) == SQLITE_OK);
    // A session's host, should it ever change, follows into the filter.
    REQUIRE(sqlite3_exec(db, "UPDATE sessions SET host = 'db3' WHERE id = 2", nullptr, nullptr, nullptr) == SQLITE_OK);
    q.host = "db3";
    CHECK(has_hit(*h->search(q), SearchHit::Kind::Message, 2));
}

TEST_CASE("history: search ranks only the newest rank_window matches", "[history][search]") {
    TempDir dir;
    std::int64_t now = 1'700'000'000'000;
    Options o;
    o.clock = [&] { return now += 1000; };
    auto h = open_ok(dir.file("window.db"), o);
    Id web = *h->create_session("web", "m", "web1");
    Id db = *h->create_session("db", "m", "db2");
    // The best "nginx" match is the oldest row; then ten weak matches, then a command.
    Id best = *h->add_message(web, "user", "nginx nginx nginx nginx");
    std::vector<Id> weak;
    for (int i = 0; i < 10; ++i)
        weak.push_back(*h->add_message(i % 2 ? db : web, "assistant", "a long reply that mentions nginx once among many other words " + std::to_string(i)));
    Command c;
    c.session_id = db;
    c.host = "db2";
    c.text = "systemctl status nginx";
    Id cmd = *h->record_command(c);

    // Fewer matches than the default window: every match is ranked, the best first.
    auto all = *h->search("nginx");
    REQUIRE(all.size() == 12);
    CHECK(all[0].id == best);

    // A window of 4: only the 4 newest matches (the command and the last three replies) are ranked.
    SearchQuery q;
    q.text = "nginx";
    q.rank_window = 4;
    q.limit = 4;
    auto recent = *h->search(q);
    REQUIRE(recent.size() == 4);
    CHECK_FALSE(has_hit(recent, SearchHit::Kind::Message, best));
    CHECK(has_hit(recent, SearchHit::Kind::Command, cmd));
    for (std::size_t i = 7; i < 10; ++i) CHECK(has_hit(recent, SearchHit::Kind::Message, weak[i]));
    for (std::size_t i = 1; i < recent.size(); ++i) CHECK(recent[i - 1].score <= recent[i].score);
    for (const auto& hit : recent) CHECK(hit.snippet.find("[nginx]") != std::string::npos);
    // bm25 statistics still come from the whole index: same scores as the full ranking.
    for (const auto& hit : recent)
        for (const auto& a : all)
            if (a.kind == hit.kind && a.id == hit.id) CHECK(a.score == Approx(hit.score));
    // The window is never smaller than the limit.
    q.limit = 6;
    CHECK(h->search(q)->size() == 6);
    q.limit = 2;
    auto top2 = *h->search(q);
    REQUIRE(top2.size() == 2);
    CHECK(top2[0].id == recent[0].id);
    CHECK(top2[1].id == recent[1].id);
    // rank_window <= 0 ranks everything.
    q.limit = 50;
    q.rank_window = 0;
    auto every = *h->search(q);
    REQUIRE(every.size() == 12);
    CHECK(every[0].id == best);

    // Filtered: the window counts only rows that pass the filter.
    SearchQuery f;
    f.text = "nginx";
    f.host = "web1";
    f.rank_window = 3;
    f.limit = 3;
    auto on_web = *h->search(f);
    REQUIRE(on_web.size() == 3);  // weak[4], weak[6], weak[8]: the newest three web1 matches
    for (std::size_t i : {4, 6, 8}) CHECK(has_hit(on_web, SearchHit::Kind::Message, weak[i]));
    for (const auto& hit : on_web) {
        CHECK(hit.host == "web1");
        CHECK(hit.snippet.find("[nginx]") != std::string::npos);
    }
    for (std::size_t i = 1; i < on_web.size(); ++i) CHECK(on_web[i - 1].score <= on_web[i].score);
    f.limit = 1;
    REQUIRE(h->search(f)->size() == 1);
    CHECK(h->search(f)->at(0).id != best);
    f.limit = 50;
    f.rank_window = 0;
    auto web_all = *h->search(f);
    REQUIRE(web_all.size() == 6);
    CHECK(web_all[0].id == best);
    f.limit = 1;
    REQUIRE(h->search(f)->size() == 1);
    CHECK(h->search(f)->at(0).id == best);
}

TEST_CASE("history: sessions, messages, commands, changes, hosts, findings", "[history]") {
    TempDir dir;
    std::int64_t now = 1'700'000'000'000;
    Options o;
    o.clock = [&] { return now; };
    o.output_cap_bytes = 64;
    auto h = open_ok(dir.file("h.db"), o);

    Id s1 = *h->create_session("disk on db2", "sigma-1b", "db2");
    now += 1000;
    Id s2 = *h->create_session("nginx", "sigma-1b", "web1");
    now += 1000;
    Id m1 = *h->add_message(s1, "user", "what fills /var?", MessageStats{});
    Id m2 = *h->add_message(s1, "assistant", "run du", MessageStats{20, 3, 12.5, 40.25});
    CHECK(m2 > m1);
    auto msgs = *h->messages(s1);
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[1].role == "assistant");
    CHECK(msgs[1].n_prompt_tokens == 20);
    CHECK(msgs[1].n_tokens == 3);
    CHECK(msgs[1].decode_ms == 40.25);
    // list: most recently updated first; s1 got the messages.
    auto list = *h->list_sessions(10, 0);
    REQUIRE(list.size() == 2);
    CHECK(list[0].id == s1);
    CHECK(list[0].n_messages == 2);
    CHECK(h->list_sessions(1, 1)->at(0).id == s2);

    SECTION("bad input is refused without a write") {
        auto bad = h->add_message(s1, "robot", "x");
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code == ErrorCode::InvalidArgument);
        auto missing = h->add_message(9999, "user", "x");
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code == ErrorCode::NotFound);
        CHECK(scalar(h->handle(), "SELECT count(*) FROM messages") == 2);
        CHECK(h->session(9999).error().code == ErrorCode::NotFound);
    }

    SECTION("a command and its output are one record; output is capped with a note") {
        Command c;
        c.session_id = s1;
        c.host = "db2";
        c.text = "du -sh /var/*";
        c.risk = Risk::ReadOnly;
        c.approved_by = "user";
        c.exit_code = 0;
        c.stdout_text = std::string(100, 'x');
        c.stderr_text = "du: cannot read \xff\xfe directory";  // invalid UTF-8
        c.duration_ms = 123.5;
        Id id = *h->record_command(c);
        auto got = *h->command(id);
        CHECK(got.stdout_truncated);
        CHECK(got.n_stdout_bytes == 100);
        CHECK(got.stdout_text.rfind(std::string(64, 'x'), 0) == 0);
        CHECK(got.stdout_text.find("[sigmaops: output truncated: kept 64 of 100 bytes]") != std::string::npos);
        CHECK_FALSE(got.stderr_truncated);
        CHECK(got.stderr_text == "du: cannot read \xEF\xBF\xBD\xEF\xBF\xBD directory");
        CHECK(got.exit_code == 0);
        CHECK(got.risk == Risk::ReadOnly);
        CHECK(got.started_ms == now);
        Command refused;
        refused.host = "db2";
        refused.text = "rm -rf /var/lib/postgresql";
        refused.risk = Risk::High;
        Id r = *h->record_command(refused);
        CHECK_FALSE(h->command(r)->exit_code.has_value());
        CHECK(h->commands(s1)->size() == 1);
        CHECK(h->commands_on("db2", 0, 0)->size() == 2);
        CHECK(h->commands_on("web1", 0, 0)->empty());
        // A multi-byte character is never split by the cap.
        Command u;
        u.host = "db2";
        u.text = "cat";
        u.stdout_text = std::string(63, 'a') + "\xC3\xA9" + "bbbb";  // 'é' straddles byte 64
        auto uc = *h->command(*h->record_command(u));
        CHECK(uc.stdout_text.rfind(std::string(63, 'a') + "\n[sigmaops", 0) == 0);
        // A command for a session that does not exist leaves nothing behind (one transaction).
        Command orphan;
        orphan.session_id = 4242;
        orphan.host = "x";
        orphan.text = "true";
        auto bad = h->record_command(orphan);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code == ErrorCode::NotFound);
        CHECK(scalar(h->handle(), "SELECT count(*) FROM commands WHERE text = 'true'") == 0);
        CHECK(scalar(h->handle(), "SELECT count(*) FROM command_output o LEFT JOIN commands c ON c.id = o.command_id WHERE c.id IS NULL") == 0);
    }

    SECTION("config changes move through their states with an audit trail") {
        ConfigChange c;
        c.session_id = s2;
        c.host = "web1";
        c.path = "/etc/nginx/nginx.conf";
        c.diff = "-worker_connections 512;\n+worker_connections 1024;\n";
        Id id = *h->propose_change(c);
        CHECK(h->config_change(id)->status == ChangeStatus::Proposed);
        auto bad = h->set_change_status(id, ChangeStatus::RolledBack);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code == ErrorCode::InvalidArgument);
        now += 5;
        REQUIRE(h->set_change_status(id, ChangeStatus::Applied, "applied by user", "/var/backups/nginx.conf.1", "syntax is ok"));
        now += 5;
        REQUIRE(h->set_change_status(id, ChangeStatus::RolledBack, "502s after reload"));
        auto got = *h->config_change(id);
        CHECK(got.status == ChangeStatus::RolledBack);
        CHECK(got.backup_path == "/var/backups/nginx.conf.1");
        CHECK(got.validation_output == "syntax is ok");
        REQUIRE(got.events.size() == 3);
        CHECK(got.events[0].status == ChangeStatus::Proposed);
        CHECK(got.events[1].note == "applied by user");
        CHECK(got.events[2].status == ChangeStatus::RolledBack);
        CHECK_FALSE(h->set_change_status(id, ChangeStatus::Applied));
        CHECK(h->config_changes(s2)->size() == 1);
        CHECK(h->set_change_status(777, ChangeStatus::Applied).error().code == ErrorCode::NotFound);
    }

    SECTION("hosts are profiles by name, updated in place") {
        Host host;
        host.name = "db2";
        host.address = "10.0.0.12";
        host.user = "admin";
        Id a = *h->upsert_host(host);
        host.port = 2222;
        Id b = *h->upsert_host(host);
        CHECK(a == b);
        CHECK(h->host("db2")->port == 2222);
        CHECK(h->hosts()->size() == 1);
        REQUIRE(h->remove_host("db2"));
        CHECK(h->host("db2").error().code == ErrorCode::NotFound);
    }

    SECTION("findings keep their evidence in order") {
        Finding f;
        f.session_id = s1;
        f.host = "db2";
        f.source = "/var/log/syslog";
        f.severity = "error";
        f.summary = "disk full";
        f.evidence = {{"/var/log/syslog:10", "No space left on device"}, {"/var/log/syslog:11", "write failed"}};
        REQUIRE(h->add_finding(f));
        auto got = *h->findings(s1);
        REQUIRE(got.size() == 1);
        REQUIRE(got[0].evidence.size() == 2);
        CHECK(got[0].evidence[1].ref == "/var/log/syslog:11");
    }

    SECTION("removing a session removes everything in it, index rows included") {
        Command c;
        c.session_id = s1;
        c.host = "db2";
        c.text = "df -h";
        c.stdout_text = "zebrafish";
        REQUIRE(h->record_command(c));
        Finding f;
        f.session_id = s1;
        f.summary = "zebrafish finding";
        f.evidence = {{"a", "b"}};
        REQUIRE(h->add_finding(f));
        ConfigChange ch;
        ch.session_id = s1;
        ch.host = "db2";
        ch.path = "/etc/x";
        ch.diff = "+zebrafish";
        REQUIRE(h->propose_change(ch));
        CHECK(h->search("zebrafish")->size() == 2);
        REQUIRE(h->remove_session(s1));
        CHECK(h->search("zebrafish")->empty());
        for (const char* t : {"messages", "commands", "command_output", "config_changes", "config_change_events", "findings", "finding_evidence"})
            CHECK(scalar(h->handle(), std::string("SELECT count(*) FROM ") + t) == 0);
        CHECK(scalar(h->handle(), "SELECT count(*) FROM search_fts") == 0);
        CHECK(scalar(h->handle(), "SELECT count(*) FROM search_rows") == 0);
        CHECK(h->remove_session(s1).error().code == ErrorCode::NotFound);
        CHECK(h->list_sessions()->size() == 1);
    }
}

TEST_CASE("history: FTS ranking on a fixed corpus", "[history][search]") {
    TempDir dir;
    std::int64_t now = 1'700'000'000'000;
    Options o;
    o.clock = [&] { return now++; };
    auto h = open_ok(dir.file("fts.db"), o);
    Id web = *h->create_session("nginx on web1", "m", "web1");
    Id db = *h->create_session("db2 trouble", "m", "db2");
    Id m_nginx1 = *h->add_message(web, "user", "nginx fails to start after I changed the config on web1");
    Id m_nginx4 = *h->add_message(web, "assistant", "nginx: test with nginx -t, then reload nginx with systemctl reload nginx");
    Id m_repl = *h->add_message(db, "user", "postgres replication lag on db2 is growing");
    Id m_disk = *h->add_message(db, "assistant", "the disk is full: /var/lib/postgresql is at 100%");
    Id m_noise = *h->add_message(db, "user", "thanks, that helped a lot");
    (void)m_noise;
    Command c;
    c.session_id = web;
    c.host = "web1";
    c.text = "journalctl -u nginx --since today";
    c.stdout_text = "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)";
    Id cmd = *h->record_command(c);
    Command c2;
    c2.session_id = db;
    c2.host = "db2";
    c2.text = "df -h /var/lib/postgresql";
    c2.stdout_text = "/dev/sdb1 100G 100G 0 100% /var/lib/postgresql";
    Id cmd2 = *h->record_command(c2);
    Finding f;
    f.session_id = db;
    f.host = "db2";
    f.source = "journal:postgresql";
    f.severity = "critical";
    f.summary = "OOM killer terminated postgres";
    f.evidence = {{"journal:kernel@12:01", "Out of memory: Killed process 4242 (postgres)"}};
    Id fid = *h->add_finding(f);

    // "nginx": the message that says it four times ranks first; exactly the three nginx rows match.
    auto hits = *h->search("nginx");
    REQUIRE(hits.size() == 3);
    CHECK(hits[0].kind == SearchHit::Kind::Message);
    CHECK(hits[0].id == m_nginx4);
    CHECK(has_hit(hits, SearchHit::Kind::Message, m_nginx1));
    CHECK(has_hit(hits, SearchHit::Kind::Command, cmd));
    for (std::size_t i = 1; i < hits.size(); ++i) CHECK(hits[i - 1].score <= hits[i].score);
    CHECK(hits[0].snippet.find("[nginx]") != std::string::npos);
    CHECK(hits[0].session_id == web);
    CHECK(hits[0].host == "web1");
    CHECK(hits[0].role == "assistant");

    // Words are ANDed; no stemming: "postgres" does not match "postgresql".
    auto pg = *h->search("postgres");
    REQUIRE(pg.size() == 2);
    CHECK(has_hit(pg, SearchHit::Kind::Message, m_repl));
    CHECK(has_hit(pg, SearchHit::Kind::Finding, fid));
    CHECK(h->search("postgres* 100")->size() == 2);  // prefix: m_disk and cmd2
    CHECK(has_hit(*h->search("postgres* 100"), SearchHit::Kind::Command, cmd2));
    CHECK(has_hit(*h->search("postgres* 100"), SearchHit::Kind::Message, m_disk));

    // Punctuation is literal, not FTS5 syntax; quotes and operators do not break the query.
    CHECK(h->search("0.0.0.0:80")->size() == 1);
    CHECK(h->search("\"unbalanced")->empty());
    CHECK(h->search("AND OR NOT")->empty());
    CHECK(h->search("   ")->empty());

    // Filters: host and time.
    SearchQuery q;
    q.text = "postgresql";
    q.host = "db2";
    auto on_db2 = *h->search(q);  // the disk message, the df command and the finding's source
    CHECK(on_db2.size() == 3);
    CHECK(has_hit(on_db2, SearchHit::Kind::Finding, fid));
    q.host = "web1";
    CHECK(h->search(q)->empty());
    SearchQuery t;
    t.text = "nginx";
    t.since_ms = h->command(cmd)->started_ms;
    auto recent = *h->search(t);
    REQUIRE(recent.size() == 1);
    CHECK(recent[0].kind == SearchHit::Kind::Command);
    CHECK(h->search("nginx", 1)->size() == 1);

    // Raw FTS5 syntax errors are InvalidArgument, not a crash.
    SearchQuery raw;
    raw.text = "nginx AND (";
    raw.raw = true;
    auto r = h->search(raw);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::InvalidArgument);
}

TEST_CASE("history: export JSON -> import -> export is exact - Markdown is readable", "[history][export]") {
    TempDir dir;
    std::int64_t now = 1'700'000'000'123;
    Options o;
    o.clock = [&] { return now += 7; };
    o.output_cap_bytes = 32;
    auto h = open_ok(dir.file("x.db"), o);
    Id s = *h->create_session("Ünïcode ```fences``` and \"quotes\"\nnewline", "sigma-1b-q8", "db2");
    REQUIRE(h->add_message(s, "system", "You are SigmaOps."));
    REQUIRE(h->add_message(s, "user", "what ran on db2?\twith tab \\ backslash \x01 control"));
    REQUIRE(h->add_message(s, "assistant", "Run:\n```sh\ndf -h\n```\n日本語 🚀", MessageStats{123, 45, 0.1 + 0.2, 1e-7}));
    Command c;
    c.session_id = s;
    c.host = "db2";
    c.text = "df -h";
    c.risk = Risk::ReadOnly;
    c.approved_by = "auto:read-only";
    c.exit_code = 0;
    c.stdout_text = std::string(50, 'o');
    c.stderr_text = "warn";
    c.duration_ms = 12.345678901234567;
    REQUIRE(h->record_command(c));
    Command k;
    k.session_id = s;
    k.host = "db2";
    k.text = "sleep 100";
    k.risk = Risk::Low;
    REQUIRE(h->record_command(k));  // no exit code
    ConfigChange ch;
    ch.session_id = s;
    ch.host = "db2";
    ch.path = "/etc/postgresql/15/main/postgresql.conf";
    ch.diff = "-max_wal_size = 1GB\n+max_wal_size = 4GB\n";
    Id cid = *h->propose_change(ch);
    REQUIRE(h->set_change_status(cid, ChangeStatus::Applied, "ok", "/var/backups/pg.conf", "valid"));
    Finding f;
    f.session_id = s;
    f.host = "db2";
    f.source = "/var/log/postgresql/main.log";
    f.severity = "warning";
    f.summary = "checkpoints too frequent";
    f.detail = "raise max_wal_size";
    f.evidence = {{"main.log:42", "LOG: checkpoints are occurring too frequently (9 seconds apart)"}};
    REQUIRE(h->add_finding(f));
    REQUIRE(h->set_pinned(s, true));

    std::string json1 = *h->export_json(s);
    CHECK(json1.find("\"format\": \"sigmaops-history-session\"") != std::string::npos);
    Id s2 = *h->import_json(json1);
    CHECK(s2 != s);
    std::string json2 = *h->export_json(s2);
    CHECK(json1 == json2);
    // Into another database, too.
    auto other = open_ok(dir.file("other.db"));
    Id s3 = *other->import_json(json1);
    CHECK(*other->export_json(s3) == json1);
    CHECK(other->session(s3)->pinned);
    CHECK(other->messages(s3)->at(2).prompt_ms == 0.1 + 0.2);
    CHECK(has_hit(*other->search("checkpoints"), SearchHit::Kind::Finding, 1));

    std::string md = *h->export_markdown(s);
    CHECK(md.find("# Ünïcode ```fences``` and \"quotes\" newline") == 0);
    CHECK(md.find("## Conversation") != std::string::npos);
    CHECK(md.find("````text") == std::string::npos);
    CHECK(md.find("### assistant") != std::string::npos);
    CHECK(md.find("```sh\ndf -h\n```") != std::string::npos);
    CHECK(md.find("## Commands") != std::string::npos);
    CHECK(md.find("truncated, 50 bytes in all") != std::string::npos);
    CHECK(md.find("## Config changes") != std::string::npos);
    CHECK(md.find("/var/backups/pg.conf") != std::string::npos);
    CHECK(md.find("## Findings") != std::string::npos);

    SECTION("import rejects what is not an export, writing nothing") {
        auto n_before = h->list_sessions()->size();
        for (std::string bad : {std::string("not json"), std::string("{}"), std::string("[1,2]"),
                                std::string(R"({"format":"sigmaops-history-session","version":1})"),
                                json1.substr(0, json1.size() / 2)}) {
            auto r = h->import_json(bad);
            REQUIRE_FALSE(r);
            CHECK(r.error().code == ErrorCode::InvalidArgument);
        }
        std::string wrong = json1;
        wrong.replace(wrong.find("\"role\": \"user\""), 14, "\"role\": \"evil\"");
        CHECK(h->import_json(wrong).error().code == ErrorCode::InvalidArgument);
        CHECK(h->list_sessions()->size() == n_before);
    }
    CHECK(h->export_json(9999).error().code == ErrorCode::NotFound);
}

TEST_CASE("history: retention keeps N days and never touches pinned sessions", "[history][retention]") {
    TempDir dir;
    const std::int64_t day = 86'400'000;
    std::int64_t now = 1'700'000'000'000;
    Options o;
    o.clock = [&] { return now; };
    auto h = open_ok(dir.file("r.db"), o);
    Id old_plain = *h->create_session("old", "", "");
    REQUIRE(h->add_message(old_plain, "user", "ancient question"));
    Command oc;
    oc.session_id = old_plain;
    oc.host = "h";
    oc.text = "ancient command";
    REQUIRE(h->record_command(oc));
    Id old_pinned = *h->create_session("old but pinned", "", "");
    REQUIRE(h->add_message(old_pinned, "user", "ancient pinned question"));
    REQUIRE(h->set_pinned(old_pinned, true));
    Command loose;
    loose.host = "h";
    loose.text = "ancient loose command";
    REQUIRE(h->record_command(loose));
    now += 40 * day;
    Id recent = *h->create_session("recent", "", "");
    REQUIRE(h->add_message(recent, "user", "fresh question"));
    Id revived = old_pinned;  // activity on an old session is what counts
    (void)revived;

    CHECK(h->apply_retention(0).error().code == ErrorCode::InvalidArgument);
    auto n = h->apply_retention(30);
    REQUIRE(n);
    CHECK(*n == 1);
    auto list = *h->list_sessions();
    REQUIRE(list.size() == 2);
    CHECK(h->session(old_plain).error().code == ErrorCode::NotFound);
    CHECK(h->session(old_pinned));
    CHECK(h->session(recent));
    CHECK(h->messages(old_pinned)->size() == 1);
    CHECK(h->search("ancient")->size() == 1);  // only the pinned message is left
    CHECK(scalar(h->handle(), "SELECT count(*) FROM commands") == 0);
    // Unpinning makes it eligible.
    REQUIRE(h->set_pinned(old_pinned, false));
    CHECK(*h->apply_retention(30) == 1);
    CHECK(*h->apply_retention(30) == 0);
    CHECK(h->list_sessions()->size() == 1);
}

TEST_CASE("history: damaged and foreign files give BadFile with advice - move_aside starts fresh", "[history][corrupt]") {
    TempDir dir;
    std::string path = dir.file("history.db");
    auto expect_bad = [&](const std::string& what) {
        INFO(what);
        std::string before = read_file(path);
        auto h = History::open(path);
        REQUIRE_FALSE(h);
        CHECK(h.error().code == ErrorCode::BadFile);
        CHECK(h.error().message.find(path) != std::string::npos);
        CHECK(h.error().message.find("move") != std::string::npos);
        CHECK(read_file(path) == before);  // nothing written
        auto moved = move_aside(path);
        REQUIRE(moved);
        CHECK(moved->rfind(path + ".corrupt-", 0) == 0);
        CHECK(read_file(*moved) == before);
        CHECK(::access(path.c_str(), F_OK) != 0);
        auto fresh = History::open(path);
        REQUIRE(fresh);
        CHECK((*fresh)->list_sessions()->empty());
        fresh->reset();
        std::filesystem::remove(path);
        std::filesystem::remove(path + "-wal");
        std::filesystem::remove(path + "-shm");
    };
    std::mt19937 rng(7);
    std::string random_bytes(8192, '\0');
    for (char& c : random_bytes) c = static_cast<char>(rng());
    write_file(path, random_bytes);
    expect_bad("random bytes");

    write_file(path, "# my notes\nthis is not a database\n");
    expect_bad("text file");

    write_file(path, "SQLite format 3");  // shorter than a header
    expect_bad("short header");

    {
        auto h = open_ok(path);
        Id s = *h->create_session("big", "", "");
        for (int i = 0; i < 300; ++i) REQUIRE(h->add_message(s, "user", std::string(2000, 'a' + i % 26)));
    }  // closing checkpoints the WAL into the file
    REQUIRE(::access((path + "-wal").c_str(), F_OK) != 0);
    std::string full = read_file(path);
    write_file(path, full.substr(0, full.size() / 2));
    expect_bad("truncated database");

    {
        // Header intact, schema page overwritten with garbage.
        auto h = open_ok(path);
        REQUIRE(h->create_session("x", "", ""));
    }
    std::string db = read_file(path);
    for (std::size_t i = 100; i < 4096 && i < db.size(); ++i) db[i] = static_cast<char>(rng());
    write_file(path, db);
    expect_bad("damaged schema page");

    CHECK(move_aside(dir.file("nothing-here.db")).error().code == ErrorCode::NotFound);
}

TEST_CASE("history: CLI list, show, search, export, import, rm and errors", "[history][cli]") {
    TempDir dir;
    std::string path = dir.file("cli.db");
    auto cli = [&](std::vector<std::string> args, std::string* out_text = nullptr, std::string* err_text = nullptr) {
        std::ostringstream out, err;
        int rc = run_history_cli(args, out, err, path);
        if (out_text) *out_text = out.str();
        if (err_text) *err_text = err.str();
        return rc;
    };
    std::string out, err;
    CHECK(cli({"list"}, &out) == 0);
    CHECK(out.find("no history yet") != std::string::npos);
    CHECK(::access(path.c_str(), F_OK) != 0);  // reading does not create the file
    CHECK(cli({"--help"}, &out) == 0);
    CHECK(out.find("usage:") != std::string::npos);
    CHECK(cli({}, nullptr, &err) == 2);
    CHECK(cli({"frobnicate"}, nullptr, &err) == 2);
    CHECK(err.find("unknown command") != std::string::npos);

    Id s = 0;
    {
        auto h = open_ok(path);
        s = *h->create_session("postgres on db2", "sigma", "db2");
        REQUIRE(h->add_message(s, "user", "why is replication lagging?"));
        REQUIRE(h->add_message(s, "assistant", "check pg_stat_replication"));
    }
    std::string id = std::to_string(s);
    CHECK(cli({"list"}, &out) == 0);
    CHECK(out.find("postgres on db2") != std::string::npos);
    CHECK(cli({"list", "--limit", "x"}, nullptr, &err) == 2);
    CHECK(cli({"show", id}, &out) == 0);
    CHECK(out.find("# postgres on db2") == 0);
    CHECK(cli({"show", "abc"}, nullptr, &err) == 2);
    CHECK(cli({"show", "999"}, nullptr, &err) == 1);
    CHECK(err.find("does not exist") != std::string::npos);
    CHECK(cli({"search", "replication"}, &out) == 0);
    CHECK(out.find("[replication]") != std::string::npos);
    CHECK(cli({"search", "nothingmatchesthis"}, &out) == 0);
    CHECK(out.find("no matches") != std::string::npos);
    CHECK(cli({"search"}, nullptr, &err) == 2);

    CHECK(cli({"export", id}, nullptr, &err) == 2);
    CHECK(cli({"export", id, "--format", "xml"}, nullptr, &err) == 2);
    CHECK(cli({"export", id, "--format", "md"}, &out) == 0);
    CHECK(out.find("## Conversation") != std::string::npos);
    std::string json_path = dir.file("s.json");
    CHECK(cli({"export", id, "--format", "json", "-o", json_path}) == 0);
    struct stat st{};
    REQUIRE(::stat(json_path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(cli({"import", json_path}, &out) == 0);
    CHECK(out.find("as session") != std::string::npos);
    CHECK(cli({"import", dir.file("missing.json")}, nullptr, &err) == 1);
    CHECK(cli({"import", dir.file("")}, nullptr, &err) == 1);  // the temp directory itself
    CHECK(err.find(" is a directory; import takes a file from `sigmaops history export ID --format json`") != std::string::npos);
    write_file(dir.file("bad.json"), "{\"format\": \"other\"}");
    CHECK(cli({"import", dir.file("bad.json")}, nullptr, &err) == 1);
    CHECK(err.find("not a SigmaOps session export") != std::string::npos);

    if (!::isatty(STDIN_FILENO)) {
        CHECK(cli({"rm", id}, nullptr, &err) == 2);
        CHECK(err.find("--yes") != std::string::npos);
    }
    CHECK(cli({"rm", id, "--yes"}, &out) == 0);
    CHECK(cli({"show", id}) == 1);
    CHECK(cli({"rm", id, "--yes"}, nullptr, &err) == 1);

    // A damaged file: a clear error and the way out.
    write_file(path, "garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage");
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
    CHECK(cli({"list"}, nullptr, &err) == 1);
    CHECK(err.find("To keep the damaged file and start a fresh history: sigmaops history move-aside --history '" + path + "'") !=
          std::string::npos);
    CHECK(cli({"move-aside"}, &out) == 0);
    CHECK(cli({"list"}, &out) == 0);
}

TEST_CASE("history: a path that names a directory is refused, and never moved aside", "[history]") {
    TempDir dir;
    const std::string d = dir.file("adir");
    std::filesystem::create_directories(d + "/inside");
    write_file(d + "/inside/keep.txt", "keep");
    auto h = History::open(d);
    REQUIRE_FALSE(h);
    CHECK(h.error().code == ErrorCode::InvalidArgument);
    CHECK(h.error().message.find("is a directory, not a file") != std::string::npos);
    CHECK(h.error().message.find("move it aside") == std::string::npos);  // no advice to rename it
    auto moved = move_aside(d);
    REQUIRE_FALSE(moved);
    CHECK(moved.error().code == ErrorCode::InvalidArgument);
    CHECK(moved.error().message.find("is not a regular file") != std::string::npos);
    CHECK(read_file(d + "/inside/keep.txt") == "keep");
    // The CLI: an error without the move-aside hint, and move-aside refuses.
    std::ostringstream out, err;
    CHECK(run_history_cli({"list"}, out, err, d) == 1);
    CHECK(err.str().find("is a directory, not a file") != std::string::npos);
    CHECK(err.str().find("move-aside") == std::string::npos);
    std::ostringstream out2, err2;
    CHECK(run_history_cli({"move-aside"}, out2, err2, d) == 1);
    CHECK(err2.str().find("nothing was moved") != std::string::npos);
    CHECK(std::filesystem::is_directory(d));
}
