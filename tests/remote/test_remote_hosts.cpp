// Host profiles and the remote CLI: the ssh_config-syntax parser (app's hosts.conf + ~/.ssh/config,
// first value wins, wildcards, negation, Match skipped), `sigmaops hosts list|add|rm|test` and
// `sigmaops run --hosts ...` with exact output, exit codes (0 ok / 1 failure / 2 usage) and the
// error messages for DNS failure, refused connection, auth failure and a changed host key.
//
// HOME and XDG_CONFIG_HOME point into a temp dir for every test: the real user's files are never
// read or written. CLI calls that connect run in a forked child with no controlling terminal
// (setsid), so the TerminalPrompter can never ask anything. The sshd parts need root (skipped
// otherwise). The DNS case never leaves the machine: see dns_case() below.
#include <catch2/catch.hpp>

#include "remote/remote.h"
#include "remote/internal.h"
#include <cli/command.h>
#include "sshd_fixture.h"

#include <netdb.h>
#include <sched.h>
#include <sys/mount.h>

#include <cstring>
#include <sstream>

using namespace sigmaops::remote;
using namespace std::chrono_literals;
using sshd_test::read_text;
using sshd_test::SshdFixture;
using sshd_test::write_text;
namespace fs = std::filesystem;

namespace {

// A temp HOME and XDG_CONFIG_HOME (and no SSH_AUTH_SOCK) for the lifetime of the object.
struct TempEnv {
    std::string dir, home, xdg;
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    TempEnv() {
        char tmpl[] = "/tmp/sigmaops-hosts-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        dir = tmpl;
        home = dir + "/home";
        xdg = dir + "/xdg";
        fs::create_directories(home + "/.ssh");
        fs::create_directories(xdg);
        set("HOME", home);
        set("XDG_CONFIG_HOME", xdg);
        set("SSH_AUTH_SOCK", std::nullopt);
    }
    ~TempEnv() {
        for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
            if (it->second) setenv(it->first.c_str(), it->second->c_str(), 1);
            else unsetenv(it->first.c_str());
        }
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    void set(const std::string& k, const std::optional<std::string>& v) {
        const char* old = getenv(k.c_str());
        saved.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
        if (v) setenv(k.c_str(), v->c_str(), 1);
        else unsetenv(k.c_str());
    }
    std::string ssh_config() const { return home + "/.ssh/config"; }
    std::string app_hosts() const { return xdg + "/sigmaops/hosts.conf"; }
};

// `sigmaops hosts ARGS...` and `sigmaops run ARGS...`, in-process through the CLI's table.
int run_words(const char* command, std::vector<std::string> args, std::ostream& out, std::ostream& err) {
    args.insert(args.begin(), command);
    std::istringstream in;
    sigmaops::cli::Io io{in, out, err};
    return sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), args, io);
}
int run_hosts_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    return run_words("hosts", args, out, err);
}
int run_exec_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    return run_words("run", args, out, err);
}

struct Cli {
    int rc = -1;
    std::string out, err;
    std::string fd2;  // what went to the process's own stderr (call_detached only)
};

using CliFn = int (*)(const std::vector<std::string>&, std::ostream&, std::ostream&);

Cli call(CliFn fn, const std::vector<std::string>& args) {
    Cli c;
    std::ostringstream out, err;
    c.rc = fn(args, out, err);
    c.out = out.str();
    c.err = err.str();
    return c;
}

// Runs the CLI in a child process without a controlling terminal (so /dev/tty cannot be opened
// and no question is ever asked). `prepare` runs in the child first; a non-zero return is the
// child's exit code and skips the CLI (its message goes to err).
Cli call_detached(CliFn fn, const std::vector<std::string>& args, const std::string& tmp,
                  std::function<int(std::string&)> prepare = nullptr) {
    const std::string out_path = tmp + "/cli.out", err_path = tmp + "/cli.err", fd2_path = tmp + "/cli.fd2";
    fs::remove(out_path);
    fs::remove(err_path);
    fs::remove(fd2_path);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        setsid();
        int fd = open(fd2_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) dup2(fd, 2);
        alarm(60);
        std::ostringstream out, err;
        int rc = 0;
        std::string why;
        if (prepare && (rc = prepare(why)) != 0) err << why;
        else rc = fn(args, out, err);
        write_text(out_path, out.str());
        write_text(err_path, err.str());
        std::fflush(nullptr);
        _exit(rc);
    }
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    Cli c;
    c.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    c.out = read_text(out_path);
    c.err = read_text(err_path);
    c.fd2 = read_text(fd2_path);
    return c;
}

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parser

