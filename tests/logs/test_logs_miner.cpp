// test_logs_miner.cpp - stage 3 of agents/logs: masking, grouping, parameters, stable ids, and
// bounded behaviour on hostile input.
#include "logs_test_util.h"

#include <catch2/catch.hpp>

using namespace sigmaops;

TEST_CASE("values are masked: numbers, IPs, hex, paths, UUIDs, durations, dates", "[logs][miner]") {
    for (const char* v : {"42", "-7", "3.14", "10.0.0.1", "10.0.0.1:8080", "[::1]:22", "fe80::1", "0x7ffd1234", "deadbeefcafe",
                          "/var/log/syslog", "http://example.com/a", "550e8400-e29b-41d4-a716-446655440000", "15ms", "2.5s",
                          "3.5GB", "12:30:01", "2024-03-01", "blk_-1608999687919862906", "Jun", "Fri"})
        CHECK(logs::is_variable_token(v));
    for (const char* w : {"error", "Failed", "password", "for", "[preauth]", "ssh:", "(java)", "-"})
        CHECK_FALSE(logs::is_variable_token(w));
    CHECK(logs::tokenize("uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4") ==
          std::vector<std::string>{"uid=", "0", "euid=", "0", "tty=", "ssh", "ruser=", "rhost=", "1.2.3.4"});
}

TEST_CASE("messages of one event share a template, other events do not", "[logs][miner]") {
    logs::MinerOptions drain_like;
    drain_like.max_word_values = 0;   // merge a differing word at once, as Drain does
    logs::TemplateMiner m(drain_like);
    const auto a1 = m.add("Failed password for root from 203.0.113.9 port 52144 ssh2");
    const auto a2 = m.add("Failed password for admin from 198.51.100.7 port 40022 ssh2");
    const auto b1 = m.add("Accepted publickey for deploy from 10.0.0.2 port 50000 ssh2");
    const auto c1 = m.add("Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]");
    const auto c2 = m.add("Received disconnect from 119.137.62.142: 11: disconnected by user");
    const auto d1 = m.add("Out of memory: Killed process 4242 (java) total-vm:8123456kB");
    const auto d2 = m.add("Out of memory: Killed process 77 (java) total-vm:1024kB");
    CHECK(a1.created);
    CHECK(a2.template_id == a1.template_id);
    CHECK(a2.changed);
    CHECK(b1.template_id != a1.template_id);
    CHECK(c2.template_id != c1.template_id);   // half the words differ: another event
    CHECK(d2.template_id == d1.template_id);
    CHECK(m.get(a1.template_id).text == "Failed password for <*> from <*> port <*> ssh2");
    CHECK(m.get(a1.template_id).count == 2);
    CHECK(m.get(d1.template_id).text == "Out of memory: Killed process <*> (java) <*>");
    std::vector<std::string> params;
    const auto a3 = m.add("Failed password for git from 192.0.2.1 port 22 ssh2", &params);
    CHECK(a3.template_id == a1.template_id);
    CHECK(params == std::vector<std::string>{"git", "192.0.2.1", "22"});
}

TEST_CASE("word families: a few words stay apart, a fourth merges them all", "[logs][miner]") {
    logs::TemplateMiner m;   // max_word_values = 3
    const auto bytes = m.add("Block broadcast_9 stored as bytes in memory (estimated size 5.2 KB, free 5.2 KB)");
    const auto values = m.add("Block broadcast_3 stored as values in memory (estimated size 8.8 KB, free 14.0 KB)");
    const auto bytes2 = m.add("Block broadcast_4 stored as bytes in memory (estimated size 1.2 KB, free 2.2 KB)");
    CHECK(values.template_id != bytes.template_id);      // two words: two events
    CHECK(bytes2.template_id == bytes.template_id);
    CHECK(m.resolve(values.template_id) == values.template_id);

    const auto root = m.add("Failed password for root from 203.0.113.9 port 52144 ssh2");
    const auto admin = m.add("Failed password for admin from 198.51.100.7 port 40022 ssh2");
    const auto git = m.add("Failed password for git from 192.0.2.1 port 22 ssh2");
    CHECK(admin.template_id != root.template_id);
    CHECK(git.template_id != admin.template_id);
    std::vector<std::string> params;
    const auto oracle = m.add("Failed password for oracle from 192.0.2.7 port 23 ssh2", &params);   // a fourth user
    CHECK(oracle.template_id == root.template_id);
    CHECK(oracle.changed);
    CHECK(m.resolve(admin.template_id) == root.template_id);
    CHECK(m.resolve(git.template_id) == root.template_id);
    CHECK(m.get(admin.template_id).id == root.template_id);
    CHECK(m.get(root.template_id).text == "Failed password for <*> from <*> port <*> ssh2");
    CHECK(m.get(root.template_id).count == 4);
    CHECK(params == std::vector<std::string>{"oracle", "192.0.2.7", "23"});
    CHECK(m.add("Failed password for test from 192.0.2.8 port 24 ssh2").template_id == root.template_id);
    CHECK(m.add("Failed password for admin from 192.0.2.9 port 25 ssh2").template_id == root.template_id);
}

