// tests/config/test_config_facts.cpp - host facts: the parser on outputs captured from real
// machines (tests/fixtures/facts: this Debian 12 container; an old CentOS 7 style host with
// OpenSSH 7.4's `sshd -V` usage text, no ss, a garbled disk line and a cut-off end), garbage in
// every section, and the whole path over a REAL sshd: one exec, the result cached in a REAL
// history file and reused within the TTL.
#include <catch2/catch.hpp>

#include "config/config.h"
#include "history/history.h"
#include "remote/remote.h"
#include "sshd_fixture.h"

#include <algorithm>
#include <filesystem>
#include <thread>
#include <fstream>
#include <sstream>

using namespace sigmaops;
using namespace sigmaops::config;

namespace {
std::string fixture(const std::string& name) {
    std::ifstream in(std::string(SIGMAOPS_FIXTURES) + "/facts/" + name, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}
bool any_note(const HostFacts& f, const std::string& part) {
    for (const auto& n : f.notes)
        if (n.find(part) != std::string::npos) return true;
    return false;
}
} // namespace

TEST_CASE("facts: Debian 12 container output", "[config][facts]") {
    HostFacts f = parse_facts(fixture("debian12-container.txt"));
    CHECK(f.cpus == 2);
    CHECK(f.mem_kb == 24683772);
    REQUIRE(f.disks.size() == 1);  // loop and zram devices left out
    CHECK(f.disks[0].name == "vda");
    CHECK(f.disks[0].rotational);
    CHECK(f.disks[0].size_bytes == 536870912ull * 512);
    CHECK(f.any_rotational());
    CHECK(f.kernel == "Linux 6.18.44-fc-v1300");
    CHECK(f.os_id == "debian");
    CHECK(f.os_version_id == "12");
    CHECK(f.os_pretty == "Debian GNU/Linux 12 (bookworm)");
    CHECK(f.versions.at("openssh") == "9.2");
    CHECK(f.versions.at("nginx") == "1.22.1");
    CHECK(f.versions.at("postgresql") == "15.18");
    CHECK(f.versions.at("redis") == "7.0.15");
    CHECK(f.nofile_soft == 20000);
    CHECK(f.sysctl.at("net.core.somaxconn") == "4096");
    CHECK(f.sysctl.at("net.ipv4.ip_local_port_range") == "32768 60999");
    CHECK(f.listening_ports == std::vector<int>{2024});
    CHECK(f.service_manager == "none");
    CHECK(f.notes.empty());
}

TEST_CASE("facts: an old host without ss and OpenSSH 7.4 and a cut-off output", "[config][facts]") {
    HostFacts f = parse_facts(fixture("old-openssh-no-ss.txt"));
    CHECK(f.cpus == 16);
    REQUIRE(f.disks.size() == 2);
    CHECK(f.disks[0].rotational);
    CHECK_FALSE(f.disks[1].rotational);
    CHECK(any_note(f, "sdc"));
    CHECK(f.versions.at("openssh") == "7.4p1");
    CHECK(f.versions.count("nginx") == 0);
    CHECK(f.os_id == "centos");
    CHECK(f.nofile_soft == 1024);
    CHECK(f.nofile_hard == 4096);
    CHECK(f.sysctl.at("net.ipv4.ip_local_port_range") == "32768 60999");  // the tab became one space
    CHECK(f.listening_ports == std::vector<int>{22, 5432});                  // LISTEN (0A) rows only
    CHECK(f.service_manager == "systemd");
    CHECK(any_note(f, "cut short"));
}

TEST_CASE("facts: garbage never fails and it becomes notes", "[config][facts]") {
    HostFacts f = parse_facts("@@nproc\nmany\n@@meminfo\nMemTotal: lots kB\n@@os-release\nbroken line\n@@ports\nLISTEN x y z:99999\n");
    CHECK(f.cpus == 0);
    CHECK(f.mem_kb == 0);
    CHECK(f.listening_ports.empty());
    CHECK(any_note(f, "CPU count"));
    CHECK(any_note(f, "memory"));
    CHECK(any_note(f, "distribution"));
    CHECK(any_note(f, "no 'kernel' section"));
    CHECK(f.service_manager == "none");
    HostFacts empty = parse_facts("");
    CHECK(any_note(empty, "cut short"));
    auto round = facts_from_json(facts_json(parse_facts(fixture("debian12-container.txt"))));
    REQUIRE(round);
    CHECK(facts_json(*round) == facts_json(parse_facts(fixture("debian12-container.txt"))));
    auto bad = facts_from_json("{\"cpus\": \"x\"}");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == ErrorCode::BadFile);
}

TEST_CASE("facts: over a real sshd and cached in history within the TTL", "[config][facts][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    sshd_test::SshdFixture sshd(false);
    remote::HostProfile p;
    p.name = "testhost";
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
    REQUIRE(s);
    auto h = history::History::open(sshd.dir + "/history.db");
    REQUIRE(h);
    auto f = gather_facts(**s, h->get(), "testhost");
    INFO((f ? "" : f.error().message));
    REQUIRE(f);
    CHECK_FALSE(f->from_cache);
    CHECK(f->cpus == static_cast<int>(std::thread::hardware_concurrency()));
    CHECK(f->mem_kb > 0);
    CHECK(!f->kernel.empty());
    CHECK(f->versions.count("openssh") == 1);
    CHECK(std::find(f->listening_ports.begin(), f->listening_ports.end(), sshd.port) != f->listening_ports.end());
    CHECK((f->service_manager == "none" || f->service_manager == "systemd"));
    auto again = gather_facts(**s, h->get(), "testhost");
    REQUIRE(again);
    CHECK(again->from_cache);
    CHECK(again->collected_ms == f->collected_ms);
    FactsOptions fresh;
    fresh.ttl = std::chrono::seconds(0);
    auto refreshed = gather_facts(**s, h->get(), "testhost", fresh);
    REQUIRE(refreshed);
    CHECK_FALSE(refreshed->from_cache);
    auto stored = (*h)->host_facts("testhost");
    REQUIRE(stored);
    CHECK(stored->collected_ms == refreshed->collected_ms);
}
