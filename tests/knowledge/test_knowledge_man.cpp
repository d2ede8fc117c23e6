// test_knowledge_man.cpp - option lists from real documentation on this machine: rendered man pages
// of tar, find, grep and ls (`man -P cat` through local_docs()), and `tar --help` as the --help
// form. rsync is not installed on this image (no man page): it is checked only when present.
// Man pages are not excluded by dpkg path-exclude here (/usr/share/man/man1 holds them).
#include <catch2/catch.hpp>

#include <knowledge/knowledge.h>

#include <cstdio>
#include <iostream>
#include <string>

namespace kn = sigmaops::knowledge;

namespace {

std::optional<std::string> man(const std::string& program) { return kn::local_docs()(program); }

const kn::OptionDoc* find(const std::vector<kn::OptionDoc>& v, const std::string& name) {
    for (const kn::OptionDoc& d : v)
        for (const std::string& n : d.names)
            if (n == name) return &d;
    return nullptr;
}

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
    return out;
}

} // namespace

TEST_CASE("man page options: tar", "[knowledge][man]") {
    auto text = man("tar");
    if (!text) {
        std::cout << "skipped: no man page for tar here (man-db or the page missing)\n";
        return;
    }
    CHECK(kn::man_summary(*text) == "an archiving utility");
    const auto opts = kn::parse_man_options(*text);
    CHECK(opts.size() > 100);
    for (const char* n : {"-x", "--extract", "-z", "--gzip", "-v", "-c", "--create", "-t", "--list", "--check-device"})
        CHECK(find(opts, n) != nullptr);
    const kn::OptionDoc* f = find(opts, "-f");
    REQUIRE(f);
    CHECK(f->argument == "=ARCHIVE");
    CHECK_FALSE(f->argument_optional);
    CHECK(f->description.find("archive") != std::string::npos);
    const kn::OptionDoc* dir = find(opts, "--directory");
    REQUIRE(dir);
    CHECK(std::find(dir->names.begin(), dir->names.end(), "-C") != dir->names.end());
    CHECK_FALSE(dir->argument.empty());
    const kn::OptionDoc* g = find(opts, "--listed-incremental");
    REQUIRE(g);
    CHECK(g->description.rfind("Handle new GNU-format incremental backups", 0) == 0);
    CHECK(find(opts, "--frobnicate") == nullptr);
    // The SYNOPSIS ("tar -A [OPTIONS] ARCHIVE") and wrapped lines give no options.
    CHECK(find(opts, "-A") != nullptr);   // documented in OPTIONS as -A, --catenate
    CHECK(find(opts, "--catenate") != nullptr);
}

TEST_CASE("man page options: find's tests, actions and operators", "[knowledge][man]") {
    auto text = man("find");
    if (!text) {
        std::cout << "skipped: no man page for find here\n";
        return;
    }
    const auto opts = kn::parse_man_options(*text);
    for (const char* n : {"-name", "-iname", "-mtime", "-size", "-type", "-exec", "-delete", "-maxdepth", "-print0",
                          "-o", "-and", "-P", "-L", "-depth", "-empty"})
        CHECK(find(opts, n) != nullptr);
    const kn::OptionDoc* name = find(opts, "-name");
    REQUIRE(name);
    CHECK(name->argument == "pattern");
    const kn::OptionDoc* depth = find(opts, "-depth");
    REQUIRE(depth);
    CHECK(depth->argument.empty());   // "-depth Process each directory's contents ..." on one line
    CHECK(depth->description.rfind("Process each directory", 0) == 0);
    const kn::OptionDoc* gid = find(opts, "-gid");
    REQUIRE(gid);
    CHECK(gid->argument == "n");
    // -Olevel is -O with an attached value.
    const kn::OptionDoc* o = find(opts, "-O");
    REQUIRE(o);
    CHECK(o->argument == "level");
    // A wrapped description line starting with an option name is not an entry of its own:
    // "-lname and -ilname predicates ..." inside -L's description.
    const kn::OptionDoc* lname = find(opts, "-lname");
    REQUIRE(lname);
    CHECK(lname->argument == "pattern");
    kn::ProgramDocs d;
    d.options = opts;
    CHECK(d.find("-newermt") != nullptr);   // -newerXY
    CHECK(d.find("-newerm") == nullptr);
}

