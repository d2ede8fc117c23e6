// tokenizer/jinja/parser.cpp - lexer and recursive-descent parser for the Jinja2 subset (jinja.h).
//
// Lexing follows jinja2's lexer with trim_blocks and lstrip_blocks on (as transformers sets them):
//   text, {{ expr }}, {% stmt %}, {# comment #}; a '-' after an opening / before a closing
//   delimiter strips all whitespace on that side; '+' after {% or {# turns lstrip_blocks off;
//   lstrip_blocks removes the spaces/tabs before a {% or {# that starts a line; trim_blocks
//   removes the first newline after %} or #}. Inside a tag '}}' / '%}' only ends it when no
//   bracket is open.
// Grammar (jinja2's precedence, lowest first):
//   expr     := or ('if' or ['else' expr])*
//   or       := and ('or' and)*          and := not ('and' not)*       not := 'not' not | compare
//   compare  := math1 (('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not' 'in') math1)*
//   math1    := concat (('+'|'-') concat)*     concat := math2 ('~' math2)*
//   math2    := pow (('*'|'/'|'//'|'%') pow)*   pow := unary ('**' unary)*
//   unary    := ('-'|'+') unary | primary postfix* (('|' filter) | ('is' test) | call)*
//   postfix  := '.' name | '[' subscript ']' | '(' args ')'
//   primary  := name | string+ | int | float | '(' [expr (',' expr)*] ')' | '[' ... ']' | '{' k: v, ... '}'

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/jinja.h"

#include <cstring>
#include <set>

namespace sigma::jinja {

std::pair<size_t, size_t> line_column(const std::string& source, size_t offset) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < offset && i < source.size(); ++i) {
        if (source[i] == '\n') { ++line; col = 1; }
        else if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) ++col;
    }
    return {line, col};
}

