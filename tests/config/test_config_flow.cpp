// tests/config/test_config_flow.cpp - the config agent's change flow against REAL services
// (tests/support/service_fixtures.h: nginx, PostgreSQL, Redis and a second sshd, started without
// systemd) reached through a REAL sshd (sshd_fixture.h) as root: propose -> apply -> rollback
// leaves every file byte-identical; a partial approval applies only the chosen hunks; a change
// the checker refuses is never reloaded; one that validates but breaks the service (nginx on a
// taken port, an sshd that lets nobody in) is rolled back by itself and the service answers
// again; a connection cut mid-apply leaves the old or the new file and the journal says which; a
// full disk (a small tmpfs) fails cleanly. Needs root; skipped with the reason otherwise.
#include <catch2/catch.hpp>

#include "config/config.h"
#include "history/history.h"
#include "remote/remote.h"
#include "service_fixtures.h"
#include "sshd_fixture.h"

#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

using namespace sigmaops;
using namespace sigmaops::config;
using namespace std::chrono_literals;
using sshd_test::read_text;
using sshd_test::SshdFixture;

namespace {

#define FLOW_NEEDS_ROOT()                                                   \
    do {                                                                    \
        if (!sshd_test::is_root()) {                                        \
            WARN("skipped: needs root (sshd, services, their accounts)");   \
            std::puts("skipped: needs root");                               \
            return;                                                         \
        }                                                                   \
    } while (0)

// Catch2 v2 has no SKIP: say why and return (CTest counts a "skipped: " line as a skip).
#define FLOW_SKIP(why)                                          \
    do {                                                        \
        WARN("skipped: " << why);                               \
        std::cout << "skipped: " << why << std::endl;           \
        return;                                                 \
    } while (0)

struct Approve : Approver {
    std::vector<bool> choice;  // empty: every hunk
    bool rollback = true;
    int n_asked = 0;
    std::vector<bool> choose_hunks(const Proposal& p) override {
        ++n_asked;
        return choice.empty() ? std::vector<bool>(p.file.hunks.size(), true) : choice;
    }
    bool confirm_rollback(const std::string&) override { return rollback; }
};

struct Env {
    SshdFixture sshd{false};
    std::string db_dir = service_test::make_dir("history");
    std::unique_ptr<history::History> history;
    remote::HostProfile profile;
    remote::ConnectOptions options;
    ApplyOptions apply;
    Env() {
        auto h = history::History::open(db_dir + "/history.db");
        if (!h) throw std::runtime_error(h.error().message);
        history = std::move(*h);
        profile.name = "testhost";
        profile.hostname = "127.0.0.1";
        profile.port = sshd.port;
        profile.user = "root";
        profile.identity_files = {sshd.key};
        options.paths.ssh_config = sshd.dir + "/no_ssh_config";
        options.paths.app_hosts = sshd.dir + "/hosts.conf";
        options.paths.known_hosts = sshd.known_hosts;
        options.paths.app_known_hosts = sshd.app_known_hosts;
        options.auth_methods = {remote::AuthMethod::PublicKey};
        options.agent_socket = sshd.dir + "/no-agent.sock";
        apply.backup_dir = db_dir + "/backups";
        apply.health_timeout = 6s;
        apply.login_profile = &profile;
        apply.login_options = &options;
    }
    ~Env() {
        std::error_code ec;
        std::filesystem::remove_all(db_dir, ec);
    }
    std::unique_ptr<remote::SshSession> connect(int port = 0) {
        remote::HostProfile p = profile;
        if (port) p.port = port;
        auto s = remote::SshSession::connect(p, options);
        INFO((s ? "" : s.error().message));
        REQUIRE(s);
        return std::move(*s);
    }
    std::vector<std::string> steps(std::int64_t id) {
        auto s = history->change_steps(id);
        REQUIRE(s);
        std::vector<std::string> names;
        for (const auto& x : *s) names.push_back(x.step + (x.ok ? "" : ":failed"));
        return names;
    }
    std::string step_detail(std::int64_t id, const std::string& name) {
        auto s = history->change_steps(id);
        REQUIRE(s);
        std::string d;
        for (const auto& x : *s)
            if (x.step == name) d = x.detail;
        return d;
    }
};

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

ServiceTarget nginx_target(const service_test::NginxFixture& n) {
    ServiceTarget t;
    t.service = Service::Nginx;
    t.config_path = n.main_conf;
    t.prefix = n.dir;
    t.pid_file = n.pid_file;
    t.binary = "nginx";
    t.port = n.port;
    return t;
}

Proposal proposal_for(const ServiceTarget& t, const std::string& path, const std::string& after, const std::vector<Change>& why = {}) {
    Proposal p;
    p.host = "testhost";
    p.target = t;
    p.file.path = path;
    p.file.before = read_text(path);
    p.file.hunks = line_hunks(p.file.before, after, why);
    return p;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
    auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

std::string http_get(int port) {
    const std::string out = "/tmp/sigmaops-http-" + std::to_string(getpid());
    std::remove(out.c_str());
    sshd_test::run({"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) +
                                      " && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"}, out);
    std::string r = read_text(out);
    std::remove(out.c_str());
    return r;
}

} // namespace

TEST_CASE("config flow: skipped without root", "[config][flow]") {
    if (!sshd_test::is_root()) {
        WARN("skipped: needs root (sshd, nginx, postgres, redis)");
        std::puts("skipped: needs root");
        return;
    }
    SUCCEED("running as root: the flow tests below run");
}

TEST_CASE("config flow: nginx propose -> apply -> rollback is byte-identical and a partial approval applies only its hunks",
          "[config][flow][nginx]") {
    FLOW_NEEDS_ROOT();
    if (!service_test::have("/usr/sbin/nginx")) FLOW_SKIP("nginx is not installed");
    Env env;
    service_test::NginxFixture ngx;
    auto s = env.connect();
    const std::string main_before = read_text(ngx.main_conf), site_before = read_text(ngx.site_conf);
    std::string after = replace(site_before, "keepalive_timeout 65;", "keepalive_timeout 15;");
    after = replace(after, "client_max_body_size 1m;", "client_max_body_size 8m;");
    std::vector<Change> why = {{"keepalive_timeout", "15", "", "nginx.keepalive", "shorter keep-alive frees workers", "nginx docs"},
                               {"client_max_body_size", "8m", "", "nginx.body", "uploads up to 8 MB", "the user's request"}};
    Proposal p = proposal_for(nginx_target(ngx), ngx.site_conf, after, why);
    REQUIRE(p.file.hunks.size() == 2);
    CHECK(p.file.hunks[0].change.reason == "shorter keep-alive frees workers");
    const std::string shown = render_file_change(p.file);
    CHECK_THAT(shown, Catch::Contains("hunk 1/2: shorter keep-alive frees workers") && Catch::Contains("source: nginx docs") &&
                          Catch::Contains("-    keepalive_timeout 65;") && Catch::Contains("+    keepalive_timeout 15;"));

    SECTION("all hunks, then rollback") {
        Approve a;
        auto r = apply_change(*s, *env.history, p, a, env.apply);
        REQUIRE(r);
        INFO(r->message);
        CHECK(r->outcome == Outcome::Applied);
        CHECK(read_text(ngx.site_conf) == after);
        CHECK(read_text(ngx.main_conf) == main_before);
        CHECK(read_text(r->backup_path) == site_before);
        CHECK_THAT(http_get(ngx.port), Catch::StartsWith("HTTP/1.1 200"));
        auto names = env.steps(r->change_id);
        CHECK(names == std::vector<std::string>{"propose", "approve", "plan", "backup", "write", "write", "validate", "reload", "health"});
        auto c = env.history->config_change(r->change_id);
        REQUIRE(c);
        CHECK(c->status == history::ChangeStatus::Applied);
        CHECK(c->backup_path == r->backup_path);

        auto rb = rollback_change(*s, *env.history, r->change_id, a, env.apply);
        REQUIRE(rb);
        INFO(rb->message);
        CHECK(rb->outcome == Outcome::RolledBack);
        CHECK(read_text(ngx.site_conf) == site_before);
        CHECK(read_text(ngx.main_conf) == main_before);
        CHECK_THAT(http_get(ngx.port), Catch::StartsWith("HTTP/1.1 200"));
        c = env.history->config_change(r->change_id);
        REQUIRE(c);
        CHECK(c->status == history::ChangeStatus::RolledBack);
        // A second rollback finds the original in place and changes nothing.
        auto again = rollback_change(*s, *env.history, r->change_id, a, env.apply);
        REQUIRE(again);
        CHECK(read_text(ngx.site_conf) == site_before);
    }
    SECTION("only the second hunk") {
        Approve a;
        a.choice = {false, true};
        auto r = apply_change(*s, *env.history, p, a, env.apply);
        REQUIRE(r);
        INFO(r->message);
        CHECK(r->outcome == Outcome::Applied);
        const std::string now = read_text(ngx.site_conf);
        CHECK(now == replace(site_before, "client_max_body_size 1m;", "client_max_body_size 8m;"));
        CHECK_THAT(now, Catch::Contains("keepalive_timeout 65;"));
        CHECK_THAT(env.step_detail(r->change_id, "approve"), Catch::Contains("nginx.body") && !Catch::Contains("nginx.keepalive"));
    }
    SECTION("declined: nothing written") {
        Approve a;
        a.choice = {false, false};
        auto r = apply_change(*s, *env.history, p, a, env.apply);
        REQUIRE(r);
        CHECK(r->outcome == Outcome::Declined);
        CHECK(read_text(ngx.site_conf) == site_before);
        CHECK_FALSE(has(env.steps(r->change_id), "write"));
    }
}

TEST_CASE("config flow: nginx faults: refused by nginx -t is never reloaded and a taken port is rolled back by itself",
          "[config][flow][nginx][faults]") {
    FLOW_NEEDS_ROOT();
    if (!service_test::have("/usr/sbin/nginx")) FLOW_SKIP("nginx is not installed");
    Env env;
    service_test::NginxFixture ngx;
    auto s = env.connect();
    const std::string site_before = read_text(ngx.site_conf);
    const pid_t master = service_test::pid_from(ngx.pid_file);

    SECTION("a syntax error") {
        Approve a;
        Proposal p = proposal_for(nginx_target(ngx), ngx.site_conf, replace(site_before, "keepalive_timeout 65;", "keepalive_timeout 65"));
        auto r = apply_change(*s, *env.history, p, a, env.apply);
        REQUIRE(r);
        INFO(r->message);
        CHECK(r->outcome == Outcome::ValidationFailed);
        CHECK_THAT(r->validation_output, Catch::Contains("test failed") || Catch::Contains("emerg"));
        CHECK(read_text(ngx.site_conf) == site_before);
        auto names = env.steps(r->change_id);
        CHECK(has(names, "validate:failed"));
        CHECK(has(names, "restore"));
        CHECK_FALSE(has(names, "reload"));
        CHECK(service_test::pid_from(ngx.pid_file) == master);
        CHECK_THAT(http_get(ngx.port), Catch::StartsWith("HTTP/1.1 200"));
    }
    SECTION("listen on a port another process holds") {
        int holder = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(listen(holder, 1) == 0);
        socklen_t len = sizeof addr;
        getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len);
        const int taken = ntohs(addr.sin_port);
        Approve a;
        Proposal p = proposal_for(nginx_target(ngx), ngx.site_conf,
                                  replace(site_before, "    keepalive_timeout 65;\n",
                                          "    listen 127.0.0.1:" + std::to_string(taken) + ";\n    keepalive_timeout 65;\n"));
        auto r = apply_change(*s, *env.history, p, a, env.apply);
        close(holder);
        REQUIRE(r);
        INFO(r->message);
        CHECK(r->outcome == Outcome::RolledBack);
        CHECK_THAT(r->message, Catch::Contains("old configuration"));
        CHECK(read_text(ngx.site_conf) == site_before);
        auto names = env.steps(r->change_id);
        CHECK(has(names, "validate"));
        CHECK(has(names, "health:failed"));
        CHECK(has(names, "restore"));
        CHECK(names.back() == "health");
        CHECK_THAT(http_get(ngx.port), Catch::StartsWith("HTTP/1.1 200"));
        auto c = env.history->config_change(r->change_id);
        REQUIRE(c);
        CHECK(c->status == history::ChangeStatus::RolledBack);
    }
}

