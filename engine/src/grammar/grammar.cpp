// grammar.cpp - the GBNF-style grammar language (grammar.h): a hand-written recursive descent
// parser into rules of alternatives of sequences, then compilation to byte-level code:
// repetitions become generated right-recursive rules, character classes become UTF-8 byte
// sequences, and a left-recursion check guarantees the matcher's expansion terminates.
#include "grammar/grammar.h"

#include <algorithm>
#include <map>

namespace sigma::grammar {

namespace {

constexpr uint32_t k_max_cp = 0x10FFFF;
constexpr unsigned k_max_repeat = 1000;

struct Range {
    uint32_t lo, hi;
};

// One alternative of a rule during parsing: Ref and Bytes elements, Bytes as set indices.
using Seq = std::vector<Elem>;

struct RuleDef {
    std::string name;
    std::vector<Seq> alts;
    bool defined = false;
    size_t offset = 0;      // where it is defined (generated rules: the operator or group)
    size_t used_at = 0;     // first reference, for "used but never defined"
};

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += char(cp);
    else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
    }
}

// Splits a scalar range into runs of UTF-8 byte ranges (as Rust's regex-syntax Utf8Sequences):
// each run is 1-4 byte ranges whose product is exactly a part of the range.
void utf8_sequences(uint32_t lo, uint32_t hi, std::vector<std::vector<std::pair<uint8_t, uint8_t>>>& out) {
    std::vector<Range> todo{{lo, hi}};
    while (!todo.empty()) {
        Range r = todo.back();
        todo.pop_back();
        if (r.lo > r.hi) continue;
        if (r.lo < 0xE000 && r.hi > 0xD7FF) {   // leave out the surrogates
            todo.push_back({0xE000, r.hi});
            todo.push_back({r.lo, 0xD7FF});
            continue;
        }
        bool split = false;
        for (uint32_t max : {0x7Fu, 0x7FFu, 0xFFFFu}) {
            if (r.lo <= max && max < r.hi) {
                todo.push_back({max + 1, r.hi});
                todo.push_back({r.lo, max});
                split = true;
                break;
            }
        }
        if (split) continue;
        if (r.hi <= 0x7F) {
            out.push_back({{uint8_t(r.lo), uint8_t(r.hi)}});
            continue;
        }
        for (int i = 1; i < 4 && !split; ++i) {
            const uint32_t m = (1u << (6 * i)) - 1;
            if ((r.lo & ~m) != (r.hi & ~m)) {
                if ((r.lo & m) != 0) {
                    todo.push_back({(r.lo | m) + 1, r.hi});
                    todo.push_back({r.lo, r.lo | m});
                    split = true;
                } else if ((r.hi & m) != m) {
                    todo.push_back({r.hi & ~m, r.hi});
                    todo.push_back({r.lo, (r.hi & ~m) - 1});
                    split = true;
                }
            }
        }
        if (split) continue;
        std::string a, b;
        append_utf8(a, r.lo);
        append_utf8(b, r.hi);
        std::vector<std::pair<uint8_t, uint8_t>> seq;
        for (size_t k = 0; k < a.size(); ++k) seq.push_back({uint8_t(a[k]), uint8_t(b[k])});
        out.push_back(std::move(seq));
    }
}

class Parser {
public:
    explicit Parser(std::string_view text) : m_s(text) {}

    std::shared_ptr<const Grammar> run(std::string_view root_name) {
        skip_space();
        if (eof()) fail(0, "the grammar is empty: write at least the rule `root ::= ...`");
        while (!eof()) {
            const size_t at = m_i;
            const std::string name = parse_name();
            if (name.empty()) fail(at, "expected a rule name (letters, digits, '_' or '-')");
            skip_space();
            if (m_s.substr(m_i, 3) != "::=") fail(m_i, "expected '::=' after the rule name '" + name + "'");
            m_i += 3;
            const uint32_t id = rule_id(name, at);
            if (m_rules[id].defined) fail(at, "rule '" + name + "' is defined twice");
            m_rules[id].defined = true;
            m_rules[id].offset = at;
            m_current = name;
            m_rules[id].alts = parse_alternatives(false, at);
        }
        for (const RuleDef& r : m_rules)
            if (!r.defined) fail(r.used_at, "rule '" + r.name + "' is used but never defined");
        auto it = m_ids.find(std::string(root_name));
        if (it == m_ids.end())
            fail(0, "no rule named '" + std::string(root_name) + "': the start rule is `" + std::string(root_name) + " ::= ...`");
        check_left_recursion();
        check_productive();
        return compile(it->second);
    }

private:
    [[noreturn]] void fail(size_t at, const std::string& msg) const {
        size_t line = 1, col = 1;
        for (size_t k = 0; k < at && k < m_s.size(); ++k) {
            if (m_s[k] == '\n') { ++line; col = 1; }
            else ++col;
        }
        throw ParseError(at, line, col, msg);
    }
    bool eof() const { return m_i >= m_s.size(); }
    char peek() const { return eof() ? '\0' : m_s[m_i]; }
    static bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
    static bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9') || c == '-'; }