Error::Error(const std::string& message, size_t offset, size_t line, size_t column)
    : std::runtime_error("line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + message),
      m_message(message), m_offset(offset), m_line(line), m_column(column) {}

namespace {

enum class Tok { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    Tok type;
    size_t pos;
    std::string text;   // Text / Name / String (decoded) / Op
    int64_t i = 0;
    double f = 0;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

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

class Lexer {
public:
    explicit Lexer(const std::string& src) : s(src) {}

    std::vector<Token> run() {
        size_t pos = 0;
        bool line_starting = true;
        while (pos < s.size()) {
            const size_t start = find_tag(pos);
            if (start == std::string::npos) { text(s.substr(pos), pos); break; }
            const char kind = s[start + 1];
            size_t inner = start + 2;
            const char sign = inner < s.size() && (s[inner] == '-' || s[inner] == '+') ? s[inner] : 0;
            std::string t = s.substr(pos, start - pos);
            if (sign == '-') {
                size_t e = t.size();
                while (e > 0 && is_space(t[e - 1])) --e;
                t.resize(e);
            } else if (sign != '+' && kind != '{') {
                const size_t l_pos = t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1;
                if (l_pos > 0 || line_starting) {
                    bool only_blank = true;
                    for (size_t i = l_pos; i < t.size(); ++i)
                        if (t[i] != ' ' && t[i] != '\t') { only_blank = false; break; }
                    if (only_blank) t.resize(l_pos);
                }
            }
            text(t, pos);
            if (sign) ++inner;
            if (kind == '#') {
                const size_t end = s.find("#}", inner);
                if (end == std::string::npos) fail("unclosed comment: missing '#}'", start);
                pos = end + 2;
                if (end > inner && s[end - 1] == '-') pos = skip_ws(pos);
                else if (!(end > inner && s[end - 1] == '+') && pos < s.size() && s[pos] == '\n') ++pos;
            } else if (kind == '%' && is_raw(inner)) {
                pos = raw(start, inner);
            } else {
                pos = tag(kind == '{', start, inner);
            }
            line_starting = pos > 0 && s[pos - 1] == '\n';
        }
        toks.push_back({Tok::Eof, s.size(), {}});
        return std::move(toks);
    }

private:
    const std::string& s;
    std::vector<Token> toks;

    [[noreturn]] void fail(const std::string& msg, size_t pos) {
        const auto [l, c] = line_column(s, pos);
        throw Error(msg, pos, l, c);
    }

    size_t find_tag(size_t pos) const {
        for (size_t i = s.find('{', pos); i != std::string::npos; i = s.find('{', i + 1))
            if (i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '%' || s[i + 1] == '#')) return i;
        return std::string::npos;
    }
    size_t skip_ws(size_t pos) const {
        while (pos < s.size() && is_space(s[pos])) ++pos;
        return pos;
    }
    void text(const std::string& t, size_t pos) {
        if (!t.empty()) toks.push_back({Tok::Text, pos, t});
    }

    bool is_raw(size_t inner) const {
        const size_t k = skip_ws(inner);
        if (s.compare(k, 3, "raw") != 0) return false;
        const size_t after = skip_ws(k + 3);
        return s.compare(after, 2, "%}") == 0 || s.compare(after, 3, "-%}") == 0;
    }
    // {% raw %}...{% endraw %}: the content is text, untouched.
    size_t raw(size_t start, size_t inner) {
        size_t k = skip_ws(skip_ws(inner) + 3);
        bool strip = false;
        if (s[k] == '-') { strip = true; ++k; }
        size_t pos = k + 2;
        if (strip) pos = skip_ws(pos);
        for (size_t i = s.find("{%", pos); i != std::string::npos; i = s.find("{%", i + 2)) {
            size_t j = i + 2;
            const char sign = j < s.size() && (s[j] == '-' || s[j] == '+') ? s[j] : 0;
            if (sign) ++j;
            j = skip_ws(j);
            if (s.compare(j, 6, "endraw") != 0) continue;
            j = skip_ws(j + 6);
            char esign = 0;
            if (j < s.size() && (s[j] == '-' || s[j] == '+')) esign = s[j++];
            if (s.compare(j, 2, "%}") != 0) continue;
            std::string content = s.substr(pos, i - pos);
            if (sign == '-') {
                size_t e = content.size();
                while (e > 0 && is_space(content[e - 1])) --e;
                content.resize(e);
            }
            text(content, pos);
            size_t after = j + 2;
            if (esign == '-') after = skip_ws(after);
            else if (esign != '+' && after < s.size() && s[after] == '\n') ++after;
            return after;
        }
        fail("unclosed raw block: missing '{% endraw %}'", start);
    }

    // One {{ ... }} or {% ... %} tag; returns the offset after it.
    size_t tag(bool is_var, size_t start, size_t pos) {
        toks.push_back({is_var ? Tok::VarBegin : Tok::BlockBegin, start, {}});
        const char* close = is_var ? "}}" : "%}";
        int depth = 0;   // open brackets: '}}' inside a dict literal does not end the tag
        for (;;) {
            pos = skip_ws(pos);
            if (pos >= s.size()) fail(is_var ? "unclosed '{{': missing '}}'" : "unclosed '{%': missing '%}'", start);
            if (depth == 0) {
                char sign = 0;
                size_t at = pos;
                if ((s[pos] == '-' || (!is_var && s[pos] == '+')) && s.compare(pos + 1, 2, close) == 0) sign = s[at++];
                if (s.compare(at, 2, close) == 0) {
                    toks.push_back({is_var ? Tok::VarEnd : Tok::BlockEnd, pos, {}});
                    size_t after = at + 2;
                    if (sign == '-') after = skip_ws(after);
                    else if (!is_var && sign != '+' && after < s.size() && s[after] == '\n') ++after;
                    return after;
                }
            }
            const char c = s[pos];
            if (is_name_start(c)) {
                size_t e = pos;
                while (e < s.size() && is_name_char(s[e])) ++e;
                toks.push_back({Tok::Name, pos, s.substr(pos, e - pos)});
                pos = e;
            } else if (is_digit(c)) {
                pos = number(pos);
            } else if (c == '\'' || c == '"') {
                pos = string(pos);
            } else {
                static const char* const two[] = {"//", "**", "==", "!=", "<=", ">="};
                std::string op;
                for (const char* t : two)
                    if (s.compare(pos, 2, t) == 0) { op = t; break; }
                if (op.empty()) {
                    if (!std::strchr("+-/*%~[](){}<>=.:|,;", c)) fail(std::string("unexpected character '") + c + "' in tag", pos);
                    op = std::string(1, c);
                }
                if (op == "(" || op == "[" || op == "{") ++depth;
                if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
                toks.push_back({Tok::Op, pos, op});
                pos += op.size();
            }
        }
    }

    size_t number(size_t pos) {
        size_t e = pos;
        const auto digits = [&] { while (e < s.size() && (is_digit(s[e]) || (s[e] == '_' && e + 1 < s.size() && is_digit(s[e + 1])))) ++e; };
        digits();
        bool is_float = false;
        if (e + 1 < s.size() && s[e] == '.' && is_digit(s[e + 1])) { is_float = true; ++e; digits(); }
        if (e < s.size() && (s[e] == 'e' || s[e] == 'E')) {
            size_t k = e + 1;
            if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
            if (k < s.size() && is_digit(s[k])) { is_float = true; e = k; digits(); }
        }
        std::string lit;
        for (size_t i = pos; i < e; ++i) if (s[i] != '_') lit += s[i];
        Token t{is_float ? Tok::Float : Tok::Int, pos, lit};
        try {
            if (is_float) t.f = std::stod(lit);
            else t.i = std::stoll(lit);
        } catch (const std::exception&) {
            fail("number out of range: " + lit, pos);
        }
        toks.push_back(std::move(t));
        return e;
    }

    // A quoted string with Python escapes (jinja2 decodes them with "unicode-escape").
    size_t string(size_t pos) {
        const char q = s[pos];
        std::string out;
        size_t i = pos + 1;
        for (;; ++i) {
            if (i >= s.size()) fail("unterminated string", pos);
            const char c = s[i];
            if (c == q) break;
            if (c != '\\') { out += c; continue; }
            if (++i >= s.size()) fail("unterminated string", pos);
            const char e = s[i];
            const auto hex = [&](int n) {
                uint32_t v = 0;
                for (int k = 0; k < n; ++k) {
                    if (i + 1 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])))
                        fail("bad escape in string", i);
                    const char h = s[++i];
                    v = v * 16 + uint32_t(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
                }
                return v;
            };
            switch (e) {
            case '\n': break;
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'v': out += '\v'; break;
            case 'x': append_utf8(out, hex(2)); break;
            case 'u': append_utf8(out, hex(4)); break;
            case 'U': {
                const uint32_t cp = hex(8);
                if (cp > 0x10FFFF) fail("bad \\U escape in string", i);
                append_utf8(out, cp);
                break;
            }
            default:
                if (e >= '0' && e <= '7') {
                    uint32_t v = uint32_t(e - '0');
                    for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k) v = v * 8 + uint32_t(s[++i] - '0');
                    append_utf8(out, v);
                } else {
                    out += '\\';
                    out += e;
                }
            }
        }
        toks.push_back({Tok::String, pos, std::move(out)});
        return i + 1;
    }
};

