// test_config_documents.cpp - the config documents (issue 18 item 2) on Debian's own default
// configs (copied to a temp dir; /etc is only read): byte-identical round trips, edits that touch
// only their lines, effective-value precedence per format (sshd first wins with Include and Match,
// postgresql.auto.conf, sysctl.d order and masking, redis last wins, systemd drop-ins, nginx
// inheritance), include cycles and depth, and malformed input failing with file:line.
#include <config/config.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
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
        path = fs::temp_directory_path() / ("sigmaops-config-" + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~TempDir() { std::error_code ec; fs::remove_all(path, ec); }
    std::string file(const std::string& rel, const std::string& text) const {
        const fs::path p = path / rel;
        fs::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }
    std::string str() const { return path.string(); }
};

std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Every byte of a line format's text is in exactly one item, in order.
void check_cover(const Document& d) {
    if (d.format == Format::Nginx) return;
    size_t pos = 0;
    for (const Item& it : d.items) {
        REQUIRE(it.begin == pos);
        pos = it.end;
    }
    CHECK(pos == d.text.size());
}

// The lines `after` differs from `before` in (1-based in `before`), counted by a unified diff.
int changed_lines(const std::string& before, const std::string& after) {
    const std::string diff = unified_diff("f", before, after, 0);
    int n = 0;
    std::istringstream in(diff);
    std::string line;
    while (std::getline(in, line))
        if ((line[0] == '-' || line[0] == '+') && line.rfind("---", 0) != 0 && line.rfind("+++", 0) != 0) ++n;
    return n;
}

Change set(std::string key, std::string value, std::string ctx = "") {
    Change c;
    c.key = std::move(key);
    c.value = std::move(value);
    c.context = std::move(ctx);
    c.rule_id = "test";
    return c;
}

std::string apply_all(const ConfigSet& s, const Plan& p, size_t file) {
    auto r = apply_hunks(s, p.hunks);
    REQUIRE(r);
    for (auto& [fi, text] : *r)
        if (fi == file) return text;
    return s.files[file].text;
}

} // namespace

TEST_CASE("Debian's default configs round-trip byte for byte and every item's span is its bytes", "[config][documents]") {
    struct Case { Format f; std::string path; };
    std::vector<Case> cases = {{Format::Sshd, "/etc/ssh/sshd_config"}, {Format::Nginx, "/etc/nginx/nginx.conf"},
                               {Format::Nginx, "/etc/nginx/sites-available/default"}, {Format::Redis, "/etc/redis/redis.conf"},
                               {Format::Sysctl, "/etc/sysctl.conf"}, {Format::Nginx, "/etc/nginx/mime.types"}};
    for (const auto& e : fs::directory_iterator("/etc/postgresql"))
        cases.push_back({Format::Postgres, (e.path() / "main/postgresql.conf").string()});
    for (const char* unit : {"/usr/lib/systemd/system/ssh.service", "/usr/lib/systemd/system/nginx.service",
                             "/usr/lib/systemd/system/redis-server.service"})
        cases.push_back({Format::Systemd, unit});
    TempDir tmp;
    int n_checked = 0;
    for (const Case& c : cases) {
        if (!fs::exists(c.path)) {
            WARN("skipped: " << c.path << " is not installed");
            continue;
        }
        INFO(c.path);
        const std::string copy = tmp.file(fs::path(c.path).filename().string() + "." + std::to_string(n_checked), slurp(c.path));
        const std::string original = slurp(copy);
        auto d = parse(c.f, copy, original);
        REQUIRE(d);
        CHECK(d->text == original);
        check_cover(*d);
        size_t n_settings = 0;
        for (const Item& it : d->items) {
            REQUIRE(it.end <= original.size());
            REQUIRE(it.begin <= it.end);
            if (it.kind == ItemKind::Setting) {
                ++n_settings;
                CHECK(it.value_begin >= it.begin);
                CHECK(it.value_end <= it.end);
            }
        }
        // (Debian's /etc/sysctl.conf is all comments.)
        CHECK((n_settings > 0 || c.f == Format::Sysctl));
        // No hunks: the bytes come back unchanged.
        ConfigSet s;
        s.format = c.f;
        s.files.push_back(*d);
        auto r = apply_hunks(s, {});
        REQUIRE(r);
        CHECK(r->empty());
        CHECK(slurp(copy) == slurp(c.path));  // the copy is untouched
        ++n_checked;
    }
    CHECK(n_checked >= 5);
}