TEST_CASE("config flow: a connection cut mid-apply leaves the old or the new file and the journal says which",
          "[config][flow][nginx][faults]") {
    FLOW_NEEDS_ROOT();
    if (!service_test::have("/usr/sbin/nginx")) FLOW_SKIP("nginx is not installed");
    Env env;
    service_test::NginxFixture ngx;
    const std::string site_before = read_text(ngx.site_conf);
    // Cut before the write (the file stays old), during the transfer of a large file (old or new,
    // whichever the cut hits) or right after it (the file is new, unverified).
    const std::string cut_at = GENERATE(std::string("write"), std::string("mid-write"), std::string("validate"));
    std::string after = replace(site_before, "keepalive_timeout 65;", "keepalive_timeout 20;");
    if (cut_at == "mid-write")
        while (after.size() < (24u << 20)) after += "# padding that makes the transfer take a while .............................\n";
    auto s = env.connect();
    auto pid = s->exec("echo $PPID");  // the sshd process serving this connection
    REQUIRE(pid);
    const pid_t session_pid = std::atoi(pid->out.c_str());
    REQUIRE(session_pid > 1);
    ApplyOptions o = env.apply;
    std::thread killer;
    o.on_step = [&](const std::string& step, const std::string&) {
        if (cut_at == "mid-write" && step == "write") {
            killer = std::thread([session_pid] {
                std::this_thread::sleep_for(150ms);
                kill(session_pid, SIGKILL);
            });
        } else if (step == cut_at) {
            kill(session_pid, SIGKILL);
            std::this_thread::sleep_for(100ms);
        }
    };
    Approve a;
    auto r = apply_change(*s, *env.history, proposal_for(nginx_target(ngx), ngx.site_conf, after), a, o);
    if (killer.joinable()) killer.join();
    REQUIRE(r);
    INFO(r->message);
    const std::string now = read_text(ngx.site_conf);
    CHECK((now == site_before || now == after));  // never a mix
    CHECK(now == site_before);                    // and the flow put the original back when it was new
    if (cut_at == "mid-write") CHECK((r->file_state == "old" || r->file_state == "new"));
    else CHECK(r->file_state == (cut_at == "write" ? "old" : "new"));
    std::vector<std::string> left;
    for (const auto& e : std::filesystem::directory_iterator(ngx.dir + "/conf.d")) left.push_back(e.path().filename().string());
    CHECK(left == std::vector<std::string>{"site.conf"});  // no temp file of the cut transfer left
    CHECK_THAT(env.step_detail(r->change_id, "state"), Catch::Contains("\"state\":\"" + r->file_state + "\""));
    CHECK(has(env.steps(r->change_id), "connection:failed"));
    CHECK_THAT(http_get(ngx.port), Catch::StartsWith("HTTP/1.1 200"));
    // A later check through a fresh connection agrees.
    auto s2 = env.connect();
    auto state = check_change_state(*s2, *env.history, r->change_id);
    REQUIRE(state);
    CHECK(*state == "old");
}

