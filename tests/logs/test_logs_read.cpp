// test_logs_read.cpp - stage 1 of agents/logs: LineReader over plain, gzip, truncated gzip and
// rotated files, and hostile bytes (binary junk, a huge line, invalid UTF-8, ANSI escapes)
// giving bounded, clearly marked lines.
#include "logs_test_util.h"

#include <catch2/catch.hpp>

#include <fcntl.h>

using namespace sigmaops;
using logs_test::TempDir;

TEST_CASE("plain files: lines without terminators, CRLF, empty lines", "[logs][read]") {
    TempDir d;
    const std::string p = d.file("a.log", "one\r\ntwo\n\nthree");
    auto r = logs::LineReader::open(p);
    REQUIRE(r);
    CHECK(logs_test::read_all(*r) == std::vector<std::string>{"one", "two", "", "three"});
    CHECK_FALSE(r->error());
    CHECK(r->bytes_total() == 15);
}

TEST_CASE("missing files and directories are clear errors", "[logs][read]") {
    TempDir d;
    auto r = logs::LineReader::open((d.path / "nope.log").string());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::NotFound);
    CHECK_THAT(r.error().message, Catch::Contains("nope.log"));
    auto dir = logs::LineReader::open(d.path.string());
    REQUIRE_FALSE(dir);
    CHECK_THAT(dir.error().message, Catch::Contains("directory"));
}

TEST_CASE("gzip is recognised by its magic and inflated while streaming", "[logs][read]") {
    TempDir d;
    std::string text;
    for (int i = 0; i < 50000; ++i) text += "Mar  1 10:00:00 host app[" + std::to_string(i) + "]: line " + std::to_string(i) + "\n";
    const std::string p = d.gz("app.log.gz", text);
    REQUIRE(!p.empty());
    logs::ReadOptions ro;
    ro.chunk_bytes = 4096;   // many chunks: lines cross chunk boundaries
    auto r = logs::LineReader::open(p, ro);
    REQUIRE(r);
    auto lines = logs_test::read_all(*r);
    CHECK_FALSE(r->error());
    REQUIRE(lines.size() == 50000);
    CHECK(lines.back() == "Mar  1 10:00:00 host app[49999]: line 49999");
    // A renamed .gz is still gzip; a plain file named .gz is read as plain text.
    const std::string plain_named_gz = d.file("plain.gz", "not compressed\n");
    auto r2 = logs::LineReader::open(plain_named_gz);
    CHECK(logs_test::read_all(*r2) == std::vector<std::string>{"not compressed"});
}

TEST_CASE("a truncated .gz gives the lines before the cut and a clear error", "[logs][read]") {
    TempDir d;
    std::string text;
    for (int i = 0; i < 20000; ++i) text += "line number " + std::to_string(i) + " with some text to compress\n";
    const std::string p = d.gz("cut.gz", text);
    REQUIRE(!p.empty());
    std::filesystem::resize_file(p, std::filesystem::file_size(p) / 2);
    auto r = logs::LineReader::open(p);
    REQUIRE(r);
    auto lines = logs_test::read_all(*r);
    REQUIRE(r->error());
    CHECK(r->error()->code == ErrorCode::BadFile);
    CHECK_THAT(r->error()->message, Catch::Contains("truncated"));
    CHECK(lines.size() > 1000);
    CHECK(lines.size() < 20000);
    // Damaged (not truncated) data: also BadFile, never a crash.
    std::string bytes;
    {
        std::ifstream f(d.gz("bad.gz", text), std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(f), {});
    }
    for (std::size_t i = 40; i < bytes.size(); i += 97) bytes[i] = char(bytes[i] ^ 0x5A);
    auto r3 = logs::LineReader::from_bytes(bytes);
    logs_test::read_all(r3);
    REQUIRE(r3.error());
    CHECK(r3.error()->code == ErrorCode::BadFile);
}