TEST_CASE("an edit changes exactly the lines it means to", "[config][documents]") {
    TempDir tmp;
    SECTION("sshd: Debian's X11Forwarding line is edited in place; a new keyword goes before the first Match") {
        std::string text = slurp("/etc/ssh/sshd_config");
        text += "\nMatch User backup\n\tX11Forwarding yes\n";
        const std::string p = tmp.file("ssh/sshd_config", text);
        LoadOptions o;
        o.include_root = tmp.str() + "/ssh";
        auto s = load(Format::Sshd, p, local_files(), o);
        REQUIRE(s);
        auto plan = plan_changes(*s, {set("X11Forwarding", "no"), set("MaxAuthTries", "3")});
        REQUIRE(plan);
        REQUIRE(plan->hunks.size() == 2);
        const std::string after = apply_all(*s, *plan, 0);
        CHECK(changed_lines(text, after) == 3);  // one line replaced (-1 +1), one added
        CHECK(after.find("X11Forwarding no\n") != std::string::npos);
        CHECK(after.find("MaxAuthTries 3\nMatch User backup\n") != std::string::npos);
        CHECK(after.find("\tX11Forwarding yes\n") != std::string::npos);  // the Match block is left alone
        // Re-read: the effective values are the new ones.
        tmp.file("ssh/sshd_config", after);
        auto s2 = load(Format::Sshd, p, local_files(), o);
        REQUIRE(s2);
        CHECK(effective(*s2, "x11forwarding")->args == std::vector<std::string>{"no"});
        CHECK(effective(*s2, "MaxAuthTries")->args == std::vector<std::string>{"3"});
        CHECK(effective(*s2, "X11Forwarding", "Match User backup")->args == std::vector<std::string>{"yes"});
        // Already in effect: no hunk.
        auto again = plan_changes(*s2, {set("X11Forwarding", "no"), set("MaxAuthTries", "3")});
        REQUIRE(again);
        CHECK(again->hunks.empty());
    }
    SECTION("postgres: a value with a trailing comment keeps the comment; a partial approval applies one hunk") {
        const std::string text = fs::exists("/etc/postgresql")
            ? slurp((fs::directory_iterator("/etc/postgresql")->path() / "main/postgresql.conf").string())
            : std::string("shared_buffers = 128MB\t\t\t# min 128kB\n");
        const std::string p = tmp.file("pg/postgresql.conf", text);
        auto s = load(Format::Postgres, p, local_files());
        REQUIRE(s);
        auto plan = plan_changes(*s, {set("shared_buffers", "2GB"), set("work_mem", "10082kB")});
        REQUIRE(plan);
        REQUIRE(plan->hunks.size() == 2);
        const std::string after = apply_all(*s, *plan, 0);
        CHECK(after.find("shared_buffers = 2GB\t\t\t# min 128kB") != std::string::npos);
        CHECK(changed_lines(text, after) == 3);
        auto one = apply_hunks(*s, {plan->hunks[0]});
        REQUIRE(one);
        CHECK(changed_lines(text, one->at(0).second) == (plan->hunks[0].begin == plan->hunks[0].end ? 1 : 2));
    }
    SECTION("nginx: a directive set in a server block and another inserted into http keep indentation") {
        const std::string text = slurp("/etc/nginx/nginx.conf");
        const std::string p = tmp.file("nginx/nginx.conf", text);
        LoadOptions o;
        o.include_root = tmp.str() + "/nginx";
        // Include paths are absolute (/etc/nginx/...): read only.
        auto s = load(Format::Nginx, p, local_files(), o);
        REQUIRE(s);
        auto plan = plan_changes(*s, {set("server_tokens", "off", "http[0]"), set("worker_connections", "2048", "events[0]")});
        REQUIRE(plan);
        REQUIRE(plan->hunks.size() == 2);
        const std::string after = apply_all(*s, *plan, 0);
        CHECK(after.find("\tworker_connections 2048;") != std::string::npos);
        CHECK(changed_lines(text, after) <= 3);
        auto d = parse(Format::Nginx, "after", after);
        REQUIRE(d);
    }
}