class Parser {
public:
    Parser(const std::string& src, std::vector<Token> toks, size_t max_depth)
        : m_src(src), m_toks(std::move(toks)), m_max_depth(max_depth) {}

    NodePtr parse() {
        std::string ended;
        auto body = parse_body({}, ended);
        return body;
    }

private:
    const std::string& m_src;
    std::vector<Token> m_toks;
    size_t m_i = 0;
    size_t m_max_depth;
    size_t m_depth = 0;

    struct DepthGuard {
        Parser& p;
        explicit DepthGuard(Parser& parser) : p(parser) {
            if (++p.m_depth > p.m_max_depth)
                p.fail("template nested too deeply (more than " + std::to_string(p.m_max_depth) + " levels)");
        }
        ~DepthGuard() { --p.m_depth; }
    };
    // Operator and postfix chains (a + b + c..., x.a.b..., x|f|g...) build left-deep trees: each
    // link counts as a level so neither rendering nor freeing the tree recurses without bound.
    struct ChainGuard {
        Parser& p;
        size_t n = 0;
        explicit ChainGuard(Parser& parser) : p(parser) {}
        void step() {
            ++n;
            if (++p.m_depth > p.m_max_depth)
                p.fail("expression chain too long (more than " + std::to_string(p.m_max_depth) + " levels)");
        }
        ~ChainGuard() { p.m_depth -= n; }
    };

