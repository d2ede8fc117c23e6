// test_config_rules.cpp - the nginx, sysctl and redis rules (issue 18 item 3) on Debian's own
// files (copied; /etc only read): each change carries its source, nothing already in effect is
// proposed, and the edited nginx.conf still passes the real `nginx -t`.
#include <config/config.h>

#include <catch2/catch.hpp>

#include <unistd.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

namespace fs = std::filesystem;
using namespace sigmaops;
using namespace sigmaops::config;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        std::random_device rd;
        path = fs::temp_directory_path() / ("sigmaops-rules-" + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~TempDir() { std::error_code ec; fs::remove_all(path, ec); }
    std::string file(const std::string& rel, const std::string& text) const {
        const fs::path p = path / rel;
        fs::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }
};

std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::map<std::string, Change> by_key(const std::vector<Change>& v) {
    std::map<std::string, Change> m;
    for (const Change& c : v) {
        CHECK(!c.source.empty());
        CHECK(!c.reason.empty());
        CHECK(!c.rule_id.empty());
        m[c.key] = c;
    }
    return m;
}

std::string apply_main(const ConfigSet& s, const std::vector<Change>& ch) {
    auto plan = plan_changes(s, ch);
    REQUIRE(plan);
    auto out = apply_hunks(s, plan->hunks);
    REQUIRE(out);
    for (auto& [fi, text] : *out)
        if (fi == 0) return text;
    return s.files[0].text;
}

} // namespace

TEST_CASE("nginx rules on Debian's nginx.conf: limits and security findings, and nginx -t passes", "[config][rules][nginx]") {
    if (!fs::exists("/etc/nginx/nginx.conf")) {
        std::puts("skipped: nginx is not installed");
        return;
    }
    TempDir tmp;
    const std::string conf = tmp.file("nginx.conf", slurp("/etc/nginx/nginx.conf"));
    auto s = load(Format::Nginx, conf, local_files());
    REQUIRE(s);
    NginxFacts f;
    f.cpus = 4;
    f.nofile = 1024;
    auto m = by_key(nginx_rules(*s, f));
    CHECK(!m.count("worker_processes"));  // Debian already says auto
    REQUIRE(m.count("worker_rlimit_nofile"));
    CHECK(m["worker_rlimit_nofile"].value == std::optional<std::string>("1536"));  // 2 x worker_connections 768
    REQUIRE(m.count("server_tokens"));
    CHECK(m["server_tokens"].context == "http[0]");
    const bool debian_tls_old = slurp(conf).find("ssl_protocols TLSv1 TLSv1.1") != std::string::npos;
    CHECK(m.count("ssl_protocols") == (debian_tls_old ? 1u : 0u));

    std::vector<Change> all;
    for (auto& [k, c] : m) all.push_back(c);
    const std::string after = apply_main(*s, all);
    if (debian_tls_old) CHECK(after.find("ssl_protocols TLSv1.2 TLSv1.3; # Dropping SSLv3") != std::string::npos);
    const std::string hardened = tmp.file("nginx.hardened.conf", after);
    // Again: nothing left to propose.
    auto s2 = load(Format::Nginx, hardened, local_files());
    REQUIRE(s2);
    CHECK(nginx_rules(*s2, f).empty());
    // A larger limit needs no worker_rlimit_nofile.
    f.nofile = 65536;
    CHECK(!by_key(nginx_rules(*s, f)).count("worker_rlimit_nofile"));

    if (access("/usr/sbin/nginx", X_OK) != 0 || geteuid() != 0) {
        std::puts("skipped: nginx -t needs the nginx binary and root");
        return;
    }
    const std::string cmd = "/usr/sbin/nginx -t -q -c " + hardened + " -g 'pid " + (tmp.path / "nginx.pid").string() + ";' 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p);
    std::string out;
    char buf[1024];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int st = pclose(p);
    INFO(out);
    // Debian's nginx.conf sets pid itself: nginx -t refuses a duplicate -g pid, so retry without it.
    if (WEXITSTATUS(st) != 0 && out.find("\"pid\" directive is duplicate") != std::string::npos) {
        FILE* q = popen(("/usr/sbin/nginx -t -q -c " + hardened + " 2>&1").c_str(), "r");
        out.clear();
        while ((n = fread(buf, 1, sizeof buf, q)) > 0) out.append(buf, n);
        CHECK(WEXITSTATUS(pclose(q)) == 0);
    } else {
        CHECK(WEXITSTATUS(st) == 0);
    }
}