TEST_CASE("remote hosts: ssh_config keys, first value wins, wildcards and negation as OpenSSH", "[remote][hosts]") {
    TempEnv env;
    write_text(env.ssh_config(),
               "# global section: applies to every host, read first\n"
               "ConnectTimeout 5\n"
               "\n"
               "Host web1\n"
               "    HostName 10.0.0.11\n"
               "    User alice\n"
               "\n"
               "Host web* !web13\n"
               "    User bob\n"
               "    Port 2222\n"
               "    IdentityFile ~/.ssh/id_web\n"
               "\n"
               "Host db?\n"
               "    HostName %h.example.com\n"
               "\n"
               "Match host web1\n"
               "    User from-match-block\n"
               "    Port 1\n"
               "\n"
               "Host * !bastion\n"
               "    ProxyJump admin@bastion:2200\n"
               "Host *\n"
               "    User nobody\n"
               "    Port 2200\n"
               "    IdentityFile ~/.ssh/id_default\n"
               "    ProxyJump none\n");
    const ConfigPaths paths;  // defaults: from HOME / XDG_CONFIG_HOME

    SECTION("specific block first, then the wildcard blocks fill what is missing") {
        auto h = resolve_host("web1", paths);
        REQUIRE(h);
        CHECK(h->name == "web1");
        CHECK(h->hostname == "10.0.0.11");
        CHECK(h->user == "alice");  // not bob, not nobody, not the Match block
        CHECK(h->port == 2222);     // from "Host web*", not "Host *"
        CHECK(h->identity_files == std::vector<std::string>{env.home + "/.ssh/id_web", env.home + "/.ssh/id_default"});
        CHECK(h->proxy_jump == "admin@bastion:2200");
        CHECK(h->source == env.ssh_config());
    }
    SECTION("wildcard only") {
        auto h = resolve_host("web7", paths);
        REQUIRE(h);
        CHECK(h->hostname == "web7");  // HostName defaults to the name
        CHECK(h->user == "bob");
        CHECK(h->port == 2222);
        CHECK(h->source == "");  // no concrete entry anywhere
    }
    SECTION("a negated pattern excludes the block even when another pattern matches") {
        auto h = resolve_host("web13", paths);
        REQUIRE(h);
        CHECK(h->user == "nobody");
        CHECK(h->port == 2200);
        CHECK(h->identity_files == std::vector<std::string>{env.home + "/.ssh/id_default"});
    }
    SECTION("ProxyJump none in a later block cannot undo an earlier value; the jump host itself goes direct") {
        auto b = resolve_host("bastion", paths);
        REQUIRE(b);
        CHECK(b->proxy_jump == "");
        CHECK(b->user == "nobody");
    }
    SECTION("%h in HostName and ? wildcard") {
        auto h = resolve_host("db1", paths);
        REQUIRE(h);
        CHECK(h->hostname == "db1.example.com");
        auto no = resolve_host("db12", paths);  // ? is exactly one character
        REQUIRE(no);
        CHECK(no->hostname == "db12");
    }
    SECTION("host names and patterns match without regard to case, as in OpenSSH") {
        auto h = resolve_host("WEB1", paths);  // "Host web1" (OpenSSH lowercases the name)
        REQUIRE(h);
        CHECK(h->name == "WEB1");  // shown as typed
        CHECK(h->hostname == "10.0.0.11");
        CHECK(h->user == "alice");
        CHECK(h->source == env.ssh_config());
        auto d = resolve_host("Db1", paths);  // %h is the lowercased name
        REQUIRE(d);
        CHECK(d->hostname == "db1.example.com");
        auto n = resolve_host("Web13", paths);  // the negation matches without regard to case too
        REQUIRE(n);
        CHECK(n->user == "nobody");
    }
    SECTION("list: concrete names only, in file order") {
        auto l = list_hosts(paths);
        REQUIRE(l);
        REQUIRE(l->size() == 1);
        CHECK((*l)[0].name == "web1");
    }
}