    void skip_space() {
        while (!eof()) {
            const char c = m_s[m_i];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') ++m_i;
            else if (c == '#') { while (!eof() && m_s[m_i] != '\n') ++m_i; }
            else break;
        }
    }
    std::string parse_name() {
        const size_t b = m_i;
        if (eof() || !name_start(m_s[m_i])) return {};
        while (!eof() && name_char(m_s[m_i])) ++m_i;
        return std::string(m_s.substr(b, m_i - b));
    }
    // Whether a `name ::=` starts at the current position (the next rule).
    bool at_rule_start() const {
        size_t k = m_i;
        if (k >= m_s.size() || !name_start(m_s[k])) return false;
        while (k < m_s.size() && name_char(m_s[k])) ++k;
        while (k < m_s.size() && (m_s[k] == ' ' || m_s[k] == '\t' || m_s[k] == '\n' || m_s[k] == '\r')) ++k;
        return m_s.substr(k, 3) == "::=";
    }

    uint32_t rule_id(const std::string& name, size_t used_at) {
        auto [it, fresh] = m_ids.try_emplace(name, uint32_t(m_rules.size()));
        if (fresh) {
            RuleDef r;
            r.name = name;
            r.used_at = used_at;
            m_rules.push_back(std::move(r));
        }
        return it->second;
    }
    uint32_t new_rule(std::vector<Seq> alts, size_t offset) {
        RuleDef r;
        r.name = m_current + "#" + std::to_string(++m_n_generated);
        r.alts = std::move(alts);
        r.defined = true;
        r.offset = offset;
        m_rules.push_back(std::move(r));
        return uint32_t(m_rules.size() - 1);
    }
    uint32_t set_index(const ByteSet& s) {
        for (size_t k = 0; k < m_sets.size(); ++k)
            if (m_sets[k] == s) return uint32_t(k);
        m_sets.push_back(s);
        return uint32_t(m_sets.size() - 1);
    }

    std::vector<Seq> parse_alternatives(bool nested, size_t open_at) {
        std::vector<Seq> alts;
        alts.push_back(parse_sequence(nested, open_at));
        while (true) {
            skip_space();
            if (peek() != '|') break;
            ++m_i;
            alts.push_back(parse_sequence(nested, open_at));
        }
        return alts;
    }

    Seq parse_sequence(bool nested, size_t open_at) {
        Seq seq;
        while (true) {
            skip_space();
            if (eof()) {
                if (nested) fail(open_at, "unclosed '(': expected ')'");
                break;
            }
            const char c = peek();
            if (c == '|') break;
            if (c == ')') {
                if (!nested) fail(m_i, "unexpected ')' without a matching '('");
                break;
            }
            if (at_rule_start()) {
                if (nested) fail(open_at, "unclosed '(' before the next rule: expected ')'");
                break;
            }
            const size_t item_at = m_i;
            Seq item = parse_primary();
            parse_repetition(item, item_at);
            seq.insert(seq.end(), item.begin(), item.end());
        }
        return seq;
    }

    Seq parse_primary() {
        const size_t at = m_i;
        const char c = peek();
        if (c == '"' || c == '\'') return parse_literal();
        if (c == '[') return parse_class();
        if (c == '.') {
            ++m_i;
            return class_elems({{0, k_max_cp}}, at);
        }
        if (c == '(') {
            ++m_i;
            std::vector<Seq> alts = parse_alternatives(true, at);
            skip_space();
            if (peek() != ')') fail(at, "unclosed '(': expected ')'");
            ++m_i;
            if (alts.size() == 1) return alts[0];
            return {Elem{Op::Ref, new_rule(std::move(alts), at)}};
        }
        if (name_start(c)) {
            const std::string name = parse_name();
            return {Elem{Op::Ref, rule_id(name, at)}};
        }
        if (c == '*' || c == '+' || c == '?' || c == '{') fail(at, std::string("'") + c + "' must follow something to repeat");
        fail(at, std::string("unexpected character '") + c + "': expected a \"literal\", a [class], a rule name or '('");
    }