TEST_CASE("nginx: autoindex on is turned off where it is set", "[config][rules][nginx]") {
    TempDir tmp;
    const std::string conf = tmp.file("n.conf", "worker_processes auto;\nhttp {\n    server_tokens off;\n    server {\n        location /files/ {\n            autoindex on;\n        }\n    }\n}\n");
    auto s = load(Format::Nginx, conf, local_files());
    REQUIRE(s);
    NginxFacts f;
    f.nofile = 1 << 20;
    auto ch = nginx_rules(*s, f);
    REQUIRE(ch.size() == 1);
    CHECK(ch[0].key == "autoindex");
    CHECK(ch[0].context == "http[0]/server[0]/location[0]");
    CHECK(apply_main(*s, ch).find("            autoindex off;\n") != std::string::npos);
}

TEST_CASE("sysctl rules follow the workload and skip what the files or the running kernel already have", "[config][rules][sysctl]") {
    TempDir tmp;
    tmp.file("etc/sysctl.d/10-web.conf", "net.core.somaxconn = 4096\n");
    tmp.file("etc/sysctl.conf", "# admin\n");
    auto s = load_sysctl(local_files(), tmp.path.string());
    REQUIRE(s);
    SysctlFacts web;
    web.workload = SysctlWorkload::Web;
    web.running = {{"net.ipv4.ip_local_port_range", "1024\t65535"}};
    auto m = by_key(sysctl_rules(*s, web));
    CHECK(!m.count("net.core.somaxconn"));            // set in a file
    CHECK(!m.count("net.ipv4.ip_local_port_range"));  // the running kernel has it
    CHECK(m.count("net.ipv4.tcp_max_syn_backlog"));
    SysctlFacts db;
    db.workload = SysctlWorkload::Database;
    auto d = by_key(sysctl_rules(*s, db));
    REQUIRE(d.count("vm.overcommit_memory"));
    CHECK_THAT(d["vm.overcommit_memory"].disagreement, Catch::Contains("PostgreSQL"));
    const std::string after = apply_main(*s, sysctl_rules(*s, db));
    (void)after;
    auto plan = plan_changes(*s, sysctl_rules(*s, db));
    REQUIRE(plan);
    for (const Hunk& h : plan->hunks) CHECK(s->files[h.file].path == tmp.path.string() + "/etc/sysctl.conf");
}

TEST_CASE("redis rules on Debian's redis.conf: maxmemory from RAM and the eviction policy", "[config][rules][redis]") {
    if (!fs::exists("/etc/redis/redis.conf")) {
        std::puts("skipped: redis-server is not installed");
        return;
    }
    TempDir tmp;
    const std::string conf = tmp.file("redis.conf", slurp("/etc/redis/redis.conf"));
    auto s = load(Format::Redis, conf, local_files());
    REQUIRE(s);
    RedisFacts f;
    f.ram_kb = 8ull * 1024 * 1024;
    f.cache_only = true;
    auto m = by_key(redis_rules(*s, f));
    REQUIRE(m.count("maxmemory"));
    CHECK(m["maxmemory"].value == std::optional<std::string>("4096mb"));  // Debian's file persists (RDB save default): half
    CHECK(m["maxmemory-policy"].value == std::optional<std::string>("allkeys-lru"));
    const std::string after = apply_main(*s, redis_rules(*s, f));
    auto s2 = parse(Format::Redis, "after", after);
    REQUIRE(s2);
    const std::string hardened = tmp.file("redis.after.conf", after);
    auto set2 = load(Format::Redis, hardened, local_files());
    REQUIRE(set2);
    CHECK(redis_rules(*set2, f).empty());
    f.cache_only = false;  // a store keeps noeviction
    CHECK(!by_key(redis_rules(*set2, f)).count("maxmemory"));
    CHECK(by_key(redis_rules(*set2, f))["maxmemory-policy"].value == std::optional<std::string>("noeviction"));
}