TEST_CASE("config flow: a full disk on the host fails cleanly", "[config][flow][nginx][faults]") {
    FLOW_NEEDS_ROOT();
    if (!service_test::have("/usr/sbin/nginx")) FLOW_SKIP("nginx is not installed");
    Env env;
    service_test::NginxFixture ngx;
    const std::string full = ngx.dir + "/full";
    mkdir(full.c_str(), 0755);
    if (mount("tmpfs", full.c_str(), "tmpfs", 0, "size=64k") != 0) FLOW_SKIP("cannot mount a tmpfs here: " << std::strerror(errno));
    struct Unmount {
        std::string p;
        ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
    } unmount{full};
    // The site file lives on the small file system, included by the main file.
    const std::string site = full + "/site.conf";
    ngx.write_site(site);
    std::rename(ngx.site_conf.c_str(), (ngx.dir + "/site.conf.off").c_str());
    std::string main_conf = read_text(ngx.main_conf);
    sshd_test::write_text(ngx.main_conf, replace(main_conf, ngx.dir + "/conf.d/*.conf", site));
    REQUIRE(sshd_test::run({"nginx", "-p", ngx.dir, "-c", ngx.main_conf, "-s", "reload"}) == 0);
    const std::string before = read_text(site);
    std::string big = before + "# padding\n";
    while (big.size() < 80 * 1024) big += "# a long comment line that only takes space on the small file system...........\n";
    auto s = env.connect();
    Approve a;
    auto r = apply_change(*s, *env.history, proposal_for(nginx_target(ngx), site, big), a, env.apply);
    REQUIRE(r);
    INFO(r->message);
    CHECK(r->outcome == Outcome::Failed);
    CHECK(read_text(site) == before);
    std::vector<std::string> left;
    for (const auto& e : std::filesystem::directory_iterator(full)) left.push_back(e.path().filename().string());
    CHECK(left == std::vector<std::string>{"site.conf"});  // no temp file left behind
    auto names = env.steps(r->change_id);
    CHECK(has(names, "write:failed"));
    CHECK_FALSE(has(names, "reload"));
    auto c = env.history->config_change(r->change_id);
    REQUIRE(c);
    CHECK(c->status == history::ChangeStatus::Failed);
    CHECK_THAT(http_get(ngx.port), Catch::StartsWith("HTTP/1.1 200"));
}

TEST_CASE("config flow: PostgreSQL settings from PGTune applied with postgres -C and pg_ctl reload and then rolled back",
          "[config][flow][postgres]") {
    FLOW_NEEDS_ROOT();
    if (service_test::postgres_bin_dir().empty()) FLOW_SKIP("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)");
    Env env;
    service_test::PostgresFixture pg;
    auto s = env.connect();
    const std::string before = read_text(pg.conf);
    ServiceTarget t;
    t.service = Service::Postgres;
    t.config_path = pg.conf;
    t.binary = pg.bin + "/postgres";
    t.data_dir = pg.data;
    t.socket_dir = pg.dir;
    t.run_as = "postgres";
    t.port = pg.port;
    PgFacts facts;
    facts.version = 15;
    facts.ram_kb = 8ull << 20;
    facts.cpus = 4;
    auto tuned = pgtune(facts);
    REQUIRE(tuned);
    Proposal p;
    p.host = "testhost";
    p.target = t;
    p.file = postgres_text_change(pg.conf, before, tuned->settings);
    REQUIRE(p.file.hunks.size() >= 3);
    // Find the hunk that sets work_mem (a reloadable setting) and approve only that one.
    std::vector<bool> choice(p.file.hunks.size(), false);
    std::string work_mem;
    for (size_t i = 0; i < p.file.hunks.size(); ++i)
        if (p.file.hunks[i].change.key == "work_mem") {
            choice[i] = true;
            work_mem = *p.file.hunks[i].change.value;
        }
    REQUIRE_FALSE(work_mem.empty());
    Approve a;
    a.choice = choice;
    auto r = apply_change(*s, *env.history, p, a, env.apply);
    REQUIRE(r);
    INFO(r->message);
    CHECK(r->outcome == Outcome::Applied);
    CHECK_THAT(r->validation_output, Catch::Contains(pg.data));  // postgres -C data_directory printed it
    CHECK(pg.query("show work_mem") == work_mem + "\n");
    CHECK(pg.query("show shared_buffers") == "128MB\n");  // not approved: untouched
    auto rb = rollback_change(*s, *env.history, r->change_id, a, env.apply);
    REQUIRE(rb);
    INFO(rb->message);
    CHECK(rb->outcome == Outcome::RolledBack);
    CHECK(read_text(pg.conf) == before);
    CHECK(pg.query("show work_mem") == "4MB\n");

    SECTION("a bad value is refused by postgres -C and never reloaded") {
        Proposal bad = proposal_for(t, pg.conf, before + "work_mem = 12 parsecs\n");
        Approve all;
        auto v = apply_change(*s, *env.history, bad, all, env.apply);
        REQUIRE(v);
        INFO(v->message);
        CHECK(v->outcome == Outcome::ValidationFailed);
        CHECK(read_text(pg.conf) == before);
        CHECK_FALSE(has(env.steps(v->change_id), "reload"));
    }
}

