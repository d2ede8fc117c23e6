// The grammar module of constrained decoding on its own (engine/src/grammar): the parser's
// errors with offsets, sentences accepted and rejected, UTF-8 classes, and the token mask
// against two independent answers: a per-token walk and, for regular grammars, std::regex over
// every string up to a length.
#include "grammar/grammar.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <random>
#include <regex>
#include <set>

using namespace sigma::grammar;

namespace {

std::shared_ptr<const TokenTable> table_of(const std::vector<std::string>& pieces, int n_end = 1) {
    std::vector<TokenInfo> t;
    for (int k = 0; k < n_end; ++k) t.push_back({TokenInfo::Kind::End, "", false, ""});
    for (const auto& p : pieces) t.push_back({TokenInfo::Kind::Text, p, false, ""});
    return std::make_shared<TokenTable>(std::move(t));
}

// Whether `text` is a sentence of the grammar / a prefix of one, through the matcher's bytes.
bool accepts(const std::string& grammar, const std::string& text) {
    Matcher m(Grammar::parse(grammar), table_of({}));
    return m.accept_bytes(text) && m.complete();
}
bool prefix_ok(const std::string& grammar, const std::string& text) {
    Matcher m(Grammar::parse(grammar), table_of({}));
    return m.accept_bytes(text);
}

ParseError parse_error(const std::string& grammar) {
    try {
        Grammar::parse(grammar);
    } catch (const ParseError& e) {
        return e;
    }
    FAIL("no error for: " << grammar);
    return ParseError(0, 0, 0, "");
}

} // namespace

TEST_CASE("grammar: sentences accepted and rejected", "[grammar]") {
    const std::string g = R"(
        root  ::= greet " " name ("!" | ".")?   # a comment
        greet ::= "hello" | "hi"
        name  ::= [A-Z] [a-z]*
    )";
    CHECK(accepts(g, "hello World"));
    CHECK(accepts(g, "hi Bob!"));
    CHECK(accepts(g, "hi B."));
    CHECK_FALSE(accepts(g, "hi"));            // a prefix, not a sentence
    CHECK(prefix_ok(g, "hi"));
    CHECK(prefix_ok(g, "hel"));
    CHECK_FALSE(prefix_ok(g, "hex"));
    CHECK_FALSE(accepts(g, "hi bob"));
    CHECK_FALSE(prefix_ok(g, "hi Bob!!"));

    // Repetition counts.
    const std::string r = R"(root ::= "a"{2,3} "b"{2} "c"{1,} )";
    CHECK_FALSE(accepts(r, "abbc"));
    CHECK(accepts(r, "aabbc"));
    CHECK(accepts(r, "aaabbccc"));
    CHECK_FALSE(prefix_ok(r, "aaaa"));
    CHECK_FALSE(accepts(r, "aabbbc"));

    // Escapes and empty alternatives.
    CHECK(accepts(R"(root ::= "a\n\t\"\\" ( | "x"))", "a\n\t\"\\"));
    CHECK(accepts(R"(root ::= "a\n\t\"\\" ( | "x"))", "a\n\t\"\\x"));
    CHECK(accepts(R"(root ::= [\x41-\x43]+)", "ABCA"));
    CHECK_FALSE(accepts(R"(root ::= [\x41-\x43]+)", "ABD"));
    // Recursion (balanced parentheses) is not left recursion.
    const std::string paren = R"g(root ::= item*
item ::= "(" item* ")")g";
    CHECK(accepts(paren, "(()(()))()"));
    CHECK_FALSE(accepts(paren, "(()"));
    CHECK(prefix_ok(paren, "((("));
    CHECK_FALSE(prefix_ok(paren, "())"));
}