TEST_CASE("sshd: the first value wins, Include'd files first, Match blocks apart", "[config][documents]") {
    TempDir tmp;
    const std::string main = tmp.file("ssh/sshd_config",
        "# main\nInclude sshd_config.d/*.conf\nPasswordAuthentication yes\npermitrootlogin yes\nMatch Address 10.0.0.0/8\n"
        "  PasswordAuthentication yes\n  Include match.d/*.conf\n");
    tmp.file("ssh/sshd_config.d/20-second.conf", "PasswordAuthentication yes\n");
    tmp.file("ssh/sshd_config.d/10-first.conf", "PasswordAuthentication no\n");
    tmp.file("ssh/match.d/a.conf", "X11Forwarding yes\n");
    LoadOptions o;
    o.include_root = tmp.str() + "/ssh";
    auto s = load(Format::Sshd, main, local_files(), o);
    REQUIRE(s);
    auto e = effective(*s, "passwordauthentication");
    REQUIRE(e);
    CHECK(e->args == std::vector<std::string>{"no"});
    CHECK(e->file == tmp.str() + "/ssh/sshd_config.d/10-first.conf");
    CHECK(e->line == 1);
    CHECK(e->shadowed.size() == 2);
    CHECK_THAT(e->rule, Catch::Contains("first"));
    CHECK(effective(*s, "PermitRootLogin")->line == 4);
    CHECK(!effective(*s, "X11Forwarding"));  // only inside the Match block (included there)
    CHECK(effective(*s, "X11Forwarding", "Match Address 10.0.0.0/8")->args == std::vector<std::string>{"yes"});
    // A change edits the effective line (in the included file), not the main file's.
    auto plan = plan_changes(*s, {set("PasswordAuthentication", "no"), set("PermitRootLogin", "no")});
    REQUIRE(plan);
    REQUIRE(plan->hunks.size() == 1);
    CHECK(s->files[plan->hunks[0].file].path == main);
    auto plan2 = plan_changes(*s, {set("PasswordAuthentication", "yes")});
    REQUIRE(plan2);
    REQUIRE(plan2->hunks.size() == 1);
    CHECK(s->files[plan2->hunks[0].file].path == tmp.str() + "/ssh/sshd_config.d/10-first.conf");
    CHECK(plan2->hunks[0].notes.size() == 1);
}

TEST_CASE("postgres: postgresql.auto.conf wins and a change goes where the value takes effect", "[config][documents]") {
    TempDir tmp;
    const std::string main = tmp.file("pg/postgresql.conf",
        "shared_buffers = 128MB\ninclude_dir 'conf.d'\ninclude_if_exists 'missing.conf'\ninclude 'extra.conf'\n");
    tmp.file("pg/conf.d/b.conf", "work_mem = '8MB'\n");
    tmp.file("pg/conf.d/a.conf", "work_mem = 4MB\nshared_buffers='256MB'\n");
    tmp.file("pg/extra.conf", "max_connections 50 # no '=' is allowed\n");
    const std::string autoconf = tmp.file("data/postgresql.auto.conf", "# Do not edit this file manually!\nshared_buffers = '1GB'\n");
    LoadOptions o;
    o.postgres_auto_conf = autoconf;
    auto s = load(Format::Postgres, main, local_files(), o);
    REQUIRE(s);
    CHECK(effective(*s, "work_mem")->file == tmp.str() + "/pg/conf.d/b.conf");
    CHECK(effective(*s, "work_mem")->args == std::vector<std::string>{"8MB"});
    CHECK(effective(*s, "MAX_CONNECTIONS")->args == std::vector<std::string>{"50"});
    auto sb = effective(*s, "shared_buffers");
    REQUIRE(sb);
    CHECK(sb->file == autoconf);
    CHECK(sb->shadowed.size() == 2);
    auto plan = plan_changes(*s, {set("shared_buffers", "'2GB'")});
    REQUIRE(plan);
    REQUIRE(plan->hunks.size() == 1);
    CHECK(s->files[plan->hunks[0].file].path == autoconf);
    REQUIRE(!plan->hunks[0].notes.empty());
    CHECK_THAT(plan->hunks[0].notes[0], Catch::Contains("ALTER SYSTEM"));
    bool noted_missing = false;
    for (const auto& n : s->notes) noted_missing = noted_missing || n.find("missing.conf") != std::string::npos;
    CHECK(noted_missing);
    // The same size in other units is already in effect: no hunk.
    auto same = plan_changes(*s, {set("shared_buffers", "1048576kB"), set("work_mem", "'8192kB'")});
    REQUIRE(same);
    CHECK(same->hunks.empty());
    // A plain include of a missing file fails with the including line.
    tmp.file("pg/postgresql.conf", "include 'nothere.conf'\n");
    auto bad = load(Format::Postgres, main, local_files());
    REQUIRE(!bad);
    CHECK_THAT(bad.error().message, Catch::Contains("postgresql.conf:1"));
}

