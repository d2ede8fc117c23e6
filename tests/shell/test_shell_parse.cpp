// test_shell_parse.cpp - the bash parser (agents/shell): the grammar's productions with the
// offsets of their nodes, quoting and expansions, here-documents, and malformed input rejected
// at the offset bash -n points at (checked by hand against bash 5.2 -n).
#include <catch2/catch.hpp>

#include <shell/shell.h>

#include <string>
#include <vector>

using namespace sigmaops::shell;

namespace {

std::shared_ptr<Script> ok(const std::string& src, Options opt = {}) {
    ParseResult r = parse(src, opt);
    INFO(src << "\n  error: " << (r.error ? std::to_string(r.error->offset) + " " + r.error->message : ""));
    REQUIRE(r.ok());
    return r.script;
}

ParseError bad(const std::string& src) {
    ParseResult r = parse(src);
    INFO(src);
    REQUIRE(!r.ok());
    return *r.error;
}

const Command& first(const std::shared_ptr<Script>& s) {
    REQUIRE(!s->list.body.empty());
    return s->list.body[0];
}

std::string lit(const Word& w) { return w.literal().value_or("<computed>"); }

std::string span(const std::string& src, Offset b, Offset e) { return src.substr(b, e - b); }

} // namespace

TEST_CASE("simple commands: words, assignments, redirections, with offsets", "[shell][parse]") {
    const std::string src = "A=1 B+=x echo  hi 2>/dev/null >>log";
    auto s = ok(src);
    const Command& c = first(s);
    CHECK(c.kind == Kind::Simple);
    REQUIRE(c.assignments.size() == 2);
    CHECK(c.assignments[0].name == "A");
    CHECK(lit(c.assignments[0].value) == "1");
    CHECK(c.assignments[1].append);
    REQUIRE(c.words.size() == 2);
    CHECK(c.words[0].begin == 9);
    CHECK(span(src, c.words[1].begin, c.words[1].end) == "hi");
    REQUIRE(c.redirects.size() == 2);
    CHECK(c.redirects[0].fd == "2");
    CHECK(c.redirects[0].op == ">");
    CHECK(c.redirects[0].begin == 18);
    CHECK(lit(c.redirects[0].target) == "/dev/null");
    CHECK(c.redirects[1].op == ">>");
    CHECK(c.begin == 0);
    CHECK(c.end == src.size());
}

TEST_CASE("quoting forms give the word's literal value", "[shell][parse]") {
    auto s = ok(R"(r''m "r"m \rm $'\x72m' $'\162m' 'a b'"c"\ d $"loc")");
    const auto& w = first(s).words;
    REQUIRE(w.size() == 7);
    for (int i = 0; i < 5; ++i) CHECK(lit(w[size_t(i)]) == "rm");
    CHECK(lit(w[5]) == "a bc d");
    CHECK(lit(w[6]) == "loc");
    CHECK(w[6].fully_quoted());
    CHECK(!w[0].has_expansion());
}

TEST_CASE("expansions: parameters, command, arithmetic and process substitution", "[shell][parse]") {
    const std::string src = "echo $x ${y:-$(date)} $((1+2)) `id` <(ls) \"$HOME/$(pwd)\" $[1]";
    auto s = ok(src);
    const auto& w = first(s).words;
    REQUIRE(w.size() == 8);
    CHECK(w[1].parts[0].kind == PartKind::Param);
    CHECK(w[1].parts[0].text == "x");
    CHECK(w[2].parts[0].kind == PartKind::Param);
    CHECK(w[2].parts[0].text == "y");
    REQUIRE(w[2].parts[0].parts.size() == 2);   // ":-" and $(date)
    CHECK(w[2].parts[0].parts[1].kind == PartKind::CommandSubst);
    CHECK(w[3].parts[0].kind == PartKind::Arith);
    CHECK(w[3].parts[0].text == "1+2");
    CHECK(w[4].parts[0].kind == PartKind::Backquote);
    REQUIRE(w[4].parts[0].body);
    CHECK(lit(w[4].parts[0].body->list.body[0].words[0]) == "id");
    CHECK(w[5].parts[0].kind == PartKind::ProcSubst);
    CHECK(w[5].parts[0].text == "<");
    CHECK(w[6].parts[0].kind == PartKind::DoubleQuoted);
    CHECK(w[6].parts[0].parts[2].kind == PartKind::CommandSubst);
    // The substitution's body is parsed, with offsets into the whole source.
    const Command& date = w[2].parts[0].parts[1].body->list.body[0];
    CHECK(span(src, date.begin, date.end) == "date");
    CHECK(w[7].parts[0].kind == PartKind::Arith);
    for (const Word& x : w) CHECK(x.has_expansion() == (lit(x) == "<computed>"));
}