    const Token& cur() const { return m_toks[m_i]; }
    const Token& peek(size_t k = 1) const { return m_toks[std::min(m_i + k, m_toks.size() - 1)]; }
    void next() { if (m_i + 1 < m_toks.size()) ++m_i; }
    bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
    bool is_name(const char* n) const { return cur().type == Tok::Name && cur().text == n; }
    bool skip_op(const char* op) { if (is_op(op)) { next(); return true; } return false; }
    bool skip_name(const char* n) { if (is_name(n)) { next(); return true; } return false; }

    static std::string describe(const Token& t) {
        switch (t.type) {
        case Tok::Text: return "text";
        case Tok::VarBegin: return "'{{'";
        case Tok::VarEnd: return "'}}'";
        case Tok::BlockBegin: return "'{%'";
        case Tok::BlockEnd: return "'%}'";
        case Tok::Name: return "'" + t.text + "'";
        case Tok::String: return "a string";
        case Tok::Int: case Tok::Float: return "a number";
        case Tok::Op: return "'" + t.text + "'";
        case Tok::Eof: return "the end of the template";
        }
        return "?";
    }
    [[noreturn]] void fail(const std::string& msg) const { fail_at(msg, cur().pos); }
    [[noreturn]] void fail_at(const std::string& msg, size_t pos) const {
        const auto [l, c] = line_column(m_src, pos);
        throw Error(msg, pos, l, c);
    }
    void expect_op(const char* op) {
        if (!skip_op(op)) fail(std::string("expected '") + op + "', found " + describe(cur()));
    }
    void expect(Tok t, const char* what) {
        if (cur().type != t) fail(std::string("expected ") + what + ", found " + describe(cur()));
        next();
    }
    std::string expect_name(const char* what) {
        if (cur().type != Tok::Name) fail(std::string("expected ") + what + ", found " + describe(cur()));
        std::string n = cur().text;
        next();
        return n;
    }
    NodePtr make(NodeKind k, size_t pos) { return std::make_unique<Node>(k, pos); }

    // Statements up to one of `end_tags` ({% name ...): returns with the tag name consumed and
    // stored in `ended`; at the end of input only when end_tags is empty.
    NodePtr parse_body(const std::set<std::string>& end_tags, std::string& ended) {
        DepthGuard g(*this);
        auto body = make(NodeKind::Body, cur().pos);
        for (;;) {
            const Token& t = cur();
            if (t.type == Tok::Eof) {
                if (!end_tags.empty()) {
                    std::string want;
                    for (const auto& e : end_tags) want += (want.empty() ? "'" : " or '") + e + "'";
                    fail("unexpected end of template: expected " + want);
                }
                return body;
            }
            if (t.type == Tok::Text) {
                auto n = make(NodeKind::Text, t.pos);
                n->value = Value(t.text);
                body->kids.push_back(std::move(n));
                next();
            } else if (t.type == Tok::VarBegin) {
                auto n = make(NodeKind::Output, t.pos);
                next();
                n->kids.push_back(parse_tuple_expr());
                expect(Tok::VarEnd, "'}}'");
                body->kids.push_back(std::move(n));
            } else if (t.type == Tok::BlockBegin) {
                const Token& name = peek();
                if (name.type != Tok::Name) { next(); fail("expected a tag name after '{%', found " + describe(cur())); }
                if (end_tags.count(name.text)) {
                    next();
                    next();
                    ended = name.text;
                    return body;
                }
                next();
                body->kids.push_back(parse_statement());
            } else {
                fail("unexpected " + describe(t));
            }
        }
    }