TEST_CASE("a rotated set is read oldest first, plain and gzip mixed", "[logs][read]") {
    TempDir d;
    d.gz("syslog.3.gz", "oldest\n");
    d.gz("syslog.2.gz", "older\n");
    d.file("syslog.1", "old\n");
    d.file("syslog", "newest\n");
    d.file("syslog.bak", "not part of the set\n");
    d.file("syslog-extra", "nor this\n");
    const auto set = logs::rotated_set((d.path / "syslog").string());
    REQUIRE(set.size() == 4);
    CHECK(set.front().ends_with("syslog.3.gz"));
    CHECK(set.back().ends_with("/syslog"));
    auto r = logs::LineReader::open_files(set);
    REQUIRE(r);
    logs::Line l;
    std::vector<std::string> lines;
    std::vector<std::uint32_t> files;
    while (r->next(l)) { lines.push_back(l.text); files.push_back(l.file_index); }
    CHECK(lines == std::vector<std::string>{"oldest", "older", "old", "newest"});
    CHECK(files == std::vector<std::uint32_t>{0, 1, 2, 3});
    CHECK(l.number == 4);
}

TEST_CASE("a 100 MB single line is cut, marked, and never held whole", "[logs][read][hostile]") {
    TempDir d;
    const std::string p = (d.path / "huge.log").string();
    {
        std::ofstream f(p, std::ios::binary);
        f << "before\n";
        const std::string block(1 << 20, 'x');
        for (int i = 0; i < 100; ++i) f << block;
        f << "\nafter\n";
    }
    auto r = logs::LineReader::open(p);
    REQUIRE(r);
    logs::Line l;
    REQUIRE(r->next(l));
    CHECK(l.text == "before");
    REQUIRE(r->next(l));
    CHECK(l.truncated);
    CHECK(l.text.size() == logs::ReadOptions{}.max_line_bytes);
    CHECK(l.original_bytes == 100u << 20);
    REQUIRE(r->next(l));
    CHECK(l.text == "after");
    CHECK_FALSE(l.truncated);
}

TEST_CASE("invalid UTF-8, ANSI escapes, control bytes and binary junk are cleaned", "[logs][read][hostile]") {
    std::string out;
    CHECK(logs::clean_line("\x1b[31mERROR\x1b[0m disk \x1b]0;title\x07" "full", out));
    CHECK(out == "ERROR disk full");
    CHECK(logs::clean_line("bad \xff\xfe byte \xc3\x28 ok \xc3\xa9", out));
    CHECK(out == "bad \xEF\xBF\xBD\xEF\xBF\xBD byte \xEF\xBF\xBD( ok \xc3\xa9");
    CHECK(logs::clean_line(std::string("nul\0byte\x01", 9), out));
    CHECK(out == "nul byte ");
    CHECK_FALSE(logs::clean_line("plain\tascii", out));
    // Overlong encodings and surrogates are invalid.
    logs::clean_line("\xc0\xaf \xed\xa0\x80", out);
    CHECK(out.find("\xEF\xBF\xBD") != std::string::npos);

    // Binary junk: every line comes out valid UTF-8 and bounded.
    std::string junk;
    std::uint32_t x = 12345;
    for (int i = 0; i < 300000; ++i) { x = x * 1103515245 + 12345; junk.push_back(char(x >> 16)); }
    logs::ReadOptions ro;
    ro.max_line_bytes = 1000;
    auto r = logs::LineReader::from_bytes(junk, "junk", ro);
    logs::Line l;
    std::size_t n = 0;
    while (r.next(l)) {
        ++n;
        CHECK(l.text.size() <= 3 * 1000);
        std::string again;
        CHECK_FALSE(logs::clean_line(l.text, again));   // already clean
    }
    CHECK(n > 100);
}

TEST_CASE("a file descriptor (stdin) is read like a file, gzip included", "[logs][read]") {
    TempDir d;
    const std::string p = d.gz("in.gz", "a\nb\n");
    const int fd = ::open(p.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    auto r = logs::LineReader::from_fd(fd, "<stdin>");
    CHECK(logs_test::read_all(r) == std::vector<std::string>{"a", "b"});
    ::close(fd);
}