TEST_CASE("man page options: grep and ls", "[knowledge][man]") {
    auto grep = man("grep");
    auto ls = man("ls");
    if (!grep || !ls) {
        std::cout << "skipped: no man page for grep or ls here\n";
        return;
    }
    const auto g = kn::parse_man_options(*grep);
    const kn::OptionDoc* e = find(g, "-e");
    REQUIRE(e);
    CHECK(std::find(e->names.begin(), e->names.end(), "--regexp") != e->names.end());
    CHECK(e->argument == "PATTERNS");
    const kn::OptionDoc* color = find(g, "--color");
    REQUIRE(color);
    CHECK(color->argument_optional);
    for (const char* n : {"-r", "-n", "-w", "-i", "-v", "-E", "--include", "-A", "-B", "-C"}) CHECK(find(g, n) != nullptr);
    const auto l = kn::parse_man_options(*ls);
    for (const char* n : {"-a", "--all", "-l", "-h", "--human-readable", "-t", "-r", "-S", "-1"}) CHECK(find(l, n) != nullptr);
    CHECK(kn::man_summary(*ls) == "list directory contents");
}

TEST_CASE("--help output as the second source: tar --help", "[knowledge][man]") {
    const std::string help = run("tar --help 2>/dev/null");
    if (help.empty()) {
        std::cout << "skipped: tar --help printed nothing\n";
        return;
    }
    const auto opts = kn::parse_man_options(help);
    for (const char* n : {"-x", "--extract", "-z", "--gzip", "-f", "--file", "-C", "--directory", "-v"})
        CHECK(find(opts, n) != nullptr);
    const kn::OptionDoc* f = find(opts, "--file");
    REQUIRE(f);
    CHECK(f->argument == "=ARCHIVE");
    CHECK(f->description.find("archive") != std::string::npos);
}

TEST_CASE("man page options: rsync when installed", "[knowledge][man]") {
    auto text = man("rsync");
    if (!text) {
        std::cout << "skipped: rsync is not installed here (no man page)\n";
        return;
    }
    const auto opts = kn::parse_man_options(*text);
    for (const char* n : {"-a", "--archive", "-v", "-z", "--delete", "-e", "--exclude"}) CHECK(find(opts, n) != nullptr);
}

TEST_CASE("local_docs: unknown programs and names that are not program names", "[knowledge][man]") {
    CHECK_FALSE(man("sigmaops-no-such-program-xyz"));
    CHECK_FALSE(man("../../etc/passwd"));
    CHECK_FALSE(man("-k"));
    CHECK_FALSE(man("a b"));
    // The command a remote provider runs: the same rendering, the name quoted, nothing for bad names.
    CHECK(kn::doc_command("tar") == "MANWIDTH=200 MANPAGER=cat man --nh --nj -P cat 'tar' 2>/dev/null");
    CHECK(kn::doc_command("a'b").empty());
    CHECK(kn::doc_command("$(reboot)").empty());
    CHECK(kn::doc_command("-k").empty());
    if (man("tar")) {
        const std::string via_shell = run(kn::doc_command("tar"));
        CHECK(kn::parse_man_options(via_shell).size() == kn::parse_man_options(*man("tar")).size());
    }
    CHECK_FALSE(man(""));
    // Odd text never throws and gives no option from plain prose.
    CHECK(kn::parse_man_options("").empty());
    CHECK(kn::parse_man_options("just some words\n  and more - words\n").empty());
    CHECK(kn::man_summary("no name section") == "");
}