TEST_CASE("pipelines and lists", "[shell][parse]") {
    const std::string src = "! a | b |& c && d || e; f & g\nh";
    auto s = ok(src);
    REQUIRE(s->list.body.size() == 4);
    const Command& aor = s->list.body[0];
    CHECK(aor.kind == Kind::Or);
    CHECK(aor.body[0].kind == Kind::And);
    const Command& pipe = aor.body[0].body[0];
    CHECK(pipe.kind == Kind::Pipeline);
    CHECK(pipe.negated);
    REQUIRE(pipe.body.size() == 3);
    CHECK(pipe.pipe_stderr == std::vector<bool>{false, true});
    CHECK(pipe.begin == 0);
    CHECK(s->list.body[1].background);
    CHECK(!s->list.body[2].background);
    CHECK(s->list.body[3].begin == src.size() - 1);
}

TEST_CASE("compound commands", "[shell][parse]") {
    auto s = ok("if a; then b; elif c; then d; else e; fi\n"
                "while x; do y; done; until x; do y; done\n"
                "for i in 1 2; do echo $i; done; for ((i=0; i<3; i++)); do :; done; for j; do :; done\n"
                "case $x in a|b) one;; (c) two;& *) three;;& esac\n"
                "( sub ) > out; { grp; } 2>&1\n"
                "f() { body; }; function g { :; }; function h() ( : )\n"
                "[[ -f x && ( $a == b* || $c =~ ^d(e|f)$ ) ]]; (( i += 2 ))\n"
                "select s in a b; do break; done; coproc NAME { cat; }; time -p sleep 1\n");
    std::vector<Kind> kinds;
    for (const Command& c : s->list.body) kinds.push_back(c.kind);
    CHECK(kinds == std::vector<Kind>{Kind::If, Kind::While, Kind::Until, Kind::For, Kind::ArithFor, Kind::For, Kind::Case,
                                     Kind::Subshell, Kind::Group, Kind::Function, Kind::Function, Kind::Function, Kind::Test,
                                     Kind::Arith, Kind::Select, Kind::Coproc, Kind::Simple});
    const Command& iff = s->list.body[0];
    CHECK(iff.body.size() == 5);
    CHECK(iff.has_else);
    const Command& fr = s->list.body[3];
    CHECK(fr.name == "i");
    CHECK(fr.has_in);
    CHECK(fr.words.size() == 2);
    CHECK(s->list.body[4].words.size() == 3);
    const Command& cs = s->list.body[6];
    REQUIRE(cs.items.size() == 3);
    CHECK(cs.items[0].patterns.size() == 2);
    CHECK(cs.items[1].terminator == ";&");
    CHECK(cs.items[2].terminator == ";;&");
    CHECK(s->list.body[7].redirects.size() == 1);
    CHECK(s->list.body[9].name == "f");
    CHECK(s->list.body[15].name == "NAME");
    CHECK(s->list.body[16].timed);
}

TEST_CASE("arrays and declaration arguments", "[shell][parse]") {
    auto s = ok("a=(1 \"two\" $(three)) b[2]=x; declare -a c=(x y); local d=1");
    const Command& c = first(s);
    REQUIRE(c.assignments.size() == 2);
    CHECK(c.assignments[0].is_array);
    CHECK(c.assignments[0].elements.size() == 3);
    CHECK(c.assignments[1].name == "b[2]");
    const Command& decl = s->list.body[1];
    CHECK(lit(decl.words[0]) == "declare");
    REQUIRE(decl.assignments.size() == 1);
    CHECK(decl.assignments[0].elements.size() == 2);
}

TEST_CASE("here-documents and here-strings", "[shell][parse]") {
    const std::string src = "cat <<EOF; cat <<-'Q' | wc\nhello $USER $(id)\nEOF\n\t\tliteral $x\n\tQ\necho after <<< \"str\"\n";
    auto s = ok(src);
    REQUIRE(s->list.body.size() == 3);
    const Redirect& h1 = s->list.body[0].redirects[0];
    CHECK(h1.op == "<<");
    CHECK(h1.heredoc == "hello $USER $(id)\n");
    CHECK(!h1.heredoc_quoted);
    CHECK(h1.heredoc_begin == src.find("hello"));
    bool saw_subst = false;
    for (const WordPart& p : h1.heredoc_parts) saw_subst |= p.kind == PartKind::CommandSubst;
    CHECK(saw_subst);
    const Command& pipe = s->list.body[1];
    REQUIRE(pipe.kind == Kind::Pipeline);
    const Redirect& h2 = pipe.body[0].redirects[0];
    CHECK(h2.op == "<<-");
    CHECK(h2.heredoc_quoted);
    CHECK(h2.heredoc == "literal $x\n");
    CHECK(h2.heredoc_parts.empty());
    CHECK(s->list.body[2].redirects[0].op == "<<<");
    // A here-document cut by the end of input is a warning in bash, not an error.
    CHECK(parse("cat <<EOF\nno end").ok());
    // (found by fuzz_shell) a body cut by the end of input keeps its parts inside the input.
    const std::string cut = "cat <<-E\n\t\tx $y";
    auto c = ok(cut);
    const Redirect& h3 = first(c).redirects[0];
    CHECK(h3.heredoc == "x $y");
    REQUIRE(!h3.heredoc_parts.empty());
    for (const WordPart& p : h3.heredoc_parts) CHECK(p.end <= cut.size());
}

