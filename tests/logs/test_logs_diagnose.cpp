// test_logs_diagnose.cpp - logs::diagnose() over several sources: progress and cancel, secrets
// masked, and the template memory in a real history file (a second run of the same source
// reports only the templates no earlier run saw).
#include "logs_test_util.h"

#include <catch2/catch.hpp>
#include <cli/command.h>
#include <history/history.h>

#include <sqlite3.h>

#include <sstream>

namespace logs = sigmaops::logs;
namespace history = sigmaops::history;

namespace {

std::pair<int, std::string> in_process(std::vector<std::string> argv) {
    std::istringstream in;
    std::ostringstream out, err;
    sigmaops::cli::Io io{in, out, err};
    const int rc = sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), argv, io);
    return {rc, out.str() + err.str()};
}

logs::Report run(const std::string& path, history::History* db) {
    logs::DiagnoseOptions o;
    o.history = db;
    std::vector<logs::Source> s;
    s.push_back(logs::open_source(path));
    auto r = logs::diagnose(std::move(s), o);
    REQUIRE(r);
    return std::move(*r);
}

std::int64_t count_rows(history::History& h, const char* sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(h.handle(), sql, -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const std::int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

const char* k_base =
    "Mar  1 09:00:01 web01 sshd[100]: Accepted publickey for deploy from 10.0.0.2 port 50022 ssh2\n"
    "Mar  1 09:00:02 web01 CRON[200]: (root) CMD (run-parts /etc/cron.hourly)\n"
    "Mar  1 09:00:03 web01 app[300]: session opened for user alice\n"
    "Mar  1 09:00:04 web01 sshd[101]: Accepted publickey for deploy from 10.0.0.3 port 50023 ssh2\n"
    "Mar  1 09:00:05 web01 app[300]: request 17 served in 12ms\n";

} // namespace

TEST_CASE("diagnose remembers templates per source: a second run reports only what is new", "[logs][diagnose][history]") {
    logs_test::TempDir d;
    const std::string log = d.file("app.log", k_base);
    auto db = history::History::open((d.path / "history.db").string());
    REQUIRE(db);

    // First run: nothing to compare with; the templates are remembered.
    logs::Report r1 = run(log, db->get());
    CHECK(r1.sources[0].earlier_runs == 0);
    CHECK(r1.sources[0].new_templates == 0);
    CHECK(r1.sources[0].templates == 4);
    for (const auto& f : r1.findings) CHECK(f.category != "new-template");
    REQUIRE_FALSE(r1.notes.empty());
    CHECK_THAT(r1.notes[0], Catch::Contains("first diagnosis"));
    CHECK(r1.history_id > 0);

    // Second run, same lines: nothing new.
    logs::Report r2 = run(log, db->get());
    CHECK(r2.sources[0].earlier_runs == 1);
    CHECK(r2.sources[0].new_templates == 0);
    for (const auto& f : r2.findings) CHECK(f.category != "new-template");

    // Lines that only vary a known template's word (four more users: the miner generalises
    // "session opened for user alice" to "... user <*>"), and one line of a new kind: exactly that is new.
    d.file("app.log", std::string(k_base) + "Mar  1 09:00:06 web01 app[300]: session opened for user bob\n"
                                            "Mar  1 09:00:06 web01 app[300]: session opened for user carol\n"
                                            "Mar  1 09:00:06 web01 app[300]: session opened for user dave\n"
                                            "Mar  1 09:00:06 web01 app[300]: session opened for user erin\n"
                                            "Mar  1 09:00:07 web01 app[300]: cache shard 7 rebuilt from snapshot\n");
    logs::Report r3 = run(log, db->get());
    CHECK(r3.sources[0].earlier_runs == 2);
    INFO(logs::report_text(r3));
    CHECK(r3.sources[0].templates == 5);
    CHECK(r3.sources[0].new_templates == 1);
    REQUIRE(r3.findings.size() == 1);
    const logs::Finding& f = r3.findings[0];
    CHECK(f.id == "F1");
    CHECK(f.category == "new-template");
    CHECK(f.severity == logs::Severity::Notice);
    CHECK(f.count == 1);
    REQUIRE(f.evidence.size() == 1);
    CHECK(f.evidence[0].source == "app.log");
    CHECK(f.evidence[0].line == 10);
    CHECK(f.evidence[0].text == "cache shard 7 rebuilt from snapshot");
    CHECK_THAT(f.explanation, Catch::Contains("\"cache shard <*> rebuilt from snapshot\""));
    CHECK_THAT(f.explanation, Catch::Contains("2 earlier diagnoses"));
    REQUIRE(f.next_commands.size() == 1);
    CHECK_THAT(f.next_commands[0], Catch::StartsWith("grep -n -F -- 'rebuilt from snapshot' '"));

    // Fourth run: the new template is known now.
    logs::Report r4 = run(log, db->get());
    CHECK(r4.sources[0].new_templates == 0);
    CHECK(r4.findings.empty());

    // What history holds: four reports, the one finding with its evidence, the source's templates.
    auto reports = (*db)->log_reports(0);
    REQUIRE(reports);
    REQUIRE(reports->size() == 4);
    CHECK((*reports)[2].sources == log);
    CHECK_THAT((*reports)[2].report_json, Catch::Contains("\"category\":\"new-template\""));
    CHECK(count_rows(**db, "SELECT count(*) FROM findings WHERE summary LIKE 'F1 new-template:%'") == 1);
    CHECK(count_rows(**db, "SELECT count(*) FROM finding_evidence WHERE ref = 'app.log:10'") == 1);
    auto src = (*db)->log_source(std::filesystem::absolute(log).lexically_normal().string());
    REQUIRE(src);
    CHECK(src->n_runs == 4);
    CHECK(src->templates.size() >= 5);
    auto hits = (*db)->search("shard");
    REQUIRE(hits);
    CHECK(hits->size() == 1);
}

TEST_CASE("a new error-level template is a warning, another source has its own memory", "[logs][diagnose][history]") {
    logs_test::TempDir d;
    const std::string app = "2024-03-01 09:00:01,000 INFO  [main] org.example.App: worker 1 started\n"
                            "2024-03-01 09:00:02,000 INFO  [main] org.example.App: request 17 served in 12ms\n"
                            "2024-03-01 09:00:03,000 WARN  [main] org.example.Pool: pool 2 at 80 percent\n";
    const std::string a = d.file("a.log", app);
    const std::string b = d.file("b.log", app);
    auto db = history::History::open((d.path / "h.db").string());
    REQUIRE(db);
    run(a, db->get());
    run(a, db->get());
    d.file("a.log", app + "2024-03-01 09:00:09,000 ERROR [main] org.example.Store: replica 3 lost quorum\n");
    // b.log was never diagnosed: its first run reports nothing new even though a.log's memory exists.
    logs::Report rb = run(b, db->get());
    CHECK(rb.sources[0].earlier_runs == 0);
    logs::Report ra = run(a, db->get());
    bool found = false;
    for (const auto& f : ra.findings)
        if (f.category == "new-template") {
            found = true;
            CHECK(f.severity == logs::Severity::Warning);
        }
    CHECK(found);
}

TEST_CASE("sigmaops diagnose --history: the CLI stores the report and says what is new", "[logs][diagnose][cli][history]") {
    logs_test::TempDir d;
    const std::string log = d.file("syslog", k_base);
    const std::string db = (d.path / "h.db").string();
    auto [rc1, t1] = in_process({"diagnose", log, "--history", db});
    INFO(t1);
    CHECK(rc1 == 0);
    CHECK_THAT(t1, Catch::Contains("first diagnosis of"));
    CHECK_THAT(t1, Catch::Contains("stored in history as log report #1"));
    d.file("syslog", std::string(k_base) + "Mar  1 09:00:08 web01 kernel: eth0: link down\n");
    auto [rc2, t2] = in_process({"diagnose", log, "--history", db, "--json", "--no-model"});
    INFO(t2);
    CHECK(rc2 == 0);
    CHECK_THAT(t2, Catch::Contains("\"earlier_runs\":1,\"new_templates\":1"));
    CHECK_THAT(t2, Catch::Contains("\"category\":\"new-template\""));
    CHECK_THAT(t2, Catch::Contains("\"history_id\":2,\"model\":null}"));
    auto [rc3, t3] = in_process({"diagnose", log, "--no-history", "--json"});
    CHECK(rc3 == 0);
    CHECK_THAT(t3, Catch::Contains("\"earlier_runs\":null"));
    CHECK_THAT(t3, Catch::Contains("\"history_id\":null"));
}

TEST_CASE("diagnose reports progress per source and stops when cancelled", "[logs][diagnose]") {
    std::string text;
    for (int i = 0; i < 40000; ++i) text += "Mar  1 10:00:00 h app[1]: event " + std::to_string(i) + " happened\n";
    auto make = [&] {
        std::vector<logs::Source> s(2);
        s[0].name = "one";
        s[0].reader.emplace(logs::LineReader::from_bytes(text, "one"));
        s[1].name = "missing";
        s[1].error = sigmaops::Error{sigmaops::ErrorCode::NotFound, "no such file: missing"};
        return s;
    };
    std::vector<logs::DiagnoseProgress> calls;
    logs::DiagnoseOptions o;
    o.progress = [&](const logs::DiagnoseProgress& p) { calls.push_back(p); };
    auto r = logs::diagnose(make(), o);
    REQUIRE(r);
    REQUIRE(calls.size() >= 3);   // at 16k, 32k records and at the end
    CHECK(calls[0].lines == 16384);
    CHECK_FALSE(calls[0].done);
    CHECK(calls.back().done);
    CHECK(calls.back().lines == 40000);
    CHECK(calls.back().bytes_read == text.size());
    CHECK(r->sources.size() == 2);
    CHECK(r->sources[1].error == std::string("no such file: missing"));
    CHECK(r->any_error());
    CHECK_THAT(logs::report_text(*r), Catch::Contains("missing: not read: no such file: missing"));

    std::atomic<bool> cancel{true};
    o.cancel = &cancel;
    auto c = logs::diagnose(make(), o);
    REQUIRE_FALSE(c);
    CHECK(c.error().code == sigmaops::ErrorCode::Cancelled);

    logs::DiagnoseOptions bad;
    bad.log_format = "<Time>";
    auto b = logs::diagnose(make(), bad);
    REQUIRE_FALSE(b);
    CHECK(b.error().code == sigmaops::ErrorCode::InvalidArgument);
}

TEST_CASE("mask_secrets hides values of secret keys, not the words", "[logs][diagnose][secrets]") {
    CHECK(logs::mask_secrets("login ok user=bob password=hunter2 next") == "login ok user=bob password=<redacted> next");
    CHECK(logs::mask_secrets("{\"api_key\": \"sk-123\", \"n\": 1}") == "{\"api_key\": \"<redacted>\", \"n\": 1}");
    CHECK(logs::mask_secrets("Authorization: Bearer eyJhbGci.x.y") == "Authorization: Bearer <redacted>");
    CHECK(logs::mask_secrets("db_password: s3cr3t") == "db_password: <redacted>");
    CHECK(logs::mask_secrets("GET /cb?token=abc&x=1 HTTP/1.1") == "GET /cb?token=<redacted>&x=1 HTTP/1.1");
    CHECK(logs::mask_secrets("Failed password for root from 10.0.0.1 port 22 ssh2") ==
          "Failed password for root from 10.0.0.1 port 22 ssh2");
    CHECK(logs::mask_secrets("token refresh done") == "token refresh done");
    CHECK(logs::mask_secrets("password=") == "password=");
}

TEST_CASE("secrets in log lines do not reach history", "[logs][diagnose][secrets][history]") {
    logs_test::TempDir d;
    const std::string log = d.file("app.log", std::string(k_base));
    auto db = history::History::open((d.path / "h.db").string());
    REQUIRE(db);
    run(log, db->get());
    d.file("app.log", std::string(k_base) + "Mar  1 09:00:09 web01 app[300]: config reload with password=hunter2 host=db1 done\n");
    logs::Report r = run(log, db->get());
    CHECK_THAT(logs::report_json(r), !Catch::Contains("hunter2"));
    CHECK(count_rows(**db, "SELECT count(*) FROM log_templates WHERE template LIKE '%hunter2%'") == 0);
    CHECK(count_rows(**db, "SELECT count(*) FROM finding_evidence WHERE excerpt LIKE '%hunter2%'") == 0);
    CHECK(count_rows(**db, "SELECT count(*) FROM log_reports WHERE report_json LIKE '%hunter2%'") == 0);
    CHECK(count_rows(**db, "SELECT count(*) FROM finding_evidence WHERE excerpt LIKE '%password=<redacted>%'") >= 1);
}