TEST_CASE("remote hosts: syntax variants: key=value, case, quotes, tabs, CRLF, comments", "[remote][hosts]") {
    TempEnv env;
    write_text(env.ssh_config(),
               "host alpha beta   # two names on one line\r\n"
               "\tHOSTNAME=alpha.lan\r\n"
               "  user = \"carol\"  # the admin\r\n"
               "  port\t2022 # trailing comment\r\n"
               "  identityfile \"/keys/with space\"\r\n"
               "# comment line\r\n"
               "   # indented comment\r\n"
               "Host gamma\r\n"
               "  Port 70000\r\n");
    const ConfigPaths paths;
    auto a = resolve_host("alpha", paths);
    REQUIRE(a);
    CHECK(a->hostname == "alpha.lan");
    CHECK(a->user == "carol");
    CHECK(a->port == 2022);
    CHECK(a->identity_files == std::vector<std::string>{"/keys/with space"});
    auto b = resolve_host("beta", paths);
    REQUIRE(b);
    CHECK(b->hostname == "alpha.lan");
    CHECK(b->source == env.ssh_config());
    auto g = resolve_host("gamma", paths);
    // a trailing comment is not part of the Host patterns ("#", "two", ... are no host names)
    write_text(env.ssh_config(), "Host alpha beta # two names\n  User carol # admin\n");
    auto l = list_hosts(paths);
    INFO((l ? "" : l.error().message));
    REQUIRE(l);
    REQUIRE(l->size() == 2);
    CHECK((*l)[0].name == "alpha");
    CHECK((*l)[1].name == "beta");
    CHECK((*l)[1].user == "carol");
    REQUIRE_FALSE(g);
    CHECK(g.error().code == ErrorCode::InvalidArgument);
    CHECK_THAT(g.error().message, Catch::Contains("invalid Port 70000"));
    auto bad = resolve_host("two words", paths);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == ErrorCode::InvalidArgument);
}

TEST_CASE("remote hosts: the app's hosts.conf is read before ~/.ssh/config", "[remote][hosts]") {
    TempEnv env;
    fs::create_directories(env.xdg + "/sigmaops");
    write_text(env.app_hosts(), "Host web1\n  HostName 192.0.2.1\n  Port 2201\n");
    write_text(env.ssh_config(),
               "Host web1\n  HostName 198.51.100.1\n  Port 22\n  User ops\n"
               "Host gw\n  HostName gw.example.net\n"
               "Host web1\n  User never-reached\n");
    const ConfigPaths paths;
    auto h = resolve_host("web1", paths);
    REQUIRE(h);
    CHECK(h->hostname == "192.0.2.1");
    CHECK(h->port == 2201);
    CHECK(h->user == "ops");  // not set in the app's file: ~/.ssh/config fills it
    CHECK(h->source == env.app_hosts());
    auto unknown = resolve_host("nowhere", paths);
    REQUIRE(unknown);
    CHECK(unknown->hostname == "nowhere");
    CHECK(unknown->port == 22);
    CHECK(unknown->user == "");
    CHECK(unknown->source == "");
    auto l = list_hosts(paths);
    REQUIRE(l);
    REQUIRE(l->size() == 2);  // web1 once (app's), then gw
    CHECK((*l)[0].name == "web1");
    CHECK((*l)[0].source == env.app_hosts());
    CHECK((*l)[1].name == "gw");
    CHECK((*l)[1].source == env.ssh_config());
}

// ---------------------------------------------------------------------------------------------
// hosts add / list / rm

