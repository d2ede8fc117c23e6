// tests/history/test_history_journal.cpp - schema v4 on a real SQLite file: the config change
// journal (steps in order, kept with their change, gone with it, bad ids refused) and the host
// facts cache (newest replaces older, time from the History clock, unknown host NotFound).
#include <catch2/catch.hpp>

#include "history/history.h"
#include "history_test_util.h"

using namespace sigmaops::history;
using history_test::TempDir;
using sigmaops::ErrorCode;

TEST_CASE("history journal: steps are kept in order with their change and leave with its session", "[history][journal]") {
    TempDir d;
    std::int64_t now = 1000;
    Options o;
    o.clock = [&] { return now; };
    auto h = History::open(d.file("h.db"), o);
    REQUIRE(h);
    CHECK((*h)->schema_version() == kSchemaVersion);  // v4 or later holds the journal
    auto sid = (*h)->create_session("tune", "", "db1");
    REQUIRE(sid);
    ConfigChange c;
    c.session_id = *sid;
    c.host = "db1";
    c.path = "/etc/postgresql/16/main/postgresql.conf";
    c.diff = "--- a\n+++ b\n";
    auto id = (*h)->propose_change(c);
    REQUIRE(id);
    now = 2000;
    REQUIRE((*h)->add_change_step(*id, "backup", true, R"({"path":"/x.bak"})"));
    now = 3000;
    REQUIRE((*h)->add_change_step(*id, "write", false, "No space left on device"));
    auto steps = (*h)->change_steps(*id);
    REQUIRE(steps);
    REQUIRE(steps->size() == 2);
    CHECK((*steps)[0].step == "backup");
    CHECK((*steps)[0].ok);
    CHECK((*steps)[0].at_ms == 2000);
    CHECK((*steps)[1].step == "write");
    CHECK_FALSE((*steps)[1].ok);
    CHECK((*steps)[1].detail == "No space left on device");

    auto on = (*h)->config_changes_on("db1");
    REQUIRE(on);
    REQUIRE(on->size() == 1);
    CHECK(on->front().id == *id);
    auto other = (*h)->config_changes_on("web1");
    REQUIRE(other);
    CHECK(other->empty());

    auto bad = (*h)->add_change_step(*id + 100, "write", true, "");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == ErrorCode::NotFound);

    REQUIRE((*h)->remove_session(*sid));
    auto gone = (*h)->change_steps(*id);
    REQUIRE(gone);
    CHECK(gone->empty());
}

TEST_CASE("history journal: host facts, newest replaces older", "[history][journal]") {
    TempDir d;
    std::int64_t now = 5000;
    Options o;
    o.clock = [&] { return now; };
    auto h = History::open(d.file("h.db"), o);
    REQUIRE(h);
    auto none = (*h)->host_facts("db1");
    REQUIRE_FALSE(none);
    CHECK(none.error().code == ErrorCode::NotFound);
    REQUIRE((*h)->set_host_facts("db1", R"({"cpus":4})"));
    now = 9000;
    REQUIRE((*h)->set_host_facts("db1", R"({"cpus":8})"));
    auto f = (*h)->host_facts("db1");
    REQUIRE(f);
    CHECK(f->facts_json == R"({"cpus":8})");
    CHECK(f->collected_ms == 9000);
    auto empty = (*h)->set_host_facts("", "{}");
    REQUIRE_FALSE(empty);
    CHECK(empty.error().code == ErrorCode::InvalidArgument);
}
