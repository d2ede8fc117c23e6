// test_knowledge_flags.cpp - check_flags and explain against this machine's real man pages and the
// shipped tldr index: invented flags are reported with their word offset, real ones (bundles,
// --long=VALUE, abbreviations, single-dash long options, values, payloads) are accepted, programs
// without documentation say so; a DocProvider standing in for a remote target is used as given.
#include <catch2/catch.hpp>

#include <knowledge/knowledge.h>

#include <iostream>
#include <optional>

namespace kn = sigmaops::knowledge;

namespace {

bool have_man(const char* p) { return kn::local_docs()(p).has_value(); }

const kn::Knowledge* shipped() {
    static std::optional<kn::Knowledge> k = [] {
        auto x = kn::Knowledge::open(std::string(SIGMAOPS_SOURCE_DIR) + "/resources/knowledge/tldr.sqlite");
        return x ? std::optional<kn::Knowledge>(std::move(*x)) : std::nullopt;
    }();
    return k ? &*k : nullptr;
}

kn::FlagReport check(const std::string& cmd, bool man = true) {
    auto r = kn::check_flags(cmd, man ? kn::local_docs() : kn::DocProvider(), shipped());
    REQUIRE(r);
    return *r;
}

} // namespace

TEST_CASE("check_flags: an invented flag is reported with its offset, real ones pass", "[knowledge][flags]") {
    if (!have_man("tar") || !have_man("find") || !have_man("grep") || !have_man("ls")) {
        std::cout << "skipped: man pages of tar/find/grep/ls are not here\n";
        return;
    }
    REQUIRE(shipped());
    kn::FlagReport r = check("tar --frobnicate -xzvf a.tgz -C /opt");
    REQUIRE(r.unknown.size() == 1);
    CHECK(r.unknown[0].program == "tar");
    CHECK(r.unknown[0].option == "--frobnicate");
    CHECK(r.unknown[0].offset == 4);
    CHECK(r.unknown[0].message.find("man page") != std::string::npos);
    CHECK_FALSE(r.unknown[0].tldr_only);

    for (const char* ok : {"tar -xzvf a.tgz -C /opt", "tar xzf a.tgz", "tar --extract --file=a.tgz --directory /opt",
                           "tar --extr -f a.tgz", "tar -cf - . | gzip -9 > x.gz", "sudo tar -C / -xf a.tar",
                           "find /var -type f -size +1G -mtime -7 -print", "find . -name '*.log' -o -name '*.gz' -delete",
                           "find . -newermt 2024-01-01 -exec grep -l -i error {} +",
                           "grep -rnw --include='*.conf' -e listen /etc", "grep --color=auto -E 'a|b' f",
                           "ls -lah --sort=time", "ls -1", "head -5 f", "echo $(ls -a)", "tar -- -x"}) {
        kn::FlagReport x = check(ok);
        INFO(ok);
        for (const auto& u : x.unknown) INFO(u.message);
        CHECK(x.ok());
        CHECK(x.undocumented.empty());
    }

    // A bundle: the unknown letter is named; the word's offset is given.
    kn::FlagReport b = check("ls -lQ9q /tmp && tar -xzqf a.tgz");
    std::vector<std::string> bad;
    for (const auto& u : b.unknown) bad.push_back(u.program + " " + u.option + "@" + std::to_string(u.offset));
    CHECK(bad == std::vector<std::string>{"ls -9@3", "tar -q@21"});   // ls has -l -Q -q, not -9; tar has no -q
}

TEST_CASE("check_flags: payloads, values and roles", "[knowledge][flags]") {
    if (!have_man("tar") || !have_man("find") || !have_man("grep")) {
        std::cout << "skipped: man pages of tar/find/grep are not here\n";
        return;
    }
    // The value of -f is not an option even when it starts with '-'; -exec's command is checked as grep.
    kn::FlagReport r = check("sudo -u root tar -f -x-not-an-option -x && find / -exec grep --frob {} \\;");
    std::vector<std::string> bad;
    for (const auto& u : r.unknown) bad.push_back(u.program + " " + u.option);
    CHECK(bad == std::vector<std::string>{"grep --frob"});
    std::vector<std::string> programs;
    for (const auto& p : r.programs) programs.push_back(p.program);
    CHECK(programs == std::vector<std::string>{"tar", "find", "grep"});
    CHECK(r.programs[0].wrappers == std::vector<std::string>{"sudo"});
    std::string roles;
    for (const auto& w : r.words) roles += std::string(kn::role_name(w.role)) + " ";
    CHECK(roles.rfind("wrapper wrapper wrapper program option option-value option program", 0) == 0);
    // sh -c strings are parsed and checked too.
    kn::FlagReport sh = check("bash -c 'tar --bogus-flag x'");
    REQUIRE(sh.unknown.size() == 1);
    CHECK(sh.unknown[0].option == "--bogus-flag");
    CHECK(sh.unknown[0].offset == 13);
}

