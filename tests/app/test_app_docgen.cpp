// The man page and the shell completions (cli/docgen.h) against the command table they are made
// from: every command and option of the table is in each of them; the page renders with no groff
// warning and carries the sections, exit codes, environment and the tldr-pages attribution; the
// bash script, sourced in a real bash, completes commands, options, files, hosts and choices;
// zsh and fish check the syntax of theirs when installed; the build's output and `cmake --install`
// hold the same text.
#include <catch2/catch.hpp>

#include <cli/commands.h>
#include <cli/docgen.h>

#include <base/paths.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace sigmaops::cli;

namespace {

struct Run {
    int rc;
    std::string out;
};

Run sh(const std::string& cmd) {
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p);
    std::string out;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    const int status = ::pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool have(const std::string& program) { return sh("command -v " + program + " >/dev/null 2>&1").rc == 0; }

std::string read(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

struct TempDir {
    fs::path path;
    TempDir() {
        std::string t = (fs::temp_directory_path() / "sigmaops-docgen-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()));
        path = t;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

fs::path write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
}

struct Entry {
    std::string path;
    const Command* command;
};

void collect(const Command& c, const std::string& path, std::vector<Entry>& out) {
    out.push_back({path, &c});
    for (const Command& s : c.subcommands) collect(s, path.empty() ? s.name : path + " " + s.name, out);
}

std::vector<Entry> table() {
    std::vector<Entry> out;
    collect(sigmaops_command(), "", out);
    return out;
}

// How roff source spells text (hyphens as \-).
std::string roffed(const std::string& s) {
    std::string out;
    for (char ch : s) out += ch == '-' ? std::string("\\-") : std::string(1, ch);
    return out;
}

std::string sq(const std::string& s) { return "'" + s + "'"; }

// The words of `s` (split on blanks).
std::set<std::string> words(const std::string& s) {
    std::set<std::string> out;
    std::istringstream in(s);
    for (std::string w; in >> w;) out.insert(w);
    return out;
}

} // namespace

TEST_CASE("docgen: every command and option of the table is in the man page and in each completion", "[app][docgen]") {
    const Command& root = sigmaops_command();
    const std::string man = man_page(root, sigmaops::app_version());
    const std::string bash = bash_completion(root), zsh = zsh_completion(root), fish = fish_completion(root);
    size_t n_commands = 0, n_flags = 0;
    for (const Entry& e : table()) {
        INFO("command: sigmaops " << e.path);
        if (!e.path.empty()) {
            ++n_commands;
            CHECK_THAT(man, Catch::Contains(".SS\n" + roffed("sigmaops " + e.path) + "\n"));
            const std::string parent = e.path.find(' ') == std::string::npos ? "" : e.path.substr(0, e.path.rfind(' '));
            const std::string name = e.command->name;
            // bash: the parent's row of _sigmaops_commands names it.
            const std::regex row("\n    " + sq(parent) + "\\) REPLY='([^']*)' ;;");
            std::smatch m;
            REQUIRE(std::regex_search(bash, m, row));
            CHECK(words(m[1].str()).count(name) == 1);
            // zsh: an item of the parent's _describe list; fish: a -a of the parent's condition.
            CHECK_THAT(zsh, Catch::Contains("        '" + name + ":"));
            CHECK_THAT(fish, Catch::Contains("-n '__sigmaops_at " + parent + "' -a '" + name + "'"));
        }
        // bash: the command's row of _sigmaops_options.
        const size_t opts_at = bash.find("_sigmaops_options() {");
        REQUIRE(opts_at != std::string::npos);
        const std::string opts_fn = bash.substr(opts_at, bash.find("\n}\n", opts_at) - opts_at);
        const std::regex row("\n    " + sq(e.path) + "\\) REPLY='([^']*)' ;;");
        std::smatch m;
        REQUIRE(std::regex_search(opts_fn, m, row));
        const std::set<std::string> offered = words(m[1].str());
        // zsh: the command's own function.
        const std::string zfn_name = "_sigmaops_cmd" + (e.path.empty() ? "" : "_" + std::regex_replace(e.path, std::regex("[^a-zA-Z0-9]"), "_"));
        const size_t zat = zsh.find("\n" + zfn_name + "() {");
        REQUIRE(zat != std::string::npos);
        const std::string zfn = zsh.substr(zat, zsh.find("\n}\n", zat) - zat);
        for (const Flag& f : e.command->flags) {
            INFO("option: " << f.name);
            ++n_flags;
            CHECK_THAT(man, Catch::Contains("\\fB" + roffed(f.name) + "\\fR"));
            CHECK(offered.count(f.name) == 1);
            CHECK_THAT(zfn, Catch::Contains("'" + f.name + (f.value.empty() ? "[" : "=[")));
            CHECK_THAT(fish, Catch::Contains("-n '__sigmaops_at " + e.path + "' -l '" + f.name.substr(2) + "'"));
            if (!f.alias.empty()) {
                CHECK_THAT(man, Catch::Contains("\\fB" + roffed(f.alias) + "\\fR, \\fB" + roffed(f.name)));
                CHECK(offered.count(f.alias) == 1);
                CHECK_THAT(zfn, Catch::Contains("'" + f.alias + "["));
            }
            for (const std::string& old : f.old_names) CHECK(offered.count(old) == 0);   // accepted, never shown
        }
        CHECK(offered.count("--help") == 1);
    }
    // The table is the one --help prints: a command added there is here too.
    CHECK(n_commands >= 30);
    CHECK(n_flags >= 100);
    for (const char* added : {"man", "completion", "completion bash"})
        CHECK_THAT(man, Catch::Contains(".SS\nsigmaops " + std::string(added) + "\n"));
}

TEST_CASE("docgen: the man page renders without groff warnings and says what a user needs", "[app][docgen]") {
    if (!have("man") || !have("groff") || !have("col")) {
        WARN("skipped: man, groff or col is not installed");
        return;
    }
    TempDir tmp;
    const std::string page = man_page(sigmaops_command(), sigmaops::app_version());
    const fs::path file = write(tmp.path / "sigmaops.1", page);
    // man-db's own check, as a packager runs it, and groff's full warning set.
    const Run warnings = sh("MANWIDTH=80 man --warnings -l " + file.string() + " 2>&1 >/dev/null");
    CHECK(warnings.out == "");
    const Run groff = sh("groff -man -ww -z -K utf8 " + file.string() + " 2>&1");
    CHECK(groff.out == "");
    const Run shown = sh("MANWIDTH=80 MAN_KEEP_FORMATTING=0 man -l " + file.string() + " 2>/dev/null | col -b");
    REQUIRE(shown.rc == 0);
    const std::string& out = shown.out;
    // The same with every run of blanks and line breaks as one space, for phrases man wraps.
    const std::string flat = std::regex_replace(out, std::regex("\\s+"), " ");
    for (const char* section : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES",
                                "SECURITY", "SEE ALSO", "AUTHORS", "COPYRIGHT"})
        CHECK_THAT(out, Catch::Contains("\n" + std::string(section) + "\n"));
    CHECK_THAT(flat, Catch::Contains("sigmaops - a local AI assistant"));
    CHECK_THAT(flat, Catch::Contains("sigmaops history move-aside"));   // hyphens render as hyphens
    CHECK_THAT(flat, Catch::Contains("--selective-v"));
    // Every exit code a command documents (cmd: 3 declined, 130 Ctrl-C).
    const std::string exits = flat.substr(flat.find(" EXIT STATUS "), flat.find(" ENVIRONMENT ") - flat.find(" EXIT STATUS "));
    for (const char* code : {"0", "1", "2", "3 not confirmed", "130 stopped with Ctrl-C"}) CHECK_THAT(exits, Catch::Contains(code));
    // Every environment variable of ours the code reads.
    const std::string env = out.substr(out.find("\nENVIRONMENT\n"), out.find("\nFILES\n") - out.find("\nENVIRONMENT\n"));
    const Run getenv = sh("grep -rhoE 'getenv\\(\"(SIGMAOPS_[A-Z_]*|XDG_[A-Z_]*|NO_COLOR)\"' " + std::string(SIGMAOPS_SOURCE_DIR) +
                          "/app " + SIGMAOPS_SOURCE_DIR + "/agents " + SIGMAOPS_SOURCE_DIR + "/base | sort -u");
    size_t n_vars = 0;
    for (const std::string& w : words(getenv.out)) {
        const std::string name = w.substr(8, w.size() - 9);
        INFO("environment variable read by the code: " << name);
        CHECK_THAT(env, Catch::Contains(name));
        ++n_vars;
    }
    CHECK(n_vars >= 3);
    // The tldr-pages attribution (CC BY 4.0), as resources/knowledge/README.md words it.
    const std::string readme = read(fs::path(SIGMAOPS_SOURCE_DIR) / "resources/knowledge/README.md");
    const std::string copyright = flat.substr(flat.find(" COPYRIGHT "));
    for (const char* must : {"the tldr-pages team and contributors", "https://github.com/tldr-pages/tldr",
                             "Creative Commons Attribution 4.0", "CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/",
                             "converted to an SQLite index", "More information"}) {
        CHECK_THAT(readme, Catch::Contains(must));
        CHECK_THAT(copyright, Catch::Contains(must));
    }
    CHECK_THAT(copyright, Catch::Contains("©"));
}

TEST_CASE("docgen: roff specials in table text are escaped", "[app][docgen]") {
    if (!have("man") || !have("col")) {
        WARN("skipped: man or col is not installed");
        return;
    }
    Command root;
    root.summary = "sigmaops - a test";
    Command odd;
    odd.name = "odd-one";
    odd.summary = ".TH looks like a macro";
    odd.usage = "'QUOTED' C:\\PATH";
    odd.flags = {{"--weird", "-w", "X", "\\fBnot bold\\fR\n.SH NOT A SECTION\n'also not a request"}};
    odd.notes = "naïve → text\n  .indented dot\nexit status: 0 fine";
    odd.run = [](const Invocation&) { return 0; };
    root.subcommands = {odd};
    TempDir tmp;
    const fs::path file = write(tmp.path / "odd.1", man_page(root, "9.9"));
    CHECK(sh("MANWIDTH=80 man --warnings -l " + file.string() + " 2>&1 >/dev/null").out == "");
    const std::string out = sh("MANWIDTH=200 man -l " + file.string() + " 2>/dev/null | col -b").out;
    for (const char* text : {".TH looks like a macro", "'QUOTED' C:\\PATH", "\\fBnot bold\\fR", ".SH NOT A SECTION",
                             "'also not a request", "naïve → text", ".indented dot", "sigmaops odd-one"})
        CHECK_THAT(out, Catch::Contains(text));
    CHECK_THAT(out, !Catch::Contains("\nNOT A SECTION"));
}

TEST_CASE("docgen: the bash completion completes commands, options, files, hosts and choices in a real bash", "[app][docgen]") {
    TempDir tmp;
    const fs::path script = write(tmp.path / "sigmaops.bash", bash_completion(sigmaops_command()));
    REQUIRE(sh("bash -n " + script.string() + " 2>&1").out == "");
    // A home with hosts in ~/.ssh/config, known_hosts and hosts.conf, and files to complete.
    const fs::path home = tmp.path / "home";
    write(home / ".ssh/config", "Host alpha alpha-2\n  HostName 10.0.0.1\nHost *.internal !x\n  User ops\n");
    write(home / ".ssh/known_hosts", "[beta.example]:2222,10.0.0.2 ssh-ed25519 AAAAC3Nza\n|1|hashed= ssh-ed25519 AAAA\n");
    write(tmp.path / "xdg/sigmaops/hosts.conf", "Host gamma\n  HostName 10.0.0.3\n");
    write(tmp.path / "files/logs.txt", "x\n");
    write(tmp.path / "files/model.gguf", "x\n");
    fs::create_directories(tmp.path / "files/lib");
    const std::string f = (tmp.path / "files").string() + "/";

    // Each case: the words on the line (the last is being completed) and what must be offered.
    struct Case {
        std::vector<std::string> words;
        std::set<std::string> want;
        bool exact = false;
    };
    std::vector<Case> cases = {
        {{"sigmaops", "hi"}, {"history"}, true},
        {{"sigmaops", "ho"}, {"hosts"}, true},
        {{"sigmaops", "history", "l"}, {"list"}, true},
        {{"sigmaops", "history", "list", "--li"}, {"--limit"}, true},
        {{"sigmaops", "--history", "x.db", "hi"}, {"history"}, true},   // an option's value is skipped
        {{"sigmaops", "completion", ""}, {"bash", "zsh", "fish"}, true},
        {{"sigmaops", "cmd", "--host", "al"}, {"alpha", "alpha-2"}, true},
        {{"sigmaops", "cmd", "--host", "be"}, {"beta.example"}, true},     // known_hosts, [host]:port
        {{"sigmaops", "cmd", "--host", "g"}, {"gamma"}, true},             // hosts.conf
        {{"sigmaops", "cmd", "--host", "*"}, {}, true},                    // patterns are not hosts
        {{"sigmaops", "serve", "--host", "a"}, {}, true},                  // a listen address, not an SSH host
        {{"sigmaops", "run", "--hosts", "alpha,g"}, {"alpha,gamma"}, true},
        {{"sigmaops", "diagnose", f + "lo"}, {f + "logs.txt"}, true},
        {{"sigmaops", "chat", "-m", f + "mo"}, {f + "model.gguf"}, true},
        {{"sigmaops", "chat", "--model", "=", f + "mo"}, {f + "model.gguf"}, true},   // --model=F, '=' a word break
        {{"sigmaops", "tune", "sshd", "--include-root", f + "l"}, {f + "lib"}, true},   // DIR: directories only
        {{"sigmaops", "history", "show", ""}, {}, true},                   // ID: nothing to guess
    };
    // Choices come from the placeholder (--device auto|cpu|cuda, --format md|json).
    for (const Entry& e : table())
        for (const Flag& fl : e.command->flags) {
            const std::vector<std::string> ch = choices_of(fl);
            if (ch.empty() || e.path.empty()) continue;
            std::vector<std::string> w{"sigmaops"};
            std::istringstream p(e.path);
            for (std::string x; p >> x;) w.push_back(x);
            w.push_back(fl.name);
            w.push_back("");
            cases.push_back({w, std::set<std::string>(ch.begin(), ch.end()), true});
        }
    // Every command offers exactly its table's options (plus --help, -h) after "-", and every group
    // its subcommands.
    for (const Entry& e : table()) {
        std::vector<std::string> w{"sigmaops"};
        std::istringstream p(e.path);
        for (std::string x; p >> x;) w.push_back(x);
        std::set<std::string> opts{"--help", "-h"};
        for (const Flag& fl : e.command->flags) {
            opts.insert(fl.name);
            if (!fl.alias.empty()) opts.insert(fl.alias);
        }
        w.push_back("-");
        cases.push_back({w, opts, true});
        if (!e.command->subcommands.empty()) {
            std::set<std::string> subs;
            for (const Command& s : e.command->subcommands) subs.insert(s.name);
            w.back() = "";
            cases.push_back({w, subs, true});
        }
    }

    std::string driver = "source " + script.string() + "\n"
                         "t() { COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _sigmaops;\n"
                         "  printf '%s\\n' \"${COMPREPLY[@]}\"; echo '<end>'; }\n";
    for (const Case& c : cases) {
        driver += "t";
        for (const std::string& w : c.words) {
            driver += ' ';
            driver += sq(w);
        }
        driver += "\n";
    }
    const fs::path drv = write(tmp.path / "driver.bash", driver);
    const Run r = sh("env -i HOME=" + home.string() + " XDG_CONFIG_HOME=" + (tmp.path / "xdg").string() + " PATH=/usr/bin:/bin bash " +
                     drv.string() + " 2>&1");
    REQUIRE(r.rc == 0);
    std::vector<std::set<std::string>> got(1);
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
        if (line == "<end>") got.emplace_back();
        else if (!line.empty()) got.back().insert(line);
    }
    REQUIRE(got.size() == cases.size() + 1);
    for (size_t i = 0; i < cases.size(); ++i) {
        std::string line;
        for (const std::string& w : cases[i].words) line += "[" + w + "] ";
        INFO("completing: " << line);
        if (cases[i].exact) CHECK(got[i] == cases[i].want);
        else
            for (const std::string& w : cases[i].want) CHECK(got[i].count(w) == 1);
    }
}

TEST_CASE("docgen: zsh parses its completion", "[app][docgen]") {
    if (!have("zsh")) {
        WARN("skipped: zsh is not installed");
        return;
    }
    TempDir tmp;
    const fs::path script = write(tmp.path / "_sigmaops", zsh_completion(sigmaops_command()));
    CHECK(sh("zsh -n " + script.string() + " 2>&1").out == "");
}

TEST_CASE("docgen: fish parses its completion", "[app][docgen]") {
    if (!have("fish")) {
        WARN("skipped: fish is not installed");
        return;
    }
    TempDir tmp;
    const fs::path script = write(tmp.path / "sigmaops.fish", fish_completion(sigmaops_command()));
    CHECK(sh("fish -n " + script.string() + " 2>&1").out == "");
}

TEST_CASE("docgen: sigmaops man and completion print the generated text, bad words are usage errors", "[app][docgen]") {
    const Command& root = sigmaops_command();
    auto run = [&](std::vector<std::string> argv, std::string& out) {
        std::istringstream in;
        std::ostringstream o, e;
        Io io{in, o, e};
        const int rc = dispatch(root, argv, io);
        out = o.str() + e.str();
        return rc;
    };
    std::string out;
    CHECK(run({"man"}, out) == 0);
    CHECK(out == man_page(root, sigmaops::app_version()));
    CHECK(run({"completion", "bash"}, out) == 0);
    CHECK(out == bash_completion(root));
    CHECK(run({"completion", "zsh"}, out) == 0);
    CHECK(out == zsh_completion(root));
    CHECK(run({"completion", "fish"}, out) == 0);
    CHECK(out == fish_completion(root));
    CHECK(run({"completion", "tcsh"}, out) == 2);
    CHECK_THAT(out, Catch::Contains("unknown command 'completion tcsh'"));
    CHECK(run({"completion"}, out) == 2);
    CHECK(run({"man", "extra"}, out) == 2);
    CHECK_THAT(out, Catch::Contains("unexpected argument 'extra'"));
}

TEST_CASE("docgen: the build wrote the same files and cmake --install puts them where shells and man look", "[app][docgen]") {
    const fs::path docs = fs::path(SIGMAOPS_BINARY_DIR) / "app/docs";
    if (!fs::exists(docs / "sigmaops.1")) {
        WARN("skipped: " << docs.string() << " not built (the sigmaops_docs target)");
        return;
    }
    const Command& root = sigmaops_command();
    CHECK(read(docs / "sigmaops.1") == man_page(root, sigmaops::app_version()));
    CHECK(read(docs / "sigmaops.bash") == bash_completion(root));
    CHECK(read(docs / "_sigmaops") == zsh_completion(root));
    CHECK(read(docs / "sigmaops.fish") == fish_completion(root));
    TempDir tmp;
    const Run r = sh("cmake --install " + std::string(SIGMAOPS_BINARY_DIR) + " --component docs --prefix " + tmp.path.string() + " 2>&1");
    INFO(r.out);
    REQUIRE(r.rc == 0);
    CHECK(read(tmp.path / "share/man/man1/sigmaops.1") == read(docs / "sigmaops.1"));
    CHECK(read(tmp.path / "share/bash-completion/completions/sigmaops") == read(docs / "sigmaops.bash"));
    CHECK(read(tmp.path / "share/zsh/vendor-completions/_sigmaops") == read(docs / "_sigmaops"));
    CHECK(read(tmp.path / "share/fish/vendor_completions.d/sigmaops.fish") == read(docs / "sigmaops.fish"));
    // man finds the installed page by name through MANPATH.
    if (have("man")) CHECK_THAT(sh("MANPATH=" + (tmp.path / "share/man").string() + " man -w sigmaops 2>&1").out,
                                Catch::Contains(tmp.path.string()));
}
