// The target context (agents/commands context.cpp): the read-only probe on this machine and over
// the test suite's real sshd, the cache in a real SQLite history file (a second probe within the
// TTL runs nothing: execs counted), garbage probe output, and candidates marked and ranked below
// when their program is missing.
#include <catch2/catch.hpp>

#include "commands/commands.h"
#include "commands_test_util.h"
#include "sshd_fixture.h"

#include <fstream>

using namespace commands_test;
namespace remote = sigmaops::remote;
namespace history = sigmaops::history;

namespace {

// The real exec, counted.
struct Counted {
    explicit Counted(ProbeExec e) : inner(std::move(e)) {}
    ProbeExec inner;
    int n = 0;
    std::vector<std::string> scripts;
    ProbeExec exec() {
        return [this](const std::string& s) {
            ++n;
            scripts.push_back(s);
            return inner(s);
        };
    }
};

std::string os_release_id() {
    std::ifstream in("/etc/os-release");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("ID=", 0) == 0) {
            std::string v = line.substr(3);
            if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
            return v;
        }
    return {};
}

} // namespace

TEST_CASE("context: local probe finds bash and not a made-up program, cached within the TTL",
          "[commands][context]") {
    TempDir dir;
    auto db = history::History::open(dir / "history.db");
    REQUIRE(db);
    Counted counted(local_probe());
    auto c = target_context(counted.exec(), db->get(), "", {"bash", "sigmaops-no-such-program-7f3", "cd"});
    REQUIRE(c);
    CHECK(counted.n == 1);
    CHECK_FALSE(c->from_cache);
    CHECK(c->has_program("bash") == std::optional<bool>(true));
    CHECK(c->has_program("sigmaops-no-such-program-7f3") == std::optional<bool>(false));
    CHECK(c->has_program("cd") == std::optional<bool>(true));      // a builtin: not probed
    CHECK_FALSE(c->has_program("ls").has_value());                 // not asked about
    CHECK(c->os_id == os_release_id());
    CHECK_FALSE(c->shell.empty());
    CHECK_FALSE(c->init.empty());
    if (fs::exists("/usr/bin/apt") || fs::exists("/bin/apt"))
        CHECK(std::find(c->package_managers.begin(), c->package_managers.end(), "apt") != c->package_managers.end());
    CHECK(c->probed_ms > 0);

    // Again within the TTL: nothing runs.
    auto again = target_context(counted.exec(), db->get(), "", {"bash", "sigmaops-no-such-program-7f3"});
    REQUIRE(again);
    CHECK(counted.n == 1);
    CHECK(again->from_cache);
    CHECK(again->os_id == c->os_id);
    CHECK(again->probed_ms == c->probed_ms);
    CHECK(again->has_program("sigmaops-no-such-program-7f3") == std::optional<bool>(false));

    // A new program: one exec, for that program only (the facts stay cached).
    auto more = target_context(counted.exec(), db->get(), "", {"bash", "ls"});
    REQUIRE(more);
    CHECK(counted.n == 2);
    CHECK(counted.scripts.back().find("os-release") == std::string::npos);
    CHECK(more->has_program("ls") == std::optional<bool>(true));
    CHECK(more->has_program("bash") == std::optional<bool>(true));

    // The record lives under its own key, apart from the config agent's facts of the host.
    auto rec = (*db)->host_facts(context_cache_key(""));
    REQUIRE(rec);
    CHECK(rec->facts_json.find("\"ls\":true") != std::string::npos);

    // Past the TTL (0 s): probed again.
    ContextOptions stale;
    stale.ttl = std::chrono::seconds(0);
    auto re = target_context(counted.exec(), db->get(), "", {"bash"}, stale);
    REQUIRE(re);
    CHECK(counted.n == 3);
    CHECK_FALSE(re->from_cache);

    // A name that is not a plain program name is never put in the script.
    const std::string s = context_script({"a'b; rm -rf /", "$(x)", "ok-prog"});
    CHECK(s.find("rm -rf") == std::string::npos);
    CHECK(s.find("$(x)") == std::string::npos);
    CHECK(s.find("'ok-prog'") != std::string::npos);
}

TEST_CASE("context: garbage probe output and an unreadable cache record", "[commands][context]") {
    static const char junk[] = "\x1b[31mjunk\nmore junk\n\0\x01\x02";
    TargetContext g = parse_context(std::string_view(junk, sizeof junk - 1));
    CHECK(g.programs.empty());
    CHECK(g.os_id.empty());
    CHECK_FALSE(g.notes.empty());
    const std::string bytes("@@os\nID=\"debian\"\nVERSION_ID=\"12\"\n@@init\n\x01\x02\n@@programs\n1 ls\nnot a line\n2 x\n0 nope\n");
    TargetContext p = parse_context(bytes);
    CHECK(p.os_id == "debian");
    CHECK(p.os_version_id == "12");
    CHECK(p.has_program("ls") == std::optional<bool>(true));
    CHECK(p.has_program("nope") == std::optional<bool>(false));
    CHECK_FALSE(p.has_program("x").has_value());
    CHECK(std::any_of(p.notes.begin(), p.notes.end(), [](const std::string& n) { return n.find("ended early") != std::string::npos; }));
    CHECK(std::any_of(p.notes.begin(), p.notes.end(), [](const std::string& n) { return n.find("not understood") != std::string::npos; }));

    // A probe that prints garbage: a context with notes, not a failure; a failing exec: its error.
    auto c = target_context([](const std::string&) -> sigmaops::Expected<std::string> { return std::string("\xff\xfe garbage"); },
                            nullptr, "", {"bash"});
    REQUIRE(c);
    CHECK_FALSE(c->has_program("bash").has_value());
    CHECK_FALSE(c->notes.empty());

    TempDir dir;
    auto db = history::History::open(dir / "history.db");
    REQUIRE(db);
    REQUIRE((*db)->set_host_facts(context_cache_key(""), "{not json"));
    Counted counted(local_probe());
    auto fixed = target_context(counted.exec(), db->get(), "", {"bash"});
    REQUIRE(fixed);
    CHECK(counted.n == 1);                                 // probed again, record replaced
    CHECK(fixed->has_program("bash") == std::optional<bool>(true));
    auto rec = (*db)->host_facts(context_cache_key(""));
    REQUIRE(rec);
    CHECK(rec->facts_json.find("commands.context/1") != std::string::npos);
}

