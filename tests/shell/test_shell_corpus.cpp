// test_shell_corpus.cpp - the parser against `bash -n` on real snippets, with a floor: a sample of
// tools/shell_corpus.py's corpus (one tldr example in 12, every bash-completion and maintainer
// script on the machine; about 3,000 snippets, a few seconds). The whole corpus is measured by
// bench/bench_shell_parse (docs/benchmarks.md, "Shell parser"). A second case holds 114
// hand-written corners (quoting, nesting, here-documents in substitutions, errors) to bash -n.
#include <catch2/catch.hpp>

#include "bash_reference.h"

#include <shell/shell.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

TEST_CASE("the parser agrees with bash -n on at least 99% of real snippets", "[shell][corpus]") {
    const std::string tldr = std::string(SIGMAOPS_SHARED_DATA) + "/tldr/pages";
    if (access("/bin/bash", X_OK) != 0) { WARN("skipped: no /bin/bash to compare with"); return; }
    if (!fs::is_directory(tldr)) { WARN("skipped: no tldr pages at " << tldr); return; }
    const fs::path out = fs::temp_directory_path() / ("sigmaops_shell_corpus_" + std::to_string(getpid()) + ".jsonl");
    const std::string cmd = "python3 '" SIGMAOPS_SOURCE_DIR "/tools/shell_corpus.py' --every 12 --shared-data '" SIGMAOPS_SHARED_DATA
                            "' --out '" + out.string() + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) { WARN("skipped: python3 could not build the corpus (" << cmd << ")"); return; }
    auto corpus = shell_reference::read_corpus(out.string());
    fs::remove(out);
    REQUIRE(corpus);
    const auto& snippets = *corpus;
    CHECK(snippets.size() >= 2000);

    std::vector<int> agree(snippets.size(), 0);
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 2; ++t)
        pool.emplace_back([&] {
            for (size_t i; (i = next++) < snippets.size();) {
                bool ours = sigmaops::shell::parse(snippets[i].text).ok();
                shell_reference::BashVerdict b = shell_reference::bash_n(snippets[i].text);
                agree[i] = !b.ran ? -1 : ours == b.ok ? 1 : 0;
            }
        });
    for (auto& t : pool) t.join();
    size_t n_agree = 0, n_ran = 0;
    for (size_t i = 0; i < snippets.size(); ++i) {
        if (agree[i] < 0) continue;
        ++n_ran;
        if (agree[i]) ++n_agree;
        else UNSCOPED_INFO("disagree: " << snippets[i].source);
    }
    REQUIRE(n_ran == snippets.size());
    const double share = double(n_agree) / double(n_ran);
    INFO(n_agree << " of " << n_ran << " agree");
    CHECK(share >= 0.99);
}

TEST_CASE("hand-written edge cases agree with bash -n", "[shell][corpus]") {
    if (access("/bin/bash", X_OK) != 0) { WARN("skipped: no /bin/bash to compare with"); return; }
    // Quoting, nesting, here-documents in substitutions, [[ ]] and case corners, and the usual
    // ways to get a command wrong; each decided by bash 5.2 -n when the test runs.
    const std::vector<std::string> cases = {
        "case x in esac", "case x in if) ;; esac", "echo $(( ))", "cmd &>> file", "a=b command",
        "x=$(cat <<EOF\nhi\nEOF\n)", "while read -r line; do echo; done < <(cmd)", "foo::bar() { :; }",
        "[[ $x == *\" \"* ]]", "echo ${x/\\//_} ${x#\"$y\"}", "{ echo a; } && { echo b; }", "if ! cmd; then :; fi",
        "{echo a", "echo a >&2; exec {fd}<&-", "echo $( (a) )", "echo $(echo a # comment )\n)", "echo ${x:-'a}b'}",
        "echo \"${x:-\"}\"}\"", "echo \"$'x'\"", "echo \\\"", "echo $'a\\'b'", "for i in {1..3}; do :; done",
        "echo $((x<<2))", "let 'x = 1'", "((x<<2))", "cat <<'EOF' | sed 's/a/b/'\nbody\nEOF", "cat << EOF\nx\nEOF",
        "cat <<\"EOF\"\nx\nEOF", "cat <<E\\OF\nx\nEOF", "echo $(cat <<EOF\na)b\nEOF\n)", "echo $(echo ')')",
        "echo `echo ')'`", "a=( [1]=x [2]=y )", "a+=([k]=v)", "echo ${!arr[@]}", "echo ${arr[$i+1]}",
        "echo $((${#a}+1))", "select x; do :; done", "until ! false; do break; done",
        "case x in\n  a)\n    echo\n    ;;\nesac", "f() {\n  local x=1\n}\n", "echo a |\n  grep a",
        "echo a &&\n\n echo b", "[[ -n $x ]] || { echo; exit 1; }", "trap 'echo bye' EXIT", "echo $[1+2]",
        "echo $RANDOM${x}", "if [ a ]\nthen\n:\nfi", "for x in a b\ndo\n:\ndone", "echo {a..z}", "coproc { cat; }",
        "time { sleep 1; }", "! { a; }", "exec 3< <(ls)", "cat <(ls) <(ls)", "echo \"a\nb\"", "echo 'a\nb'",
        "cmd \\\n --flag", "declare -A m=([a]=1 [b]=2)", "arr=(\n a # c\n b\n)", "echo $(( (1+2) * 3 ))",
        "echo $(( $(echo 1) ))", "(( a[1] = 2 ))", "[[ ( a ) ]]", "[[ a && ! b ]]", "[[ $a == a || $b != b ]]",
        "[[ a =~ [[:space:]]+ ]]", "[[ a =~ ^(a b)$ ]]", "[[ -v x ]]", "[[ a -nt b ]]",
        "case $1 in\n--x=*) ;; -[ab]) ;; esac", "case x in (*) ;; esac", "echo esac", "echo done; echo fi",
        "function f() { :; }", "function f\n{\n:\n}", "f()\n{\n:\n}", "echo ${x%%*/}", "echo ${x:0:1}", "echo ${#}",
        "echo $$ $#", "echo \\$x", "echo a\\;b", "x=\\`", "echo ${x:-a b c}", "echo ${x-}", ":(){ :|:& };:",
        "echo 'unclosed\"", "echo $(", "echo ${", "echo $((", "echo `", "if", "then", "for x in", "case", "a=(",
        "[[", "((", "echo a >", "echo a |", "a && && b", "a || | b", "(a", "{ a", "a)", "}", "echo ;; a", "f() ;",
        "function ;", "case x in a) b;; c) esac", "case x in a b) ;; esac", "for x y; do :; done",
        "while true do :; done",
    };
    for (const std::string& c : cases) {
        shell_reference::BashVerdict b = shell_reference::bash_n(c);
        REQUIRE(b.ran);
        sigmaops::shell::ParseResult r = sigmaops::shell::parse(c);
        INFO(c << "\n  bash: " << b.message << "\n  ours: " << (r.ok() ? "ok" : r.error->message));
        CHECK(r.ok() == b.ok);
    }
}