    // One escape after a backslash at m_i - 1; returns the code point.
    uint32_t parse_escape(size_t esc_at) {
        if (eof()) fail(esc_at, "a '\\' at the end of the grammar");
        const char c = m_s[m_i++];
        auto hex = [&](int n) {
            uint32_t v = 0;
            for (int k = 0; k < n; ++k) {
                if (eof()) fail(esc_at, "the escape needs " + std::to_string(n) + " hex digits");
                const char h = m_s[m_i++];
                uint32_t d;
                if (h >= '0' && h <= '9') d = uint32_t(h - '0');
                else if (h >= 'a' && h <= 'f') d = uint32_t(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F') d = uint32_t(h - 'A' + 10);
                else fail(m_i - 1, "expected a hex digit in the escape");
                v = v * 16 + d;
            }
            return v;
        };
        switch (c) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case '\\': case '"': case '\'': case '[': case ']': case '-': case '^': return uint32_t(uint8_t(c));
        case 'x': return hex(2);
        case 'u': return hex(4);
        case 'U': {
            const uint32_t v = hex(8);
            if (v > k_max_cp) fail(esc_at, "code point beyond U+10FFFF");
            return v;
        }
        default: fail(esc_at, std::string("unknown escape '\\") + c + "'");
        }
    }

    // A raw UTF-8 character of the grammar text (a class member); invalid bytes are an error.
    uint32_t parse_char() {
        const size_t at = m_i;
        const uint8_t b = uint8_t(m_s[m_i++]);
        if (b < 0x80) return b;
        int n = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : -1;
        if (n < 0 || b > 0xF4) fail(at, "invalid UTF-8 in the grammar");
        uint32_t cp = b & (0x3F >> n);
        for (int k = 0; k < n; ++k) {
            if (eof() || (uint8_t(m_s[m_i]) & 0xC0) != 0x80) fail(at, "invalid UTF-8 in the grammar");
            cp = (cp << 6) | (uint8_t(m_s[m_i++]) & 0x3F);
        }
        return cp;
    }

    Seq parse_literal() {
        const size_t at = m_i;
        const char quote = m_s[m_i++];
        std::string bytes;
        while (true) {
            if (eof()) fail(at, "unterminated literal: expected a closing " + std::string(1, quote));
            const char c = m_s[m_i];
            if (c == quote) { ++m_i; break; }
            if (c == '\n') fail(at, "unterminated literal: a newline inside quotes (write \\n)");
            if (c == '\\') {
                const size_t esc = m_i++;
                if (peek() == 'x') {   // \xHH is a byte, not a code point
                    bytes += char(uint8_t(parse_escape(esc)));
                } else {
                    append_utf8(bytes, parse_escape(esc));
                }
                continue;
            }
            bytes += c;
            ++m_i;
        }
        Seq seq;
        for (char b : bytes) {
            ByteSet s;
            s.add(uint8_t(b));
            seq.push_back(Elem{Op::Bytes, set_index(s)});
        }
        return seq;
    }

    Seq parse_class() {
        const size_t at = m_i++;
        bool negated = false;
        if (peek() == '^') { negated = true; ++m_i; }
        std::vector<Range> ranges;
        auto member = [&]() -> uint32_t {
            if (eof()) fail(at, "unterminated character class: expected ']'");
            if (m_s[m_i] == '\\') {
                const size_t esc = m_i++;
                return parse_escape(esc);
            }
            if (m_s[m_i] == '\n') fail(at, "unterminated character class: expected ']' before the end of the line");
            return parse_char();
        };
        while (true) {
            if (eof()) fail(at, "unterminated character class: expected ']'");
            if (m_s[m_i] == ']') { ++m_i; break; }
            const size_t lo_at = m_i;
            const uint32_t lo = member();
            uint32_t hi = lo;
            if (peek() == '-' && m_i + 1 < m_s.size() && m_s[m_i + 1] != ']') {
                ++m_i;
                hi = member();
                if (hi < lo) fail(lo_at, "the range's end comes before its start");
            }
            ranges.push_back({lo, hi});
        }
        if (ranges.empty() && !negated) fail(at, "empty character class");
        std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
        std::vector<Range> merged;
        for (const Range& r : ranges) {
            if (!merged.empty() && r.lo <= merged.back().hi + 1) merged.back().hi = std::max(merged.back().hi, r.hi);
            else merged.push_back(r);
        }
        if (negated) {
            std::vector<Range> comp;
            uint32_t next = 0;
            for (const Range& r : merged) {
                if (r.lo > next) comp.push_back({next, r.lo - 1});
                next = r.hi + 1;
            }
            if (next <= k_max_cp) comp.push_back({next, k_max_cp});
            merged = std::move(comp);
            if (merged.empty()) fail(at, "the negated class excludes every character");
        }
        return class_elems(merged, at);
    }

