// document.cpp - parsers for the config documents (config.h, "Config documents"): each turns a
// file's bytes into items with byte spans, keeping the bytes themselves untouched, and fails with
// "FILE:LINE: why" on what the format does not allow. Line formats (sshd, postgres, sysctl, redis,
// systemd) give one item per line (a systemd continuation joins lines), covering every byte; nginx
// is tokenized as nginx's own ngx_conf_read_token does (words, quotes, ';', '{', '}', '#').
#include "config_internal.h"

#include <algorithm>
#include <cctype>

namespace sigmaops::config {

namespace {

struct ParseFail {
    int line;
    std::string message;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

// The lines of `text`: [begin, end) with the newline included (the last may lack one).
std::vector<std::pair<size_t, size_t>> split_lines(std::string_view text) {
    std::vector<std::pair<size_t, size_t>> lines;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
        lines.emplace_back(pos, end);
        pos = end;
    }
    return lines;
}

// The line's content without its newline and trailing blanks: [b, e).
void trim_line(std::string_view text, size_t& b, size_t& e) {
    if (e > b && text[e - 1] == '\n') --e;
    while (e > b && is_space(text[e - 1])) --e;
    while (b < e && is_space(text[b])) ++b;
}

// The item of line `i` (0-based) of a line-oriented format, its span and line number set; `b`/`e`
// receive the line's trimmed content.
Item line_item(std::string_view text, const std::vector<std::pair<size_t, size_t>>& lines, size_t i, size_t& b,
               size_t& e) {
    Item it;
    it.begin = lines[i].first;
    it.end = lines[i].second;
    it.line = it.last_line = static_cast<int>(i + 1);
    b = it.begin;
    e = it.end;
    trim_line(text, b, e);
    return it;
}

// A blank line or a comment (its first character one of `comment_chars`) is stored as such;
// true when it was one.
bool push_blank_or_comment(Document& d, Item& it, size_t b, size_t e, std::string_view comment_chars) {
    if (b == e) it.kind = ItemKind::Blank;
    else if (comment_chars.find(d.text[b]) != std::string_view::npos) it.kind = ItemKind::Comment;
    else return false;
    d.items.push_back(std::move(it));
    return true;
}

// Words of an sshd/redis argument list starting at `p` (< e): whitespace separates, "..." and
// '...' quote, a backslash escapes the next character inside double quotes (and outside, for sshd).
// `hash_comment`: a word that starts with '#' ends the line (sshd's argv_split).
// `unquoted_escapes`: a backslash outside quotes escapes the next character (sshd's argv_split);
// redis' sdssplitargs takes it literally there.
std::vector<std::string> split_words(std::string_view t, size_t p, size_t e, int line, bool hash_comment,
                                     size_t* value_end, size_t* first_end = nullptr, bool unquoted_escapes = true) {
    std::vector<std::string> words;
    if (value_end) *value_end = p;
    while (p < e) {
        while (p < e && is_space(t[p])) ++p;
        if (p >= e) break;
        if (hash_comment && t[p] == '#') break;
        std::string w;
        while (p < e && !is_space(t[p])) {
            char c = t[p];
            if (c == '"' || c == '\'') {
                const char q = c;
                ++p;
                bool closed = false;
                while (p < e) {
                    if (t[p] == '\\' && q == '"' && p + 1 < e) {
                        w += t[p + 1];
                        p += 2;
                        continue;
                    }
                    if (t[p] == q) {
                        closed = true;
                        ++p;
                        break;
                    }
                    w += t[p++];
                }
                if (!closed) throw ParseFail{line, std::string("unterminated ") + (q == '"' ? "double" : "single") + " quote"};
            } else if (c == '\\' && p + 1 < e && unquoted_escapes) {
                w += t[p + 1];
                p += 2;
            } else {
                w += c;
                ++p;
            }
        }
        words.push_back(std::move(w));
        if (value_end) *value_end = p;
        if (first_end && words.size() == 1) *first_end = p;
    }
    return words;
}

// --- sshd_config(5) -----------------------------------------------------------------------------
void parse_sshd(Document& d, const std::vector<std::pair<size_t, size_t>>& lines) {
    const std::string_view t = d.text;
    int match = -1;
    std::string match_ctx;
    for (size_t i = 0; i < lines.size(); ++i) {
        size_t b = 0, e = 0;
        Item it = line_item(t, lines, i, b, e);
        if (b == e) { it.kind = ItemKind::Blank; }
        else if (t[b] == '#') { it.kind = ItemKind::Comment; }
        else {
            size_t k = b;
            while (k < e && !is_space(t[k]) && t[k] != '=') ++k;
            it.key = std::string(t.substr(b, k - b));
            it.key_norm = lower(it.key);
            // sshd's keywords are letters and digits; anything else is "Bad configuration option" to sshd.
            for (char ch : it.key)
                if (!std::isalnum(static_cast<unsigned char>(ch)))
                    throw ParseFail{it.line, "bad configuration option: a keyword is letters and digits only"};
            size_t v = k;
            while (v < e && is_space(t[v])) ++v;
            if (v < e && t[v] == '=') {
                ++v;
                while (v < e && is_space(t[v])) ++v;
            }
            if (v >= e || t[v] == '#') throw ParseFail{it.line, "no argument after keyword \"" + it.key + "\""};
            size_t vend = v;
            it.args = split_words(t, v, e, it.line, true, &vend);
            if (it.args.empty()) throw ParseFail{it.line, "no argument after keyword \"" + it.key + "\""};
            it.value_begin = v;
            it.value_end = vend;
            if (it.key_norm == "match") {
                it.kind = ItemKind::BlockOpen;
                std::string ctx = "Match";
                for (const auto& a : it.args) ctx += " " + a;
                it.context = match_ctx;
                it.parent = match;
                d.items.push_back(std::move(it));
                match = static_cast<int>(d.items.size() - 1);
                match_ctx = std::move(ctx);
                continue;
            }
            it.kind = it.key_norm == "include" ? ItemKind::Include : ItemKind::Setting;
        }
        it.parent = match;
        it.context = match_ctx;
        d.items.push_back(std::move(it));
    }
}

// --- postgresql.conf (guc-file.l) ---------------------------------------------------------------
bool pg_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; }

void parse_postgres(Document& d, const std::vector<std::pair<size_t, size_t>>& lines) {
    const std::string_view t = d.text;
    for (size_t i = 0; i < lines.size(); ++i) {
        size_t b = 0, e = 0;
        Item it = line_item(t, lines, i, b, e);
        if (push_blank_or_comment(d, it, b, e, "#")) continue;
        if (!(std::isalpha(static_cast<unsigned char>(t[b])) || t[b] == '_'))
            throw ParseFail{it.line, "syntax error: a line must be 'name = value' or a comment"};
        size_t k = b;
        while (k < e && pg_name_char(t[k])) ++k;
        it.key = std::string(t.substr(b, k - b));
        it.key_norm = lower(it.key);
        if (k < e && !is_space(t[k]) && t[k] != '=' && t[k] != '#' && t[k] != '\'')
            throw ParseFail{it.line, "syntax error: '" + std::string(1, t[k]) + "' in the name \"" + it.key + t[k] + "...\""};
        size_t v = k;
        while (v < e && is_space(t[v])) ++v;
        if (v < e && t[v] == '=') {
            ++v;
            while (v < e && is_space(t[v])) ++v;
        }
        if (v >= e || t[v] == '#') throw ParseFail{it.line, "syntax error: no value for \"" + it.key + "\""};
        std::string value;
        size_t p = v;
        if (t[p] == '\'') {
            ++p;
            bool closed = false;
            while (p < e) {
                if (t[p] == '\'' && p + 1 < e && t[p + 1] == '\'') { value += '\''; p += 2; continue; }
                if (t[p] == '\\' && p + 1 < e) {
                    const char n = t[p + 1];
                    value += n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n == 'b' ? '\b' : n == 'f' ? '\f' : n;
                    p += 2;
                    continue;
                }
                if (t[p] == '\'') { closed = true; ++p; break; }
                value += t[p++];
            }
            if (!closed) throw ParseFail{it.line, "unterminated quoted string"};
        } else {
            while (p < e && !is_space(t[p]) && t[p] != '#' && t[p] != '\'') value += t[p++];
        }
        it.value_begin = v;
        it.value_end = p;
        while (p < e && is_space(t[p])) ++p;
        if (p < e && t[p] != '#')
            throw ParseFail{it.line, "syntax error near \"" + std::string(t.substr(p, std::min<size_t>(e - p, 20))) +
                                         "\": one value per line (quote values with spaces)"};
        it.args = {value};
        it.kind = (it.key_norm == "include" || it.key_norm == "include_dir" || it.key_norm == "include_if_exists")
                      ? ItemKind::Include : ItemKind::Setting;
        d.items.push_back(std::move(it));
    }
}

// --- sysctl.d(5) ----------------------------------------------------------------------------------
void parse_sysctl(Document& d, const std::vector<std::pair<size_t, size_t>>& lines) {
    const std::string_view t = d.text;
    for (size_t i = 0; i < lines.size(); ++i) {
        size_t b = 0, e = 0;
        Item it = line_item(t, lines, i, b, e);
        if (push_blank_or_comment(d, it, b, e, "#;")) continue;
        const size_t eq = t.find('=', b);
        if (eq == std::string_view::npos || eq >= e) throw ParseFail{it.line, "not an assignment: expected key = value"};
        size_t kb = b, ke = eq;
        if (t[kb] == '-') ++kb;  // "-key": errors setting it are ignored
        while (ke > kb && is_space(t[ke - 1])) --ke;
        while (kb < ke && is_space(t[kb])) ++kb;
        if (kb == ke) throw ParseFail{it.line, "empty key before '='"};
        it.key = std::string(t.substr(kb, ke - kb));
        for (char c : it.key)
            if (is_space(c)) throw ParseFail{it.line, "a key has no spaces: \"" + it.key + "\""};
        std::string norm = it.key;
        const size_t sep = norm.find_first_of("./");
        if (sep != std::string::npos && norm[sep] == '/')
            for (char& c : norm) c = c == '/' ? '.' : c == '.' ? '/' : c;
        it.key_norm = norm;
        size_t v = eq + 1;
        while (v < e && is_space(t[v])) ++v;
        it.value_begin = v;
        it.value_end = e;
        it.args = {std::string(t.substr(v, e - v))};
        it.kind = ItemKind::Setting;
        d.items.push_back(std::move(it));
    }
}

// --- redis.conf (config.c loadServerConfigFromString, sdssplitargs) ---------------------------------
void parse_redis(Document& d, const std::vector<std::pair<size_t, size_t>>& lines) {
    const std::string_view t = d.text;
    for (size_t i = 0; i < lines.size(); ++i) {
        size_t b = 0, e = 0;
        Item it = line_item(t, lines, i, b, e);
        if (push_blank_or_comment(d, it, b, e, "#")) continue;
        size_t vend = b, key_end = b;
        std::vector<std::string> words;
        try {
            words = split_words(t, b, e, it.line, false, &vend, &key_end, false);
        } catch (const ParseFail&) {
            throw ParseFail{it.line, "Unbalanced quotes in configuration line"};
        }
        it.key = words[0];
        it.key_norm = lower(it.key);
        words.erase(words.begin());
        size_t v = key_end;
        while (v < e && is_space(t[v])) ++v;
        it.value_begin = std::min(v, e);
        it.value_end = e;
        it.args = std::move(words);
        it.kind = it.key_norm == "include" ? ItemKind::Include : ItemKind::Setting;
        if (it.kind == ItemKind::Include && it.args.size() != 1) throw ParseFail{it.line, "include takes one file name"};
        d.items.push_back(std::move(it));
    }
}

// --- systemd.syntax(7) ----------------------------------------------------------------------------
void parse_systemd(Document& d, const std::vector<std::pair<size_t, size_t>>& lines) {
    const std::string_view t = d.text;
    int section = -1;
    std::string section_name;
    for (size_t i = 0; i < lines.size(); ++i) {
        size_t b = 0, e = 0;
        Item it = line_item(t, lines, i, b, e);
        it.parent = section;
        it.context = section_name;
        if (push_blank_or_comment(d, it, b, e, "#;")) continue;
        if (t[b] == '[') {
            if (t[e - 1] != ']' || e - b < 3) throw ParseFail{it.line, "a section header is [Name]"};
            it.kind = ItemKind::Section;
            it.key = it.key_norm = std::string(t.substr(b + 1, e - b - 2));
            it.parent = -1;
            it.context.clear();
            d.items.push_back(std::move(it));
            section = static_cast<int>(d.items.size() - 1);
            section_name = d.items.back().key;
            continue;
        }
        const size_t eq = t.find('=', b);
        if (eq == std::string_view::npos || eq >= e) throw ParseFail{it.line, "not an assignment: expected Key=Value"};
        if (section < 0) throw ParseFail{it.line, "assignment outside of a section"};
        size_t ke = eq;
        while (ke > b && is_space(t[ke - 1])) --ke;
        if (ke == b) throw ParseFail{it.line, "empty key before '='"};
        it.key = it.key_norm = std::string(t.substr(b, ke - b));
        size_t v = eq + 1;
        while (v < e && is_space(t[v])) ++v;
        // A line ending in a backslash continues on the next (comment lines in between are skipped).
        std::string value;
        size_t ve = e, cur_b = v, cur_e = e;
        while (cur_e > cur_b && t[cur_e - 1] == '\\' && i + 1 < lines.size()) {
            value += std::string(t.substr(cur_b, cur_e - 1 - cur_b)) + " ";
            ++i;
            it.end = lines[i].second;
            it.last_line = static_cast<int>(i + 1);
            cur_b = lines[i].first;
            cur_e = lines[i].second;
            trim_line(t, cur_b, cur_e);
            ve = cur_e;
            // A comment line inside a continuation is skipped; the continuation goes on after it.
            while (cur_b < cur_e && (t[cur_b] == '#' || t[cur_b] == ';') && i + 1 < lines.size()) {
                ++i;
                it.end = lines[i].second;
                it.last_line = static_cast<int>(i + 1);
                cur_b = lines[i].first;
                cur_e = lines[i].second;
                trim_line(t, cur_b, cur_e);
                ve = cur_e;
            }
            if (cur_b < cur_e && (t[cur_b] == '#' || t[cur_b] == ';')) cur_e = cur_b;
        }
        if (cur_e > cur_b && t[cur_e - 1] == '\\') --cur_e;
        value += std::string(t.substr(cur_b, cur_e - cur_b));
        it.value_begin = v;
        it.value_end = std::max(ve, v);
        it.args = {value};
        it.kind = ItemKind::Setting;
        d.items.push_back(std::move(it));
    }
}

// --- nginx (ngx_conf_file.c ngx_conf_read_token) ----------------------------------------------------
void parse_nginx(Document& d) {
    const std::string_view t = d.text;
    size_t p = 0;
    int line = 1;
    struct Open { int item; std::string ctx; std::map<std::string, int> counts; };
    std::vector<Open> stack;
    stack.push_back({-1, "", {}});
    Item cur;                 // the directive being read
    bool in_directive = false;
    auto line_at = [&](size_t) { return line; };
    while (p < t.size()) {
        const char c = t[p];
        if (c == '\n') { ++line; ++p; continue; }
        if (is_space(c)) { ++p; continue; }
        if (c == '#' ) {
            size_t e = t.find('\n', p);
            if (e == std::string_view::npos) e = t.size();
            if (!in_directive) {
                Item it;
                it.kind = ItemKind::Comment;
                it.begin = p;
                it.end = e;
                it.line = it.last_line = line;
                it.parent = stack.back().item;
                it.context = stack.back().ctx;
                d.items.push_back(std::move(it));
            }
            p = e;
            continue;
        }
        if (c == ';' || c == '{') {
            if (!in_directive) throw ParseFail{line, std::string("unexpected \"") + c + "\""};
            cur.end = p + 1;
            cur.last_line = line;
            cur.parent = stack.back().item;
            cur.context = stack.back().ctx;
            if (c == '{') {
                cur.kind = ItemKind::BlockOpen;
                int n = stack.back().counts[cur.key]++;
                std::string ctx = (stack.back().ctx.empty() ? "" : stack.back().ctx + "/") + cur.key + "[" + std::to_string(n) + "]";
                d.items.push_back(std::move(cur));
                stack.push_back({static_cast<int>(d.items.size() - 1), ctx, {}});
            } else {
                cur.kind = cur.key == "include" ? ItemKind::Include : ItemKind::Setting;
                if (cur.kind == ItemKind::Include && cur.args.size() != 1)
                    throw ParseFail{line, "invalid number of arguments in \"include\" directive"};
                d.items.push_back(std::move(cur));
            }
            cur = Item{};
            in_directive = false;
            ++p;
            continue;
        }
        if (c == '}') {
            if (in_directive) throw ParseFail{line, "unexpected \"}\": the directive \"" + cur.key + "\" has no ';'"};
            if (stack.size() == 1) throw ParseFail{line, "unexpected \"}\""};
            Item it;
            it.kind = ItemKind::BlockClose;
            it.begin = p;
            it.end = p + 1;
            it.line = it.last_line = line;
            it.parent = stack.back().item;
            it.context = stack.back().ctx;
            d.items.push_back(std::move(it));
            stack.pop_back();
            ++p;
            continue;
        }
        // A word: quoted or bare (a bare word ends at space, ';', '{', '}'; '#' inside a word is literal).
        const size_t wb = p;
        const int wline = line;
        std::string w;
        if (c == '"' || c == '\'') {
            const char q = c;
            ++p;
            bool closed = false;
            while (p < t.size()) {
                if (t[p] == '\\' && p + 1 < t.size()) {
                    const char n = t[p + 1];
                    if (n == q || n == '\\') w += n;
                    else if (n == 'n') w += '\n';
                    else if (n == 't') w += '\t';
                    else if (n == 'r') w += '\r';
                    else { w += '\\'; w += n; }
                    if (n == '\n') ++line;
                    p += 2;
                    continue;
                }
                if (t[p] == q) { closed = true; ++p; break; }
                if (t[p] == '\n') ++line;
                w += t[p++];
            }
            if (!closed) throw ParseFail{wline, "unexpected end of file, expecting closing quote"};
            if (p < t.size() && !is_space(t[p]) && t[p] != '\n' && t[p] != ';' && t[p] != '{' && t[p] != '}')
                throw ParseFail{line, std::string("unexpected \"") + t[p] + "\" after a quoted string"};
        } else {
            bool var_brace = false;
            while (p < t.size()) {
                const char x = t[p];
                if (var_brace) { if (x == '}') var_brace = false; else if (x == '\n') break; w += x; ++p; continue; }
                if (is_space(x) || x == '\n' || x == ';' || x == '{') break;
                if (x == '}') break;
                if (x == '$' && p + 1 < t.size() && t[p + 1] == '{') { var_brace = true; w += "${"; p += 2; continue; }
                if (x == '\\' && p + 1 < t.size()) { w += x; w += t[p + 1]; if (t[p + 1] == '\n') ++line; p += 2; continue; }
                w += x;
                ++p;
            }
            if (var_brace) throw ParseFail{wline, "unterminated \"${\" in \"" + w + "\""};
        }
        if (!in_directive) {
            in_directive = true;
            cur = Item{};
            cur.begin = wb;
            cur.line = wline;
            cur.key = cur.key_norm = w;
            cur.value_begin = cur.value_end = p;
        } else {
            if (cur.args.empty()) cur.value_begin = wb;
            cur.value_end = p;
            cur.args.push_back(std::move(w));
        }
        (void)line_at;
    }
    if (in_directive) throw ParseFail{cur.line, "unexpected end of file: the directive \"" + cur.key + "\" has no ';'"};
    if (stack.size() > 1) {
        const Item& open = d.items[static_cast<size_t>(stack.back().item)];
        throw ParseFail{open.line, "unexpected end of file: the block \"" + open.key + "\" opened here has no '}'"};
    }
}

} // namespace