TEST_CASE("remote hosts cli: add, list, rm round trip with exact output", "[remote][hosts][cli]") {
    TempEnv env;
    const std::string ssh_config_text = "Host gw\n  HostName gw.example.net\n  User ops\n\nHost *\n  User fallback\n";
    write_text(env.ssh_config(), ssh_config_text);
    const std::string app = env.app_hosts();

    auto empty = call(run_hosts_cli, {"list"});
    CHECK(empty.rc == 0);
    CHECK(empty.out == "gw\tops@gw.example.net:22\t" + env.ssh_config() + "\n");
    CHECK(empty.err == "");

    auto a1 = call(run_hosts_cli, {"add", "web1", "--host", "10.0.0.5", "--user", "alice", "--port", "2222",
                                   "--identity", "~/.ssh/id_web"});
    CHECK(a1.rc == 0);
    CHECK(a1.out == "added web1\n");
    CHECK(a1.err == "");
    auto a2 = call(run_hosts_cli, {"add", "db", "--host", "db.example.com", "--proxy-jump", "admin@bastion:2200"});
    CHECK(a2.rc == 0);
    CHECK(a2.out == "added db\n");

    CHECK(read_text(app) ==
          "Host web1\n    HostName 10.0.0.5\n    User alice\n    Port 2222\n    IdentityFile ~/.ssh/id_web\n"
          "\n"
          "Host db\n    HostName db.example.com\n    ProxyJump admin@bastion:2200\n");
    struct stat st{};
    REQUIRE(stat(app.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(stat((env.xdg + "/sigmaops").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);

    auto l = call(run_hosts_cli, {"list"});
    CHECK(l.rc == 0);
    CHECK(l.out == "web1\talice@10.0.0.5:2222\t" + app + "\n"
                   "db\tfallback@db.example.com:22\tvia admin@bastion:2200\t" + app + "\n"
                   "gw\tops@gw.example.net:22\t" + env.ssh_config() + "\n");
    CHECK(l.err == "");
    auto w = resolve_host("web1", ConfigPaths{});
    REQUIRE(w);
    CHECK(w->identity_files == std::vector<std::string>{env.home + "/.ssh/id_web"});

    auto dup = call(run_hosts_cli, {"add", "web1", "--host", "10.9.9.9"});
    CHECK(dup.rc == 1);  // not a usage error: the command was well-formed
    CHECK(dup.out == "");
    CHECK(dup.err == "sigmaops: host 'web1' already exists in " + app + "\n");

    auto r1 = call(run_hosts_cli, {"rm", "web1"});
    CHECK(r1.rc == 0);
    CHECK(r1.out == "removed web1\n");
    CHECK(r1.err == "");
    CHECK(read_text(app) == "Host db\n    HostName db.example.com\n    ProxyJump admin@bastion:2200\n");
    auto l2 = call(run_hosts_cli, {"list"});
    CHECK(l2.out == "db\tfallback@db.example.com:22\tvia admin@bastion:2200\t" + app + "\n"
                    "gw\tops@gw.example.net:22\t" + env.ssh_config() + "\n");

    auto again = call(run_hosts_cli, {"rm", "web1"});
    CHECK(again.rc == 1);
    CHECK(again.out == "");
    CHECK(again.err == "sigmaops: host 'web1' not found in " + app + " (entries of ~/.ssh/config are never edited)\n");
    auto gw = call(run_hosts_cli, {"rm", "gw"});
    CHECK(gw.rc == 1);
    CHECK_THAT(gw.err, Catch::Contains("never edited"));

    auto r2 = call(run_hosts_cli, {"rm", "db"});
    CHECK(r2.rc == 0);
    CHECK(read_text(app) == "");
    auto l3 = call(run_hosts_cli, {"list"});
    CHECK(l3.rc == 0);
    CHECK(l3.out == "gw\tops@gw.example.net:22\t" + env.ssh_config() + "\n");

    CHECK(read_text(env.ssh_config()) == ssh_config_text);  // never written
}

TEST_CASE("ProxyJump values: hops, users, ports and IPv6 parsed - malformed ones refused", "[remote][hosts]") {
    auto hops = sigmaops::remote::parse_proxy_jump("bastion,ops@[fe80::1]:2222,admin@gw:2200");
    REQUIRE(hops);
    REQUIRE(hops->size() == 3);
    CHECK((*hops)[0].user == "");
    CHECK((*hops)[0].host == "bastion");
    CHECK((*hops)[0].port == 0);
    CHECK((*hops)[1].user == "ops");
    CHECK((*hops)[1].host == "fe80::1");
    CHECK((*hops)[1].port == 2222);
    CHECK((*hops)[2].user == "admin");
    CHECK((*hops)[2].host == "gw");
    CHECK((*hops)[2].port == 2200);
    auto v6 = sigmaops::remote::parse_proxy_jump("[::1]");
    REQUIRE(v6);
    CHECK((*v6)[0].host == "::1");
    CHECK((*v6)[0].port == 0);
    for (const std::string bad : {"", "@", "a,", ",a", "a,,b", "a:", "a:0", "a:65536", "a:22x", "a:123456", "[::1", "[::1]x",
                                  "[::1]:", "a@b@c", "a b"}) {
        INFO("'" << bad << "'");
        auto r = sigmaops::remote::parse_proxy_jump(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::InvalidArgument);
        CHECK_THAT(r.error().message, Catch::Contains("ProxyJump"));
    }
}

TEST_CASE("remote hosts cli: add refuses a malformed --proxy-jump and leaves hosts.conf as it was", "[remote][hosts][cli]") {
    TempEnv env;
    fs::create_directories(env.xdg + "/sigmaops");
    const std::string before = "Host old\n    HostName old.lan\n";
    write_text(env.app_hosts(), before);
    auto bad = call(run_hosts_cli, {"add", "db", "--host", "db.lan", "--proxy-jump", "root@bastion:99999"});
    CHECK(bad.rc == 2);
    CHECK(bad.out == "");
    CHECK(bad.err == "sigmaops: --proxy-jump: invalid ProxyJump port '99999' in 'root@bastion:99999'\n"
                     "Try 'sigmaops hosts add --help'.\n");
    auto bad2 = call(run_hosts_cli, {"add", "db", "--host", "db.lan", "--proxy-jump", "bastion,"});
    CHECK(bad2.rc == 2);
    CHECK_THAT(bad2.err, Catch::Contains("expected [user@]host[:port], hops separated by commas"));
    CHECK(read_text(env.app_hosts()) == before);
    auto good = call(run_hosts_cli, {"add", "db", "--host", "db.lan", "--proxy-jump", "bastion,ops@[fe80::1]:2222"});
    CHECK(good.rc == 0);
    CHECK(read_text(env.app_hosts()) == before + "\nHost db\n    HostName db.lan\n    ProxyJump bastion,ops@[fe80::1]:2222\n");
}

TEST_CASE("remote hosts: a directory where hosts.conf or ~/.ssh/config should be is an error, not an empty list",
          "[remote][hosts][cli]") {
    TempEnv env;
    fs::create_directories(env.app_hosts());  // a directory named hosts.conf
    auto l = call(run_hosts_cli, {"list"});
    CHECK(l.rc == 1);
    CHECK(l.out == "");
    CHECK(l.err == "sigmaops: " + env.app_hosts() + " is not a regular file (a directory?); expected an ssh_config-style host list\n");
    auto a = call(run_hosts_cli, {"add", "web1", "--host", "10.0.0.5"});
    CHECK(a.rc == 1);
    CHECK_THAT(a.err, Catch::Contains("is not a regular file"));
    CHECK(fs::is_directory(env.app_hosts()));
    auto r = resolve_host("web1", ConfigPaths{});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::BadFile);
    fs::remove(env.app_hosts());
    fs::create_directories(env.ssh_config());  // now ~/.ssh/config
    auto l2 = call(run_hosts_cli, {"list"});
    CHECK(l2.rc == 1);
    CHECK_THAT(l2.err, Catch::Contains(env.ssh_config() + " is not a regular file"));
}

TEST_CASE("remote hosts cli: add puts the new host before wildcard blocks of hosts.conf", "[remote][hosts][cli]") {
    TempEnv env;
    fs::create_directories(env.xdg + "/sigmaops");
    write_text(env.app_hosts(), "Host old\n    HostName old.lan\n\nHost *\n    User everyone\n    Port 2200\n");
    auto a = call(run_hosts_cli, {"add", "new", "--host", "new.lan", "--user", "me", "--port", "2023"});
    REQUIRE(a.rc == 0);
    auto h = resolve_host("new", ConfigPaths{});
    REQUIRE(h);
    CHECK(h->user == "me");  // first value wins: a block after "Host *" would never be used
    CHECK(h->port == 2023);
    CHECK(read_text(env.app_hosts()) ==
          "Host old\n    HostName old.lan\n\n"
          "Host new\n    HostName new.lan\n    User me\n    Port 2023\n\n"
          "Host *\n    User everyone\n    Port 2200\n");
    auto r = call(run_hosts_cli, {"rm", "new"});
    CHECK(r.rc == 0);
    CHECK(read_text(env.app_hosts()) == "Host old\n    HostName old.lan\n\nHost *\n    User everyone\n    Port 2200\n");
}

TEST_CASE("remote hosts cli: usage errors exit 2 with the usage on stderr - --help exits 0", "[remote][hosts][cli]") {
    TempEnv env;
    const std::vector<std::vector<std::string>> hosts_usage = {
        {},
        {"bogus"},
        {"list", "extra"},
        {"add"},
        {"add", "--host", "x"},
        {"add", "x"},
        {"add", "x", "--host"},
        {"add", "x", "--host", "h", "--colour", "red"},
        {"add", "x", "--host", "h", "--port", "abc"},
        {"add", "x", "--host", "h", "--port", "70000"},
        {"add", "two words", "--host", "h"},
        {"add", "web*", "--host", "h"},
        {"add", "x", "--host", "bad host"},
        {"rm"},
        {"rm", "a", "b"},
        {"test"},
        {"test", "a", "b"},
    };
    for (const auto& args : hosts_usage) {
        std::string joined;
        for (const auto& a : args) joined += " [" + a + "]";
        INFO("hosts" << joined);
        auto c = call(run_hosts_cli, args);
        CHECK(c.rc == 2);
        CHECK(c.out == "");
        CHECK_FALSE(c.err.empty());
    }
    CHECK_FALSE(fs::exists(env.app_hosts()));  // nothing was written by any of them
    auto help = call(run_hosts_cli, {"--help"});
    CHECK(help.rc == 0);
    CHECK(starts_with(help.out, "usage: sigmaops hosts COMMAND [OPTIONS]\n"));
    CHECK(help.out.find("  add ") != std::string::npos);
    CHECK(help.err == "");
    CHECK(starts_with(call(run_hosts_cli, {}).err, "usage: sigmaops hosts COMMAND [OPTIONS]\n"));
    auto add_help = call(run_hosts_cli, {"add", "--help"});
    CHECK(starts_with(add_help.out, "usage: sigmaops hosts add NAME --hostname HOST"));

    const std::vector<std::vector<std::string>> run_usage = {
        {},
        {"--hosts", "a"},
        {"--hosts", "a", "--"},
        {"--", "true"},
        {"--hosts", ",", "--", "true"},
        {"--hosts"},
        {"--hosts", "a", "--parallel", "0", "--", "true"},
        {"--hosts", "a", "--parallel", "x", "--", "true"},
        {"--hosts", "a", "--timeout", "-1", "--", "true"},
        {"--hosts", "a", "--timeout", "1s", "--", "true"},
        {"--hosts", "a", "--bogus", "1", "--", "true"},
        {"--hosts", "a", "true"},
    };
    for (const auto& args : run_usage) {
        std::string joined;
        for (const auto& a : args) joined += " [" + a + "]";
        INFO("run" << joined);
        auto c = call(run_exec_cli, args);
        CHECK(c.rc == 2);
        CHECK(c.out == "");
        CHECK_FALSE(c.err.empty());
    }
    // The bad values' messages say what is accepted.
    CHECK(call(run_hosts_cli, {"add", "x", "--host", "h", "--port", "70000"}).err ==
          "sigmaops: --port must be between 1 and 65535, got '70000'\nTry 'sigmaops hosts add --help'.\n");
    CHECK(call(run_hosts_cli, {"add", "x", "--host", "h", "--port", "abc"}).err ==
          "sigmaops: --port expects an integer, got 'abc'\nTry 'sigmaops hosts add --help'.\n");
    CHECK(call(run_exec_cli, {"--hosts", "a", "--parallel", "0", "--", "true"}).err ==
          "sigmaops: --parallel must be between 1 and 10000, got '0'\nTry 'sigmaops run --help'.\n");
    CHECK(call(run_exec_cli, {"--hosts", "a", "--timeout", "1s", "--", "true"}).err ==
          "sigmaops: --timeout expects an integer, got '1s'\nTry 'sigmaops run --help'.\n");
    CHECK(call(run_exec_cli, {"--hosts", "a", "true"}).err ==
          "sigmaops: the command goes after --: sigmaops run --hosts H1,H2 -- COMMAND\nTry 'sigmaops run --help'.\n");
    auto rhelp = call(run_exec_cli, {"--help"});
    CHECK(rhelp.rc == 0);
    CHECK(starts_with(rhelp.out, "usage: sigmaops run --hosts"));
    CHECK(starts_with(call(run_exec_cli, {}).err, "sigmaops: --hosts H1,H2,... is required"));
}

// ---------------------------------------------------------------------------------------------
// Against the real sshd

namespace {

std::string fingerprint_of(const std::string& pub_file, const std::string& tmp) {
    const std::string log = tmp + "/fp.txt";
    REQUIRE(sshd_test::run({"ssh-keygen", "-l", "-E", "sha256", "-f", pub_file}, log) == 0);
    std::istringstream in(read_text(log));
    std::string bits, fp;
    in >> bits >> fp;
    REQUIRE(starts_with(fp, "SHA256:"));
    return fp;
}

}  // namespace

TEST_CASE("remote hosts cli: hosts test and run --hosts against a real sshd, one host refused", "[remote][hosts][cli][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    TempEnv env;
    SshdFixture f(/*with_pam=*/false);  // key auth only
    write_text(env.home + "/.ssh/known_hosts", read_text(f.known_hosts));
    const std::string port = std::to_string(f.port);
    const std::string closed = std::to_string(sshd_test::free_port());
    REQUIRE(call(run_hosts_cli, {"add", "good", "--host", "127.0.0.1", "--port", port, "--user", "root", "--identity", f.key}).rc == 0);
    REQUIRE(call(run_hosts_cli, {"add", "good2", "--host", "127.0.0.1", "--port", port, "--user", "root", "--identity", f.key}).rc == 0);
    REQUIRE(call(run_hosts_cli, {"add", "refused", "--host", "127.0.0.1", "--port", closed, "--user", "root", "--identity", f.key}).rc == 0);
    REQUIRE(call(run_hosts_cli, {"add", "badkey", "--host", "127.0.0.1", "--port", port, "--user", "root", "--identity", f.wrong_key}).rc == 0);
    const std::string fp = fingerprint_of(f.dir + "/host_ed25519.pub", env.dir);
    const std::string refused_msg = "refused (127.0.0.1:" + closed + "): connection refused (is sshd running on port " + closed + "?)";

    SECTION("hosts test: ok, refused, auth failure") {
        auto ok = call_detached(run_hosts_cli, {"test", "good"}, env.dir);
        INFO(ok.err);
        CHECK(ok.rc == 0);
        CHECK(ok.out == "good: ok (host key " + fp + ")\n");
        CHECK(ok.err == "");

        auto ref = call_detached(run_hosts_cli, {"test", "refused"}, env.dir);
        CHECK(ref.rc == 1);
        CHECK(ref.out == "");
        CHECK(starts_with(ref.err, "sigmaops: " + refused_msg));
        CHECK(lines(ref.err).size() == 1);

        auto auth = call_detached(run_hosts_cli, {"test", "badkey"}, env.dir);
        CHECK(auth.rc == 1);
        CHECK(auth.out == "");
        CHECK(starts_with(auth.err, "sigmaops: authentication failed for root@badkey: "));
        CHECK_THAT(auth.err, Catch::Contains("agent: no ssh-agent (SSH_AUTH_SOCK is not set)"));
        CHECK_THAT(auth.err, Catch::Contains("publickey: server refused key " + f.wrong_key));
        CHECK_THAT(auth.err, Catch::Contains("password: cancelled by the user"));  // no terminal: nothing asked
    }
    SECTION("run --hosts: per-host results in the order given, the refused one among them") {
        auto r = call_detached(run_exec_cli,
                               {"--hosts", "good,refused,badkey,good2", "--parallel", "4", "--",
                                "echo hello from $(whoami);", "echo warning >&2"},
                               env.dir);
        CHECK(r.rc == 1);
        auto out = lines(r.out);
        INFO(r.out);
        REQUIRE(out.size() == 6);
        CHECK(out[0] == "=== good: exit 0");
        CHECK(out[1] == "hello from root");
        CHECK(starts_with(out[2], "=== refused: error: " + refused_msg));
        CHECK(starts_with(out[3], "=== badkey: error: authentication failed for root@badkey: "));
        CHECK(out[4] == "=== good2: exit 0");
        CHECK(out[5] == "hello from root");
        CHECK(r.err == "[good] warning\n[good2] warning\n");
    }
    SECTION("run --hosts: all ok exits 0; a failing command, a timeout exit 1") {
        auto ok = call_detached(run_exec_cli, {"--hosts", "good,good2", "--", "true"}, env.dir);
        CHECK(ok.rc == 0);
        CHECK(ok.out == "=== good: exit 0\n=== good2: exit 0\n");
        CHECK(ok.err == "");

        auto fail = call_detached(run_exec_cli, {"--hosts", "good", "--", "printf x; exit 3"}, env.dir);
        CHECK(fail.rc == 1);
        CHECK(fail.out == "=== good: exit 3\nx\n");

        auto t0 = std::chrono::steady_clock::now();
        auto slow = call_detached(run_exec_cli, {"--hosts", "good", "--timeout", "1", "--", "sleep 30"}, env.dir);
        CHECK(slow.rc == 1);
        CHECK(slow.out == "=== good: timed out\n");
        CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    }
    SECTION("changed host key: refused with the alarm, through both commands") {
        sshd_test::run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", env.dir + "/other_host"});
        write_text(env.home + "/.ssh/known_hosts", "[127.0.0.1]:" + port + " " + read_text(env.dir + "/other_host.pub"));
        auto t = call_detached(run_hosts_cli, {"test", "good"}, env.dir);
        CHECK(t.rc == 1);
        CHECK(t.out == "");
        CHECK_THAT(t.err, Catch::Contains("REMOTE HOST IDENTIFICATION HAS CHANGED"));
        CHECK_THAT(t.err, Catch::Contains(fp));
        CHECK_THAT(t.err, Catch::Contains("connection to good refused"));
        CHECK(t.fd2 == "");  // the alarm is printed once, as the error, not again by the prompter
        auto r = call_detached(run_exec_cli, {"--hosts", "good", "--", "true"}, env.dir);
        CHECK(r.rc == 1);
        CHECK(starts_with(r.out, "=== good: error: @@@"));
        CHECK_THAT(r.out, Catch::Contains("REMOTE HOST IDENTIFICATION HAS CHANGED"));
        CHECK(r.fd2 == "");
        CHECK_FALSE(fs::exists(env.xdg + "/sigmaops/known_hosts"));  // nothing pinned
    }
}

// ---------------------------------------------------------------------------------------------
// DNS failure, without leaving the machine.
//
// glibc does not treat the reserved .invalid TLD specially: with "hosts: files dns" it sends the
// query to the configured name server. So the lookup runs in a child process that (as root) gets
// its own network namespace (no interface but a down loopback: no packet can leave) and its own
// mount namespace in which /etc/nsswitch.conf says "hosts: files". Without root, the case runs
// only where nsswitch.conf already resolves host names locally; otherwise it is skipped.

namespace {

// The sources of the "hosts:" line of /etc/nsswitch.conf.
std::vector<std::string> nss_host_sources() {
    std::istringstream in(read_text("/etc/nsswitch.conf"));
    for (std::string line; std::getline(in, line);) {
        std::istringstream l(line);
        std::string key;
        l >> key;
        if (key != "hosts:") continue;
        std::vector<std::string> v;
        for (std::string w; l >> w;) {
            if (w[0] == '#') break;
            if (w[0] != '[') v.push_back(w);
        }
        return v;
    }
    return {"dns"};  // glibc's default when the line is missing
}

bool nss_hosts_local_only() {
    for (const auto& s : nss_host_sources())
        if (s != "files" && s != "myhostname") return false;
    return true;
}

// In the child: isolate (when needed), then check that the .invalid name fails fast and locally.
int isolate_dns(const std::string& tmp, std::string& why) {
    if (!nss_hosts_local_only()) {
        if (geteuid() != 0) { why = "not root"; return 77; }
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) { why = std::string("unshare: ") + strerror(errno); return 77; }
        // Private mounts first, or the bind mount below would propagate to the whole machine.
        if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) { why = "cannot make mounts private"; return 77; }
        write_text(tmp + "/nsswitch.conf", "hosts: files\n");
        if (mount((tmp + "/nsswitch.conf").c_str(), "/etc/nsswitch.conf", nullptr, MS_BIND, nullptr) != 0) {
            why = std::string("bind mount: ") + strerror(errno);
            return 77;
        }
        if (!nss_hosts_local_only()) { why = "nsswitch.conf override not visible"; return 77; }
    }
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    auto t0 = std::chrono::steady_clock::now();
    int rc = getaddrinfo("probe.sigmaops.invalid", nullptr, &hints, &res);
    auto took = std::chrono::steady_clock::now() - t0;
    if (res) freeaddrinfo(res);
    if (rc != EAI_NONAME) { why = std::string("getaddrinfo did not say 'unknown name': ") + gai_strerror(rc); return 78; }
    if (took > 1s) { why = "getaddrinfo took more than 1 s (would it ask a server?)"; return 78; }
    return 0;
}

}  // namespace

