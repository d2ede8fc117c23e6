// tests/config/test_config_tune_host.cpp - `sigmaops tune SERVICE --host H [--json|--apply]` and
// `sigmaops rollback ID` in-process through the command table, against a REAL sshd (this
// machine's own /etc/redis/redis.conf and /etc/nginx/nginx.conf, read over SSH, never written):
// the JSON carries the facts and each hunk's reason, source and diff; --apply without a terminal
// declines every hunk and writes nothing; usage errors. Needs root (sshd); skipped otherwise.
#include <cli/command.h>
#include <config/config.h>
#include <history/history.h>

#include "sshd_fixture.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace {

std::pair<int, std::string> in_process(std::vector<std::string> argv, std::string* out_only = nullptr) {
    std::istringstream in;
    std::ostringstream out, err;
    sigmaops::cli::Io io{in, out, err};
    const int rc = sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), argv, io);
    if (out_only) *out_only = out.str();
    return {rc, out.str() + err.str()};
}

// The app's own config dir with a hosts.conf entry "testhost" and its pinned key; no agent.
struct AppEnv {
    explicit AppEnv(const sshd_test::SshdFixture& f) {
        const std::string xdg = f.dir + "/xdg";
        std::filesystem::create_directories(xdg + "/sigmaops");
        sshd_test::write_text(xdg + "/sigmaops/hosts.conf", "Host testhost\n  HostName 127.0.0.1\n  Port " + std::to_string(f.port) +
                                                                "\n  User root\n  IdentityFile " + f.key + "\n" +
                                                                "Host testhost2\n  HostName 127.0.0.1\n  Port " + std::to_string(f.port) +
                                                                "\n  User root\n  IdentityFile " + f.key + "\n" +
                                                                "Host deadhost\n  HostName 127.0.0.1\n  Port 1\n  User root\n");
        sshd_test::write_text(xdg + "/sigmaops/known_hosts", "[127.0.0.1]:" + std::to_string(f.port) + " " + f.host_pub + "\n");
        setenv("XDG_CONFIG_HOME", xdg.c_str(), 1);
        setenv("XDG_DATA_HOME", (f.dir + "/data").c_str(), 1);
        unsetenv("SSH_AUTH_SOCK");
        history = f.dir + "/history.db";
    }
    ~AppEnv() {
        unsetenv("XDG_CONFIG_HOME");
        unsetenv("XDG_DATA_HOME");
    }
    std::string history;
};

} // namespace

TEST_CASE("tune --host: usage errors", "[config][cli]") {
    auto [rc, text] = in_process({"tune", "redis"});
    CHECK(rc == 2);
    CHECK_THAT(text, Catch::Contains("needs --host"));
    auto [rc2, text2] = in_process({"rollback", "abc"});
    CHECK(rc2 == 2);
    CHECK_THAT(text2, Catch::Contains("CHANGE_ID must be a number"));
    auto [rc3, text3] = in_process({"tune", "nginx", "--host", "x", "--apply", "--json"});
    CHECK(rc3 == 2);
}

TEST_CASE("tune redis --host --json over a real sshd: facts and hunks with reason and source", "[config][cli][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    if (access("/etc/redis/redis.conf", R_OK) != 0) {
        std::puts("skipped: no /etc/redis/redis.conf (redis-server not installed)");
        return;
    }
    sshd_test::SshdFixture f(false);
    AppEnv app(f);
    const std::string before = sshd_test::read_text("/etc/redis/redis.conf");
    std::string out;
    auto [rc, text] = in_process({"tune", "redis", "--host", "testhost", "--json", "--history", app.history}, &out);
    INFO(text);
    REQUIRE(rc == 0);
    const auto j = nlohmann::json::parse(out);
    CHECK(j.at("host") == "testhost");
    CHECK(j.at("service") == "redis");
    CHECK(j.at("facts").at("cpus").get<int>() > 0);
    CHECK(j.at("facts").at("versions").contains("redis"));
    for (const auto& file : j.at("files")) {
        CHECK(file.at("path").get<std::string>().rfind("/etc/redis/", 0) == 0);
        for (const auto& h : file.at("hunks")) {
            CHECK_FALSE(h.at("reason").get<std::string>().empty());
            CHECK_FALSE(h.at("source").get<std::string>().empty());
            CHECK_THAT(h.at("diff").get<std::string>(), Catch::Contains("@@ -"));
        }
    }
    CHECK(sshd_test::read_text("/etc/redis/redis.conf") == before);

    // Rolling back a change that does not exist is a clear failure.
    auto [rc2, text2] = in_process({"rollback", "424242", "--history", app.history});
    CHECK(rc2 == 1);
    CHECK_THAT(text2, Catch::Contains("does not exist"));
}