std::string_view format_name(Format f) {
    switch (f) {
    case Format::Sshd: return "sshd";
    case Format::Nginx: return "nginx";
    case Format::Postgres: return "postgres";
    case Format::Sysctl: return "sysctl";
    case Format::Redis: return "redis";
    case Format::Systemd: return "systemd";
    }
    return "?";
}

std::optional<Format> parse_format(std::string_view s) {
    const std::string l = lower(s);
    if (l == "sshd" || l == "sshd_config" || l == "ssh") return Format::Sshd;
    if (l == "nginx" || l == "nginx.conf") return Format::Nginx;
    if (l == "postgres" || l == "postgresql" || l == "postgresql.conf") return Format::Postgres;
    if (l == "sysctl" || l == "sysctl.conf") return Format::Sysctl;
    if (l == "redis" || l == "redis.conf") return Format::Redis;
    if (l == "systemd" || l == "unit") return Format::Systemd;
    return std::nullopt;
}

Expected<Document> parse(Format format, std::string path, std::string text) {
    Document d;
    d.path = std::move(path);
    d.format = format;
    d.text = std::move(text);
    if (d.text.find('\0') != std::string::npos) {
        const size_t at = d.text.find('\0');
        const int line = 1 + static_cast<int>(std::count(d.text.begin(), d.text.begin() + static_cast<long>(at), '\n'));
        return unexpected(ErrorCode::BadFile, d.path + ":" + std::to_string(line) + ": a NUL byte: not a text config file");
    }
    try {
        if (format == Format::Nginx) {
            parse_nginx(d);
        } else {
            const auto lines = split_lines(d.text);
            switch (format) {
            case Format::Sshd: parse_sshd(d, lines); break;
            case Format::Postgres: parse_postgres(d, lines); break;
            case Format::Sysctl: parse_sysctl(d, lines); break;
            case Format::Redis: parse_redis(d, lines); break;
            case Format::Systemd: parse_systemd(d, lines); break;
            case Format::Nginx: break;
            }
        }
    } catch (const ParseFail& f) {
        return unexpected(ErrorCode::BadFile, d.path + ":" + std::to_string(f.line) + ": " + f.message);
    }
    return d;
}

std::string lower_ascii(std::string_view s) { return lower(s); }

} // namespace sigmaops::config
