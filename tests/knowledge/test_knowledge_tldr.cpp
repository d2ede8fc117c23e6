// test_knowledge_tldr.cpp - tldr pages: the page parser, placeholders, the index builder
// (reproducible bytes, linux over common, bad pages skipped) and search ranking, on the fixture
// pages (tests/fixtures/knowledge/tldr) and, when present, the real tldr tree and the shipped index.
#include <catch2/catch.hpp>

#include <knowledge/knowledge.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;
namespace kn = sigmaops::knowledge;

namespace {

const std::string k_fixture = std::string(SIGMAOPS_FIXTURES) + "/knowledge/tldr/pages";

struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() / ("sigmaops_kn_" + std::to_string(::getpid()) + "_" + std::to_string(rand()));
        fs::create_directories(path);
    }
    ~TempDir() { std::error_code ec; fs::remove_all(path, ec); }
};

std::string bytes(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

} // namespace

TEST_CASE("tldr page parser: title, description, examples, mnemonics and placeholders", "[knowledge][tldr]") {
    const std::string md = "# tar\n\n> Archiving utility.\n> More information: <https://x>.\n\n"
                           "- E[x]tract a g[z]ipped archive [f]ile:\n\n`tar xzf {{path/to/a.tgz}} {{[-C|--directory]}} {{dir}}`\n\n"
                           "- A description with no command\n\n- List [t]he files:\n\n`tar tf {{a.tar}}`\n";
    auto p = kn::parse_tldr_page(md, "common");
    REQUIRE(p);
    CHECK(p->name == "tar");
    CHECK(p->description == "Archiving utility.");
    REQUIRE(p->examples.size() == 2);
    CHECK(p->examples[0].description == "Extract a gzipped archive file");
    CHECK(p->examples[0].command == "tar xzf {{path/to/a.tgz}} {{[-C|--directory]}} {{dir}}");
    const auto& ph = p->examples[0].placeholders;
    REQUIRE(ph.size() == 3);
    CHECK(ph[0].text == "path/to/a.tgz");
    CHECK(ph[0].is_value());
    CHECK(ph[0].begin == 8);
    CHECK(p->examples[0].command.substr(ph[0].begin, ph[0].end - ph[0].begin) == "{{path/to/a.tgz}}");
    CHECK(ph[1].is_option());
    CHECK(ph[1].alternatives == std::vector<std::string>{"-C", "--directory"});
    CHECK(kn::fill_placeholders(p->examples[0]) == "tar xzf <path/to/a.tgz> -C <dir>");
    CHECK(p->examples[1].description == "List the files");

    // Subcommand alternatives are not options; `{{${x}}}` ends at the last brace.
    auto sub = kn::find_placeholders("kubectl {{[po|pods]}} {{${name}}}");
    REQUIRE(sub.size() == 2);
    CHECK(sub[0].alternatives == std::vector<std::string>{"po", "pods"});
    CHECK_FALSE(sub[0].is_option());
    CHECK(sub[1].text == "${name}");

    auto bad = kn::parse_tldr_page("no title\n- x:\n`y`\n", "linux");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("no `# name` title") != std::string::npos);
    for (std::string s : {std::string(""), std::string("#"), std::string("# \n`"), std::string("- :\n`")}) {
        auto r = kn::parse_tldr_page(s, "common");   // never throws
        (void)r;
    }
}

TEST_CASE("tldr index from the fixture pages: contents, linux over common, same bytes twice", "[knowledge][tldr]") {
    TempDir t;
    const fs::path a = t.path / "a.sqlite", b = t.path / "b.sqlite";
    auto st = kn::build_index(k_fixture, a.string());
    REQUIRE(st);
    CHECK(st->n_pages == 5);          // tar rsync find ls free (linux); broken.md skipped
    CHECK(st->n_examples == 13);
    REQUIRE(st->skipped.size() == 1);
    CHECK(st->skipped[0].find("linux/broken.md") == 0);
    REQUIRE(kn::build_index(k_fixture, b.string()));
    CHECK(bytes(a) == bytes(b));

    auto k = kn::Knowledge::open(a.string());
    REQUIRE(k);
    CHECK(k->n_pages() == 5);
    CHECK(k->n_examples() == 13);
    auto free = k->page("free");
    REQUIRE(free);
    REQUIRE(free->has_value());
    CHECK((*free)->platform == "linux");
    REQUIRE((*free)->examples.size() == 1);
    CHECK((*free)->examples[0].command == "free {{[-h|--human]}}");
    auto none = k->page("no-such-program");
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
    // Every example comes back by its id, with its page.
    for (const std::string& name : k->page_names()) {
        auto p = k->page(name);
        REQUIRE(p);
        for (const kn::Example& e : (*p)->examples) {
            auto x = k->example(e.id);
            REQUIRE(x);
            CHECK(x->page == name);
            CHECK(x->command == e.command);
        }
    }
    CHECK_FALSE(k->example(0));
    CHECK_FALSE(k->example(1000));
}

