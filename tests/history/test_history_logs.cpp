// test_history_logs.cpp - the logs agent's memory in a real history file (schema v5): a log
// source's templates accumulate over runs, reports are stored and read back, retention removes
// old ones, and a v4 database is migrated with its rows kept.
#include "history_test_util.h"

#include <catch2/catch.hpp>
#include <history/history.h>

#include <algorithm>

using namespace sigmaops::history;
using history_test::TempDir;

TEST_CASE("history log sources: templates accumulate per source over runs", "[history][logs]") {
    TempDir d;
    std::int64_t now = 1000;
    Options o;
    o.clock = [&] { return now; };
    auto h = History::open(d.file("h.db"), o);
    REQUIRE(h);
    auto none = (*h)->log_source("/var/log/syslog");
    REQUIRE(none);
    CHECK(none->n_runs == 0);
    CHECK(none->templates.empty());

    REQUIRE((*h)->record_log_run("/var/log/syslog", {{"Accepted publickey for <*> from <*> port <*> ssh2", 3, 0, 0}, {"link down", 1, 0, 0}}));
    now = 5000;
    REQUIRE((*h)->record_log_run("/var/log/syslog", {{"link down", 2, 0, 0}, {"link up", 1, 0, 0}}));
    REQUIRE((*h)->record_log_run("journal:nginx.service", {{"start worker process <*>", 4, 0, 0}}));

    auto s = (*h)->log_source("/var/log/syslog");
    REQUIRE(s);
    CHECK(s->n_runs == 2);
    CHECK(s->first_run_ms == 1000);
    CHECK(s->last_run_ms == 5000);
    REQUIRE(s->templates.size() == 3);
    auto by = [&](const std::string& t) {
        return *std::find_if(s->templates.begin(), s->templates.end(), [&](const LogTemplate& x) { return x.text == t; });
    };
    CHECK(by("link down").n_records == 3);
    CHECK(by("link down").first_seen_ms == 1000);
    CHECK(by("link down").last_seen_ms == 5000);
    CHECK(by("link up").first_seen_ms == 5000);
    auto other = (*h)->log_source("journal:nginx.service");
    REQUIRE(other);
    CHECK(other->templates.size() == 1);
    auto bad = (*h)->record_log_run("", {});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == sigmaops::ErrorCode::InvalidArgument);
}

TEST_CASE("history log reports: stored, read back, removed with their session and by retention", "[history][logs]") {
    TempDir d;
    std::int64_t now = 1'000'000;
    Options o;
    o.clock = [&] { return now; };
    auto h = History::open(d.file("h.db"), o);
    REQUIRE(h);
    auto sid = (*h)->create_session("logs", "", "");
    REQUIRE(sid);
    LogReport r;
    r.sources = "/var/log/syslog\n/var/log/auth.log";
    r.report_json = "{\"sources\":[],\"findings\":[],\"model\":null}";
    auto outside = (*h)->add_log_report(r);
    REQUIRE(outside);
    r.session_id = *sid;
    auto inside = (*h)->add_log_report(r);
    REQUIRE(inside);
    auto back = (*h)->log_report(*outside);
    REQUIRE(back);
    CHECK(back->sources == r.sources);
    CHECK(back->report_json == r.report_json);
    CHECK(back->session_id == 0);
    CHECK(back->created_ms == 1'000'000);
    auto in_session = (*h)->log_reports(*sid);
    REQUIRE(in_session);
    REQUIRE(in_session->size() == 1);
    CHECK((*in_session)[0].id == *inside);
    CHECK((*h)->log_report(999).error().code == sigmaops::ErrorCode::NotFound);
    REQUIRE((*h)->record_log_run("/var/log/syslog", {{"link down", 1, 0, 0}}));

    REQUIRE((*h)->remove_session(*sid));
    CHECK((*h)->log_reports(*sid)->empty());
    now += 40LL * 86'400'000;
    REQUIRE((*h)->apply_retention(30));
    CHECK((*h)->log_reports(0)->empty());
    CHECK((*h)->log_source("/var/log/syslog")->n_runs == 0);
}