TEST_CASE("tune nginx --host --apply without a terminal declines every hunk, writes nothing, files the change under --session",
          "[config][cli][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    if (access("/etc/nginx/nginx.conf", R_OK) != 0) {
        std::puts("skipped: no /etc/nginx/nginx.conf (nginx not installed)");
        return;
    }
    sshd_test::SshdFixture f(false);
    AppEnv app(f);
    const std::string before = sshd_test::read_text("/etc/nginx/nginx.conf");
    const std::string log = f.dir + "/apply.out";
    // The chat session /tune runs in (`sigmaops chat` passes --session with its id).
    sigmaops::history::Id session = 0;
    {
        auto h = sigmaops::history::History::open(app.history);
        REQUIRE(h);
        auto id = (*h)->create_session("tune nginx", "test", "testhost");
        REQUIRE(id);
        session = *id;
    }
    // A child with no controlling terminal (setsid): /dev/tty cannot be opened there.
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        std::string out;
        auto [rc, text] = in_process({"tune", "nginx", "--host", "testhost", "--apply", "--history", app.history, "--session",
                                      std::to_string(session)}, &out);
        sshd_test::write_text(log, text);
        _exit(rc);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    const std::string text = sshd_test::read_text(log);
    INFO(text);
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(sshd_test::read_text("/etc/nginx/nginx.conf") == before);
    if (text.find("# hunk ") != std::string::npos) {
        CHECK_THAT(text, Catch::Contains("no terminal to ask on: every hunk declined"));
        CHECK_THAT(text, Catch::Contains("declined"));
        // The (declined) change is filed under the session, as /tune in the chat needs.
        auto h = sigmaops::history::History::open(app.history);
        REQUIRE(h);
        auto changes = (*h)->config_changes(session);
        REQUIRE(changes);
        REQUIRE(!changes->empty());
        CHECK(changes->front().path == "/etc/nginx/nginx.conf");
        CHECK(changes->front().session_id == session);
    } else {
        CHECK_THAT(text, Catch::Contains("nothing to change"));
    }
}

TEST_CASE("tune redis --hosts: each host planned and the run stops at the first host that fails", "[config][cli][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    if (access("/etc/redis/redis.conf", R_OK) != 0) {
        std::puts("skipped: no /etc/redis/redis.conf (redis-server not installed)");
        return;
    }
    sshd_test::SshdFixture f(false);
    AppEnv app(f);
    std::string out;
    auto [rc, text] = in_process({"tune", "redis", "--hosts", "testhost,testhost2", "--json", "--history", app.history}, &out);
    INFO(text);
    REQUIRE(rc == 0);
    const auto j = nlohmann::json::parse(out);
    REQUIRE(j.at("hosts").size() == 2);
    CHECK(j.at("hosts")[0].at("host") == "testhost");
    CHECK(j.at("hosts")[1].at("host") == "testhost2");
    CHECK(j.at("hosts")[1].at("facts").at("mem_kb").get<long long>() > 0);

    auto [rc2, text2] = in_process({"tune", "redis", "--hosts", "testhost,deadhost,testhost2", "--history", app.history});
    INFO(text2);
    CHECK(rc2 == 1);
    CHECK_THAT(text2, Catch::Contains("=== testhost\n") && Catch::Contains("=== deadhost\n") && !Catch::Contains("=== testhost2"));
    auto [rc3, text3] = in_process({"tune", "redis", "--host", "testhost", "--hosts", "testhost2"});
    CHECK(rc3 == 2);

    // --export-ansible: the same plans as a playbook and an inventory, nothing applied.
    const std::string dir = f.dir + "/ansible";
    auto [rc4, text4] = in_process({"tune", "redis", "--hosts", "testhost,testhost2", "--export-ansible", dir, "--history", app.history});
    INFO(text4);
    CHECK(rc4 == 0);
    const std::string inv = sshd_test::read_text(dir + "/inventory.ini");
    CHECK_THAT(inv, Catch::Contains("testhost ansible_host=127.0.0.1 ansible_port=" + std::to_string(f.port)) &&
                        Catch::Contains("testhost2 ansible_host=127.0.0.1"));
    const std::string play = sshd_test::read_text(dir + "/playbook.yml");
    CHECK_THAT(play, Catch::Contains("hosts: \"testhost\"") && Catch::Contains("hosts: \"testhost2\""));
    auto [rc5, text5] = in_process({"tune", "redis", "--host", "testhost", "--export-ansible", dir, "--apply"});
    CHECK(rc5 == 2);
}

