// parser.cpp - the bash parser: a hand-written lexer and a recursive descent over bash's grammar.
//
// Tuned for commands of a line or two and scripts of a few thousand lines; linear in the input.
// The lexer is driven by the parser (bash's tokens depend on where they stand: reserved words
// only at a command's start, `=` only in assignments, `<`/`>` are operators inside [[ ]]), so
// the two live in one class; the lexer half reads one token on demand (peek) and never looks
// further ahead, which is what lets here-document bodies be read at the newline that ends their
// line. Nothing is expanded or executed. Errors are thrown inside (SyntaxError) and returned at
// the public entry as a ParseError with the offset and what was expected.
//
// Grammar (bash 5.2 as `bash -n` parses it; NEWLINE is a token, comments and `\<newline>` are
// blanks; a reserved word is a word spelled exactly so, unquoted, at a command's start):
//
//   script        := list END
//   list          := newlines (and_or ((';' | '&' | NEWLINE) newlines and_or)* (';' | '&')?)? newlines
//                    -- stops before `)`, `;;`, `;&`, `;;&`, END and the closing reserved word the
//                    -- caller waits for (then elif else fi do done esac `}`)
//   and_or        := pipeline (('&&' | '||') newlines pipeline)*
//   pipeline      := ('time' ['-p'] | '!')* command (('|' | '|&') newlines command)*
//   command       := compound redirect* | function | simple
//   compound      := '(' list ')' | '{' list '}' | '((' ARITH '))' | '[[' cond ']]'
//                  | 'if' list 'then' list ('elif' list 'then' list)* ['else' list] 'fi'
//                  | ('while' | 'until') list do_group
//                  | ('for' | 'select') NAME [newlines 'in' word*] (';' | NEWLINE)? newlines (do_group | '{' list '}')
//                  | 'for' '((' ARITH ';' ARITH ';' ARITH '))' [';'] newlines (do_group | '{' list '}')
//                  | 'case' word newlines 'in' newlines case_item* 'esac'
//                  | 'coproc' [NAME] compound | 'coproc' simple
//   do_group      := 'do' list 'done'                         -- every list here is non-empty
//   case_item     := ['('] word ('|' word)* ')' list [(';;' | ';&' | ';;&') newlines]
//   function      := 'function' NAME ['(' ')'] newlines compound redirect*
//                  | NAME '(' ')' newlines compound redirect*
//   simple        := (assignment | redirect)* (word | redirect)*   -- at least one element
//   assignment    := NAME ['[' ... ']'] ['+'] '=' (word | '(' word* ')')
//   redirect      := [DIGITS | '{' NAME '}'] ('<' | '>' | '>>' | '>|' | '<>' | '<&' | '>&' | '&>' | '&>>'
//                    | '<<<' ) word  |  [DIGITS] ('<<' | '<<-') word   -- body read after the line
//   cond          := cond_and ('||' cond_and)* ; cond_and := cond_not ('&&' cond_not)*
//   cond_not      := '!' cond_not | '(' cond ')' | UNARY_OP word | word [BINARY_OP word]
//
//   word          := part+ ; part := literal | '...' | $'...' | "..." | $"..." | $NAME | ${...}
//                  | $(list) | `list` | $((ARITH)) | $[ARITH] | <(list) | >(list) [| extglob]
//   ("..." holds literals, $ expansions, `...` and \-escapes of $ ` " \ newline; ${...} holds an
//    operand word; ARITH is scanned to its balanced `))` and only its expansions are parsed,
//    as bash checks arithmetic when it runs, not when it parses.)
#include <shell/shell.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>