TEST_CASE("nginx: keepalive, body size, header buffer and proxy buffer rules fire past their limits, not at them",
          "[config][rules][nginx]") {
    TempDir tmp;
    NginxFacts f;
    f.cpus = 2;
    f.nofile = 1 << 20;
    int n = 0;
    auto load_http = [&](const std::string& http_body) {
        const std::string conf = tmp.file("n" + std::to_string(n++) + ".conf",
                                          "worker_processes auto;\nevents {\n    worker_connections 512;\n}\nhttp {\n    server_tokens off;\n" +
                                              http_body + "}\n");
        auto s = load(Format::Nginx, conf, local_files());
        REQUIRE(s);
        return *s;
    };
    const std::string proxied = "    server {\n        location / {\n            proxy_pass http://127.0.0.1:8080;\n";
    struct Case {
        std::string body;
        const char* key;
        const char* want;  // nullptr: nothing proposed for key
    };
    const std::vector<Case> cases = {
        {"    keepalive_timeout 65;\n", "keepalive_timeout", nullptr},
        {"    keepalive_timeout 300s;\n", "keepalive_timeout", nullptr},
        {"    keepalive_timeout 5m;\n", "keepalive_timeout", nullptr},
        {"    keepalive_timeout 301s;\n", "keepalive_timeout", "65"},
        {"    keepalive_timeout 1h;\n", "keepalive_timeout", "65"},
        {"    keepalive_timeout 0;\n", "keepalive_timeout", "65"},
        {"    keepalive_timeout 4m61s;\n", "keepalive_timeout", "65"},
        {"    keepalive_requests 100;\n", "keepalive_requests", nullptr},
        {"    keepalive_requests 99;\n", "keepalive_requests", "1000"},
        {"    client_max_body_size 1k;\n", "client_max_body_size", nullptr},
        {"    client_max_body_size 0;\n", "client_max_body_size", "1m"},
        {"    client_max_body_size 10m;\n    client_body_buffer_size 10m;\n", "client_body_buffer_size", nullptr},
        {"    client_max_body_size 10m;\n    client_body_buffer_size 11m;\n", "client_body_buffer_size", "10m"},
        {"    client_body_buffer_size 1m;\n", "client_body_buffer_size", nullptr},     // the default max is 1m
        {"    client_body_buffer_size 1025k;\n", "client_body_buffer_size", "1m"},
        {"    client_max_body_size 0;\n    client_body_buffer_size 64m;\n", "client_body_buffer_size", nullptr},  // no max: nothing to compare
        {"    large_client_header_buffers 2 1k;\n", "large_client_header_buffers", nullptr},
        {"    large_client_header_buffers 2 1023;\n", "large_client_header_buffers", "4 8k"},
        {"    large_client_header_buffers 1 8k;\n", "large_client_header_buffers", "4 8k"},
        {proxied + "            proxy_buffering off;\n        }\n    }\n", "proxy_buffering", "on"},
        {"    server {\n        location / {\n            proxy_buffering off;\n        }\n    }\n", "proxy_buffering", nullptr},
        {proxied + "            proxy_buffering on;\n        }\n    }\n", "proxy_buffering", nullptr},
        {proxied + "            proxy_buffer_size 12k;\n        }\n    }\n", "proxy_buffers", nullptr},   // 2 x 12k < 7 x 4k
        {proxied + "            proxy_buffer_size 14k;\n        }\n    }\n", "proxy_buffers", "9 4k"},  // 2 x 14k = 7 x 4k
        {proxied + "            proxy_buffer_size 16k;\n            proxy_busy_buffers_size 24k;\n        }\n    }\n", "proxy_buffers", nullptr},
        {"    proxy_buffer_size 64k;\n    server {\n        location / {\n        }\n    }\n", "proxy_buffers", nullptr},  // nothing proxied
    };
    for (const Case& c : cases) {
        INFO(c.body);
        auto set = load_http(c.body);
        auto m = by_key(nginx_rules(set, f));
        if (!c.want) {
            CHECK(!m.count(c.key));
            continue;
        }
        REQUIRE(m.count(c.key));
        CHECK(m[c.key].value == std::optional<std::string>(c.want));
        CHECK_THAT(m[c.key].source, Catch::Contains("https://nginx.org/en/docs/"));
        // Applied, the rule is satisfied: never recommended again.
        const std::string after = apply_main(set, {m[c.key]});
        auto again = load(Format::Nginx, tmp.file("again" + std::to_string(n++) + ".conf", after), local_files());
        REQUIRE(again);
        INFO(after);
        CHECK(!by_key(nginx_rules(*again, f)).count(c.key));
    }
}

TEST_CASE("nginx: worker_rlimit_nofile against worker_connections and the host's ulimit -n", "[config][rules][nginx]") {
    TempDir tmp;
    auto rules = [&](const std::string& main, std::uint64_t nofile) {
        auto s = load(Format::Nginx, tmp.file("w.conf", main + "events {\n    worker_connections 512;\n}\nhttp {\n    server_tokens off;\n}\n"),
                      local_files());
        REQUIRE(s);
        NginxFacts f;
        f.cpus = 2;
        f.nofile = nofile;
        return by_key(nginx_rules(*s, f));
    };
    CHECK(!rules("worker_processes auto;\n", 1024).count("worker_rlimit_nofile"));  // 2 x 512 fits exactly
    auto m = rules("worker_processes auto;\n", 1023);
    REQUIRE(m.count("worker_rlimit_nofile"));
    CHECK(m["worker_rlimit_nofile"].value == std::optional<std::string>("1024"));
    CHECK(!rules("worker_processes auto;\nworker_rlimit_nofile 1024;\n", 10).count("worker_rlimit_nofile"));  // set: the host's ulimit no longer matters
    m = rules("worker_processes auto;\nworker_rlimit_nofile 1000;\n", 1 << 20);
    REQUIRE(m.count("worker_rlimit_nofile"));  // set, but below 2 x worker_connections
    CHECK(m["worker_rlimit_nofile"].value == std::optional<std::string>("1024"));
}