TEST_CASE("tune sysctl --host --json over a real sshd: the rules for a stated workload against the running values",
          "[config][cli][sshd][sysctl]") {
    SSHD_TEST_NEEDS_ROOT();
    if (access("/etc/sysctl.conf", R_OK) != 0) {
        std::puts("skipped: no /etc/sysctl.conf");
        return;
    }
    sshd_test::SshdFixture f(false);
    AppEnv app(f);
    const std::string before = sshd_test::read_text("/etc/sysctl.conf");
    std::string out;
    auto [rc, text] = in_process({"tune", "sysctl", "--host", "testhost", "--workload", "web", "--json", "--history", app.history}, &out);
    INFO(text);
    REQUIRE(rc == 0);
    const auto j = nlohmann::json::parse(out);
    CHECK(j["service"] == "sysctl");
    for (const auto& file : j["files"]) {
        CHECK(file["path"] == "/etc/sysctl.conf");
        for (const auto& h : file["hunks"]) {
            CHECK_THAT(h["rule"].get<std::string>(), Catch::StartsWith("sysctl."));
            CHECK(!h["source"].get<std::string>().empty());
            // Never what is already running: the proposed value differs from the host's.
            const std::string key = h["key"].get<std::string>();
            std::string path = "/proc/sys/" + key;
            std::replace(path.begin(), path.end(), '.', '/');
            std::string now = sshd_test::read_text(path);
            std::string norm;
            for (char c : now) norm += (c == '\t' ? ' ' : c == '\n' ? '\0' : c);
            norm = norm.c_str();
            CHECK(norm != h["value"].get<std::string>());
        }
    }
    CHECK(sshd_test::read_text("/etc/sysctl.conf") == before);
    auto [rc2, text2] = in_process({"tune", "sysctl", "--host", "testhost", "--workload", "gaming", "--history", app.history});
    CHECK(rc2 == 1);
    CHECK_THAT(text2, Catch::Contains("web, database or general"));
}

TEST_CASE("/tune nginx --host --apply in the chat files the change under the chat's session", "[config][cli][sshd][chat]") {
    SSHD_TEST_NEEDS_ROOT();
    const std::string model = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/models/sigma-ops-nano.gguf";
    if (access("/etc/nginx/nginx.conf", R_OK) != 0 || access(model.c_str(), R_OK) != 0) {
        std::puts("skipped: needs /etc/nginx/nginx.conf and resources/models/sigma-ops-nano.gguf");
        return;
    }
    sshd_test::SshdFixture f(false);
    AppEnv app(f);
    const std::string before = sshd_test::read_text("/etc/nginx/nginx.conf");
    const std::string log = f.dir + "/chat.out";
    // No controlling terminal (setsid): every hunk is declined, the change is still recorded.
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        std::istringstream in("/tune nginx --host testhost --apply\n/quit\n");
        std::ostringstream out, err;
        sigmaops::cli::Io io{in, out, err};
        const int rc = sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(),
                                               {"chat", "-m", model, "--history", app.history, "-n", "4"}, io);
        sshd_test::write_text(log, out.str() + err.str());
        _exit(rc);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    const std::string text = sshd_test::read_text(log);
    INFO(text);
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(sshd_test::read_text("/etc/nginx/nginx.conf") == before);
    if (text.find("# hunk ") == std::string::npos) {
        CHECK_THAT(text, Catch::Contains("nothing to change"));
        return;
    }
    auto h = sigmaops::history::History::open(app.history);
    REQUIRE(h);
    auto sessions = (*h)->list_sessions();
    REQUIRE(sessions);
    REQUIRE(sessions->size() == 1);  // the one the chat started for the change
    CHECK_THAT(sessions->front().title, Catch::StartsWith("tune nginx on testhost"));
    auto changes = (*h)->config_changes(sessions->front().id);
    REQUIRE(changes);
    REQUIRE(changes->size() == 1);
    CHECK(changes->front().path == "/etc/nginx/nginx.conf");
    CHECK(changes->front().host == "testhost");
}