TEST_CASE("tldr search: ranking, stop words, program names, exclusion", "[knowledge][tldr]") {
    TempDir t;
    const fs::path a = t.path / "a.sqlite";
    REQUIRE(kn::build_index(k_fixture, a.string()));
    auto k = kn::Knowledge::open(a.string());
    REQUIRE(k);

    auto r = k->search("how do I extract a gzipped archive into a directory", 3);
    REQUIRE(r);
    REQUIRE_FALSE(r->empty());
    CHECK((*r)[0].page == "tar");
    CHECK((*r)[0].description == "Extract a gzipped archive file into the target directory");
    CHECK((*r)[0].placeholders.size() == 3);
    for (size_t i = 1; i < r->size(); ++i) CHECK((*r)[i - 1].score >= (*r)[i].score);

    // Naming the program ranks its examples first even when another page matches the words.
    auto named = k->search("copy a directory to a remote host with rsync", 2);
    REQUIRE(named);
    REQUIRE_FALSE(named->empty());
    CHECK((*named)[0].page == "rsync");
    auto big = k->search("find files larger than 1G under /var and delete them", 1);
    REQUIRE(big);
    REQUIRE(big->size() == 1);
    CHECK((*big)[0].page == "find");

    // Only stop words, or nothing: no results, no error.
    auto empty = k->search("how do I do it", 5);
    REQUIRE(empty);
    CHECK(empty->empty());
    auto nothing = k->search("", 5);
    REQUIRE(nothing);
    CHECK(nothing->empty());
    // FTS5 syntax in the request is data, not query syntax.
    auto syntax = k->search("\"tar\" OR (NEAR AND * ^ - : {c}", 5);
    REQUIRE(syntax);

    // Leave-one-out: the excluded example never comes back.
    kn::SearchOptions o;
    o.n = 5;
    o.exclude = {(*r)[0].id};
    auto without = k->search("how do I extract a gzipped archive into a directory", o);
    REQUIRE(without);
    for (const kn::Example& e : *without) CHECK(e.id != (*r)[0].id);
}

TEST_CASE("tldr index open: missing and wrong files are clear errors", "[knowledge][tldr]") {
    TempDir t;
    auto missing = kn::Knowledge::open((t.path / "none.sqlite").string());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == sigmaops::ErrorCode::NotFound);
    const fs::path junk = t.path / "junk.sqlite";
    std::ofstream(junk) << "not a database at all, just some text that is long enough to look like a header";
    auto bad = kn::Knowledge::open(junk.string());
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("not a SigmaOps tldr index") != std::string::npos);
    auto no_pages = kn::build_index((t.path / "nothing").string(), (t.path / "x.sqlite").string());
    REQUIRE_FALSE(no_pages);
    CHECK(no_pages.error().code == sigmaops::ErrorCode::NotFound);
    CHECK_FALSE(fs::exists(t.path / "x.sqlite"));
}

TEST_CASE("the real tldr tree builds the shipped index", "[knowledge][tldr][shared]") {
    const std::string pages = std::string(SIGMAOPS_SHARED_DATA) + "/tldr/pages";
    const fs::path shipped = fs::path(SIGMAOPS_SOURCE_DIR) / "resources/knowledge/tldr.sqlite";
    if (!fs::is_directory(pages)) {
        std::cout << "skipped: ../shared/data/tldr is not here\n";
        return;
    }
    REQUIRE(fs::is_regular_file(shipped));
    TempDir t;
    const fs::path out = t.path / "tldr.sqlite";
    auto st = kn::build_index(pages, out.string());
    REQUIRE(st);
    CHECK(st->n_pages > 6000);
    CHECK(st->n_examples > 29000);
    auto built = kn::Knowledge::open(out.string());
    auto ship = kn::Knowledge::open(shipped.string());
    REQUIRE(built);
    REQUIRE(ship);
    CHECK(built->n_pages() == ship->n_pages());
    CHECK(built->n_examples() == ship->n_examples());
    // Same pages, same SQLite: the same bytes as the shipped file.
    CHECK(bytes(out) == bytes(shipped));
    CHECK(fs::file_size(shipped) < 8u * 1024 * 1024);
    auto r = ship->search("extract a tar.gz archive into a directory", 5);
    REQUIRE(r);
    REQUIRE_FALSE(r->empty());
    CHECK((*r)[0].page == "tar");
}