    NodePtr parse_statement() {
        const size_t pos = cur().pos;
        const std::string tag = expect_name("a tag name");
        if (tag == "if") return parse_if(pos);
        if (tag == "for") return parse_for(pos);
        if (tag == "set") return parse_set(pos);
        if (tag == "macro") return parse_macro(pos);
        if (tag == "break" || tag == "continue") {
            expect(Tok::BlockEnd, "'%}'");
            return make(tag == "break" ? NodeKind::Break : NodeKind::Continue, pos);
        }
        if (tag == "generation") {   // transformers' AssistantTracker: renders its body
            expect(Tok::BlockEnd, "'%}'");
            std::string ended;
            auto body = parse_body({"endgeneration"}, ended);
            expect(Tok::BlockEnd, "'%}'");
            return body;
        }
        if (tag == "filter") {
            auto n = make(NodeKind::FilterBlock, pos);
            NodePtr f;
            do {
                auto fn = make(NodeKind::Filter, cur().pos);
                fn->kids.push_back(std::move(f));
                fn->name = expect_name("a filter name");
                if (is_op("(")) parse_args(*fn);
                f = std::move(fn);
            } while (skip_op("|"));
            n->kids.push_back(std::move(f));
            expect(Tok::BlockEnd, "'%}'");
            std::string ended;
            n->body = parse_body({"endfilter"}, ended);
            expect(Tok::BlockEnd, "'%}'");
            return n;
        }
        if (tag == "call") {
            if (is_op("(")) fail("{% call(...) %} with caller arguments is not supported");
            auto n = make(NodeKind::CallBlock, pos);
            auto callee = parse_postfix(parse_primary());
            if (callee->kind != NodeKind::Call) fail_at("{% call %} needs a macro call", pos);
            n->kids.push_back(std::move(callee));
            expect(Tok::BlockEnd, "'%}'");
            std::string ended;
            n->body = parse_body({"endcall"}, ended);
            expect(Tok::BlockEnd, "'%}'");
            return n;
        }
        static const std::set<std::string> unsupported = {"include", "import", "from", "extends", "block",
                                                          "do", "with", "autoescape", "trans"};
        if (unsupported.count(tag)) fail_at("the '" + tag + "' tag is not supported in chat templates", pos);
        fail_at("unknown tag '" + tag + "'", pos);
    }

    NodePtr parse_if(size_t pos) {
        auto n = make(NodeKind::If, pos);
        n->kids.push_back(parse_tuple_expr());
        expect(Tok::BlockEnd, "'%}'");
        std::string ended;
        n->body = parse_body({"elif", "else", "endif"}, ended);
        if (ended == "elif") {
            auto wrap = make(NodeKind::Body, cur().pos);
            wrap->kids.push_back(parse_if(cur().pos));
            n->else_body = std::move(wrap);
            return n;
        }
        if (ended == "else") {
            expect(Tok::BlockEnd, "'%}'");
            n->else_body = parse_body({"endif"}, ended);
        }
        expect(Tok::BlockEnd, "'%}'");
        return n;
    }

    std::vector<std::string> parse_targets(const char* stop) {
        std::vector<std::string> names;
        const bool paren = skip_op("(");
        do {
            if (paren && is_op(")")) break;
            names.push_back(expect_name("a variable name"));
        } while (skip_op(","));
        if (paren) expect_op(")");
        if (!is_name(stop) && !is_op(stop)) fail(std::string("expected '") + stop + "', found " + describe(cur()));
        return names;
    }

    NodePtr parse_for(size_t pos) {
        auto n = make(NodeKind::For, pos);
        n->names = parse_targets("in");
        next();
        n->kids.push_back(parse_tuple_expr(false));
        n->kids.push_back(skip_name("if") ? parse_expr() : nullptr);
        if (is_name("recursive")) fail("recursive loops are not supported");
        expect(Tok::BlockEnd, "'%}'");
        std::string ended;
        n->body = parse_body({"endfor", "else"}, ended);
        if (ended == "else") {
            expect(Tok::BlockEnd, "'%}'");
            n->else_body = parse_body({"endfor"}, ended);
        }
        expect(Tok::BlockEnd, "'%}'");
        return n;
    }