    // Code point ranges -> one Bytes element (ASCII only) or a rule of UTF-8 byte sequences.
    Seq class_elems(const std::vector<Range>& ranges, size_t at) {
        ByteSet ascii;
        std::vector<std::vector<std::pair<uint8_t, uint8_t>>> seqs;
        for (const Range& r : ranges) {
            if (r.lo <= 0x7F) ascii.add_range(r.lo, std::min<uint32_t>(r.hi, 0x7F));
            if (r.hi >= 0x80) utf8_sequences(std::max<uint32_t>(r.lo, 0x80), r.hi, seqs);
        }
        if (seqs.empty()) return {Elem{Op::Bytes, set_index(ascii)}};
        std::vector<Seq> alts;
        if (!ascii.empty()) alts.push_back({Elem{Op::Bytes, set_index(ascii)}});
        for (const auto& s : seqs) {
            Seq alt;
            for (auto [lo, hi] : s) {
                ByteSet b;
                b.add_range(lo, hi);
                alt.push_back(Elem{Op::Bytes, set_index(b)});
            }
            alts.push_back(std::move(alt));
        }
        return {Elem{Op::Ref, new_rule(std::move(alts), at)}};
    }

    unsigned parse_count(size_t at) {
        if (!(peek() >= '0' && peek() <= '9')) fail(m_i, "expected a number in the repetition {m,n}");
        unsigned v = 0;
        while (peek() >= '0' && peek() <= '9') {
            v = v * 10 + unsigned(peek() - '0');
            ++m_i;
            if (v > k_max_repeat) fail(at, "repetition counts above " + std::to_string(k_max_repeat) + " are not supported");
        }
        return v;
    }

    // x*, x+, x?, x{m}, x{m,}, x{m,n} after an item: rewrites `item` in place.
    void parse_repetition(Seq& item, size_t item_at) {
        const char c = peek();
        if (c != '*' && c != '+' && c != '?' && c != '{') return;
        const size_t op_at = m_i++;
        unsigned min = 0, max = 0;
        bool unbounded = false;
        if (c == '*') unbounded = true;
        else if (c == '+') { min = 1; unbounded = true; }
        else if (c == '?') max = 1;
        else {
            skip_space();
            min = parse_count(op_at);
            skip_space();
            if (peek() == ',') {
                ++m_i;
                skip_space();
                if (peek() == '}') unbounded = true;
                else max = parse_count(op_at);
            } else {
                max = min;
            }
            skip_space();
            if (peek() != '}') fail(op_at, "expected '}' to close the repetition");
            ++m_i;
            if (!unbounded && max < min) fail(op_at, "the repetition's maximum is below its minimum");
        }
        if (item.empty()) return;   // repeating nothing is nothing
        m_n_repeated += unbounded ? min + 1 : max;
        if (m_n_repeated > 200000) fail(op_at, "the grammar is too large: its repetitions expand to more than 200000 elements");
        // The repeated thing as one element.
        const Elem x = item.size() == 1 ? item[0] : Elem{Op::Ref, new_rule({item}, item_at)};
        Seq out(min, x);
        if (unbounded) {
            // star ::= x star | (empty)
            const uint32_t star = new_rule({}, op_at);
            m_rules[star].alts = {Seq{x, Elem{Op::Ref, star}}, Seq{}};
            out.push_back(Elem{Op::Ref, star});
        } else if (max > min) {
            // opt_k ::= x opt_(k-1) | (empty); opt_1 ::= x | (empty)
            uint32_t inner = new_rule({Seq{x}, Seq{}}, op_at);
            for (unsigned k = 1; k < max - min; ++k) inner = new_rule({Seq{x, Elem{Op::Ref, inner}}, Seq{}}, op_at);
            out.push_back(Elem{Op::Ref, inner});
        }
        item = std::move(out);
        const char again = peek();
        if (again == '*' || again == '+' || again == '?' || again == '{')
            fail(m_i, "a repetition of a repetition: put the inner one in parentheses");
    }