TEST_CASE("grammar: classes match whole UTF-8 characters", "[grammar]") {
    const std::string g = R"(root ::= [^\n]+ "\n")";
    CHECK(accepts(g, "grüße €\n"));
    CHECK(accepts(g, "\xF0\x9F\x98\x80\n"));          // U+1F600
    CHECK_FALSE(prefix_ok(g, "\xC3"  "A"));            // a lead byte then ASCII
    CHECK_FALSE(prefix_ok(g, "\x80"));                 // a lone continuation byte
    CHECK_FALSE(prefix_ok(g, "\xED\xA0\x80"));         // a surrogate
    CHECK_FALSE(prefix_ok(g, "\xC0\x80"));             // an overlong NUL
    CHECK(prefix_ok(g, "\xE2\x82"));                   // half of a character is a valid prefix
    const std::string greek = "root ::= [α-ω]+";
    CHECK(accepts(greek, "αβγω"));
    CHECK_FALSE(prefix_ok(greek, "a"));
    CHECK_FALSE(prefix_ok(greek, "Ω"));
    CHECK(accepts("root ::= . . .", "a€\xF0\x9F\x98\x80"));
}

TEST_CASE("grammar: errors name the offset, line and column", "[grammar]") {
    struct Case {
        std::string text;
        size_t offset;
        std::string says;
    };
    const std::vector<Case> cases = {
        {"", 0, "empty"},
        {"root ::= \"abc", 9, "unterminated literal"},
        {"root ::= [abc", 9, "unterminated character class"},
        {"root ::= []", 9, "empty character class"},
        {"root ::= [z-a]", 10, "range's end"},
        {"root ::= foo", 9, "'foo' is used but never defined"},
        {"root = \"a\"", 5, "expected '::='"},
        {"root ::= (\"a\" | \"b\"", 9, "unclosed '('"},
        {"root ::= \"a\" )", 13, "unexpected ')'"},
        {"root ::= * \"a\"", 9, "must follow something"},
        {"root ::= \"a\"**", 13, "repetition of a repetition"},
        {"root ::= \"a\"{3,2}", 12, "maximum is below its minimum"},
        {"root ::= \"a\"{5000}", 12, "above 1000"},
        {"root ::= \"\\q\"", 10, "unknown escape"},
        {"root ::= \"a\"\nroot ::= \"b\"", 13, "defined twice"},
        {"start ::= \"a\"", 0, "no rule named 'root'"},
        {"root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\"", 14, "'expr' is left-recursive"},
        {"root ::= (\"a\"?)*", 15, "left-recursive"},
        {"root ::= \"x\" root", 0, "can never finish"},
        {"root ::= \"a\" $", 13, "unexpected character '$'"},
    };
    for (const Case& c : cases) {
        INFO(c.text);
        const ParseError e = parse_error(c.text);
        CHECK(e.offset == c.offset);
        CHECK_THAT(e.reason, Catch::Contains(c.says));
        CHECK(e.code() == sigma::ErrorCode::InvalidArgument);
        CHECK_THAT(std::string(e.what()), Catch::Contains("offset " + std::to_string(c.offset)));
    }
    const ParseError multi = parse_error("root ::= a\na ::= \"x\"\n  b ::= \"y\" c\n");
    CHECK(multi.line == 3);
    CHECK(multi.column == 13);
}

namespace {

// Every string over `alphabet` of length <= max_len that std::regex matches fully; the set of
// their prefixes is the independent answer to "is this a valid prefix".
struct Language {
    std::set<std::string> sentences, prefixes;
};
Language enumerate(const std::string& regex, const std::string& alphabet, size_t max_len) {
    const std::regex re(regex);
    Language L;
    std::function<void(std::string&)> rec = [&](std::string& s) {
        if (std::regex_match(s, re)) {
            L.sentences.insert(s);
            for (size_t k = 0; k <= s.size(); ++k) L.prefixes.insert(s.substr(0, k));
        }
        if (s.size() == max_len) return;
        for (char c : alphabet) {
            s.push_back(c);
            rec(s);
            s.pop_back();
        }
    };
    std::string s;
    rec(s);
    return L;
}

bool bit(const std::vector<uint64_t>& mask, int32_t t) { return (mask[size_t(t) >> 6] >> (t & 63)) & 1; }

} // namespace