TEST_CASE("sysctl: systemd-sysctl's order, masking by name, the last assignment wins", "[config][documents]") {
    TempDir tmp;
    tmp.file("usr/lib/sysctl.d/50-default.conf", "net.core.somaxconn = 128\nvm.swappiness=60\n");
    tmp.file("usr/lib/sysctl.d/60-masked.conf", "vm.swappiness = 99\n");
    tmp.file("etc/sysctl.d/60-masked.conf", "; masks the vendor file of the same name\n");
    tmp.file("etc/sysctl.d/70-admin.conf", "net/core/somaxconn = 1024\n-net.ipv4.tcp_syncookies = 1\n");
    const std::string conf = tmp.file("etc/sysctl.conf", "vm.swappiness = 10\n");
    tmp.file("etc/sysctl.d/99-sysctl.conf", "vm.swappiness = 10\n");  // Debian's link, as a copy
    auto s = load_sysctl(local_files(), tmp.str());
    REQUIRE(s);
    CHECK(effective(*s, "net.core.somaxconn")->args == std::vector<std::string>{"1024"});
    CHECK(effective(*s, "net/core/somaxconn")->file == tmp.str() + "/etc/sysctl.d/70-admin.conf");
    CHECK(effective(*s, "vm.swappiness")->file == conf);
    CHECK(effective(*s, "net.ipv4.tcp_syncookies")->args == std::vector<std::string>{"1"});
    for (const auto& f : s->files) CHECK(f.path.find("usr/lib/sysctl.d/60-masked.conf") == std::string::npos);
    // A new key goes to /etc/sysctl.conf (read last).
    auto plan = plan_changes(*s, {set("net.ipv4.ip_local_port_range", "1024 65535")});
    REQUIRE(plan);
    REQUIRE(plan->hunks.size() == 1);
    CHECK(s->files[plan->hunks[0].file].path == conf);
}

TEST_CASE("redis and systemd: last value wins, includes and drop-ins", "[config][documents]") {
    TempDir tmp;
    const std::string main = tmp.file("redis/redis.conf", "maxmemory 100mb\ninclude local.conf\nrename-command \"CONFIG\" \"\"\n");
    tmp.file("redis/local.conf", "MAXMEMORY 2gb\n");
    auto s = load(Format::Redis, main, local_files());
    REQUIRE(s);
    CHECK(effective(*s, "maxmemory")->args == std::vector<std::string>{"2gb"});
    CHECK(effective(*s, "rename-command")->args == (std::vector<std::string>{"CONFIG", ""}));
    // sdssplitargs: a backslash outside quotes is literal, not an escape (a fuzz_config finding).
    auto bs = parse(Format::Redis, "f", "logfile C:\\redis\\log\\ 1\nrequirepass \"a\\\"b\"\n");
    REQUIRE(bs);
    CHECK(bs->items[0].args == (std::vector<std::string>{"C:\\redis\\log\\", "1"}));
    CHECK(bs->items[1].args == std::vector<std::string>{"a\"b"});

    const std::string unit = tmp.file("lib/demo.service", "[Unit]\nDescription=demo\n\n[Service]\nExecStart=/bin/true \\\n  --flag\nLimitNOFILE=1024\n");
    tmp.file("etc/demo.service.d/20-limits.conf", "[Service]\nLimitNOFILE=65536\n");
    tmp.file("run/demo.service.d/20-limits.conf", "[Service]\nLimitNOFILE=4\n");  // masked by /etc's
    tmp.file("run/demo.service.d/10-env.conf", "[Service]\nEnvironment=A=1\n");
    auto u = load_unit(unit, local_files(), {tmp.str() + "/etc", tmp.str() + "/run"});
    REQUIRE(u);
    auto e = effective(*u, "LimitNOFILE", "Service");
    REQUIRE(e);
    CHECK(e->args == std::vector<std::string>{"65536"});
    CHECK(e->file == tmp.str() + "/etc/demo.service.d/20-limits.conf");
    CHECK(effective(*u, "ExecStart", "Service")->args == std::vector<std::string>{"/bin/true  --flag"});
    CHECK(u->files.size() == 3);
}

