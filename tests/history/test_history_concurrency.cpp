// tests/history/test_history_concurrency.cpp - the history database under concurrent writers and crashes,
// on real files: two threads and two processes writing at once must never see "database is
// locked"; a writer SIGKILLed at 200 random points must leave an intact database holding every
// row it reported as committed.
//
// Child processes are fork()ed from this test with no SQLite connection open in the parent at
// fork time (SQLite connections must not cross fork), and leave with _exit().
#include <catch2/catch.hpp>

#include "history/history.h"
#include "history_test_util.h"

#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <thread>



using namespace sigmaops::history;
using namespace history_test;

namespace {

// One unit of work as the app does it: a message, and a command with its output, each in its
// own transaction. Returns the error message, or "" when both were stored.
std::string write_unit(History& h, Id session, int i, Id* message_id = nullptr, Id* command_id = nullptr) {
    auto m = h.add_message(session, i % 2 ? "assistant" : "user", "message " + std::to_string(i) + " about nginx and disk usage");
    if (!m) return m.error().message;
    if (message_id) *message_id = *m;
    Command c;
    c.session_id = session;
    c.host = "db2";
    c.text = "echo " + std::to_string(i);
    c.exit_code = 0;
    c.stdout_text = std::string(200 + i % 500, 'o');
    c.stderr_text = "e";
    auto r = h.record_command(c);
    if (!r) return r.error().message;
    if (command_id) *command_id = *r;
    return "";
}

// Reaps `pid`; its exit status (or 128 + signal).
int wait_child(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

} // namespace

TEST_CASE("history: two threads write at once without SQLITE_BUSY", "[history][concurrency]") {
    TempDir dir;
    std::string path = dir.file("threads.db");
    Id session = 0;
    {
        auto h = History::open(path);
        REQUIRE(h);
        session = *(*h)->create_session("threads", "", "");
    }
    constexpr int kUnits = 300;
    std::string errors[2];
    std::thread threads[2];
    for (int t = 0; t < 2; ++t) {
        threads[t] = std::thread([&, t] {
            auto h = History::open(path);  // one connection per thread
            if (!h) { errors[t] = h.error().message; return; }
            for (int i = 0; i < kUnits && errors[t].empty(); ++i) errors[t] = write_unit(**h, session, t * kUnits + i);
        });
    }
    for (auto& th : threads) th.join();
    CHECK(errors[0] == "");
    CHECK(errors[1] == "");
    auto h = History::open(path);
    REQUIRE(h);
    CHECK((*h)->messages(session)->size() == 2 * kUnits);
    CHECK((*h)->commands(session)->size() == 2 * kUnits);
    CHECK((*h)->search("nginx", -1)->size() == 2 * kUnits);
    CHECK(*(*h)->integrity_check() == "ok");
}

TEST_CASE("history: two processes write at once without SQLITE_BUSY", "[history][concurrency]") {
    TempDir dir;
    std::string path = dir.file("procs.db");
    Id session = 0;
    {
        auto h = History::open(path);
        REQUIRE(h);
        session = *(*h)->create_session("processes", "", "");
    }  // closed: no connection crosses fork()
    constexpr int kUnits = 300;
    pid_t pids[2];
    for (int p = 0; p < 2; ++p) {
        pids[p] = ::fork();
        REQUIRE(pids[p] >= 0);
        if (pids[p] == 0) {
            int rc = 0;
            {
                auto h = History::open(path);
                if (!h) { std::fprintf(stderr, "child open: %s\n", h.error().message.c_str()); rc = 3; }
                for (int i = 0; rc == 0 && i < kUnits; ++i) {
                    std::string e = write_unit(**h, session, p * kUnits + i);
                    if (!e.empty()) { std::fprintf(stderr, "child %d: %s\n", p, e.c_str()); rc = 1; }
                }
            }
            ::_exit(rc);
        }
    }
    CHECK(wait_child(pids[0]) == 0);
    CHECK(wait_child(pids[1]) == 0);
    auto h = History::open(path);
    REQUIRE(h);
    CHECK((*h)->messages(session)->size() == 2 * kUnits);
    CHECK((*h)->commands(session)->size() == 2 * kUnits);
    CHECK(*(*h)->integrity_check() == "ok");
}

TEST_CASE("history: SIGKILL at 200 random points leaves an intact database with every committed row", "[history][crash]") {
    TempDir dir;
    std::string path = dir.file("crash.db");
    std::mt19937 rng(20261125);
    constexpr int kKills = 200;
    std::set<Id> committed_messages, committed_commands;
    int n_killed_running = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int round = 0; round < kKills; ++round) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            // The child writes as fast as it can: open (creating / migrating on the first rounds),
            // then units of work; after each COMMIT returns it reports the ids through the pipe.
            auto h = History::open(path);
            if (!h) ::_exit(3);
            sqlite3_exec((*h)->handle(), "PRAGMA wal_autocheckpoint = 16", nullptr, nullptr, nullptr);  // kills land in checkpoints too
            auto s = (*h)->create_session("crash round " + std::to_string(round), "", "");
            if (!s) ::_exit(4);
            for (int i = 0;; ++i) {
                Id ids[2] = {0, 0};
                std::string e = write_unit(**h, *s, i, &ids[0], &ids[1]);
                if (!e.empty()) { std::fprintf(stderr, "crash child: %s\n", e.c_str()); ::_exit(1); }
                if (::write(fds[1], ids, sizeof ids) != sizeof ids) ::_exit(5);
            }
        }
        ::close(fds[1]);
        // Kill at a random point. Even rounds: 0-20 ms after fork (open, create, migrate, first
        // writes). Odd rounds: 0-20 ms after the child's first commit (the write loop, checkpoints).
        Id ids[2];
        ssize_t n;
        if (round % 2 == 1 && ::read(fds[0], ids, sizeof ids) == sizeof ids) {
            committed_messages.insert(ids[0]);
            committed_commands.insert(ids[1]);
        }
        std::uniform_int_distribution<int> delay_us(0, 20000);
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        ::kill(pid, SIGKILL);
        int status = wait_child(pid);
        REQUIRE((status == 128 + SIGKILL || status == 0));  // a child error (1, 3, 4) fails here
        if (status == 128 + SIGKILL) ++n_killed_running;
        // Every report that reached the pipe was sent after its COMMIT returned.
        while ((n = ::read(fds[0], ids, sizeof ids)) == sizeof ids) {
            committed_messages.insert(ids[0]);
            committed_commands.insert(ids[1]);
        }
        ::close(fds[0]);

        auto h = History::open(path);
        REQUIRE(h);
        sqlite3* db = (*h)->handle();
        REQUIRE(*(*h)->integrity_check() == "ok");
        // The FTS index agrees with its content.
        REQUIRE(sqlite3_exec(db, "INSERT INTO search_fts(search_fts) VALUES('integrity-check')", nullptr, nullptr, nullptr) == SQLITE_OK);
        // Every committed row is there; a command never lacks its output.
        CHECK(scalar(db, "SELECT count(*) FROM messages") >= static_cast<long long>(committed_messages.size()));
        for (Id id : committed_messages)
            if (scalar(db, "SELECT count(*) FROM messages WHERE id = " + std::to_string(id)) != 1) FAIL("message " << id << " lost");
        for (Id id : committed_commands)
            if (scalar(db, "SELECT count(*) FROM command_output WHERE command_id = " + std::to_string(id)) != 2) FAIL("command " << id << " lost");
        CHECK(scalar(db, "SELECT count(*) FROM commands c WHERE (SELECT count(*) FROM command_output o WHERE o.command_id = c.id) != 2") == 0);
        CHECK(scalar(db, "SELECT count(*) FROM messages") == scalar(db, "SELECT count(*) FROM search_rows WHERE kind = 0"));
        CHECK(scalar(db, "SELECT count(*) FROM search_fts") == scalar(db, "SELECT count(*) FROM search_rows"));
    }  // the parent's connection closes before the next fork
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO("rounds " << kKills << ", committed messages seen " << committed_messages.size() << ", " << seconds << " s");
    CHECK(n_killed_running == kKills);
    CHECK(committed_messages.size() > 100);
    std::printf("crash test: %d SIGKILLs, %zu committed messages and %zu commands all present, %.1f s\n", kKills,
                committed_messages.size(), committed_commands.size(), seconds);
}