TEST_CASE("config flow: Redis maxmemory through CONFIG SET (redis has no config test: a test start stands in)",
          "[config][flow][redis]") {
    FLOW_NEEDS_ROOT();
    if (!service_test::have("/usr/bin/redis-server")) FLOW_SKIP("redis-server is not installed");
    Env env;
    service_test::RedisFixture redis;
    auto s = env.connect();
    const std::string before = read_text(redis.conf);
    ServiceTarget t;
    t.service = Service::Redis;
    t.config_path = redis.conf;
    t.pid_file = redis.pid_file;
    t.port = redis.port;
    std::string after = replace(before, "maxmemory 64mb", "maxmemory 96mb");
    after = replace(after, "maxmemory-policy noeviction", "maxmemory-policy allkeys-lru");
    Approve a;
    auto r = apply_change(*s, *env.history, proposal_for(t, redis.conf, after), a, env.apply);
    REQUIRE(r);
    INFO(r->message);
    CHECK(r->outcome == Outcome::Applied);
    CHECK_THAT(r->validation_output, Catch::Contains("test start"));
    CHECK(redis.cli("config get maxmemory") == "maxmemory\n" + std::to_string(96 << 20) + "\n");
    CHECK(redis.cli("config get maxmemory-policy") == "maxmemory-policy\nallkeys-lru\n");
    auto rb = rollback_change(*s, *env.history, r->change_id, a, env.apply);
    REQUIRE(rb);
    INFO(rb->message);
    CHECK(rb->outcome == Outcome::RolledBack);
    CHECK(read_text(redis.conf) == before);
    CHECK(redis.cli("config get maxmemory") == "maxmemory\n" + std::to_string(64 << 20) + "\n");

    SECTION("an unknown directive fails the test start and is never applied") {
        auto v = apply_change(*s, *env.history, proposal_for(t, redis.conf, before + "maxmemroy 1gb\n"), a, env.apply);
        REQUIRE(v);
        CHECK(v->outcome == Outcome::ValidationFailed);
        CHECK_THAT(v->validation_output, Catch::Contains("FATAL CONFIG FILE ERROR") || Catch::Contains("Bad directive"));
        CHECK(read_text(redis.conf) == before);
    }
}

TEST_CASE("config flow: an sshd change never locks the user out", "[config][flow][sshd]") {
    FLOW_NEEDS_ROOT();
    Env env;
    service_test::ManagedSshd managed(env.sshd);
    // The first session goes through the managed sshd itself and stays open all along.
    auto first = env.connect(managed.port);
    const std::string before = read_text(managed.conf);
    ServiceTarget t;
    t.service = Service::Sshd;
    t.config_path = managed.conf;
    t.pid_file = managed.pid_file;
    t.port = managed.port;
    const pid_t listener = service_test::pid_from(managed.pid_file);
    Approve a;
    ApplyOptions o = env.apply;
    remote::HostProfile through_managed = env.profile;
    through_managed.port = managed.port;
    o.login_profile = &through_managed;

    SECTION("a config sshd -t refuses is never reloaded") {
        auto r = apply_change(*first, *env.history, proposal_for(t, managed.conf, before + "NoSuchKeyword yes\n"), a, o);
        REQUIRE(r);
        INFO(r->message);
        CHECK(r->outcome == Outcome::ValidationFailed);
        CHECK_FALSE(has(env.steps(r->change_id), "reload"));
        CHECK(read_text(managed.conf) == before);
        CHECK(service_test::pid_from(managed.pid_file) == listener);
    }
    SECTION("a config that passes sshd -t but lets nobody in is rolled back while the first session is open") {
        auto r = apply_change(*first, *env.history, proposal_for(t, managed.conf, before + "AllowUsers nobody-at-all\n"), a, o);
        REQUIRE(r);
        INFO(r->message);
        CHECK(r->outcome == Outcome::RolledBack);
        CHECK_THAT(r->message, Catch::Contains("fresh SSH login"));
        CHECK(read_text(managed.conf) == before);
        auto still = first->exec("echo still here");
        REQUIRE(still);
        CHECK(still->out == "still here\n");
        auto fresh = env.connect(managed.port);  // and a new login works again
        CHECK(fresh->exec("true"));
    }
    SECTION("a good change is kept only after a fresh login") {
        const std::string after = replace(before, "MaxAuthTries 20", "MaxAuthTries 6");
        auto r = apply_change(*first, *env.history, proposal_for(t, managed.conf, after), a, o);
        REQUIRE(r);
        INFO(r->message);
        CHECK(r->outcome == Outcome::Applied);
        CHECK(read_text(managed.conf) == after);
        CHECK(env.step_detail(r->change_id, "health") == "healthy");
        auto rb = rollback_change(*first, *env.history, r->change_id, a, o);
        REQUIRE(rb);
        CHECK(rb->outcome == Outcome::RolledBack);
        CHECK(read_text(managed.conf) == before);
    }
}