    // Rejects rules that can reach themselves without consuming a byte: the matcher's expansion
    // would not terminate.
    void check_left_recursion() const {
        const size_t n = m_rules.size();
        std::vector<char> nullable(n, 0);
        for (bool changed = true; changed;) {
            changed = false;
            for (size_t r = 0; r < n; ++r) {
                if (nullable[r]) continue;
                for (const Seq& alt : m_rules[r].alts) {
                    bool all = true;
                    for (const Elem& e : alt)
                        if (e.op == Op::Bytes || !nullable[e.arg]) { all = false; break; }
                    if (all) { nullable[r] = 1; changed = true; break; }
                }
            }
        }
        std::vector<std::vector<uint32_t>> left(n);   // rules reachable at the left edge
        for (size_t r = 0; r < n; ++r)
            for (const Seq& alt : m_rules[r].alts)
                for (const Elem& e : alt) {
                    if (e.op == Op::Bytes) break;
                    left[r].push_back(e.arg);
                    if (!nullable[e.arg]) break;
                }
        std::vector<char> color(n, 0);   // 0 new, 1 on the path, 2 done
        std::vector<std::pair<uint32_t, size_t>> path;
        for (uint32_t s = 0; s < n; ++s) {
            if (color[s]) continue;
            path.push_back({s, 0});
            color[s] = 1;
            while (!path.empty()) {
                auto& [r, k] = path.back();
                if (k < left[r].size()) {
                    const uint32_t t = left[r][k++];
                    if (color[t] == 1) {
                        const RuleDef& def = m_rules[t];
                        const std::string user = def.name.substr(0, def.name.find('#'));
                        fail(def.offset, "rule '" + user + "' is left-recursive (it can reach itself without "
                                         "matching a byte, e.g. a repetition of something that can be empty)");
                    }
                    if (color[t] == 0) { color[t] = 1; path.push_back({t, 0}); }
                } else {
                    color[r] = 2;
                    path.pop_back();
                }
            }
        }
    }

    // Rejects rules that can never finish (every alternative recurses forever, e.g. a ::= "x" a):
    // a generation could never end.
    void check_productive() const {
        const size_t n = m_rules.size();
        std::vector<char> ok(n, 0);
        for (bool changed = true; changed;) {
            changed = false;
            for (size_t r = 0; r < n; ++r) {
                if (ok[r]) continue;
                for (const Seq& alt : m_rules[r].alts) {
                    bool all = true;
                    for (const Elem& e : alt)
                        if (e.op == Op::Ref && !ok[e.arg]) { all = false; break; }
                    if (all) { ok[r] = 1; changed = true; break; }
                }
            }
        }
        for (size_t r = 0; r < n; ++r)
            if (!ok[r]) {
                const std::string user = m_rules[r].name.substr(0, m_rules[r].name.find('#'));
                fail(m_rules[r].offset, "rule '" + user + "' can never finish: every alternative refers to itself again");
            }
    }

    std::shared_ptr<const Grammar> compile(uint32_t root) {
        auto g = std::make_shared<Grammar>();
        g->sets = m_sets;
        g->root = root;
        for (const RuleDef& r : m_rules) {
            g->rule_start.push_back(uint32_t(g->code.size()));
            g->rule_name.push_back(r.name);
            for (size_t a = 0; a < r.alts.size(); ++a) {
                if (a) g->code.push_back(Elem{Op::Alt, 0});
                g->code.insert(g->code.end(), r.alts[a].begin(), r.alts[a].end());
            }
            g->code.push_back(Elem{Op::End, 0});
        }
        return g;
    }

    std::string_view m_s;
    size_t m_i = 0;
    std::vector<RuleDef> m_rules;
    std::map<std::string, uint32_t> m_ids;
    std::vector<ByteSet> m_sets;
    std::string m_current;
    unsigned m_n_generated = 0;
    size_t m_n_repeated = 0;   // elements the repetitions expanded to so far
};

} // namespace

ParseError::ParseError(size_t offset_, size_t line_, size_t column_, const std::string& message)
    : Exception(ErrorCode::InvalidArgument, "grammar: line " + std::to_string(line_) + ", column " +
                                                std::to_string(column_) + " (offset " + std::to_string(offset_) + "): " + message),
      offset(offset_), line(line_), column(column_), reason(message) {}

std::shared_ptr<const Grammar> Grammar::parse(std::string_view text, std::string_view root) {
    return Parser(text).run(root);
}

} // namespace sigma::grammar