TEST_CASE("nginx: the innermost context's directive, else the enclosing one's", "[config][documents]") {
    TempDir tmp;
    const std::string main = tmp.file("nginx/nginx.conf",
        "worker_processes 2;\nevents { worker_connections 512; }\nhttp {\n    keepalive_timeout 65;\n    include sites/*;\n}\n");
    tmp.file("nginx/sites/a", "server {\n    listen 80;\n    location / { keepalive_timeout 5; }\n}\n");
    tmp.file("nginx/sites/b", "server { listen 81; return 200 \"a;b{c}\"; }\n");
    auto s = load(Format::Nginx, main, local_files());
    REQUIRE(s);
    CHECK(effective(*s, "keepalive_timeout", "http[0]/server[0]/location[0]")->args == std::vector<std::string>{"5"});
    CHECK(effective(*s, "keepalive_timeout", "http[0]/server[0]")->args == std::vector<std::string>{"65"});
    CHECK(effective(*s, "listen", "http[0]/server[1]")->args == std::vector<std::string>{"81"});
    CHECK(effective(*s, "return", "http[0]/server[1]")->args == (std::vector<std::string>{"200", "a;b{c}"}));
    CHECK(effective(*s, "worker_connections", "events[0]")->args == std::vector<std::string>{"512"});
    // Setting it in server[1] inserts a line there (in the included file).
    auto plan = plan_changes(*s, {set("keepalive_timeout", "10", "http[0]/server[1]")});
    REQUIRE(plan);
    REQUIRE(plan->hunks.size() == 1);
    CHECK(s->files[plan->hunks[0].file].path == tmp.str() + "/nginx/sites/b");
}

TEST_CASE("include cycles and depth fail naming the chain", "[config][documents]") {
    TempDir tmp;
    const std::string a = tmp.file("a.conf", "include b.conf;\n");
    tmp.file("b.conf", "include a.conf;\n");
    auto r = load(Format::Nginx, a, local_files());
    REQUIRE(!r);
    CHECK(r.error().code == ErrorCode::BadFile);
    CHECK_THAT(r.error().message, Catch::Contains("include cycle") && Catch::Contains("b.conf:1"));
    for (int i = 0; i < 12; ++i) tmp.file("d" + std::to_string(i) + ".conf", "include d" + std::to_string(i + 1) + ".conf\n");
    tmp.file("d12.conf", "maxmemory 1mb\n");
    auto deep = load(Format::Redis, tmp.str() + "/d0.conf", local_files());
    REQUIRE(!deep);
    CHECK_THAT(deep.error().message, Catch::Contains("deeper than 8"));
}

TEST_CASE("malformed input fails with file:line and what is wrong", "[config][documents]") {
    struct Bad { Format f; const char* text; const char* where; const char* what; };
    const Bad bad[] = {
        {Format::Sshd, "Port 22\nPermitRootLogin\n", "f:2:", "no argument"},
        {Format::Sshd, "Banner \"unterminated\n", "f:1:", "unterminated"},
        {Format::Nginx, "http {\n  server {\n  }\n", "f:1:", "no '}'"},
        {Format::Nginx, "worker_processes 1\n", "f:1:", "no ';'"},
        {Format::Nginx, "}\n", "f:1:", "unexpected"},
        {Format::Nginx, "a \"b\n\nc", "f:1:", "closing quote"},
        {Format::Postgres, "shared_buffers = '1GB\n", "f:1:", "unterminated"},
        {Format::Postgres, "\n\nwork_mem = 4MB 8MB\n", "f:3:", "one value"},
        {Format::Postgres, "= 3\n", "f:1:", "syntax error"},
        {Format::Sysctl, "vm.swappiness 10\n", "f:1:", "not an assignment"},
        {Format::Redis, "# c\nrequirepass \"abc\n", "f:2:", "Unbalanced quotes"},
        {Format::Systemd, "Key=1\n", "f:1:", "outside of a section"},
        {Format::Systemd, "[Service]\nnot an assignment\n", "f:2:", "not an assignment"},
    };
    for (const Bad& b : bad) {
        INFO(format_name(b.f) << ": " << b.text);
        auto d = parse(b.f, "f", b.text);
        REQUIRE(!d);
        CHECK(d.error().code == ErrorCode::BadFile);
        CHECK_THAT(d.error().message, Catch::StartsWith(b.where) && Catch::Contains(b.what));
    }
}

TEST_CASE("unified_diff reads like diff -u", "[config][documents]") {
    const std::string a = "a\nb\nc\nd\ne\nf\ng\nh\n";
    const std::string b = "a\nb\nc\nD\ne\nf\ng\nh\nextra";
    const std::string d = unified_diff("/etc/x", a, b, 1);
    CHECK(d == "--- a/etc/x\n+++ b/etc/x\n@@ -3,3 +3,3 @@\n c\n-d\n+D\n e\n@@ -8,1 +8,2 @@\n h\n+extra\n\\ No newline at end of file\n");
    CHECK(unified_diff("x", a, a).empty());
}