TEST_CASE("grammar: the token mask equals brute force on small vocabularies", "[grammar]") {
    struct Case {
        std::string gbnf, regex;
    };
    // The same languages written twice: as our grammar and as an ECMAScript regex.
    const std::vector<Case> cases = {
        {R"(root ::= "ab" [abc]* ("ca" | "b")+)", "ab[abc]*(ca|b)+"},
        {R"(root ::= ( "a" | "bc"? "c" ){1,3} "d"?)", "(a|(bc)?c){1,3}d?"},
        {R"(root ::= x "-" x
            x ::= [a-c] [^-d]*)", "[a-c][^-d]*-[a-c][^-d]*"},
    };
    const std::string alphabet = "abcd-";
    const size_t max_len = 8;
    // Every non-empty string of length <= 3 over the alphabet is a token, plus a few longer ones.
    std::vector<std::string> pieces;
    std::function<void(std::string&)> gen = [&](std::string& s) {
        if (!s.empty()) pieces.push_back(s);
        if (s.size() == 3) return;
        for (char c : alphabet) { s.push_back(c); gen(s); s.pop_back(); }
    };
    std::string s;
    gen(s);
    pieces.insert(pieces.end(), {"abab", "abcab", "cccc", "a-b-", "bcbcbc"});
    auto table = table_of(pieces);   // token 0 ends the generation, tokens 1.. are the pieces

    for (const Case& c : cases) {
        INFO(c.gbnf);
        const Language L = enumerate(c.regex, alphabet, max_len);
        REQUIRE(L.sentences.size() > 5);
        auto g = Grammar::parse(c.gbnf);
        size_t n_checked = 0;
        // From every valid prefix short enough that prefix + token stays within max_len.
        for (const std::string& prefix : L.prefixes) {
            if (prefix.size() + 3 > max_len - 2) continue;
            Matcher m(g, table);
            REQUIRE(m.accept_bytes(prefix));
            const std::vector<uint64_t> mask = m.allowed();
            CHECK(bit(mask, 0) == (L.sentences.count(prefix) == 1));
            for (int32_t t = 1; t < table->size(); ++t) {
                const std::string& piece = table->token(t).bytes;
                if (prefix.size() + piece.size() > max_len - 2) continue;
                const bool expect = L.prefixes.count(prefix + piece) == 1;
                if (bit(mask, t) != expect) FAIL_CHECK("prefix '" << prefix << "' token '" << piece << "': mask " << bit(mask, t));
                ++n_checked;
            }
        }
        CHECK(n_checked > 500);
    }
}

