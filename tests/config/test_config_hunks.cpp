// tests/config/test_config_hunks.cpp - text hunks (config.h's line_hunks, apply_text_hunks,
// render_file_change, file_change_diff, postgres_text_change): any subset of a proposal's hunks
// applies and none gives the bytes back (CRLF and a missing final newline included), the diff
// shows each hunk with its reason and source and agrees with GNU diff -u, and postgresql.conf
// edits keep comments and never re-set a value already in effect.
#include <catch2/catch.hpp>

#include "config/config.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace sigmaops::config;

namespace {
std::string apply_subset(const FileChange& c, unsigned mask) {
    std::vector<Hunk> chosen;
    for (size_t i = 0; i < c.hunks.size(); ++i)
        if (mask & (1u << i)) chosen.push_back(c.hunks[i]);
    auto r = apply_text_hunks(c.before, chosen);
    REQUIRE(r);
    return *r;
}
} // namespace

TEST_CASE("hunks: every subset applies and the empty one is byte-identical", "[config][hunks]") {
    const std::string before = "# head\r\nA 1\r\nB 2\r\n\r\nC 3\r\n# tail without newline";
    const std::string after = "# head\r\nA 10\r\nB 2\r\n\r\nC 30\r\nD 4\r\n# tail without newline";
    FileChange c;
    c.path = "/etc/x.conf";
    c.before = before;
    c.hunks = line_hunks(before, after, {{"A", "10", "", "x.a", "raise A", "doc A", ""}, {"D", "4", "", "x.d", "add D", "doc D", ""}});
    REQUIRE(c.hunks.size() == 2);
    CHECK(c.hunks[0].change.reason == "raise A");
    CHECK(c.hunks[1].change.reason == "add D");  // C's and D's lines are one run: the first key with a rule names it
    CHECK(apply_subset(c, 0) == before);
    CHECK(apply_subset(c, 3) == after);
    CHECK(apply_subset(c, 1) == "# head\r\nA 10\r\nB 2\r\n\r\nC 3\r\n# tail without newline");
    Hunk overlap = c.hunks[0];
    auto bad = apply_text_hunks(before, {c.hunks[0], overlap});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == sigmaops::ErrorCode::InvalidArgument);
}

TEST_CASE("hunks: the diff agrees with GNU diff -u and names reason and source", "[config][hunks]") {
    std::string before, after;
    for (int i = 0; i < 40; ++i) before += "line " + std::to_string(i) + "\n";
    after = before;
    after.replace(after.find("line 5\n"), 7, "line five\n");
    after.replace(after.find("line 30\n"), 8, "");
    after += "no newline at end";
    FileChange c;
    c.path = "/etc/y.conf";
    c.before = before;
    c.hunks = line_hunks(before, after);
    REQUIRE(c.hunks.size() == 3);
    const std::string shown = render_file_change(c);
    CHECK_THAT(shown, Catch::Contains("# hunk 1/3: edited text") && Catch::Contains("-line 5\n+line five\n"));
    // file_change_diff's hunks are GNU diff's (the headers differ: diff prints file names and times).
    char dir[] = "/tmp/sigmaops-hunks-XXXXXX";
    REQUIRE(mkdtemp(dir));
    const std::string a = std::string(dir) + "/a", b = std::string(dir) + "/b", out = std::string(dir) + "/out";
    std::ofstream(a, std::ios::binary) << before;
    std::ofstream(b, std::ios::binary) << after;
    REQUIRE(std::system(("diff -u " + a + " " + b + " > " + out).c_str()) != -1);
    std::ifstream in(out);
    std::stringstream gnu;
    gnu << in.rdbuf();
    std::string gnu_body = gnu.str().substr(gnu.str().find("@@"));
    std::string ours = file_change_diff(c);
    CHECK(ours.substr(ours.find("@@")) == gnu_body);
    std::system(("rm -rf " + std::string(dir)).c_str());
}

TEST_CASE("hunks: a value edited inside a line is shown as the whole line", "[config][hunks]") {
    FileChange c;
    c.path = "nginx.conf";
    c.before = "http {\n    ssl_protocols TLSv1 TLSv1.2; # old\n}\n";
    Hunk h;
    h.begin = c.before.find("TLSv1 TLSv1.2");
    h.end = h.begin + std::string("TLSv1 TLSv1.2").size();
    h.replacement = "TLSv1.2 TLSv1.3";
    h.change.reason = "TLS 1.0 is deprecated";
    c.hunks = {h};
    const std::string d = file_change_diff(c);
    CHECK_THAT(d, Catch::Contains("-    ssl_protocols TLSv1 TLSv1.2; # old\n+    ssl_protocols TLSv1.2 TLSv1.3; # old\n"));
}

TEST_CASE("hunks: postgresql.conf edits keep comments and skip values already set", "[config][hunks]") {
    const std::string before =
        "# PostgreSQL configuration\n"
        "shared_buffers = 128MB\t\t# min 128kB\n"
        "#work_mem = 4MB\t\t\t\t# min 64kB\n"
        "effective_cache_size = '6GB'\n";
    auto c = postgres_text_change("/etc/postgresql/16/main/postgresql.conf", before,
                                  {{"shared_buffers", "2GB", "src shared"}, {"work_mem", "10082kB", "src work"},
                                   {"effective_cache_size", "6GB", "src ecs"}, {"huge_pages", "off", "src hp"}});
    REQUIRE(c.hunks.size() == 3);  // effective_cache_size is already 6GB
    auto all = apply_text_hunks(before, c.hunks);
    REQUIRE(all);
    CHECK(*all ==
          "# PostgreSQL configuration\n"
          "shared_buffers = 2GB\t# min 128kB\n"
          "#work_mem = 4MB\t\t\t\t# min 64kB\n"
          "work_mem = 10082kB\n"
          "effective_cache_size = '6GB'\n"
          "\n# Added by SigmaOps (PGTune's rules)\n"
          "huge_pages = off\n");
    CHECK(c.hunks[0].change.source == "src shared");
    CHECK(c.hunks[1].change.key == "work_mem");
    CHECK(c.hunks[2].change.key == "huge_pages");
}
