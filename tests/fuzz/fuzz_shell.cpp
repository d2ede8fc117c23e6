// fuzz_shell.cpp - libFuzzer target for the shell parser and classifier (agents/shell).
//
// Contract under test: parse() on any byte string returns either a tree or a ParseError whose
// offset lies inside the input (never throws, never recurses without bound); every node of a
// tree lies inside the input, begin <= end; classify() on any tree returns (payloads, sh -c
// strings, aliases and functions followed within their limits). ASan/UBSan turn any violation
// into a crash. The first byte picks the options (extglob on/off). Build and run: docs/fuzzing.md.
#include <shell/shell.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace sigmaops::shell;

namespace {

size_t g_size = 0;

void check(sigmaops::shell::Offset b, sigmaops::shell::Offset e) {
    if (b > e || e > g_size) std::abort();
}

void walk(const Command& c);

void walk_parts(const std::vector<WordPart>& parts) {
    for (const WordPart& p : parts) {
        if (p.kind != PartKind::Backquote) check(p.begin, p.end);   // backquote bodies: approximate offsets
        walk_parts(p.parts);
        if (p.body && p.kind != PartKind::Backquote) walk(p.body->list);
    }
}

void walk_word(const Word& w) {
    check(w.begin, w.end);
    walk_parts(w.parts);
    (void)w.literal();
    (void)w.has_expansion();
}

void walk(const Command& c) {
    check(c.begin, c.end);
    for (const Word& w : c.words) walk_word(w);
    for (const Assignment& a : c.assignments) { walk_word(a.value); for (const Word& w : a.elements) walk_word(w); }
    for (const Redirect& r : c.redirects) { check(r.begin, r.end); walk_word(r.target); walk_parts(r.heredoc_parts); }
    for (const Command& b : c.body) walk(b);
    for (const CaseItem& i : c.items) { for (const Word& w : i.patterns) walk_word(w); if (i.body) walk(*i.body); }
    if (c.kind == Kind::Simple) (void)payloads(c);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    Options opt;
    opt.extglob = data[0] & 1;
    std::string_view src(reinterpret_cast<const char*>(data + 1), size - 1);
    g_size = src.size();
    ParseResult r = parse(src, opt);
    if (!r.ok()) {
        if (r.error->offset > src.size() || r.error->message.empty()) std::abort();
        (void)classify_source(src, opt);
        return 0;
    }
    walk(r.script->list);
    Assessment a = classify(*r.script);
    for (const Reason& x : a.reasons)
        if (x.why.empty()) std::abort();
    return 0;
}