TEST_CASE("key=value values are parameters and the template keeps the key", "[logs][miner]") {
    logs::TemplateMiner m;
    const auto a = m.add("authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.188.10.180");
    const auto b = m.add("authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=61.197.203.243");
    CHECK(a.template_id == b.template_id);
    CHECK(m.get(a.template_id).text == "authentication failure; logname= uid=<*> euid=<*> tty=ssh ruser= rhost=<*>");
}

TEST_CASE("a word glued before '(' stays a word when the parentheses hold a value", "[logs][miner]") {
    logs::TemplateMiner m;
    const auto a = m.add("session opened for user cyrus by (uid=0)");
    const auto b = m.add("session opened for user cyrus by (uid=1)");
    const auto c = m.add("session opened for user cyrus by LOGIN(uid=0)");
    CHECK(a.template_id == b.template_id);
    CHECK(c.template_id != a.template_id);
    CHECK(m.get(c.template_id).text == "session opened for user cyrus by LOGIN(<*>");
    CHECK(logs::tokenize("by LOGIN(uid=0)") == std::vector<std::string>{"by", "LOGIN(", "uid=0)"});
}

TEST_CASE("ids are stable: the same input gives the same ids and templates", "[logs][miner]") {
    std::vector<std::string> msgs;
    for (int i = 0; i < 500; ++i)
        msgs.push_back(i % 3 ? "Started session " + std::to_string(i) + " of user u" + std::to_string(i % 7)
                             : "Connection closed by " + std::to_string(i) + ".0.0.1 port " + std::to_string(1000 + i));
    logs::TemplateMiner m1, m2;
    for (const auto& s : msgs) CHECK(m1.add(s).template_id == m2.add(s).template_id);
    REQUIRE(m1.size() == m2.size());
    for (std::uint32_t id = 1; id <= m1.size(); ++id) CHECK(m1.get(id).text == m2.get(id).text);
    CHECK(m1.size() == 2);
}

TEST_CASE("a template of values does not swallow every message of its length", "[logs][miner]") {
    logs::TemplateMiner m;
    const auto v = m.add("lr:00004ed0 cr:28244842 xer:20000002 ctr:00086000");
    const auto w = m.add("iar 003a90fc dear 00b360e8");
    const auto x = m.add("Machine State Register: 0x0002f900");
    CHECK(v.template_id != w.template_id);
    CHECK(w.template_id != x.template_id);
}

TEST_CASE("the miner stays bounded on hostile input", "[logs][miner][hostile]") {
    logs::MinerOptions o;
    o.max_templates = 100;
    o.max_tokens = 64;
    logs::TemplateMiner m(o);
    std::uint32_t x = 1;
    for (int i = 0; i < 5000; ++i) {
        std::string s;
        for (int k = 0; k < 1 + i % 200; ++k) {
            x = x * 1664525 + 1013904223;
            s += char('a' + (x >> 24) % 26);
            if ((x >> 8) % 5 == 0) s += ' ';
        }
        m.add(s);
    }
    CHECK(m.size() <= 100 + 65);   // the cap plus one catch-all per token count
    CHECK(m.add("").template_id >= 1);
    CHECK(m.add(std::string(100000, 'x')).template_id >= 1);
    std::string many;
    for (int i = 0; i < 10000; ++i) many += "w ";
    const auto t = m.add(many);
    CHECK(m.get(t.template_id).text.size() < 100000);
}