TEST_CASE("comments, continuations, and words that look like operators", "[shell][parse]") {
    auto s = ok("echo a#b # comment\necho \\\n  continued }  { ]] then");
    CHECK(first(s).words.size() == 2);
    CHECK(s->list.body[1].words.size() == 6);
    CHECK(lit(s->list.body[1].words[1]) == "continued");
    // (( that is not arithmetic: a subshell in a subshell; $(( likewise.
    CHECK(first(ok("((echo a) )")).kind == Kind::Subshell);
    auto sub = ok("echo $((echo a) )");
    CHECK(first(sub).words[1].parts[0].kind == PartKind::CommandSubst);
    CHECK(ok("echo $(case x in x) echo y;; esac)"));
    CHECK(ok("echo \"$(echo \")\")\""));
}

TEST_CASE("extglob patterns only with the option, and always inside [[ ]]", "[shell][parse]") {
    CHECK(!parse("case x in @(a|b)) ;; esac").ok());   // bash -n: unexpected `('
    Options ext;
    ext.extglob = true;
    CHECK(parse("case x in @(a|b)) ;; esac", ext).ok());
    CHECK(parse("[[ $x == @(a|b)* ]]").ok());
}

TEST_CASE("malformed input is rejected at the offset bash -n names", "[shell][parse][errors]") {
    struct Case { std::string src; Offset offset; std::string message; };
    const std::vector<Case> cases = {
        {"echo a | ;", 9, "unexpected `;'"},
        {"if true; then fi", 14, "unexpected `fi'"},
        {"{ }", 2, "unexpected `}'"},
        {"( )", 2, "unexpected `)'"},
        {"echo $(", 5, "`$('"},
        {"echo \"abc", 5, "matching `\"'"},
        {"echo 'abc", 5, "matching `''"},
        {"echo `abc", 5, "matching ``'"},
        {"echo ${x", 5, "matching `}'"},
        {"case x in a) echo", 17, "expected `esac'"},
        {"f() echo", 4, "compound command"},
        {"then", 0, "unexpected `then'"},
        {"echo )", 5, "unexpected `)'"},
        {"a=(1 2", 2, "`)' of the array"},
        {"[[ a b ]]", 5, "conditional binary operator"},
        {"[[ -f ]]", 6, "conditional unary operator"},
        {"[[ a == ]]", 8, "conditional binary operator"},
        {"echo a &&", 9, "a command after `&&'"},
        {"echo a ; ;", 9, "unexpected `;'"},
        {"& echo", 0, "unexpected `&'"},
        {"echo > ;", 7, "a word after `>'"},
        {"echo a | ! b", 9, "unexpected `!'"},
        {"while; do :; done", 5, "unexpected `;'"},
        {"for ((i=0;i<3)); do :; done", 4, "three expressions"},
        {"echo ok\nfi", 8, "unexpected `fi'"},
    };
    for (const Case& c : cases) {
        ParseError e = bad(c.src);
        INFO(c.src << " -> " << e.offset << " " << e.message);
        CHECK(e.offset == c.offset);
        CHECK_THAT(e.message, Catch::Contains(c.message));
    }
}

TEST_CASE("parse_at moves every offset, and deep nesting is an error, not a crash", "[shell][parse][errors]") {
    auto s = parse_at("ls -l", 100).script;
    REQUIRE(s);
    CHECK(s->list.body[0].begin == 100);
    CHECK(s->list.body[0].words[1].begin == 103);
    CHECK(parse_at("echo )", 10).error->offset == 15);
    std::string deep(5000, '(');
    ParseResult r = parse(deep);
    REQUIRE(!r.ok());
    CHECK_THAT(r.error->message, Catch::Contains("nesting deeper"));
    std::string subst;
    for (int i = 0; i < 3000; ++i) subst += "$(";
    CHECK(!parse(subst).ok());
    CHECK(parse(std::string(4000, '`')).ok());   // 2,000 empty substitutions in a row
    CHECK(parse(std::string("echo \0x", 7)).ok());
}