TEST_CASE("grammar: masks equal a per-token walk along random generations", "[grammar]") {
    // A command-line-like grammar with quotes, over a vocabulary with multi-byte UTF-8 pieces,
    // partial characters and newlines.
    const std::string g = R"(
        root ::= "```sh\n" cmd "\n```\n" expl
        cmd  ::= word (" " word)*
        word ::= ([a-z0-9./=-] | "'" [^'\n]* "'" | "\"" [^"\n]* "\"")+
        expl ::= [A-Z] [^\n]* "."
    )";
    std::vector<std::string> pieces = {"```", "```sh", "sh", "\n", "\n```", "\n```\n", " ", " -", "-l", "ls", "ls -l",
                                       "'", "\"", "' ", "\" ", "a", "b", "x.", ".", "Lists", " files", ".\n", "é",
                                       "\xC3", "\xA9", "\xE2\x82", "\xAC", "€", "'\n", "A", "Z.", "=", "/", "/etc",
                                       "tar", " -czf", " x", "Shows", " the", " log", "..", "\n\n", "'x'"};
    auto table = table_of(pieces);
    auto grammar = Grammar::parse(g);
    std::mt19937 rng(7);
    size_t n_steps = 0;
    for (int run = 0; run < 60; ++run) {
        Matcher m(grammar, table);
        std::string text;
        for (int step = 0; step < 40 && !m.ended(); ++step) {
            const std::vector<uint64_t> mask = m.allowed();
            std::vector<int32_t> ok;
            for (int32_t t = 0; t < table->size(); ++t) {
                // The independent answer: a fresh matcher (no shared states or caches) walks the
                // text so far plus the token's bytes.
                Matcher fresh(grammar, table);
                const bool expect = t == 0 ? fresh.accept_bytes(text) && fresh.complete()
                                           : fresh.accept_bytes(text + table->token(t).bytes);
                if (bit(mask, t) != expect) FAIL_CHECK("after '" << text << "' token '" << table->token(t).bytes << "'");
                if (expect) ok.push_back(t);
            }
            REQUIRE_FALSE(ok.empty());
            const int32_t pick = ok[std::uniform_int_distribution<size_t>(0, ok.size() - 1)(rng)];
            REQUIRE(m.accept(pick));
            if (pick) text += table->token(pick).bytes;
            ++n_steps;
        }
        if (m.ended()) {
            Matcher fresh(grammar, table);
            CHECK((fresh.accept_bytes(text) && fresh.complete()));
        }
    }
    CHECK(n_steps > 500);
}

TEST_CASE("grammar: the first piece is judged without the space a SentencePiece decoder drops", "[grammar]") {
    std::vector<TokenInfo> t = {{TokenInfo::Kind::End, "", false, ""},
                                {TokenInfo::Kind::Text, " ls", true, "ls"},
                                {TokenInfo::Kind::Text, " ", false, ""},   // a byte token: keeps its space
                                {TokenInfo::Kind::Text, "ls", false, ""},
                                {TokenInfo::Kind::Text, " -l", true, "-l"},
                                {TokenInfo::Kind::Never, "<|user|>", false, ""}};
    auto table = std::make_shared<TokenTable>(std::move(t));
    Matcher m(Grammar::parse(R"(root ::= "ls" " -l"?)"), table);
    CHECK(m.at_start());
    CHECK(m.allowed(1));          // " ls" shows as "ls" first
    CHECK(m.allowed(3));
    CHECK_FALSE(m.allowed(2));    // " " is not stripped: "ls" cannot start with a space
    CHECK_FALSE(m.allowed(4));
    CHECK_FALSE(m.allowed(5));    // never under a grammar
    CHECK_FALSE(m.allowed(0));    // not complete yet
    REQUIRE(m.accept(1));
    CHECK_FALSE(m.at_start());
    CHECK(m.allowed(4));          // now " -l" keeps its space
    CHECK_FALSE(m.allowed(1));
    CHECK(m.allowed(0));
    float logits[6] = {1, 1, 1, 1, 1, 1};
    CHECK(m.apply(logits, 6) == 3);   // end, " " (" -l" starts with the space) and " -l"
    CHECK(std::isinf(logits[1]));
    CHECK(logits[4] == 1);
    REQUIRE(m.accept(4));
    CHECK_FALSE(m.accept(3));
    REQUIRE(m.accept(0));
    CHECK(m.ended());
    CHECK_FALSE(m.accept(0));
}

TEST_CASE("grammar: pathological grammars are refused, not run for ever", "[grammar]") {
    // 30 levels of r_k ::= r_k+1 | r_k+1: 2^30 ways to open the same stack.
    std::string g = "root ::= r0\n";
    for (int k = 0; k < 30; ++k) g += "r" + std::to_string(k) + " ::= r" + std::to_string(k + 1) + " | r" + std::to_string(k + 1) + "\n";
    g += "r30 ::= \"x\"\n";
    try {
        Matcher m(Grammar::parse(g), table_of({"x"}));
        FAIL("no error");
    } catch (const sigma::Exception& e) {
        CHECK(e.code() == sigma::ErrorCode::InvalidArgument);
        CHECK_THAT(std::string(e.what()), Catch::Contains("too ambiguous"));
    }
    // Nested repetitions share their inner rule (no blow-up)...
    CHECK_NOTHROW(Grammar::parse("root ::= x{1000} x{1000}\nx ::= (\"a\"{1000}){300}"));
    // ...but 201 repetitions of 1000 each are more than the grammar may expand to.
    std::string big = "root ::=";
    for (int k = 0; k < 201; ++k) big += " \"a\"{0,1000}";
    CHECK_THAT(parse_error(big).reason, Catch::Contains("too large"));
}