TEST_CASE("context: candidates naming a missing program are marked and ranked below", "[commands][context]") {
    Counted counted(local_probe());
    Proposals all;
    for (const char* t : {"find . -name '*.cpp' | keep-header -- ls -l", "ls -l", "sigmaops-nope-1 x", "du -sh ."}) {
        Candidate k;
        k.proposal = make_proposal(t, "", Origin::Model);
        all.candidates.push_back(k);
    }
    auto c = target_context(counted.exec(), nullptr, "", programs_of(all));
    REQUIRE(c);
    mark_missing_programs(all, *c);
    REQUIRE(all.candidates.size() == 4);
    CHECK(all.candidates[0].proposal.text == "ls -l");
    CHECK(all.candidates[1].proposal.text == "du -sh .");
    CHECK(all.candidates[2].missing_programs == std::vector<std::string>{"keep-header"});
    CHECK(all.candidates[3].missing_programs == std::vector<std::string>{"sigmaops-nope-1"});
}

namespace {
// A key-authenticated session to the fixture's sshd as root.
std::unique_ptr<remote::SshSession> connect_root(const sshd_test::SshdFixture& sshd) {
    remote::HostProfile p;
    p.name = "ctxhost";
    p.hostname = "127.0.0.1";
    p.port = sshd.port;
    p.user = "root";
    p.identity_files = {sshd.key};
    remote::ConnectOptions o;
    o.paths.ssh_config = sshd.dir + "/no_ssh_config";
    o.paths.app_hosts = sshd.dir + "/hosts.conf";
    o.paths.known_hosts = sshd.known_hosts;
    o.paths.app_known_hosts = sshd.app_known_hosts;
    o.auth_methods = {remote::AuthMethod::PublicKey};
    o.agent_socket = sshd.dir + "/no-agent.sock";
    auto s = remote::SshSession::connect(p, o);
    INFO((s ? "" : s.error().message));
    REQUIRE(s);
    return std::move(*s);
}
} // namespace

TEST_CASE("context: the host's man pages over the real sshd feed the flag check", "[commands][context][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    if (sshd_test::run({"sh", "-c", "man -w tar"}) != 0) {
        std::puts("skipped: no man page for tar on this machine (the fixture's host)");
        return;
    }
    sshd_test::SshdFixture sshd(false);
    auto s = connect_root(sshd);
    sigmaops::knowledge::DocProvider docs = ssh_docs(*s);
    const std::optional<std::string> tar = docs("tar");
    REQUIRE(tar);
    CHECK(tar->find("--extract") != std::string::npos);
    CHECK_FALSE(docs("sigmaops-no-such-program-7f3"));
    CHECK_FALSE(docs("tar; touch /tmp/sigmaops-ssh-docs-injected"));   // not a bare name: nothing runs
    CHECK_FALSE(std::filesystem::exists("/tmp/sigmaops-ssh-docs-injected"));
    // The flag check reads the host's page: a real tar flag passes, an invented one is reported.
    sigmaops::knowledge::DocCache cache(docs, nullptr);
    auto ok = sigmaops::knowledge::check_flags("tar --extract --file a.tar", cache);
    REQUIRE(ok);
    CHECK(ok->unknown.empty());
    CHECK(ok->undocumented.empty());
    auto bad = sigmaops::knowledge::check_flags("tar --frobnicate -f a.tar", cache);
    REQUIRE(bad);
    REQUIRE(bad->unknown.size() == 1);
    CHECK_FALSE(bad->unknown[0].tldr_only);
}

TEST_CASE("context: over the real sshd, cached per host", "[commands][context][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    sshd_test::SshdFixture sshd(false);
    auto s = connect_root(sshd);
    auto db = history::History::open(sshd.dir + "/history.db");
    REQUIRE(db);
    Counted counted(ssh_probe(*s));
    auto c = target_context(counted.exec(), db->get(), "ctxhost", {"sshd", "sh", "sigmaops-no-such-program-7f3"});
    INFO((c ? "" : c.error().message));
    REQUIRE(c);
    CHECK(counted.n == 1);
    CHECK(c->host == "ctxhost");
    CHECK(c->os_id == os_release_id());
    CHECK(c->shell.find("sh") != std::string::npos);       // root's login shell
    CHECK(c->has_program("sh") == std::optional<bool>(true));
    CHECK(c->has_program("sigmaops-no-such-program-7f3") == std::optional<bool>(false));
    auto again = target_context(counted.exec(), db->get(), "ctxhost", {"sh"});
    REQUIRE(again);
    CHECK(counted.n == 1);
    CHECK(again->from_cache);
    // Another host's key is not this one's.
    CHECK_FALSE((*db)->host_facts(context_cache_key("otherhost")));
}