    NodePtr parse_set(size_t pos) {
        const std::string first = expect_name("a variable name");
        if (skip_op(".")) {
            auto n = make(NodeKind::SetAttr, pos);
            n->name = first;
            n->attr = expect_name("an attribute name");
            expect_op("=");
            n->kids.push_back(parse_tuple_expr());
            expect(Tok::BlockEnd, "'%}'");
            return n;
        }
        std::vector<std::string> names{first};
        while (skip_op(",")) names.push_back(expect_name("a variable name"));
        if (skip_op("=")) {
            auto n = make(NodeKind::Set, pos);
            n->names = std::move(names);
            n->kids.push_back(parse_tuple_expr());
            expect(Tok::BlockEnd, "'%}'");
            return n;
        }
        if (names.size() != 1) fail("expected '='");
        auto n = make(NodeKind::SetBlock, pos);
        n->name = first;
        NodePtr f;
        while (skip_op("|")) {
            auto fn = make(NodeKind::Filter, cur().pos);
            fn->kids.push_back(std::move(f));
            fn->name = expect_name("a filter name");
            if (is_op("(")) parse_args(*fn);
            f = std::move(fn);
        }
        if (f) n->kids.push_back(std::move(f));
        expect(Tok::BlockEnd, "'%}'");
        std::string ended;
        n->body = parse_body({"endset"}, ended);
        expect(Tok::BlockEnd, "'%}'");
        return n;
    }

    NodePtr parse_macro(size_t pos) {
        auto n = make(NodeKind::Macro, pos);
        n->name = expect_name("a macro name");
        expect_op("(");
        while (!is_op(")")) {
            n->names.push_back(expect_name("a parameter name"));
            if (skip_op("=")) n->kids.push_back(parse_expr());
            else if (!n->kids.empty()) fail("a parameter without a default follows one with a default");
            if (!skip_op(",")) break;
        }
        expect_op(")");
        expect(Tok::BlockEnd, "'%}'");
        std::string ended;
        n->body = parse_body({"endmacro"}, ended);
        expect(Tok::BlockEnd, "'%}'");
        return n;
    }