TEST_CASE("config flow: a user who cannot write the file applies through sudo and owner and mode are kept",
          "[config][flow][nginx][sudo]") {
    FLOW_NEEDS_ROOT();
    if (!service_test::have("/usr/sbin/nginx")) FLOW_SKIP("nginx is not installed");
    Env env;
    service_test::NginxFixture ngx;
    sshd_test::TestUser user;
    // NOPASSWD sudo for the test account while this test runs (checked with visudo first).
    const std::string rule = "/etc/sudoers.d/sigmaops-flow-" + std::to_string(getpid());
    const std::string tmp = "/etc/sudoers.d/.sigmaops-flow-" + std::to_string(getpid());
    sshd_test::write_text(tmp, std::string(sshd_test::TestUser::name) + " ALL=(ALL) NOPASSWD: ALL\n", 0440);
    REQUIRE(sshd_test::run({"visudo", "-cf", tmp}) == 0);
    REQUIRE(std::rename(tmp.c_str(), rule.c_str()) == 0);
    struct Drop {
        std::string p;
        ~Drop() { std::remove(p.c_str()); }
    } drop{rule};
    chmod(ngx.site_conf.c_str(), 0640);  // root's, unreadable to the account: everything goes through sudo
    const std::string before = read_text(ngx.site_conf);
    remote::HostProfile p = env.profile;
    p.user = sshd_test::TestUser::name;
    ApplyOptions o = env.apply;
    o.login_profile = &p;
    auto s = remote::SshSession::connect(p, env.options);
    INFO((s ? "" : s.error().message));
    REQUIRE(s);
    const std::string after = replace(before, "client_max_body_size 1m;", "client_max_body_size 4m;");
    Approve a;
    auto r = apply_change(**s, *env.history, proposal_for(nginx_target(ngx), ngx.site_conf, after), a, o);
    REQUIRE(r);
    INFO(r->message);
    CHECK(r->outcome == Outcome::Applied);
    CHECK(read_text(ngx.site_conf) == after);
    struct stat st{};
    REQUIRE(stat(ngx.site_conf.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
    CHECK(st.st_uid == 0);
    CHECK_THAT(env.step_detail(r->change_id, "plan"), Catch::Contains("\"sudo\":true"));
    auto rb = rollback_change(**s, *env.history, r->change_id, a, o);
    REQUIRE(rb);
    CHECK(rb->outcome == Outcome::RolledBack);
    CHECK(read_text(ngx.site_conf) == before);
    REQUIRE(stat(ngx.site_conf.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
    // No upload was left in /tmp.
    auto left = (*s)->exec("ls -a /tmp | grep -c '^.sigmaops-upload-' || true");
    REQUIRE(left);
    CHECK(left->out == "0\n");
}

TEST_CASE("config flow: the exported Ansible playbook runs in --check --diff and for real with the agent's resulting file",
          "[config][flow][nginx][ansible]") {
    FLOW_NEEDS_ROOT();
    if (!service_test::have("/usr/sbin/nginx")) FLOW_SKIP("nginx is not installed");
    if (!service_test::have("/usr/bin/ansible-playbook")) FLOW_SKIP("ansible-playbook is not installed (Debian's ansible)");
    Env env;
    service_test::NginxFixture ngx;
    auto s = env.connect();
    const std::string before = read_text(ngx.site_conf);
    std::string after = replace(before, "keepalive_timeout 65;", "keepalive_timeout 15;");
    after = replace(after, "client_max_body_size 1m;", "client_max_body_size 8m;");
    Proposal p = proposal_for(nginx_target(ngx), ngx.site_conf, after,
                              {{"keepalive_timeout", "15", "", "nginx.keepalive", "shorter keep-alive frees workers", "nginx docs"}});
    // The agent's own apply, then back.
    Approve a;
    auto r = apply_change(*s, *env.history, p, a, env.apply);
    REQUIRE(r);
    REQUIRE(r->outcome == Outcome::Applied);
    const std::string agent_result = read_text(ngx.site_conf);
    auto rb = rollback_change(*s, *env.history, r->change_id, a, env.apply);
    REQUIRE(rb);
    REQUIRE(read_text(ngx.site_conf) == before);

    AnsibleHost h;
    h.name = "testhost";
    h.address = "127.0.0.1";
    h.port = env.sshd.port;
    h.user = "root";
    h.identity_file = env.sshd.key;
    h.known_hosts = env.sshd.known_hosts;
    h.proposals = {p};
    const std::string dir = env.db_dir + "/ansible";
    auto files = export_ansible({h}, dir);
    REQUIRE(files);
    CHECK_THAT(read_text(dir + "/playbook.yml"), Catch::Contains("shorter keep-alive frees workers") && Catch::Contains("backup: true"));
    const std::vector<std::string> ansible_env = {"ANSIBLE_LOCAL_TEMP=" + dir + "/tmp", "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0",
                                                  "ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3", "ANSIBLE_CONFIG=" + dir + "/none.cfg"};
    const std::string check_log = dir + "/check.log", real_log = dir + "/real.log";
    const int rc_check = sshd_test::run({"ansible-playbook", "-i", dir + "/inventory.ini", dir + "/playbook.yml", "--check", "--diff"},
                                        check_log, ansible_env);
    INFO(read_text(check_log));
    CHECK(rc_check == 0);
    CHECK_THAT(read_text(check_log), Catch::Contains("+    keepalive_timeout 15;") && Catch::Contains("changed=1"));
    CHECK(read_text(ngx.site_conf) == before);  // --check changed nothing
    const int rc_real = sshd_test::run({"ansible-playbook", "-i", dir + "/inventory.ini", dir + "/playbook.yml"}, real_log, ansible_env);
    INFO(read_text(real_log));
    CHECK(rc_real == 0);
    CHECK(read_text(ngx.site_conf) == agent_result);
    CHECK_THAT(read_text(real_log), Catch::Contains("RUNNING HANDLER [reload nginx"));
    CHECK_THAT(http_get(ngx.port), Catch::StartsWith("HTTP/1.1 200"));
}

// ----- sysctl and systemd drop-ins in the change flow; Redis with requirepass ----------------------

namespace {

std::string proc_path(const std::string& key) {
    std::string p = "/proc/sys/" + key;
    std::replace(p.begin(), p.end(), '.', '/');
    return p;
}
std::string proc_value(const std::string& key) {
    std::string v = read_text(proc_path(key));
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    return v;
}
// Puts a kernel setting back whatever the test does (the flow should already have).
struct KeepSysctl {
    std::string key, value;
    explicit KeepSysctl(std::string k) : key(std::move(k)), value(proc_value(key)) {}
    ~KeepSysctl() { std::ofstream(proc_path(key)) << value << "\n"; }
};

ServiceTarget sysctl_target(const std::string& conf) {
    ServiceTarget t;
    t.service = Service::Sysctl;
    t.config_path = conf;
    return t;
}

} // namespace

TEST_CASE("config flow: sysctl is checked without applying, applied with sysctl -p, read back and rolled back to the running values",
          "[config][flow][sysctl]") {
    FLOW_NEEDS_ROOT();
    if (access("/proc/sys/net/ipv4/tcp_keepalive_probes", W_OK) != 0)
        FLOW_SKIP("/proc/sys is not writable here (the read-only test covers that case)");
    Env env;
    auto s = env.connect();
    KeepSysctl keep_probes("net.ipv4.tcp_keepalive_probes"), keep_intvl("net.ipv4.tcp_keepalive_intvl");
    const std::string dir = service_test::make_dir("sysctl");
    const std::string conf = dir + "/sysctl.conf";
    const std::string probes = keep_probes.value, intvl = keep_intvl.value;
    const std::string before = "# SigmaOps test sysctl (comments must survive)\n\n; keepalive\nnet.ipv4.tcp_keepalive_probes = " + probes + "\n";
    sshd_test::write_text(conf, before);
    const std::string new_probes = probes == "7" ? "8" : "7", new_intvl = intvl == "61" ? "62" : "61";
    const std::string after = replace(before, "= " + probes, "= " + new_probes) + "net.ipv4.tcp_keepalive_intvl = " + new_intvl + "\n";
    Approve a;
    auto r = apply_change(*s, *env.history, proposal_for(sysctl_target(conf), conf, after), a, env.apply);
    REQUIRE(r);
    INFO(r->message << "\n" << r->validation_output);
    CHECK(r->outcome == Outcome::Applied);
    CHECK_THAT(r->validation_output, Catch::Contains("without applying") && Catch::Contains("net.ipv4.tcp_keepalive_intvl: ok"));
    CHECK(proc_value("net.ipv4.tcp_keepalive_probes") == new_probes);
    CHECK(proc_value("net.ipv4.tcp_keepalive_intvl") == new_intvl);
    const auto steps = env.steps(r->change_id);
    CHECK(has(steps, "validate"));
    CHECK(has(steps, "snapshot"));
    CHECK(has(steps, "reload"));
    CHECK(has(steps, "health"));
    CHECK_THAT(env.step_detail(r->change_id, "reload"), Catch::Contains("sysctl -p"));
    CHECK_THAT(env.step_detail(r->change_id, "snapshot"), Catch::Contains("\"net.ipv4.tcp_keepalive_intvl\":\"" + intvl + "\""));

    auto rb = rollback_change(*s, *env.history, r->change_id, a, env.apply);
    REQUIRE(rb);
    INFO(rb->message);
    CHECK(rb->outcome == Outcome::RolledBack);
    CHECK(read_text(conf) == before);
    CHECK(proc_value("net.ipv4.tcp_keepalive_probes") == probes);
    CHECK(proc_value("net.ipv4.tcp_keepalive_intvl") == intvl);  // a key only the change set is written back too
    std::filesystem::remove_all(dir);
}

TEST_CASE("config flow: sysctl values the checker or the kernel refuse never stay applied", "[config][flow][sysctl][faults]") {
    FLOW_NEEDS_ROOT();
    if (access("/proc/sys/net/ipv4/tcp_keepalive_probes", W_OK) != 0) FLOW_SKIP("/proc/sys is not writable here");
    Env env;
    auto s = env.connect();
    KeepSysctl keep_probes("net.ipv4.tcp_keepalive_probes"), keep_intvl("net.ipv4.tcp_keepalive_intvl");
    const std::string dir = service_test::make_dir("sysctl");
    const std::string conf = dir + "/sysctl.conf";
    const std::string before = "# test\nnet.ipv4.tcp_keepalive_probes = " + keep_probes.value + "\n";
    sshd_test::write_text(conf, before);
    Approve a;
    auto refused = [&](const std::string& after, const std::string& why) {
        auto r = apply_change(*s, *env.history, proposal_for(sysctl_target(conf), conf, after), a, env.apply);
        REQUIRE(r);
        INFO(r->message << "\n" << r->validation_output);
        CHECK(r->outcome == Outcome::ValidationFailed);
        CHECK_THAT(r->validation_output, Catch::Contains(why));
        CHECK(!has(env.steps(r->change_id), "reload"));
        CHECK(read_text(conf) == before);
        CHECK(proc_value("net.ipv4.tcp_keepalive_probes") == keep_probes.value);
    };
    SECTION("a key this kernel does not have") { refused(before + "net.ipv4.tcp_keepalive_probez = 5\n", "no such key on this kernel"); }
    SECTION("a word for an integer key") {
        refused(replace(before, "= " + keep_probes.value, "= many"), "expects 1 integer(s)");
    }
    SECTION("two integers for a one-integer key") {
        refused(replace(before, "= " + keep_probes.value, "= 5 6"), "expects 1 integer(s)");
    }
    SECTION("a read-only key") { refused(before + "kernel.osrelease = 1.0\n", "not writable here"); }
    SECTION("a line that is not key = value is refused by the parser before anything is written") {
        auto r = apply_change(*s, *env.history, proposal_for(sysctl_target(conf), conf, before + "net.core.somaxconn 4096\n"), a, env.apply);
        REQUIRE(r);
        CHECK(r->outcome == Outcome::ValidationFailed);
        CHECK(!has(env.steps(r->change_id), "write"));
        CHECK(read_text(conf) == before);
    }
    SECTION("a value the kernel refuses at apply time: every key is written back, nothing stays half-applied") {
        const std::string intvl = keep_intvl.value, new_intvl = intvl == "61" ? "62" : "61";
        // sysctl -p sets tcp_keepalive_intvl, fails on probes = 1000 (a u8 in the kernel) and goes on.
        const std::string after = "# test\nnet.ipv4.tcp_keepalive_intvl = " + new_intvl + "\nnet.ipv4.tcp_keepalive_probes = 1000\n";
        auto r = apply_change(*s, *env.history, proposal_for(sysctl_target(conf), conf, after), a, env.apply);
        REQUIRE(r);
        INFO(r->message);
        CHECK(r->outcome == Outcome::RolledBack);
        CHECK_THAT(r->message, Catch::Contains("every key holds its value from before the change"));
        CHECK(has(env.steps(r->change_id), "reload:failed"));
        CHECK(read_text(conf) == before);
        CHECK(proc_value("net.ipv4.tcp_keepalive_intvl") == intvl);
        CHECK(proc_value("net.ipv4.tcp_keepalive_probes") == keep_probes.value);
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("config flow: sysctl on a host whose /proc/sys is read-only (a container) says so and leaves everything as it was",
          "[config][flow][sysctl][faults]") {
    FLOW_NEEDS_ROOT();
    if (!service_test::have("/usr/bin/unshare")) FLOW_SKIP("unshare is not installed");
    Env env;
    // A second sshd in its own mount namespace where /proc/sys is mounted read-only, as Docker does.
    const std::string conf_sshd = env.sshd.dir + "/ro_sshd_config", pid_file = env.sshd.dir + "/ro_sshd.pid";
    const int port = sshd_test::free_port();
    {
        std::string c = read_text(env.sshd.dir + "/sshd_config");
        for (auto [key, line] : {std::pair<std::string, std::string>{"Port", "Port " + std::to_string(port)}, {"PidFile", "PidFile " + pid_file}}) {
            auto at = c.find(key + " ");
            REQUIRE(at != std::string::npos);
            c.replace(at, c.find('\n', at) - at, line);
        }
        sshd_test::write_text(conf_sshd, c, 0600);
    }
    const std::string log = env.sshd.dir + "/ro_sshd.log";
    if (sshd_test::run({"unshare", "-m", "--propagation", "private", "sh", "-c",
                        "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec /usr/sbin/sshd -f " + conf_sshd +
                            " -E " + log}) != 0 ||
        !sshd_test::wait_for_port(port, std::chrono::seconds(5)))
        FLOW_SKIP("cannot start an sshd with a read-only /proc/sys here: " + read_text(log));
    struct Stop {
        std::string pid_file;
        ~Stop() { service_test::kill_and_wait(service_test::pid_from(pid_file)); }
    } stop{pid_file};
    std::ofstream(env.sshd.known_hosts, std::ios::app) << "[127.0.0.1]:" << port << " " << env.sshd.host_pub << "\n";
    auto s = env.connect(port);
    const std::string dir = service_test::make_dir("sysctl");
    const std::string conf = dir + "/sysctl.conf";
    const std::string probes = proc_value("net.ipv4.tcp_keepalive_probes");
    const std::string before = "# test\nnet.ipv4.tcp_keepalive_probes = " + probes + "\n";
    sshd_test::write_text(conf, before);
    const std::string after = replace(before, "= " + probes, "= " + (probes == "7" ? std::string("8") : std::string("7")));
    Approve a;
    auto r = apply_change(*s, *env.history, proposal_for(sysctl_target(conf), conf, after), a, env.apply);
    REQUIRE(r);
    INFO(r->message << "\n" << r->validation_output);
    CHECK(r->outcome == Outcome::ValidationFailed);
    CHECK_THAT(r->validation_output, Catch::Contains("cannot apply: /proc/sys is read-only in this container"));
    CHECK(!has(env.steps(r->change_id), "reload"));
    CHECK(has(env.steps(r->change_id), "restore"));
    CHECK(read_text(conf) == before);  // byte-identical
    CHECK(proc_value("net.ipv4.tcp_keepalive_probes") == probes);
    std::filesystem::remove_all(dir);
}

TEST_CASE("config flow: a systemd drop-in is checked with systemd-analyze verify and, with no systemd running, not applied",
          "[config][flow][systemd]") {
    FLOW_NEEDS_ROOT();
    if (access("/run/systemd/system", F_OK) == 0) FLOW_SKIP("systemd runs here: this test is for hosts without it (containers)");
    Env env;
    auto s = env.connect();
    const std::string dir = service_test::make_dir("unit");
    const std::string unit = dir + "/sigmaops-test.service", dropin = unit + ".d/override.conf";
    sshd_test::write_text(unit, "[Unit]\nDescription=SigmaOps test unit\n\n[Service]\nExecStart=/bin/sleep 1000\n");
    std::filesystem::create_directories(unit + ".d");
    const std::string before = "# more open files (this comment must survive)\n[Service]\nLimitNOFILE=1024\n";
    sshd_test::write_text(dropin, before);
    ServiceTarget t;
    t.service = Service::Systemd;
    t.config_path = dropin;
    t.unit = "sigmaops-test.service";
    t.unit_file = unit;
    const bool analyze = service_test::have("/usr/bin/systemd-analyze");
    Approve a;
    SECTION("a good drop-in passes the checks, but nothing loads it: the original is put back and the report says why") {
        auto r = apply_change(*s, *env.history, proposal_for(t, dropin, replace(before, "1024", "65536")), a, env.apply);
        REQUIRE(r);
        INFO(r->message << "\n" << r->validation_output);
        CHECK(r->outcome == Outcome::RolledBack);
        CHECK_THAT(r->message, Catch::Contains("not applied: systemd is not running on this host"));
        CHECK_THAT(r->validation_output, Catch::Contains(analyze ? "the unit loads with the drop-in" : "systemd-analyze is not installed"));
        const auto steps = env.steps(r->change_id);
        CHECK(has(steps, "validate"));
        CHECK(has(steps, "reload:failed"));
        CHECK(has(steps, "restore"));
        CHECK(!has(steps, "health"));
        CHECK(read_text(dropin) == before);
    }
    SECTION("a key systemd would ignore fails systemd-analyze verify and is never reloaded") {
        if (!analyze) FLOW_SKIP("systemd-analyze is not installed");
        auto r = apply_change(*s, *env.history, proposal_for(t, dropin, before + "LimitNOFLIE=65536\n"), a, env.apply);
        REQUIRE(r);
        INFO(r->message << "\n" << r->validation_output);
        CHECK(r->outcome == Outcome::ValidationFailed);
        CHECK_THAT(r->validation_output, Catch::Contains("LimitNOFLIE"));
        CHECK(!has(env.steps(r->change_id), "reload"));
        CHECK(read_text(dropin) == before);
    }
    SECTION("a drop-in the parser cannot read is refused before anything is written") {
        auto r = apply_change(*s, *env.history, proposal_for(t, dropin, replace(before, "[Service]", "[Service")), a, env.apply);
        REQUIRE(r);
        INFO(r->message);
        CHECK(r->outcome == Outcome::ValidationFailed);
        CHECK_THAT(r->message, Catch::Contains("does not parse"));
        CHECK(!has(env.steps(r->change_id), "backup"));
        CHECK(read_text(dropin) == before);
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("config flow: Redis with requirepass: CONFIG SET and the health check authenticate, the password never reaches history",
          "[config][flow][redis]") {
    FLOW_NEEDS_ROOT();
    if (!service_test::have("/usr/bin/redis-server")) FLOW_SKIP("redis-server is not installed");
    Env env;
    const std::string dir = service_test::make_dir("redis-auth");
    const int port = sshd_test::free_port();
    const std::string password = "Sig ma-" + sshd_test::random_token(16);  // a space: written quoted
    const std::string conf = dir + "/redis.conf", pid_file = dir + "/redis.pid";
    const std::string before = "# test redis with a password\nbind 127.0.0.1\nport " + std::to_string(port) + "\ndaemonize yes\npidfile " +
                               pid_file + "\nlogfile " + dir + "/redis.log\ndir " + dir + "\nsave \"\"\nrequirepass \"" + password +
                               "\"\nmaxmemory 64mb\n";
    sshd_test::write_text(conf, before, 0600);
    if (sshd_test::run({"redis-server", conf}, dir + "/start.log") != 0 || !sshd_test::wait_for_port(port, std::chrono::seconds(5)))
        FLOW_SKIP("redis did not start: " + read_text(dir + "/start.log"));
    struct Stop {
        std::string pid_file, dir;
        ~Stop() {
            service_test::kill_and_wait(service_test::pid_from(pid_file));
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        }
    } stop{pid_file, dir};
    auto cli = [&](const std::string& args, bool auth) {
        const std::string out = dir + "/cli.out";
        std::remove(out.c_str());
        sshd_test::run({"sh", "-c", std::string(auth ? "REDISCLI_AUTH=\"$PW\" " : "") + "redis-cli -p " + std::to_string(port) + " " + args}, out);
        return read_text(out);
    };
    setenv("PW", password.c_str(), 1);
    REQUIRE_THAT(cli("config get maxmemory", false), Catch::Contains("NOAUTH"));  // the server really wants the password
    auto s = env.connect();
    ServiceTarget t;
    t.service = Service::Redis;
    t.config_path = conf;
    t.pid_file = pid_file;
    t.port = port;
    Approve a;
    auto r = apply_change(*s, *env.history, proposal_for(t, conf, replace(before, "maxmemory 64mb", "maxmemory 96mb")), a, env.apply);
    REQUIRE(r);
    INFO(r->message);
    CHECK(r->outcome == Outcome::Applied);
    CHECK(cli("config get maxmemory", true) == "maxmemory\n" + std::to_string(96 << 20) + "\n");

    SECTION("a new password in the file is not set at run time (never on a command line) and is kept out of history") {
        const std::string now = read_text(conf);
        const std::string other = "An0ther-" + sshd_test::random_token(16);
        auto p = apply_change(*s, *env.history, proposal_for(t, conf, replace(now, password, other)), a, env.apply);
        REQUIRE(p);
        INFO(p->message);
        CHECK(p->outcome == Outcome::Applied);
        CHECK(std::any_of(p->notes.begin(), p->notes.end(), [](const std::string& n) { return n.find("requirepass changed in the file") != std::string::npos; }));
        CHECK_THAT(cli("ping", true), Catch::Contains("PONG"));  // still the password it was started with
        auto c = env.history->config_change(p->change_id);
        REQUIRE(c);
        CHECK(c->diff.find(other) == std::string::npos);
        CHECK_THAT(c->diff, Catch::Contains("[secret]"));
        auto rb = rollback_change(*s, *env.history, p->change_id, a, env.apply);
        REQUIRE(rb);
        INFO(rb->message);
        CHECK(rb->outcome == Outcome::RolledBack);
        for (const auto& st : *env.history->change_steps(p->change_id)) CHECK(st.detail.find(other) == std::string::npos);
    }

    SECTION("a value with shell characters reaches CONFIG SET as one quoted word and never runs") {
        const std::string marker = dir + "/injected";
        const std::string value = "10.0.0.1;touch " + marker + " $(touch " + marker + ")";
        auto p = apply_change(*s, *env.history, proposal_for(t, conf, read_text(conf) + "replica-announce-ip \"" + value + "\"\n"), a, env.apply);
        REQUIRE(p);
        INFO(p->message);
        CHECK(p->outcome == Outcome::Applied);
        CHECK(!std::filesystem::exists(marker));
        CHECK(cli("config get replica-announce-ip", true) == "replica-announce-ip\n" + value + "\n");
        auto rb = rollback_change(*s, *env.history, p->change_id, a, env.apply);
        REQUIRE(rb);
        CHECK(rb->outcome == Outcome::RolledBack);
    }

    auto rb = rollback_change(*s, *env.history, r->change_id, a, env.apply);
    REQUIRE(rb);
    INFO(rb->message);
    CHECK(rb->outcome == Outcome::RolledBack);
    CHECK(read_text(conf) == before);
    CHECK(cli("config get maxmemory", true) == "maxmemory\n" + std::to_string(64 << 20) + "\n");
    // Nothing SigmaOps journaled holds the password: not the steps, not the diff, not the database file.
    for (const auto& st : *env.history->change_steps(r->change_id)) CHECK(st.detail.find(password) == std::string::npos);
    auto c = env.history->config_change(r->change_id);
    REQUIRE(c);
    CHECK(c->diff.find(password) == std::string::npos);
    env.history.reset();
    std::string db;
    for (const char* f : {"/history.db", "/history.db-wal"}) db += read_text(env.db_dir + f);
    CHECK(db.find(password.substr(4)) == std::string::npos);
    unsetenv("PW");
}

TEST_CASE("config flow: the Ansible export of a Redis change with requirepass holds no password and leaves the agent's resulting file",
          "[config][flow][redis][ansible]") {
    FLOW_NEEDS_ROOT();
    if (!service_test::have("/usr/bin/redis-server")) FLOW_SKIP("redis-server is not installed");
    if (!service_test::have("/usr/bin/ansible-playbook")) FLOW_SKIP("ansible-playbook is not installed (Debian's ansible)");
    Env env;
    const std::string dir = service_test::make_dir("redis-ansible");
    const int port = sshd_test::free_port();
    const std::string password = "Sig ma-" + sshd_test::random_token(16);  // a space: written quoted
    const std::string masterauth = "mA-" + sshd_test::random_token(16);
    const std::string conf = dir + "/redis.conf", pid_file = dir + "/redis.pid";
    const std::string before = "# test redis with a password\nbind 127.0.0.1\nport " + std::to_string(port) + "\ndaemonize yes\npidfile " +
                               pid_file + "\nlogfile " + dir + "/redis.log\ndir " + dir + "\nsave \"\"\nmasterauth " + masterauth +
                               "\nrequirepass \"" + password + "\"\nmaxmemory 64mb\n# (end) \\ ( [ { $1 \\g<1>\n";
    sshd_test::write_text(conf, before, 0600);
    if (sshd_test::run({"redis-server", conf}, dir + "/start.log") != 0 || !sshd_test::wait_for_port(port, std::chrono::seconds(5)))
        FLOW_SKIP("redis did not start: " + read_text(dir + "/start.log"));
    struct Stop {
        std::string pid_file, dir;
        ~Stop() {
            service_test::kill_and_wait(service_test::pid_from(pid_file));
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        }
    } stop{pid_file, dir};
    auto cli = [&](const std::string& args) {
        const std::string out = dir + "/cli.out";
        std::remove(out.c_str());
        sshd_test::run({"sh", "-c", "REDISCLI_AUTH=\"$PW\" redis-cli -p " + std::to_string(port) + " " + args}, out);
        return read_text(out);
    };
    setenv("PW", password.c_str(), 1);
    ServiceTarget t;
    t.service = Service::Redis;
    t.config_path = conf;
    t.pid_file = pid_file;
    t.port = port;
    // Three hunks: a new line near the top, the line right after requirepass, a line with regexp
    // and replacement metacharacters.
    std::string after = replace(before, "bind 127.0.0.1\n", "bind 127.0.0.1\ntcp-keepalive 60\n");
    after = replace(after, "maxmemory 64mb", "maxmemory 96mb");
    after = replace(after, "# (end) \\ ( [ { $1 \\g<1>\n", "# (end) \\ ( [ { $2 \\g<2> .*\n");
    auto s = env.connect();
    const Proposal p = proposal_for(t, conf, after, {{"maxmemory", "96mb", "", "redis.maxmemory", "room for the working set", "redis docs"}});
    REQUIRE(p.file.hunks.size() == 3);
    Approve a;
    auto r = apply_change(*s, *env.history, p, a, env.apply);
    REQUIRE(r);
    INFO(r->message);
    REQUIRE(r->outcome == Outcome::Applied);
    const std::string agent_result = read_text(conf);
    CHECK(agent_result == after);
    auto rb = rollback_change(*s, *env.history, r->change_id, a, env.apply);
    REQUIRE(rb);
    REQUIRE(read_text(conf) == before);
    REQUIRE(cli("config get maxmemory") == "maxmemory\n" + std::to_string(64 << 20) + "\n");

    AnsibleHost h;
    h.name = "testhost";
    h.address = "127.0.0.1";
    h.port = env.sshd.port;
    h.user = "root";
    h.identity_file = env.sshd.key;
    h.known_hosts = env.sshd.known_hosts;
    h.proposals = {p};
    const std::string out = env.db_dir + "/ansible";
    REQUIRE(export_ansible({h}, out));
    const std::string play = read_text(out + "/playbook.yml");
    CHECK_THAT(play, Catch::Contains("room for the working set") && Catch::Contains("backup: true") && Catch::Contains("diff: false"));
    const std::vector<std::string> ansible_env = {"ANSIBLE_LOCAL_TEMP=" + out + "/tmp", "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0",
                                                  "ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3", "ANSIBLE_CONFIG=" + out + "/none.cfg"};
    auto playbook = [&](const std::string& log, bool check) {
        std::vector<std::string> argv = {"ansible-playbook", "-i", out + "/inventory.ini", out + "/playbook.yml"};
        if (check) argv.insert(argv.end(), {"--check", "--diff"});
        return sshd_test::run(argv, out + "/" + log, ansible_env);
    };
    CHECK(playbook("check.log", true) == 0);
    INFO(read_text(out + "/check.log"));
    CHECK_THAT(read_text(out + "/check.log"), Catch::Contains("changed=1"));
    CHECK(read_text(conf) == before);  // --check changed nothing
    CHECK(playbook("real.log", false) == 0);
    INFO(read_text(out + "/real.log"));
    CHECK(read_text(conf) == agent_result);  // byte for byte the agent's own apply
    CHECK_THAT(read_text(out + "/real.log"), Catch::Contains("RUNNING HANDLER [reload redis"));
    CHECK(cli("config get maxmemory") == "maxmemory\n" + std::to_string(96 << 20) + "\n");  // the handler authenticated on the host
    CHECK(playbook("again.log", false) == 0);  // a second run finds the change there and changes nothing
    CHECK_THAT(read_text(out + "/again.log"), Catch::Contains("changed=0"));
    CHECK(read_text(conf) == agent_result);
    // A file changed since the export is left alone, with a message that says so.
    const std::string drifted = replace(agent_result, "maxmemory 96mb", "maxmemory 128mb");
    sshd_test::write_text(conf, drifted, 0600);
    CHECK(playbook("drift.log", false) != 0);
    CHECK_THAT(read_text(out + "/drift.log"), Catch::Contains("is not the file SigmaOps read (it changed since)"));
    CHECK(read_text(conf) == drifted);

    // Nothing under the export directory (playbook, inventory, Ansible's logs and temp files)
    // holds either password, quoted or not.
    int files = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(out)) {
        if (!e.is_regular_file()) continue;
        ++files;
        const std::string text = read_text(e.path().string());
        INFO(e.path().string());
        CHECK(text.find(password) == std::string::npos);
        CHECK(text.find(password.substr(4)) == std::string::npos);
        CHECK(text.find(masterauth) == std::string::npos);
    }
    CHECK(files >= 5);

    // A change of the requirepass line itself is refused: a playbook would carry the new password.
    std::filesystem::remove_all(out);
    h.proposals = {proposal_for(t, conf, replace(agent_result, password, "N3w-" + sshd_test::random_token(16)))};
    auto refused = export_ansible({h}, out);
    REQUIRE(!refused);
    CHECK_THAT(refused.error().message, Catch::Contains("holding a secret") && Catch::Contains("--apply"));
    CHECK(!std::filesystem::exists(out + "/playbook.yml"));
    unsetenv("PW");
}