namespace sigmaops::shell {

namespace {

struct SyntaxError {
    Offset offset;
    std::string message;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_meta(char c) { return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '<' || c == '>' || c == '(' || c == ')'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool valid_name(std::string_view s) {
    if (s.empty() || !is_name_start(s[0])) return false;
    return std::all_of(s.begin(), s.end(), is_name_char);
}

enum class Tok { Word, Op, Newline, End };

struct Token {
    Tok kind = Tok::End;
    Offset begin = 0, end = 0;        // local offsets (into the parser's source)
    std::string op;                   // Tok::Op
    Word word;                        // Tok::Word
    bool io_number = false;           // a word of digits or {name} right before < or >
};

// Where a word's parts stop.
enum class Mode {
    Normal,    // at a metacharacter or blank
    Brace,     // ${...} operand: at the closing }
    Regex,     // [[ x =~ regex ]]: at a blank outside parentheses
};

struct PendingHeredoc {
    Offset key;                       // the redirect's begin (absolute): where the body goes
    std::string delimiter;
    bool strip_tabs, quoted;
};

struct HeredocBody {
    std::string text;
    Offset begin;
    std::vector<WordPart> parts;
};

class Parser {
public:
    Parser(std::string_view src, Offset base, const Options& opt, size_t depth)
        : m_src(src), m_base(base), m_opt(opt), m_depth(depth) {}

    std::shared_ptr<Script> parse_script() {
        auto script = std::make_shared<Script>();
        script->begin = m_base;
        script->list = parse_list({});
        const Token& t = peek();
        if (t.kind != Tok::End) fail_unexpected(t);
        script->end = m_base + m_src.size();
        attach_heredocs(script->list);
        return script;
    }

private:
    std::string_view m_src;
    Offset m_base;
    const Options& m_opt;
    size_t m_depth;
    size_t m_pos = 0;
    std::optional<Token> m_tok;
    bool m_test_mode = false;                 // inside [[ ]]
    std::vector<PendingHeredoc> m_pending;
    std::map<Offset, HeredocBody> m_bodies;   // redirect begin -> body

    // ---- errors --------------------------------------------------------------------------

    [[noreturn]] void fail(Offset local, std::string message) { throw SyntaxError{m_base + local, std::move(message)}; }

    std::string describe(const Token& t) const {
        switch (t.kind) {
            case Tok::End: return "end of input";
            case Tok::Newline: return "newline";
            case Tok::Op: return "`" + t.op + "'";
            case Tok::Word: return "`" + std::string(raw(t)) + "'";
        }
        return "?";
    }
    [[noreturn]] void fail_unexpected(const Token& t, const std::string& expected = "") {
        std::string m = t.kind == Tok::End ? "unexpected end of input" : "unexpected " + describe(t);
        if (!expected.empty()) m += ": expected " + expected;
        fail(t.begin, m);
    }

    struct DepthGuard {
        Parser& p;
        DepthGuard(Parser& parser, Offset at) : p(parser) {
            if (++p.m_depth > p.m_opt.max_depth) p.fail(at, "nesting deeper than " + std::to_string(p.m_opt.max_depth) + " levels");
        }
        ~DepthGuard() { --p.m_depth; }
    };

    // ---- lexer: characters -------------------------------------------------------------------

    bool at_end() const { return m_pos >= m_src.size(); }
    char cur() const { return m_pos < m_src.size() ? m_src[m_pos] : '\0'; }
    char at(size_t i) const { return i < m_src.size() ? m_src[i] : '\0'; }
    std::string_view raw(const Token& t) const { return m_src.substr(t.begin, t.end - t.begin); }
    std::string_view raw(const Word& w) const { return m_src.substr(w.begin - m_base, w.end - w.begin); }

    // Blanks, `\<newline>` and comments (a # at a token's start) before a token.
    void skip_blanks() {
        while (!at_end()) {
            char c = cur();
            if (is_blank(c)) { ++m_pos; continue; }
            if (c == '\\' && at(m_pos + 1) == '\n') { m_pos += 2; continue; }
            if (c == '#') {
                while (!at_end() && cur() != '\n') ++m_pos;
                continue;
            }
            if (m_test_mode && c == '\n') { ++m_pos; continue; }
            break;
        }
    }

    // ---- lexer: tokens -----------------------------------------------------------------------

    const Token& peek() {
        if (!m_tok) m_tok = lex();
        return *m_tok;
    }
    Token take() {
        peek();
        Token t = std::move(*m_tok);
        m_tok.reset();
        return t;
    }
    bool peek_op(std::string_view op) { const Token& t = peek(); return t.kind == Tok::Op && t.op == op; }
    bool peek_reserved(std::string_view w) { const Token& t = peek(); return t.kind == Tok::Word && raw(t) == w; }
    void expect_reserved(std::string_view w, const std::string& context) {
        const Token& t = peek();
        if (t.kind == Tok::Word && raw(t) == w) { take(); return; }
        fail_unexpected(t, "`" + std::string(w) + "'" + context);
    }
    void expect_op(std::string_view op, const std::string& context) {
        const Token& t = peek();
        if (t.kind == Tok::Op && t.op == op) { take(); return; }
        fail_unexpected(t, "`" + std::string(op) + "'" + context);
    }
    void skip_newlines() { while (peek().kind == Tok::Newline) take(); }

    Token lex() {
        skip_blanks();
        Token t;
        t.begin = m_pos;
        if (at_end()) { t.kind = Tok::End; t.end = m_pos; return t; }
        char c = cur();
        if (c == '\n') {
            ++m_pos;
            read_heredocs();
            t.kind = Tok::Newline;
            t.end = m_pos;
            return t;
        }
        // Process substitution starts a word.
        if ((c == '<' || c == '>') && at(m_pos + 1) == '(' && !m_test_mode) return lex_word(t);
        static const char* const ops[] = {";;&", ";;", ";&", ";", "&&", "&>>", "&>", "&", "||", "|&", "|", "(", ")",
                                          "<<<", "<<-", "<<", "<>", "<&", "<", ">>", ">&", ">|", ">"};
        for (const char* op : ops) {
            size_t n = std::strlen(op);
            if (m_src.compare(m_pos, n, op) == 0) {
                t.kind = Tok::Op;
                t.op = op;
                m_pos += n;
                t.end = m_pos;
                return t;
            }
        }
        return lex_word(t);
    }

    Token lex_word(Token& t) {
        t.kind = Tok::Word;
        t.word = read_word(Mode::Normal);
        t.end = m_pos;
        if (t.word.parts.empty()) fail(t.begin, "unexpected character");
        std::string_view r = raw(t);
        char next = cur();
        if ((next == '<' || next == '>') && !m_test_mode) {
            bool digits = std::all_of(r.begin(), r.end(), is_digit);
            bool braced = r.size() > 2 && r.front() == '{' && r.back() == '}' && valid_name(r.substr(1, r.size() - 2));
            t.io_number = digits || braced;
        }
        return t;
    }

    // Reads one word's parts from the current position (which must not be at a blank).
    Word read_word(Mode mode) {
        Word w;
        w.begin = m_base + m_pos;
        read_parts(w.parts, mode);
        w.end = m_base + m_pos;
        return w;
    }

    void flush(std::vector<WordPart>& parts, std::string& lit, Offset& lit_begin) {
        if (lit.empty() && lit_begin == Offset(-1)) return;
        if (!lit.empty() || lit_begin != Offset(-1)) {
            WordPart p;
            p.kind = PartKind::Literal;
            p.begin = m_base + lit_begin;
            p.end = m_base + m_pos;
            p.text = std::move(lit);
            parts.push_back(std::move(p));
        }
        lit.clear();
        lit_begin = Offset(-1);
    }

    void read_parts(std::vector<WordPart>& parts, Mode mode) {
        std::string lit;
        Offset lit_begin = Offset(-1);
        int paren = 0;   // Regex mode: open parentheses
        auto add_char = [&](char ch, size_t n) {
            if (lit_begin == Offset(-1)) lit_begin = m_pos;
            lit += ch;
            m_pos += n;
        };
        while (!at_end()) {
            char c = cur();
            if (mode == Mode::Normal) {
                if (is_meta(c)) {
                    // <( and >( inside a word are process substitutions too.
                    if ((c == '<' || c == '>') && at(m_pos + 1) == '(' && !m_test_mode) {
                        flush(parts, lit, lit_begin);
                        parts.push_back(read_proc_subst());
                        continue;
                    }
                    break;
                }
            } else if (mode == Mode::Brace) {
                if (c == '}') break;
            } else if (mode == Mode::Regex) {
                if (paren == 0 && (is_blank(c) || c == '\n' || c == ';' || c == '&' || c == '<' || c == '>')) break;
                if (paren == 0 && c == '|' ) break;
                if (paren == 0 && c == ')') break;
                if (c == '(') { ++paren; add_char(c, 1); continue; }
                if (c == ')') { --paren; add_char(c, 1); continue; }
            }
            if (c == '\\') {
                if (at(m_pos + 1) == '\n') { m_pos += 2; continue; }
                if (m_pos + 1 >= m_src.size()) { add_char('\\', 1); continue; }
                if (lit_begin == Offset(-1)) lit_begin = m_pos;
                lit += m_src[m_pos + 1];
                m_pos += 2;
                continue;
            }
            if (c == '\'') { flush(parts, lit, lit_begin); parts.push_back(read_single_quoted()); continue; }
            if (c == '"') { flush(parts, lit, lit_begin); parts.push_back(read_double_quoted(m_pos, 1)); continue; }
            if (c == '`') { flush(parts, lit, lit_begin); parts.push_back(read_backquote()); continue; }
            if (c == '$') {
                std::optional<WordPart> p = read_dollar();
                if (p) { flush(parts, lit, lit_begin); parts.push_back(std::move(*p)); continue; }
                add_char('$', 1);
                continue;
            }
            // Inside [[ ]] bash reads patterns as if extglob were on.
            if ((m_opt.extglob || m_test_mode) && mode == Mode::Normal && at(m_pos + 1) == '(' && std::strchr("@?*+!", c)) {
                flush(parts, lit, lit_begin);
                parts.push_back(read_extglob());
                continue;
            }
            add_char(c, 1);
        }
        flush(parts, lit, lit_begin);
    }

    WordPart read_single_quoted() {
        WordPart p;
        p.kind = PartKind::SingleQuoted;
        p.begin = m_base + m_pos;
        size_t close = m_src.find('\'', m_pos + 1);
        if (close == std::string_view::npos) fail(m_pos, "unexpected end of input while looking for the matching `''");
        p.text = std::string(m_src.substr(m_pos + 1, close - m_pos - 1));
        m_pos = close + 1;
        p.end = m_base + m_pos;
        return p;
    }

    // "..." (prefix 1) or $"..." (prefix 2), starting at `start`.
    WordPart read_double_quoted(size_t start, size_t prefix) {
        WordPart p;
        p.kind = PartKind::DoubleQuoted;
        p.begin = m_base + start;
        m_pos = start + prefix;
        read_dq_parts(p.parts, true, start);
        p.end = m_base + m_pos;
        return p;
    }

    // Inside double quotes (closing=true) or a here-document body (closing=false, `"` is text).
    void read_dq_parts(std::vector<WordPart>& parts, bool closing, size_t open_at) {
        std::string lit;
        Offset lit_begin = Offset(-1);
        while (true) {
            if (at_end()) {
                if (closing) fail(open_at, "unexpected end of input while looking for the matching `\"'");
                break;
            }
            char c = cur();
            if (closing && c == '"') { flush(parts, lit, lit_begin); ++m_pos; return; }
            if (c == '\\') {
                char n = at(m_pos + 1);
                if (lit_begin == Offset(-1)) lit_begin = m_pos;
                if (n == '\n') { m_pos += 2; continue; }
                if (n == '$' || n == '`' || n == '\\' || (closing && n == '"')) { lit += n; m_pos += 2; continue; }
                lit += '\\';
                ++m_pos;
                continue;
            }
            if (c == '`') { flush(parts, lit, lit_begin); parts.push_back(read_backquote()); continue; }
            if (c == '$') {
                std::optional<WordPart> p = read_dollar(true);
                if (p) { flush(parts, lit, lit_begin); parts.push_back(std::move(*p)); continue; }
                if (lit_begin == Offset(-1)) lit_begin = m_pos;
                lit += '$';
                ++m_pos;
                continue;
            }
            if (lit_begin == Offset(-1)) lit_begin = m_pos;
            lit += c;
            ++m_pos;
        }
        flush(parts, lit, lit_begin);
    }

    static int hexval(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    static void put_utf8(std::string& out, unsigned long cp) {
        if (cp < 0x80) out += char(cp);
        else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
        else if (cp < 0x10000) { out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F)); }
        else if (cp < 0x110000) {
            out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
        }
    }

    // $'...': the content with bash's escapes decoded.
    WordPart read_ansi_c() {
        WordPart p;
        p.kind = PartKind::AnsiC;
        size_t open = m_pos;
        p.begin = m_base + m_pos;
        m_pos += 2;
        std::string& out = p.text;
        while (true) {
            if (at_end()) fail(open, "unexpected end of input while looking for the matching `''");
            char c = cur();
            if (c == '\'') { ++m_pos; break; }
            if (c != '\\') { out += c; ++m_pos; continue; }
            char e = at(m_pos + 1);
            m_pos += 2;
            switch (e) {
                case 'a': out += '\a'; break;
                case 'b': out += '\b'; break;
                case 'e': case 'E': out += '\x1b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'v': out += '\v'; break;
                case '\\': out += '\\'; break;
                case '\'': out += '\''; break;
                case '"': out += '"'; break;
                case '?': out += '?'; break;
                case 'x': {
                    int v = 0, n = 0;
                    while (n < 2 && hexval(cur()) >= 0) { v = v * 16 + hexval(cur()); ++m_pos; ++n; }
                    if (n == 0) out += "\\x"; else out += char(v);
                    break;
                }
                case 'u': case 'U': {
                    unsigned long v = 0;
                    int n = 0, max = e == 'u' ? 4 : 8;
                    while (n < max && hexval(cur()) >= 0) { v = v * 16 + unsigned(hexval(cur())); ++m_pos; ++n; }
                    if (n == 0) { out += '\\'; out += e; } else put_utf8(out, v);
                    break;
                }
                case 'c': {
                    char x = cur();
                    if (x) { out += char(x & 0x1F); ++m_pos; } else out += "\\c";
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        int v = e - '0', n = 1;
                        while (n < 3 && cur() >= '0' && cur() <= '7') { v = v * 8 + (cur() - '0'); ++m_pos; ++n; }
                        out += char(v);
                    } else if (e == '\0' && m_pos > m_src.size()) {
                        fail(open, "unexpected end of input while looking for the matching `''");
                    } else {
                        out += '\\';
                        out += e;
                    }
            }
        }
        p.end = m_base + m_pos;
        return p;
    }

    // After a `$`: an expansion, or nullopt when the $ is a plain character.
    std::optional<WordPart> read_dollar(bool in_dquotes = false) {
        char n = at(m_pos + 1);
        size_t start = m_pos;
        if (n == '\'' && !in_dquotes) return read_ansi_c();
        if (n == '"' && !in_dquotes) return read_double_quoted(start, 2);
        if (n == '(') {
            if (at(m_pos + 2) == '(') {
                std::optional<WordPart> a = try_arith(start, 3, PartKind::Arith);
                if (a) return a;
                m_pos = start;
            }
            return read_command_subst(start);
        }
        if (n == '[') return read_old_arith(start);
        if (n == '{') return read_param_braced(start);
        WordPart p;
        p.kind = PartKind::Param;
        p.begin = m_base + start;
        if (is_name_start(n)) {
            size_t e = m_pos + 1;
            while (is_name_char(at(e))) ++e;
            p.text = std::string(m_src.substr(m_pos + 1, e - m_pos - 1));
            m_pos = e;
        } else if (is_digit(n) || (n && std::strchr("@*#?-$!", n))) {
            p.text = std::string(1, n);
            m_pos += 2;
        } else {
            return std::nullopt;
        }
        p.end = m_base + m_pos;
        return p;
    }

    // ${...}: the parameter's name, then the operand's parts up to the matching }.
    WordPart read_param_braced(size_t start) {
        DepthGuard g(*this, start);
        WordPart p;
        p.kind = PartKind::Param;
        p.begin = m_base + start;
        m_pos = start + 2;
        size_t name_begin = m_pos;
        if ((cur() == '#' || cur() == '!') && at(m_pos + 1) != '}') ++m_pos;
        if (is_name_start(cur())) {
            while (is_name_char(cur())) ++m_pos;
        } else if (is_digit(cur())) {
            while (is_digit(cur())) ++m_pos;
        } else if (cur() && std::strchr("@*#?-$!", cur())) {
            ++m_pos;
        }
        if (cur() == '[') {
            int depth = 0;
            while (!at_end()) {
                char c = cur();
                if (c == '[') ++depth;
                else if (c == ']' && --depth == 0) { ++m_pos; break; }
                else if (c == '\\') ++m_pos;
                ++m_pos;
            }
        }
        p.text = std::string(m_src.substr(name_begin, m_pos - name_begin));
        read_parts(p.parts, Mode::Brace);
        if (at_end()) fail(start, "unexpected end of input while looking for the matching `}'");
        ++m_pos;   // }
        p.end = m_base + m_pos;
        return p;
    }

    // $(list) starting at `start` (the $).
    WordPart read_command_subst(size_t start) {
        WordPart p;
        p.kind = PartKind::CommandSubst;
        p.begin = m_base + start;
        m_pos = start + 2;
        p.body = parse_nested(start, "$(");
        p.end = m_base + m_pos;
        return p;
    }

    // <(list) or >(list).
    WordPart read_proc_subst() {
        WordPart p;
        p.kind = PartKind::ProcSubst;
        size_t start = m_pos;
        p.begin = m_base + start;
        p.text = std::string(1, cur());
        m_pos += 2;
        p.body = parse_nested(start, p.text + "(");
        p.end = m_base + m_pos;
        return p;
    }

    // A list up to the `)` that closes what was opened at `open_at`; consumes the `)`.
    std::shared_ptr<Script> parse_nested(size_t open_at, const std::string& opener) {
        DepthGuard g(*this, open_at);
        bool test_mode = m_test_mode;
        m_test_mode = false;
        auto script = std::make_shared<Script>();
        script->begin = m_base + m_pos;
        script->list = parse_list({});
        const Token& t = peek();
        if (t.kind == Tok::End) fail(open_at, "unexpected end of input while looking for the `)' that closes `" + opener + "'");
        if (!(t.kind == Tok::Op && t.op == ")")) fail_unexpected(t, "`)' to close `" + opener + "' at " + std::to_string(m_base + open_at));
        script->end = m_base + t.begin;
        m_tok.reset();     // the `)`; m_pos is already after it
        m_test_mode = test_mode;
        return script;
    }

    // $((...)) / ((...)): scans to the balanced `))`. Returns nullopt (position unspecified) when
    // a `)` closes the first parenthesis alone: then it was $( ( ... ) ... ) or ( ( ... ) ).
    std::optional<WordPart> try_arith(size_t start, size_t prefix, PartKind kind) {
        DepthGuard g(*this, start);
        WordPart p;
        p.kind = kind;
        p.begin = m_base + start;
        m_pos = start + prefix;
        size_t expr_begin = m_pos;
        int depth = 0;
        std::string lit;
        Offset lit_begin = Offset(-1);
        while (true) {
            if (at_end()) return std::nullopt;
            char c = cur();
            if (c == '(') { ++depth; }
            else if (c == ')') {
                if (depth == 0) {
                    if (at(m_pos + 1) != ')') return std::nullopt;
                    flush(p.parts, lit, lit_begin);
                    p.text = std::string(m_src.substr(expr_begin, m_pos - expr_begin));
                    m_pos += 2;
                    p.end = m_base + m_pos;
                    return p;
                }
                --depth;
            } else if (c == '$' || c == '`' || c == '"' || c == '\'') {
                flush(p.parts, lit, lit_begin);
                if (c == '$') {
                    std::optional<WordPart> d = read_dollar();
                    if (d) p.parts.push_back(std::move(*d)); else { lit_begin = m_pos; lit = "$"; ++m_pos; }
                } else if (c == '`') {
                    p.parts.push_back(read_backquote());
                } else if (c == '"') {
                    p.parts.push_back(read_double_quoted(m_pos, 1));
                } else {
                    p.parts.push_back(read_single_quoted());
                }
                continue;
            } else if (c == '\\' && at(m_pos + 1)) {
                if (lit_begin == Offset(-1)) lit_begin = m_pos;
                lit += c;
                lit += at(m_pos + 1);
                m_pos += 2;
                continue;
            }
            if (lit_begin == Offset(-1)) lit_begin = m_pos;
            lit += c;
            ++m_pos;
        }
    }

    // $[expr]: the old arithmetic form.
    WordPart read_old_arith(size_t start) {
        WordPart p;
        p.kind = PartKind::Arith;
        p.begin = m_base + start;
        m_pos = start + 2;
        int depth = 1;
        while (true) {
            if (at_end()) fail(start, "unexpected end of input while looking for the matching `]'");
            char c = cur();
            if (c == '[') ++depth;
            else if (c == ']' && --depth == 0) break;
            else if (c == '$' || c == '`') {
                std::optional<WordPart> d = c == '$' ? read_dollar() : std::optional<WordPart>(read_backquote());
                if (d) { p.parts.push_back(std::move(*d)); continue; }
            }
            ++m_pos;
        }
        p.text = std::string(m_src.substr(start + 2, m_pos - start - 2));
        ++m_pos;
        p.end = m_base + m_pos;
        return p;
    }

    // `list`: the text up to the next unescaped backquote, with \` \\ \$ unescaped, parsed on its own.
    WordPart read_backquote() {
        WordPart p;
        p.kind = PartKind::Backquote;
        size_t start = m_pos;
        p.begin = m_base + start;
        ++m_pos;
        std::string inner;
        while (true) {
            if (at_end()) fail(start, "unexpected end of input while looking for the matching ``'");
            char c = cur();
            if (c == '`') { ++m_pos; break; }
            if (c == '\\') {
                char n = at(m_pos + 1);
                if (n == '`' || n == '\\' || n == '$') { inner += n; m_pos += 2; continue; }
            }
            inner += c;
            ++m_pos;
        }
        Parser sub(inner, m_base + start + 1, m_opt, m_depth + 1);
        if (m_depth + 1 > m_opt.max_depth) fail(start, "nesting deeper than " + std::to_string(m_opt.max_depth) + " levels");
        p.body = sub.parse_script();
        p.end = m_base + m_pos;
        return p;
    }

    // @(...) and friends (Options::extglob): the balanced source, kept as text.
    WordPart read_extglob() {
        WordPart p;
        p.kind = PartKind::ExtGlob;
        size_t start = m_pos;
        p.begin = m_base + start;
        m_pos += 2;
        int depth = 1;
        while (depth > 0) {
            if (at_end()) fail(start, "unexpected end of input while looking for the matching `)'");
            char c = cur();
            if (c == '\\') { m_pos += 2; continue; }
            if (c == '(') ++depth;
            else if (c == ')') --depth;
            ++m_pos;
        }
        p.text = std::string(m_src.substr(start, m_pos - start));
        p.end = m_base + m_pos;
        return p;
    }

    // At a newline: the bodies of the here-documents opened on the line just ended.
    void read_heredocs() {
        std::vector<PendingHeredoc> pending;
        pending.swap(m_pending);
        for (const PendingHeredoc& h : pending) {
            HeredocBody body;
            body.begin = m_base + m_pos;
            while (!at_end()) {
                size_t eol = m_src.find('\n', m_pos);
                size_t line_end = eol == std::string_view::npos ? m_src.size() : eol;
                std::string_view line = m_src.substr(m_pos, line_end - m_pos);
                if (h.strip_tabs) {
                    size_t k = 0;
                    while (k < line.size() && line[k] == '\t') ++k;
                    line.remove_prefix(k);
                }
                m_pos = eol == std::string_view::npos ? m_src.size() : eol + 1;
                if (line == h.delimiter) break;
                body.text.append(line);
                if (eol != std::string_view::npos) body.text += '\n';
            }
            if (!h.quoted) {
                // The body's expansions, for the classifier. bash checks them only when it runs,
                // so a body that does not parse is kept as text and is no error here.
                try {
                    Parser sub(body.text, body.begin, m_opt, m_depth + 1);
                    sub.read_dq_parts(body.parts, false, 0);
                } catch (const SyntaxError&) {
                    body.parts.clear();
                }
            }
            m_bodies[h.key] = std::move(body);
        }
    }

    void attach_heredocs(Command& c) {
        if (m_bodies.empty()) return;
        for (Redirect& r : c.redirects) {
            auto it = m_bodies.find(r.begin);
            if (it != m_bodies.end()) {
                r.heredoc = std::move(it->second.text);
                r.heredoc_begin = it->second.begin;
                r.heredoc_parts = std::move(it->second.parts);
            }
            attach_word(r.target);
        }
        for (Assignment& a : c.assignments) { attach_word(a.value); for (Word& w : a.elements) attach_word(w); }
        for (Word& w : c.words) attach_word(w);
        for (Command& b : c.body) attach_heredocs(b);
        for (CaseItem& i : c.items) { if (i.body) attach_heredocs(*i.body); for (Word& w : i.patterns) attach_word(w); }
    }
    void attach_word(Word& w) { attach_parts(w.parts); }
    void attach_parts(std::vector<WordPart>& parts) {
        for (WordPart& p : parts) {
            attach_parts(p.parts);
            if (p.body && p.kind != PartKind::Backquote) attach_heredocs(p.body->list);
        }
    }

    // ---- parser ------------------------------------------------------------------------------

    // Is the current token a reserved word that closes a list (so a list stops before it)?
    bool at_list_stop(const std::vector<std::string_view>& stops) {
        const Token& t = peek();
        if (t.kind == Tok::End) return true;
        if (t.kind == Tok::Op) return t.op == ")" || t.op == ";;" || t.op == ";&" || t.op == ";;&";
        if (t.kind == Tok::Word) {
            std::string_view r = raw(t);
            for (std::string_view s : stops) if (r == s) return true;
        }
        return false;
    }

    Command parse_list(const std::vector<std::string_view>& stops) {
        Command list;
        list.kind = Kind::List;
        list.begin = m_base + m_pos;
        skip_newlines();
        while (!at_list_stop(stops)) {
            Command c = parse_and_or();
            const Token& t = peek();
            if (t.kind == Tok::Op && (t.op == ";" || t.op == "&")) {
                c.background = t.op == "&";
                take();
                skip_newlines();
            } else if (t.kind == Tok::Newline) {
                skip_newlines();
            } else {
                list.body.push_back(std::move(c));
                break;
            }
            list.body.push_back(std::move(c));
        }
        list.end = list.body.empty() ? list.begin : list.body.back().end;
        if (!list.body.empty()) list.begin = list.body.front().begin;
        return list;
    }

    // A list that must hold at least one command (bash rejects `{ }`, `if then`, `do done`).
    Command parse_body(const std::vector<std::string_view>& stops, const std::string& what) {
        Command list = parse_list(stops);
        if (list.body.empty()) fail_unexpected(peek(), "a command " + what);
        return list;
    }

    Command parse_and_or() {
        Command left = parse_pipeline();
        while (true) {
            const Token& t = peek();
            if (!(t.kind == Tok::Op && (t.op == "&&" || t.op == "||"))) return left;
            Kind k = t.op == "&&" ? Kind::And : Kind::Or;
            std::string op = t.op;
            take();
            skip_newlines();
            if (at_list_stop({}) || peek().kind == Tok::Newline) fail_unexpected(peek(), "a command after `" + op + "'");
            Command right = parse_pipeline();
            Command node;
            node.kind = k;
            node.begin = left.begin;
            node.end = right.end;
            node.body.push_back(std::move(left));
            node.body.push_back(std::move(right));
            left = std::move(node);
        }
    }

    Command parse_pipeline() {
        DepthGuard g(*this, peek().begin);
        bool negated = false, timed = false;
        Offset begin = m_base + peek().begin;
        while (true) {
            if (peek_reserved("!")) { take(); negated = !negated; continue; }
            if (peek_reserved("time")) {
                take();
                timed = true;
                if (peek_reserved("-p")) take();
                continue;
            }
            break;
        }
        if ((negated || timed) && (at_list_stop({"then", "do", "}", "fi", "done", "esac", "else", "elif"}) ||
                                   peek().kind == Tok::Newline || peek_op(";") || peek_op("&") || peek_op("&&") || peek_op("||"))) {
            // `time` alone times nothing; `!` alone is false: both are valid, as in bash.
            Command c;
            c.kind = Kind::Simple;
            c.begin = begin;
            c.end = m_base + peek().begin;
            c.negated = negated;
            c.timed = timed;
            return c;
        }
        Command first = parse_command();
        if (!(peek_op("|") || peek_op("|&"))) {
            first.negated = first.negated != negated;
            first.timed = first.timed || timed;
            if (negated || timed) first.begin = std::min(first.begin, begin);
            return first;
        }
        Command pipe;
        pipe.kind = Kind::Pipeline;
        pipe.begin = begin;
        pipe.negated = negated;
        pipe.timed = timed;
        pipe.body.push_back(std::move(first));
        while (peek_op("|") || peek_op("|&")) {
            std::string op = take().op;
            pipe.pipe_stderr.push_back(op == "|&");
            skip_newlines();
            if (at_list_stop({}) || peek().kind == Tok::Newline || peek_reserved("!"))
                fail_unexpected(peek(), "a command after `" + op + "'");
            pipe.body.push_back(parse_command());
        }
        pipe.end = pipe.body.back().end;
        return pipe;
    }

    static bool is_redirect_op(const std::string& op) {
        return op == "<" || op == ">" || op == ">>" || op == ">|" || op == "<>" || op == "<&" || op == ">&" ||
               op == "&>" || op == "&>>" || op == "<<" || op == "<<-" || op == "<<<";
    }

    // The source of a here-document delimiter with quotes and backslashes removed.
    static std::string unquote_delimiter(std::string_view r, bool& quoted) {
        std::string out;
        quoted = false;
        for (size_t i = 0; i < r.size(); ++i) {
            char c = r[i];
            if (c == '\'' || c == '"') { quoted = true; continue; }
            if (c == '\\' && i + 1 < r.size()) { quoted = true; out += r[++i]; continue; }
            if (c == '$' && i + 1 < r.size() && (r[i + 1] == '\'' || r[i + 1] == '"')) continue;
            out += c;
        }
        return out;
    }

    Redirect parse_redirect(std::string fd, size_t begin) {
        Token op = take();
        Redirect r;
        r.begin = m_base + begin;
        r.fd = std::move(fd);
        r.op = op.op;
        const Token& t = peek();
        if (t.kind != Tok::Word) fail_unexpected(t, "a word after `" + op.op + "'");
        Token w = take();
        r.target = std::move(w.word);
        r.end = r.target.end;
        if (r.op == "<<" || r.op == "<<-") {
            bool quoted = false;
            std::string delim = unquote_delimiter(raw(w), quoted);
            r.heredoc_quoted = quoted;
            m_pending.push_back({r.begin, std::move(delim), r.op == "<<-", quoted});
        }
        return r;
    }

    // Trailing redirections of a compound command.
    void parse_redirects(Command& c) {
        while (true) {
            const Token& t = peek();
            if (t.kind == Tok::Op && is_redirect_op(t.op)) {
                c.redirects.push_back(parse_redirect("", t.begin));
            } else if (t.kind == Tok::Word && t.io_number) {
                Token n = take();
                if (!(peek().kind == Tok::Op && is_redirect_op(peek().op))) fail_unexpected(peek(), "a redirection");
                c.redirects.push_back(parse_redirect(std::string(raw(n)), n.begin));
            } else {
                break;
            }
            c.end = c.redirects.back().end;
        }
    }

    static bool is_reserved_word(std::string_view r) {
        static const char* const words[] = {"if", "then", "elif", "else", "fi", "do", "done", "case", "esac", "while",
                                            "until", "for", "select", "function", "{", "}", "[[", "]]", "!", "time", "coproc", "in"};
        for (const char* w : words) if (r == w) return true;
        return false;
    }

    Command parse_command() {
        const Token& t = peek();
        size_t begin = t.begin;
        Command c;
        if (t.kind == Tok::Op && t.op == "(") {
            if (at(t.end) == '(') {
                m_tok.reset();
                std::optional<WordPart> a = try_arith(t.begin, 2, PartKind::Arith);
                if (a) {
                    c.kind = Kind::Arith;
                    Word w;
                    w.begin = a->begin;
                    w.end = a->end;
                    w.parts = std::move(a->parts);
                    if (w.parts.empty()) {
                        WordPart lp;
                        lp.kind = PartKind::Literal;
                        lp.begin = w.begin + 2;
                        lp.end = w.end - 2;
                        lp.text = a->text;
                        w.parts.push_back(std::move(lp));
                    }
                    c.words.push_back(std::move(w));
                    c.begin = m_base + begin;
                    c.end = m_base + m_pos;
                    parse_redirects(c);
                    return c;
                }
                // `( (...) ... )`: a subshell in a subshell; re-lex from the first `(`.
                m_pos = begin;
                m_tok.reset();
                (void)peek();
            }
            take();
            c.kind = Kind::Subshell;
            c.body.push_back(parse_body({}, "in `( )'"));
            expect_op(")", " to close `(' at " + std::to_string(m_base + begin));
            c.begin = m_base + begin;
            c.end = m_base + m_pos;
            parse_redirects(c);
            return c;
        }
        if (t.kind == Tok::Word && !t.io_number) {
            std::string_view r = raw(t);
            if (r == "{") return parse_group();
            if (r == "if") return parse_if();
            if (r == "while" || r == "until") return parse_while(r == "while" ? Kind::While : Kind::Until);
            if (r == "for" || r == "select") return parse_for(r == "for" ? Kind::For : Kind::Select);
            if (r == "case") return parse_case();
            if (r == "function") return parse_function_keyword();
            if (r == "[[") return parse_test();
            if (r == "coproc") return parse_coproc();
            if (r == "then" || r == "elif" || r == "else" || r == "fi" || r == "do" || r == "done" || r == "esac" ||
                r == "}" || r == "in")
                fail_unexpected(t);
            // NAME ( ) compound: a function definition.
            if (valid_name_fn(r)) {
                size_t k = t.end;
                while (is_blank(at(k))) ++k;
                if (at(k) == '(') {
                    size_t j = k + 1;
                    while (is_blank(at(j))) ++j;
                    if (at(j) == ')') {
                        Token name = take();
                        m_pos = j + 1;
                        return parse_function_body(std::string(raw(name)), name.begin);
                    }
                }
            }
        }
        if (t.kind == Tok::Op && !is_redirect_op(t.op)) fail_unexpected(t);
        if (t.kind == Tok::End || t.kind == Tok::Newline) fail_unexpected(t, "a command");
        return parse_simple();
    }

    // bash accepts most words as function names (not only identifiers): `foo-bar() { ...; }`.
    static bool valid_name_fn(std::string_view r) {
        if (r.empty()) return false;
        for (char c : r) if (c == '$' || c == '`' || c == '\'' || c == '"' || c == '\\' || c == '=') return false;
        return !is_digit(r[0]) || !std::all_of(r.begin(), r.end(), is_digit);
    }

    static bool declaration_builtin(std::string_view r) {
        return r == "declare" || r == "typeset" || r == "local" || r == "export" || r == "readonly";
    }

    // The `=` of an assignment word (NAME=, NAME+=, NAME[...]=), or npos.
    static size_t assignment_eq(std::string_view r) {
        if (r.empty() || !is_name_start(r[0])) return std::string_view::npos;
        size_t i = 1;
        while (i < r.size() && is_name_char(r[i])) ++i;
        if (i < r.size() && r[i] == '[') {
            int depth = 0;
            for (; i < r.size(); ++i) {
                if (r[i] == '[') ++depth;
                else if (r[i] == ']' && --depth == 0) { ++i; break; }
            }
            if (depth != 0) return std::string_view::npos;
        }
        if (i < r.size() && r[i] == '+') ++i;
        if (i < r.size() && r[i] == '=') return i;
        return std::string_view::npos;
    }

    Assignment parse_assignment(Token& t, size_t eq) {
        std::string_view r = raw(t);
        Assignment a;
        a.begin = m_base + t.begin;
        a.append = eq > 0 && r[eq - 1] == '+';
        a.name = std::string(r.substr(0, a.append ? eq - 1 : eq));
        size_t after = m_pos;
        if (eq + 1 == r.size() && cur() == '(') {
            // NAME=( word... )
            a.is_array = true;
            size_t open = m_pos;
            ++m_pos;
            while (true) {
                skip_blanks();
                if (at_end()) fail(open, "unexpected end of input while looking for the `)' of the array");
                if (cur() == '\n') { ++m_pos; read_heredocs(); continue; }
                if (cur() == ')') { ++m_pos; break; }
                if (is_meta(cur()) && !((cur() == '<' || cur() == '>') && at(m_pos + 1) == '(')) fail(m_pos, "unexpected `" + std::string(1, cur()) + "' in an array");
                a.elements.push_back(read_word(Mode::Normal));
            }
            a.end = m_base + m_pos;
            return a;
        }
        // The value: the word's parts after the `=`.
        m_pos = t.begin + eq + 1;
        a.value = read_word(Mode::Normal);
        m_pos = after;
        a.end = m_base + t.end;
        return a;
    }

    Command parse_simple() {
        Command c;
        c.kind = Kind::Simple;
        c.begin = m_base + peek().begin;
        bool declaration = false;
        while (true) {
            const Token& t = peek();
            if (t.kind == Tok::Op && is_redirect_op(t.op)) {
                c.redirects.push_back(parse_redirect("", t.begin));
                c.end = c.redirects.back().end;
                continue;
            }
            if (t.kind != Tok::Word) break;
            if (t.io_number) {
                Token n = take();
                c.redirects.push_back(parse_redirect(std::string(raw(n)), n.begin));
                c.end = c.redirects.back().end;
                continue;
            }
            std::string_view r = raw(t);
            size_t eq = assignment_eq(r);
            if (eq != std::string_view::npos && (c.words.empty() || declaration)) {
                Token w = take();
                Assignment a = parse_assignment(w, eq);
                c.end = a.end;
                if (c.words.empty()) {
                    c.assignments.push_back(std::move(a));
                } else {
                    // declare x=1 / local a=(...): an argument that is an assignment
                    Word word = w.word;
                    if (a.is_array) { word.end = a.end; }
                    c.words.push_back(std::move(word));
                    c.assignments.push_back(std::move(a));
                }
                continue;
            }
            Token w = take();
            if (c.words.empty()) declaration = declaration_builtin(raw(w));
            c.end = m_base + w.end;
            c.words.push_back(std::move(w.word));
        }
        if (c.words.empty() && c.assignments.empty() && c.redirects.empty()) fail_unexpected(peek(), "a command");
        if (peek_op("(")) fail_unexpected(peek());
        return c;
    }

    Command parse_group() {
        Token open = take();
        Command c;
        c.kind = Kind::Group;
        c.begin = m_base + open.begin;
        c.body.push_back(parse_body({"}"}, "in `{ }'"));
        expect_reserved("}", " to close `{' at " + std::to_string(m_base + open.begin));
        c.end = m_base + m_pos;
        parse_redirects(c);
        return c;
    }

    Command parse_if() {
        Token kw = take();
        Command c;
        c.kind = Kind::If;
        c.begin = m_base + kw.begin;
        std::string ctx = " (the `if' at " + std::to_string(m_base + kw.begin) + ")";
        c.body.push_back(parse_body({"then"}, "as the condition of `if'"));
        expect_reserved("then", ctx);
        c.body.push_back(parse_body({"elif", "else", "fi"}, "after `then'"));
        while (peek_reserved("elif")) {
            take();
            c.body.push_back(parse_body({"then"}, "as the condition of `elif'"));
            expect_reserved("then", ctx);
            c.body.push_back(parse_body({"elif", "else", "fi"}, "after `then'"));
        }
        if (peek_reserved("else")) {
            take();
            c.has_else = true;
            c.body.push_back(parse_body({"fi"}, "after `else'"));
        }
        expect_reserved("fi", ctx);
        c.end = m_base + m_pos;
        parse_redirects(c);
        return c;
    }

    Command parse_do_group(const std::string& ctx) {
        if (peek_reserved("{")) {
            Command g = parse_group();
            return g.body[0];
        }
        expect_reserved("do", ctx);
        Command body = parse_body({"done"}, "after `do'");
        expect_reserved("done", ctx);
        return body;
    }

    Command parse_while(Kind kind) {
        Token kw = take();
        Command c;
        c.kind = kind;
        c.begin = m_base + kw.begin;
        std::string ctx = " (the `" + std::string(raw(kw)) + "' at " + std::to_string(m_base + kw.begin) + ")";
        c.body.push_back(parse_body({"do"}, "as the condition"));
        if (peek_reserved("{")) fail_unexpected(peek(), "`do'" + ctx);
        c.body.push_back(parse_do_group(ctx));
        c.end = m_base + m_pos;
        parse_redirects(c);
        return c;
    }

    Command parse_for(Kind kind) {
        Token kw = take();
        Command c;
        c.kind = kind;
        c.begin = m_base + kw.begin;
        std::string ctx = " (the `" + std::string(raw(kw)) + "' at " + std::to_string(m_base + kw.begin) + ")";
        skip_blanks();
        if (kind == Kind::For && cur() == '(' && at(m_pos + 1) == '(') {
            size_t start = m_pos;
            std::optional<WordPart> a = try_arith(start, 2, PartKind::Arith);
            if (!a) fail(start, "unexpected end of input while looking for `))'" + ctx);
            c.kind = Kind::ArithFor;
            // The three expressions, split at the top-level `;`.
            std::string_view expr = a->text;
            size_t from = 0, n_semis = 0;
            int depth = 0;
            for (size_t i = 0; i <= expr.size(); ++i) {
                char ch = i < expr.size() ? expr[i] : ';';
                if (ch == '(') ++depth;
                else if (ch == ')') --depth;
                if (ch == ';' && depth == 0) {
                    Word w;
                    w.begin = a->begin + 2 + from;
                    w.end = a->begin + 2 + i;
                    WordPart lp;
                    lp.kind = PartKind::Literal;
                    lp.begin = w.begin;
                    lp.end = w.end;
                    lp.text = std::string(expr.substr(from, i - from));
                    w.parts.push_back(std::move(lp));
                    c.words.push_back(std::move(w));
                    from = i + 1;
                    if (i < expr.size()) ++n_semis;
                }
            }
            if (n_semis != 2) fail(start, "expected three expressions separated by `;' in `for ((...))'");
            // Expansions inside the expressions, for the classifier.
            if (!a->parts.empty()) {
                Word all;
                all.begin = a->begin;
                all.end = a->end;
                for (WordPart& p : a->parts) if (p.kind != PartKind::Literal) all.parts.push_back(std::move(p));
                if (!all.parts.empty()) c.words.push_back(std::move(all));
            }
            if (peek_op(";")) take();
            skip_newlines();
            c.body.push_back(parse_do_group(ctx));
            c.end = m_base + m_pos;
            parse_redirects(c);
            return c;
        }
        const Token& n = peek();
        if (n.kind != Tok::Word) fail_unexpected(n, "a variable name" + ctx);
        // (bash checks that NAME is an identifier only when it runs the loop; so does not this parser)
        c.name = std::string(raw(n));
        take();
        skip_newlines();
        if (peek_reserved("in")) {
            take();
            c.has_in = true;
            while (peek().kind == Tok::Word) c.words.push_back(take().word);
            if (peek_op(";")) take();
            else if (peek().kind == Tok::Newline) take();
            else fail_unexpected(peek(), "`;' or a newline after the word list" + ctx);
        } else if (peek_op(";")) {
            take();
        }
        skip_newlines();
        c.body.push_back(parse_do_group(ctx));
        c.end = m_base + m_pos;
        parse_redirects(c);
        return c;
    }

    Command parse_case() {
        Token kw = take();
        Command c;
        c.kind = Kind::Case;
        c.begin = m_base + kw.begin;
        std::string ctx = " (the `case' at " + std::to_string(m_base + kw.begin) + ")";
        if (peek().kind != Tok::Word) fail_unexpected(peek(), "a word after `case'");
        c.words.push_back(take().word);
        skip_newlines();
        expect_reserved("in", ctx);
        skip_newlines();
        while (true) {
            if (peek_reserved("esac")) { take(); break; }
            CaseItem item;
            item.begin = m_base + peek().begin;
            if (peek_op("(")) take();
            while (true) {
                const Token& p = peek();
                if (p.kind != Tok::Word) fail_unexpected(p, "a pattern" + ctx);
                item.patterns.push_back(take().word);
                if (peek_op("|")) { take(); continue; }
                break;
            }
            expect_op(")", " after the pattern" + ctx);
            item.body = std::make_shared<Command>(parse_list({"esac"}));
            const Token& e = peek();
            if (e.kind == Tok::Op && (e.op == ";;" || e.op == ";&" || e.op == ";;&")) {
                item.terminator = e.op;
                take();
                skip_newlines();
                item.end = m_base + m_pos;
                c.items.push_back(std::move(item));
                continue;
            }
            item.end = m_base + e.begin;
            c.items.push_back(std::move(item));
            expect_reserved("esac", ctx);
            break;
        }
        c.end = m_base + m_pos;
        parse_redirects(c);
        return c;
    }

    Command parse_function_keyword() {
        Token kw = take();
        const Token& n = peek();
        if (n.kind != Tok::Word) fail_unexpected(n, "a function name after `function'");
        Token name = take();
        skip_blanks();
        if (cur() == '(') {
            size_t j = m_pos + 1;
            while (is_blank(at(j))) ++j;
            if (at(j) != ')') fail(j, "expected `)' after `(' in a function definition");
            m_pos = j + 1;
        }
        return parse_function_body(std::string(raw(name)), kw.begin);
    }

    Command parse_function_body(std::string name, size_t begin) {
        Command c;
        c.kind = Kind::Function;
        c.name = std::move(name);
        c.begin = m_base + begin;
        skip_newlines();
        const Token& t = peek();
        bool compound = (t.kind == Tok::Op && t.op == "(") ||
                        (t.kind == Tok::Word && (raw(t) == "{" || raw(t) == "if" || raw(t) == "while" || raw(t) == "until" ||
                                                 raw(t) == "for" || raw(t) == "select" || raw(t) == "case" || raw(t) == "[["));
        if (!compound) fail_unexpected(t, "a compound command (such as `{ ...; }') as the body of function `" + c.name + "'");
        c.body.push_back(parse_command());
        c.end = c.body.back().end;
        return c;
    }

    Command parse_coproc() {
        Token kw = take();
        Command c;
        c.kind = Kind::Coproc;
        c.begin = m_base + kw.begin;
        const Token& t = peek();
        if (t.kind == Tok::Word && valid_name(raw(t)) && !is_reserved_word(raw(t))) {
            size_t k = t.end;
            while (is_blank(at(k))) ++k;
            std::string_view rest = m_src.substr(std::min(k, m_src.size()));
            auto starts = [&](std::string_view w) {
                return rest.substr(0, w.size()) == w && (rest.size() == w.size() || is_meta(rest[w.size()]));
            };
            if (at(k) == '(' || starts("{") || starts("if") || starts("while") || starts("until") || starts("for") ||
                starts("case") || starts("[[") || starts("select")) {
                c.name = std::string(raw(t));
                take();
            }
        }
        c.body.push_back(parse_command());
        c.end = c.body.back().end;
        return c;
    }

    // ---- [[ ]] -------------------------------------------------------------------------------

    static bool unary_test_op(std::string_view r) {
        if (r.size() != 2 || r[0] != '-') return false;
        return std::strchr("abcdefghknoprstuvwxzGLNORS", r[1]) != nullptr;
    }
    static bool binary_test_op(std::string_view r) {
        return r == "==" || r == "=" || r == "!=" || r == "=~" || r == "-eq" || r == "-ne" || r == "-lt" || r == "-le" ||
               r == "-gt" || r == "-ge" || r == "-nt" || r == "-ot" || r == "-ef";
    }

    bool test_close() { const Token& t = peek(); return t.kind == Tok::Word && raw(t) == "]]"; }

    Command parse_test() {
        Token open = take();
        Command c;
        c.kind = Kind::Test;
        c.begin = m_base + open.begin;
        m_test_mode = true;
        if (!test_close()) cond_or(c);   // bash -n accepts an empty [[ ]] (it fails when run)
        if (!test_close()) fail_unexpected(peek(), "`]]' to close `[[' at " + std::to_string(m_base + open.begin));
        m_test_mode = false;
        take();
        c.end = m_base + m_pos;
        parse_redirects(c);
        return c;
    }

    void push_op_word(Command& c, const Token& t) {
        Word w;
        w.begin = m_base + t.begin;
        w.end = m_base + t.end;
        WordPart p;
        p.kind = PartKind::Literal;
        p.begin = w.begin;
        p.end = w.end;
        p.text = t.kind == Tok::Op ? t.op : std::string(raw(t));
        w.parts.push_back(std::move(p));
        c.words.push_back(std::move(w));
    }

    void cond_or(Command& c) {
        cond_and(c);
        while (peek_op("||")) { push_op_word(c, peek()); take(); cond_and(c); }
    }
    void cond_and(Command& c) {
        cond_not(c);
        while (peek_op("&&")) { push_op_word(c, peek()); take(); cond_not(c); }
    }
    void cond_not(Command& c) {
        DepthGuard g(*this, peek().begin);
        const Token& t = peek();
        if (t.kind == Tok::Word && raw(t) == "!") { push_op_word(c, t); take(); cond_not(c); return; }
        if (t.kind == Tok::Op && t.op == "(") {
            size_t open = t.begin;
            push_op_word(c, t);
            take();
            cond_or(c);
            if (!peek_op(")")) fail_unexpected(peek(), "`)' to close `(' at " + std::to_string(m_base + open));
            push_op_word(c, peek());
            take();
            return;
        }
        if (t.kind != Tok::Word || raw(t) == "]]") fail_unexpected(t, "a conditional expression");
        Token w = take();
        if (unary_test_op(raw(w))) {
            const Token& a = peek();
            if (a.kind != Tok::Word || raw(a) == "]]")
                fail(a.begin, "unexpected argument " + describe(a) + " to the conditional unary operator " + std::string(raw(w)));
            push_op_word(c, w);
            c.words.push_back(take().word);
            return;
        }
        c.words.push_back(std::move(w.word));
        const Token& o = peek();
        bool binop = (o.kind == Tok::Word && binary_test_op(raw(o))) || (o.kind == Tok::Op && (o.op == "<" || o.op == ">"));
        if (binop) {
            bool regex = o.kind == Tok::Word && raw(o) == "=~";
            std::string op = o.kind == Tok::Op ? o.op : std::string(raw(o));
            push_op_word(c, o);
            take();
            if (regex) {
                skip_blanks();
                if (at_end() || cur() == '\n') fail(m_pos, "unexpected end of the line: expected a regular expression after `=~'");
                c.words.push_back(read_word(Mode::Regex));
                return;
            }
            const Token& b = peek();
            if (b.kind != Tok::Word || raw(b) == "]]") fail(b.begin, "unexpected argument " + describe(b) + " to the conditional binary operator " + op);
            c.words.push_back(take().word);
            return;
        }
        if (!(o.kind == Tok::Word && raw(o) == "]]") && !(o.kind == Tok::Op && (o.op == "&&" || o.op == "||" || o.op == ")")))
            fail(o.begin, "unexpected " + describe(o) + ": expected a conditional binary operator");
    }
};

} // namespace

ParseResult parse_at(std::string_view source, Offset base, const Options& options) {
    ParseResult r;
    try {
        Parser p(source, base, options, 0);
        r.script = p.parse_script();
    } catch (const SyntaxError& e) {
        r.script.reset();
        r.error = ParseError{e.offset, e.message};
    } catch (const std::bad_alloc&) {
        r.script.reset();
        r.error = ParseError{base, "out of memory"};
    }
    return r;
}

ParseResult parse(std::string_view source, const Options& options) { return parse_at(source, 0, options); }

} // namespace sigmaops::shell