TEST_CASE("check_flags: no documentation means no guess", "[knowledge][flags]") {
    kn::FlagReport r = check("sigmaops-nonexistent-tool --whatever -xyz file");
    CHECK(r.ok());
    CHECK(r.undocumented == std::vector<std::string>{"sigmaops-nonexistent-tool"});
    REQUIRE(r.words.size() == 4);
    CHECK(r.words[1].role == kn::WordRole::Unchecked);
    // tldr alone (no man pages): the options its examples use are known, others are not.
    kn::FlagReport t = check("free -h --frob", false);
    REQUIRE(t.unknown.size() == 1);
    CHECK(t.unknown[0].option == "--frob");
    CHECK(t.unknown[0].tldr_only);
    CHECK(t.unknown[0].message.find("no man page here to confirm") != std::string::npos);
    // Bad input: the parse error's offset.
    auto bad = kn::check_flags("tar -x 'unterminated", kn::DocProvider(), nullptr);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("offset 7") != std::string::npos);
}

TEST_CASE("check_flags: a provider standing in for a remote target", "[knowledge][flags]") {
    // The text a remote `man -P cat frob` would return (another host's program).
    const std::string remote = "FROB(1)\n\nNAME\n       frob - frobnicate things\n\nOPTIONS\n"
                               "       -q, --quiet\n              Say less.\n\n"
                               "       -o FILE, --output=FILE\n              Write to FILE.\n";
    int calls = 0;
    kn::DocProvider provider = [&](const std::string& p) -> std::optional<std::string> {
        ++calls;
        if (p == "frob") return remote;
        return std::nullopt;
    };
    kn::DocCache cache(provider, nullptr);
    auto r = kn::check_flags("frob -qo out.txt --output x --quiet -z; frob --qu", cache);
    REQUIRE(r);
    REQUIRE(r->unknown.size() == 1);
    CHECK(r->unknown[0].option == "-z");
    CHECK(r->unknown[0].offset == 36);
    CHECK(calls == 1);   // fetched once per program
    auto e = kn::explain("frob -q", cache);
    REQUIRE(e);
    REQUIRE(e->words.size() == 2);
    CHECK(e->words[0].explanation == "frobnicate things");
    CHECK(e->words[1].explanation == "Say less.");
    CHECK(e->words[1].source == "man");
}

TEST_CASE("explain: tar -xzvf a.tgz -C /opt word by word", "[knowledge][flags]") {
    if (!have_man("tar")) {
        std::cout << "skipped: no man page for tar here\n";
        return;
    }
    kn::DocCache cache(kn::local_docs(), shipped());
    auto e = kn::explain("tar -xzvf a.tgz -C /opt", cache);
    REQUIRE(e);
    std::vector<std::string> texts;
    for (const auto& w : e->words) texts.push_back(w.text);
    CHECK(texts == std::vector<std::string>{"tar", "-x", "-z", "-v", "-f", "a.tgz", "-C", "/opt"});
    CHECK(e->words[0].explanation == "an archiving utility");
    CHECK(e->words[1].explanation.find("xtract") != std::string::npos);
    CHECK(e->words[2].explanation.find("gzip") != std::string::npos);
    CHECK(e->words[5].role == kn::WordRole::OptionValue);
    CHECK(e->words[6].explanation.find("Change to DIR") != std::string::npos);
    CHECK(e->words[7].role == kn::WordRole::OptionValue);
    for (const auto& w : e->words) CHECK_FALSE(w.explanation.empty());
}