    // An expression, or a tuple of them ("a, b") where the grammar allows one.
    NodePtr parse_tuple_expr(bool with_condexpr = true) {
        const size_t pos = cur().pos;
        auto e = parse_expr(with_condexpr);
        if (!is_op(",")) return e;
        auto t = make(NodeKind::Tuple, pos);
        t->kids.push_back(std::move(e));
        while (skip_op(",")) {
            if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || is_name("if")) break;
            t->kids.push_back(parse_expr(with_condexpr));
        }
        return t;
    }

    NodePtr parse_expr(bool with_condexpr = true) {
        DepthGuard g(*this);
        if (!with_condexpr) return parse_or();
        const size_t pos = cur().pos;
        auto e = parse_or();
        while (skip_name("if")) {
            auto c = make(NodeKind::CondExpr, pos);
            c->kids.push_back(parse_or());
            c->kids.push_back(std::move(e));
            c->kids.push_back(skip_name("else") ? parse_expr() : nullptr);
            e = std::move(c);
        }
        return e;
    }

    NodePtr binary(const char* op, NodePtr a, NodePtr b, size_t pos) {
        auto n = make(NodeKind::Binary, pos);
        n->name = op;
        n->kids.push_back(std::move(a));
        n->kids.push_back(std::move(b));
        return n;
    }

    NodePtr parse_or() {
        const size_t pos = cur().pos;
        auto e = parse_and();
        ChainGuard chain(*this);
        while (skip_name("or") && (chain.step(), true)) e = binary("or", std::move(e), parse_and(), pos);
        return e;
    }
    NodePtr parse_and() {
        const size_t pos = cur().pos;
        auto e = parse_not();
        ChainGuard chain(*this);
        while (skip_name("and") && (chain.step(), true)) e = binary("and", std::move(e), parse_not(), pos);
        return e;
    }
    NodePtr parse_not() {
        DepthGuard g(*this);
        const size_t pos = cur().pos;
        if (skip_name("not")) {
            auto n = make(NodeKind::Unary, pos);
            n->name = "not";
            n->kids.push_back(parse_not());
            return n;
        }
        return parse_compare();
    }
    NodePtr parse_compare() {
        const size_t pos = cur().pos;
        auto first = parse_math1();
        NodePtr cmp;
        ChainGuard chain(*this);
        for (;;) {
            std::string op;
            if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                          cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
                op = cur().text;
                next();
            } else if (is_name("in")) {
                op = "in";
                next();
            } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
                op = "notin";
                next();
                next();
            } else {
                break;
            }
            chain.step();
            if (!cmp) {
                cmp = make(NodeKind::Compare, pos);
                cmp->kids.push_back(std::move(first));
            }
            cmp->names.push_back(op);
            cmp->kids.push_back(parse_math1());
        }
        return cmp ? std::move(cmp) : std::move(first);
    }
    NodePtr parse_math1() {
        const size_t pos = cur().pos;
        auto e = parse_concat();
        ChainGuard chain(*this);
        while (is_op("+") || is_op("-")) {
            chain.step();
            const char* op = is_op("+") ? "+" : "-";
            next();
            e = binary(op, std::move(e), parse_concat(), pos);
        }
        return e;
    }
    NodePtr parse_concat() {
        const size_t pos = cur().pos;
        auto e = parse_math2();
        ChainGuard chain(*this);
        while (skip_op("~") && (chain.step(), true)) e = binary("~", std::move(e), parse_math2(), pos);
        return e;
    }
    NodePtr parse_math2() {
        const size_t pos = cur().pos;
        auto e = parse_pow();
        ChainGuard chain(*this);
        for (;;) {
            const char* op = is_op("*") ? "*" : is_op("/") ? "/" : is_op("//") ? "//" : is_op("%") ? "%" : nullptr;
            if (!op) break;
            chain.step();
            next();
            e = binary(op, std::move(e), parse_pow(), pos);
        }
        return e;
    }
    NodePtr parse_pow() {
        const size_t pos = cur().pos;
        auto e = parse_unary(true);
        ChainGuard chain(*this);
        while (skip_op("**") && (chain.step(), true)) e = binary("**", std::move(e), parse_unary(true), pos);
        return e;
    }
    NodePtr parse_unary(bool with_filter) {
        DepthGuard g(*this);
        const size_t pos = cur().pos;
        NodePtr n;
        if (is_op("-") || is_op("+")) {
            n = make(NodeKind::Unary, pos);
            n->name = cur().text;
            next();
            n->kids.push_back(parse_unary(false));
        } else {
            n = parse_primary();
        }
        n = parse_postfix(std::move(n));
        if (with_filter) n = parse_filter_expr(std::move(n));
        return n;
    }

    NodePtr parse_primary() {
        const Token& t = cur();
        const size_t pos = t.pos;
        if (t.type == Tok::Name) {
            auto n = make(NodeKind::Literal, pos);
            if (t.text == "true" || t.text == "True") n->value = Value(true);
            else if (t.text == "false" || t.text == "False") n->value = Value(false);
            else if (t.text == "none" || t.text == "None") n->value = Value::none();
            else { n->kind = NodeKind::Name; n->name = t.text; }
            next();
            return n;
        }
        if (t.type == Tok::String) {
            std::string s;
            while (cur().type == Tok::String) { s += cur().text; next(); }
            auto n = make(NodeKind::Literal, pos);
            n->value = Value(std::move(s));
            return n;
        }
        if (t.type == Tok::Int || t.type == Tok::Float) {
            auto n = make(NodeKind::Literal, pos);
            n->value = t.type == Tok::Int ? Value(t.i) : Value(t.f);
            next();
            return n;
        }
        if (skip_op("(")) {
            if (skip_op(")")) return make(NodeKind::Tuple, pos);
            auto e = parse_expr();
            if (!is_op(",")) { expect_op(")"); return e; }
            auto tup = make(NodeKind::Tuple, pos);
            tup->kids.push_back(std::move(e));
            while (skip_op(",")) {
                if (is_op(")")) break;
                tup->kids.push_back(parse_expr());
            }
            expect_op(")");
            return tup;
        }
        if (skip_op("[")) {
            auto n = make(NodeKind::List, pos);
            while (!is_op("]")) {
                n->kids.push_back(parse_expr());
                if (!skip_op(",")) break;
            }
            expect_op("]");
            return n;
        }
        if (skip_op("{")) {
            auto n = make(NodeKind::Dict, pos);
            while (!is_op("}")) {
                n->kids.push_back(parse_expr());
                expect_op(":");
                n->kids.push_back(parse_expr());
                if (!skip_op(",")) break;
            }
            expect_op("}");
            return n;
        }
        fail("unexpected " + describe(t) + " in expression");
    }

    void parse_args(Node& call) {
        expect_op("(");
        while (!is_op(")")) {
            if (is_op("*") || is_op("**")) {
                std::string splat = cur().text;
                next();
                call.kw.emplace_back(std::move(splat), parse_expr());
            } else if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
                std::string key = cur().text;
                next();
                next();
                call.kw.emplace_back(std::move(key), parse_expr());
            } else {
                if (!call.kw.empty()) fail("a positional argument follows a keyword argument");
                call.kids.push_back(parse_expr());
            }
            if (!skip_op(",")) break;
        }
        expect_op(")");
    }

    NodePtr parse_postfix(NodePtr n) {
        ChainGuard chain(*this);
        for (;;) {
            const size_t pos = cur().pos;
            if (is_op(".") || is_op("[") || is_op("(")) chain.step();
            if (skip_op(".")) {
                if (cur().type == Tok::Int) {
                    auto idx = make(NodeKind::Index, pos);
                    auto lit = make(NodeKind::Literal, cur().pos);
                    lit->value = Value(cur().i);
                    next();
                    idx->kids.push_back(std::move(n));
                    idx->kids.push_back(std::move(lit));
                    n = std::move(idx);
                    continue;
                }
                auto a = make(NodeKind::Attr, pos);
                a->attr = expect_name("an attribute name");
                a->kids.push_back(std::move(n));
                n = std::move(a);
            } else if (skip_op("[")) {
                n = parse_subscript(std::move(n), pos);
            } else if (is_op("(")) {
                n = parse_call(std::move(n), pos);
            } else {
                return n;
            }
        }
    }

    NodePtr parse_call(NodePtr callee, size_t pos) {
        auto c = make(NodeKind::Call, pos);
        c->kids.push_back(std::move(callee));
        parse_args(*c);
        return c;
    }

    NodePtr parse_subscript(NodePtr obj, size_t pos) {
        NodePtr start, stop, step;
        if (!is_op(":")) {
            start = parse_expr();
            if (skip_op("]")) {
                auto idx = make(NodeKind::Index, pos);
                idx->kids.push_back(std::move(obj));
                idx->kids.push_back(std::move(start));
                return idx;
            }
        }
        expect_op(":");
        if (!is_op("]") && !is_op(":")) stop = parse_expr();
        if (skip_op(":") && !is_op("]")) step = parse_expr();
        expect_op("]");
        auto sl = make(NodeKind::Slice, pos);
        sl->kids.push_back(std::move(obj));
        sl->kids.push_back(std::move(start));
        sl->kids.push_back(std::move(stop));
        sl->kids.push_back(std::move(step));
        return sl;
    }

    NodePtr parse_filter_expr(NodePtr n) {
        ChainGuard chain(*this);
        for (;;) {
            const size_t pos = cur().pos;
            if (is_op("|") || is_name("is") || is_op("(")) chain.step();
            if (skip_op("|")) {
                auto f = make(NodeKind::Filter, pos);
                f->name = expect_name("a filter name");
                f->kids.push_back(std::move(n));
                if (is_op("(")) parse_args(*f);
                n = std::move(f);
            } else if (skip_name("is")) {
                auto t = make(NodeKind::Test, pos);
                t->negated = skip_name("not");
                t->name = expect_name("a test name");
                t->kids.push_back(std::move(n));
                if (is_op("(")) {
                    parse_args(*t);
                } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                            cur().type == Tok::Float || is_op("(") || is_op("[") || is_op("{")) &&
                           !is_name("else") && !is_name("or") && !is_name("and")) {
                    if (is_name("is")) fail("you cannot chain tests with 'is'");
                    t->kids.push_back(parse_postfix(parse_primary()));
                }
                n = std::move(t);
            } else if (is_op("(")) {
                n = parse_call(std::move(n), pos);
            } else {
                return n;
            }
        }
    }
};

}  // namespace

NodePtr parse_template(const std::string& source, size_t max_depth) {
    Lexer lexer(source);
    Parser parser(source, lexer.run(), max_depth);
    return parser.parse();
}

}  // namespace sigma::jinja