TEST_CASE("remote hosts cli: a name that does not resolve gives a clear DNS error", "[remote][hosts][cli]") {
    TempEnv env;
    if (!nss_hosts_local_only() && geteuid() != 0) {
        std::string srcs;
        for (const auto& s : nss_host_sources()) srcs += " " + s;
        WARN("skipped (DNS case): /etc/nsswitch.conf has 'hosts:" << srcs
             << "', so resolving a .invalid name would query a DNS server; run as root to isolate it");
        std::puts("skipped: DNS case would leave the machine");
        return;
    }
    REQUIRE(call(run_hosts_cli, {"add", "nodns", "--host", "probe.sigmaops.invalid", "--user", "root"}).rc == 0);
    auto prep = [&](std::string& why) { return isolate_dns(env.dir, why); };
    const std::string msg = "sigmaops: nodns (probe.sigmaops.invalid:22): cannot resolve host name 'probe.sigmaops.invalid': "
                            "Name or service not known\n";

    auto t0 = std::chrono::steady_clock::now();
    auto t = call_detached(run_hosts_cli, {"test", "nodns"}, env.dir, prep);
    if (t.rc == 77) {
        WARN("skipped (DNS case): cannot isolate the lookup from the network here: " << t.err);
        return;
    }
    INFO(t.err);
    REQUIRE(t.rc != 78);
    CHECK(t.rc == 1);
    CHECK(t.out == "");
    CHECK(t.err == msg);
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);

    auto r = call_detached(run_exec_cli, {"--hosts", "nodns", "--", "true"}, env.dir, prep);
    CHECK(r.rc == 1);
    CHECK(r.out == "=== " + msg.substr(10, 5) + ": error: " + msg.substr(10));
    CHECK(r.err == "");
}
