// formats.cpp - stage 2 of the log pipeline: the header grammars of the formats logs.h lists,
// timestamps to UTC, and format detection.
//
// Each format is a small hand-written recursive-descent parser over the grammar written above
// its function (STYLE rule 17): a Cursor walks the line, every step either consumes what the
// grammar expects or fails, and the Header it fills points into the line (no allocation on the
// hot path). Detection runs every parser on the first lines of a source and keeps the one that
// parses most of them, the more specific format winning ties.
#include "logs_internal.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstring>

namespace sigmaops::logs {

// ---------------------------------------------------------------------------------------------
// Names.

std::string_view format_name(Format f) {
    switch (f) {
    case Format::Unknown: return "unknown";
    case Format::Syslog3164: return "syslog-rfc3164";
    case Format::Syslog5424: return "syslog-rfc5424";
    case Format::Journald: return "journald-json";
    case Format::JsonLines: return "json-lines";
    case Format::AccessLog: return "access-log";
    case Format::ApacheError: return "apache-error";
    case Format::NginxError: return "nginx-error";
    case Format::Kernel: return "kernel";
    case Format::Generic: return "generic";
    case Format::Plain: return "plain";
    case Format::Custom: return "custom";
    }
    return "unknown";
}

std::string_view severity_name(Severity s) {
    static constexpr std::array<std::string_view, 9> names = {"unknown", "debug", "info", "notice", "warning",
                                                              "error", "critical", "alert", "emergency"};
    return names[std::size_t(s)];
}

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t'; }

} // namespace

Severity severity_from_text(std::string_view t) {
    if (t.size() == 1 && t[0] >= '0' && t[0] <= '7') {
        static constexpr Severity by_pri[8] = {Severity::Emergency, Severity::Alert, Severity::Critical, Severity::Error,
                                               Severity::Warning, Severity::Notice, Severity::Info, Severity::Debug};
        return by_pri[t[0] - '0'];
    }
    struct Word { std::string_view w; Severity s; };
    static constexpr Word words[] = {
        {"trace", Severity::Debug},     {"debug", Severity::Debug},       {"dbg", Severity::Debug},
        {"fine", Severity::Debug},      {"finer", Severity::Debug},       {"finest", Severity::Debug},
        {"d", Severity::Debug},         {"info", Severity::Info},         {"information", Severity::Info},
        {"informational", Severity::Info}, {"i", Severity::Info},         {"config", Severity::Info},
        {"notice", Severity::Notice},   {"n", Severity::Notice},          {"warn", Severity::Warning},
        {"warning", Severity::Warning}, {"w", Severity::Warning},         {"error", Severity::Error},
        {"err", Severity::Error},       {"e", Severity::Error},           {"severe", Severity::Error},
        {"failure", Severity::Error},   {"fatal", Severity::Critical},    {"crit", Severity::Critical},
        {"critical", Severity::Critical}, {"f", Severity::Critical},      {"c", Severity::Critical},
        {"alert", Severity::Alert},     {"a", Severity::Alert},           {"emerg", Severity::Emergency},
        {"emergency", Severity::Emergency}, {"panic", Severity::Emergency},
    };
    for (const Word& w : words)
        if (iequals(t, w.w)) return w.s;
    return Severity::Unknown;
}

// ---------------------------------------------------------------------------------------------
// Time.

namespace detail {

std::int64_t days_from_civil(int y, unsigned m, unsigned d) {   // H. Hinnant's algorithm
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return std::int64_t(era) * 146097 + std::int64_t(doe) - 719468;
}

int year_of(std::int64_t ms) {
    std::int64_t z = (ms >= 0 ? ms : ms - 86'399'999) / 86'400'000 + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = unsigned(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return int(std::int64_t(yoe) + era * 400 + (m <= 2));
}

std::int64_t now_or(const TimeContext& t) {
    if (t.now_ms != 0) return t.now_ms;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

} // namespace detail

namespace {

using detail::days_from_civil;

int month_index(std::string_view s) {   // "Jan" -> 1; 0 when not a month abbreviation
    static constexpr std::string_view months[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                    "jul", "aug", "sep", "oct", "nov", "dec"};
    if (s.size() != 3) return 0;
    for (int i = 0; i < 12; ++i)
        if (lower(s[0]) == months[i][0] && lower(s[1]) == months[i][1] && lower(s[2]) == months[i][2]) return i + 1;
    return 0;
}

bool is_weekday(std::string_view s) {
    static constexpr std::string_view days[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    if (s.size() != 3) return false;
    for (auto d : days)
        if (lower(s[0]) == d[0] && lower(s[1]) == d[1] && lower(s[2]) == d[2]) return true;
    return false;
}

// A cursor over the text a grammar reads; each accept_* consumes on success only.
struct Cursor {
    std::string_view s;
    std::size_t i = 0;

    bool done() const { return i >= s.size(); }
    char peek(std::size_t k = 0) const { return i + k < s.size() ? s[i + k] : '\0'; }
    bool accept(char c) {
        if (peek() != c || done()) return false;
        ++i;
        return true;
    }
    // Exactly n digits.
    bool digits(std::size_t n, int& v) {
        if (i + n > s.size()) return false;
        int x = 0;
        for (std::size_t k = 0; k < n; ++k) {
            if (!is_digit(s[i + k])) return false;
            x = x * 10 + (s[i + k] - '0');
        }
        v = x;
        i += n;
        return true;
    }
    // 1..max digits.
    std::size_t digits_upto(std::size_t max, std::int64_t& v) {
        std::size_t k = 0;
        std::int64_t x = 0;
        while (k < max && i + k < s.size() && is_digit(s[i + k])) x = x * 10 + (s[i + k++] - '0');
        if (k) { v = x; i += k; }
        return k;
    }
    std::size_t spaces() {
        const std::size_t b = i;
        while (i < s.size() && is_space(s[i])) ++i;
        return i - b;
    }
    std::string_view word() {   // up to the next space
        const std::size_t b = i;
        while (i < s.size() && !is_space(s[i])) ++i;
        return s.substr(b, i - b);
    }
};

bool valid_date(int y, int mo, int d) { return y >= 1970 && y <= 2200 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31; }
bool valid_time(int h, int mi, int se) { return h <= 23 && mi <= 59 && se <= 60; }

std::int64_t to_ms(int y, int mo, int d, int h, int mi, int se, int frac_ms, int offset_min) {
    return ((days_from_civil(y, unsigned(mo), unsigned(d)) * 24 + h) * 60 + mi - offset_min) * 60'000LL + se * 1000LL + frac_ms;
}

// time := HH ":" MM ":" SS [("." | "," | ":") FRACTION]
bool parse_clock(Cursor& c, int& h, int& mi, int& se, int& ms) {
    Cursor t = c;
    if (!t.digits(2, h) || !t.accept(':') || !t.digits(2, mi) || !t.accept(':') || !t.digits(2, se)) return false;
    if (!valid_time(h, mi, se)) return false;
    ms = 0;
    if ((t.peek() == '.' || t.peek() == ',') && is_digit(t.peek(1))) {
        ++t.i;
        int k = 0;
        while (is_digit(t.peek())) {
            if (k < 3) ms = ms * 10 + (t.peek() - '0');
            ++k;
            ++t.i;
        }
        while (k < 3) { ms *= 10; ++k; }
    }
    c = t;
    return true;
}

// zone := "Z" | ("+" | "-") HH [":"] MM | ("+" | "-") HH    (optional; none = UTC)
int parse_zone(Cursor& c) {
    if (c.accept('Z') || c.accept('z')) return 0;
    Cursor t = c;
    if (t.peek() == ' ' && (t.peek(1) == '+' || t.peek(1) == '-')) ++t.i;   // "... 10:00:00 +0200"
    if (t.peek() != '+' && t.peek() != '-') return 0;
    const int sign = t.peek() == '-' ? -1 : 1;
    ++t.i;
    int hh = 0, mm = 0;
    if (!t.digits(2, hh)) return 0;
    t.accept(':');
    if (!t.digits(2, mm)) mm = 0;
    if (hh > 14 || mm > 59) return 0;
    c = t;
    return sign * (hh * 60 + mm);
}

bool word_end(const Cursor& c) {   // a timestamp must end at a word boundary
    const char n = c.peek();
    return c.done() || n == ' ' || n == '\t' || n == ']' || n == ')' || n == ',' || n == ';' || n == '"' || n == '|' || n == ':';
}

} // namespace

std::size_t parse_timestamp(std::string_view text, const TimeContext& ctx, std::int64_t& utc_ms) {
    Cursor c{text};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0, ms = 0;
    // iso := YYYY "-" MM "-" DD ("T" | " " | "_") time [zone]   |   YYYY "/" MM "/" DD " " time
    {
        Cursor t = c;
        if (t.digits(4, y) && (t.peek() == '-' || t.peek() == '/')) {
            const char sep = t.s[t.i++];
            if (t.digits(2, mo) && t.accept(sep) && t.digits(2, d) && valid_date(y, mo, d)) {
                if ((t.accept('T') || t.accept(' ') || t.accept('_')) && parse_clock(t, h, mi, se, ms)) {
                    const int off = parse_zone(t);
                    if (word_end(t)) {
                        utc_ms = to_ms(y, mo, d, h, mi, se, ms, off);
                        return t.i;
                    }
                }
            }
        }
    }
    // short := YY "/" MM "/" DD " " time        (17/06/09 20:10:40)
    // compact := YYMMDD " " HHMMSS              (081109 203615)
    {
        Cursor t = c;
        int yy = 0;
        if (t.digits(2, yy) && t.accept('/') && t.digits(2, mo) && t.accept('/') && t.digits(2, d) && t.accept(' ') &&
            parse_clock(t, h, mi, se, ms) && word_end(t) && valid_date(2000 + yy, mo, d)) {
            utc_ms = to_ms(2000 + yy, mo, d, h, mi, se, ms, 0);
            return t.i;
        }
        t = c;
        if (t.digits(2, yy) && t.digits(2, mo) && t.digits(2, d) && t.accept(' ') && t.digits(2, h) && t.digits(2, mi) &&
            t.digits(2, se) && word_end(t) && valid_date(2000 + yy, mo, d) && valid_time(h, mi, se)) {
            utc_ms = to_ms(2000 + yy, mo, d, h, mi, se, 0, 0);
            return t.i;
        }
    }
    // ctime := [WEEKDAY " "] MON " "+ DD " " time [" " YYYY]   (year-less: resolved against now)
    {
        Cursor t = c;
        Cursor w = t;
        if (is_weekday(w.word()) && w.accept(' ')) t = w;
        const std::string_view mon = t.s.substr(t.i, 3);
        mo = month_index(mon);
        if (mo && t.i + 3 < t.s.size() && t.s[t.i + 3] == ' ') {
            t.i += 4;
            t.spaces();
            std::int64_t dd = 0;
            if (t.digits_upto(2, dd) && dd >= 1 && dd <= 31 && t.accept(' ') && parse_clock(t, h, mi, se, ms)) {
                d = int(dd);
                Cursor yc = t;
                if (yc.accept(' ') && yc.digits(4, y) && word_end(yc) && valid_date(y, mo, d)) {
                    utc_ms = to_ms(y, mo, d, h, mi, se, ms, 0);
                    return yc.i;
                }
                if (word_end(t)) {
                    const std::int64_t now = detail::now_or(ctx);
                    y = detail::year_of(now);
                    std::int64_t v = to_ms(y, mo, d, h, mi, se, ms, 0);
                    if (v > now + 86'400'000LL) v = to_ms(y - 1, mo, d, h, mi, se, ms, 0);
                    utc_ms = v;
                    return t.i;
                }
            }
        }
    }
    // clf := DD "/" MON "/" YYYY ":" time " " zone     (access logs, inside [...])
    {
        Cursor t = c;
        if (t.digits(2, d) && t.accept('/')) {
            mo = month_index(t.s.substr(t.i, 3));
            t.i += 3;
            if (mo && t.accept('/') && t.digits(4, y) && t.accept(':') && parse_clock(t, h, mi, se, ms) && valid_date(y, mo, d)) {
                const int off = parse_zone(t);
                utc_ms = to_ms(y, mo, d, h, mi, se, ms, off);
                return t.i;
            }
        }
    }
    // epoch := 10 digits [. fraction] | 13 digits   (seconds or milliseconds, 2001..2286)
    {
        Cursor t = c;
        std::int64_t v = 0;
        const std::size_t n = t.digits_upto(13, v);
        if (n == 10 && v >= 1'000'000'000LL) {
            std::int64_t frac = 0;
            if (t.peek() == '.' && is_digit(t.peek(1))) {
                ++t.i;
                std::int64_t f = 0;
                const std::size_t k = t.digits_upto(9, f);
                for (std::size_t j = k; j < 3; ++j) f *= 10;
                for (std::size_t j = 3; j < k; ++j) f /= 10;
                frac = f;
            }
            if (word_end(t)) { utc_ms = v * 1000 + frac; return t.i; }
        } else if (n == 13 && v >= 1'000'000'000'000LL && word_end(t)) {
            utc_ms = v;
            return t.i;
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// JSON objects, one per line: just enough to pick string and number members of the top level.

namespace detail {

namespace {

std::size_t skip_ws(std::string_view s, std::size_t i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
    return i;
}

// string := '"' (char | '\' escape)* '"'; returns the index after the closing quote or npos.
std::size_t skip_string(std::string_view s, std::size_t i) {
    ++i;
    while (i < s.size()) {
        const char c = s[i];
        if (c == '\\') { i += 2; continue; }
        if (c == '"') return i + 1;
        ++i;
    }
    return std::string_view::npos;
}

// value := string | number | literal | object | array; objects and arrays are skipped by depth.
std::size_t skip_value(std::string_view s, std::size_t i) {
    if (i >= s.size()) return std::string_view::npos;
    if (s[i] == '"') return skip_string(s, i);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        while (i < s.size()) {
            const char c = s[i];
            if (c == '"') {
                i = skip_string(s, i);
                if (i == std::string_view::npos) return i;
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            else if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
                if (depth > 64) return std::string_view::npos;
            }
            ++i;
        }
        return std::string_view::npos;
    }
    const std::size_t b = i;
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ') ++i;
    return i > b ? i : std::string_view::npos;
}

} // namespace

bool json_members(std::string_view s, const std::function<void(std::string_view, std::string_view, bool)>& on_member) {
    std::size_t i = skip_ws(s, 0);
    if (i >= s.size() || s[i] != '{') return false;
    i = skip_ws(s, i + 1);
    if (i < s.size() && s[i] == '}') return skip_ws(s, i + 1) == s.size();
    for (;;) {
        if (i >= s.size() || s[i] != '"') return false;
        const std::size_t ke = skip_string(s, i);
        if (ke == std::string_view::npos) return false;
        const std::string_view key = s.substr(i + 1, ke - i - 2);
        i = skip_ws(s, ke);
        if (i >= s.size() || s[i] != ':') return false;
        i = skip_ws(s, i + 1);
        const std::size_t ve = skip_value(s, i);
        if (ve == std::string_view::npos) return false;
        const bool is_string = s[i] == '"';
        on_member(key, is_string ? s.substr(i + 1, ve - i - 2) : s.substr(i, ve - i), is_string);
        i = skip_ws(s, ve);
        if (i < s.size() && s[i] == ',') { i = skip_ws(s, i + 1); continue; }
        if (i < s.size() && s[i] == '}') return skip_ws(s, i + 1) == s.size();
        return false;
    }
}

void json_unescape(std::string_view raw, std::string& out) {
    out.clear();
    out.reserve(raw.size());
    auto put = [&](std::uint32_t cp) {
        if (cp < 0x80) out.push_back(char(cp));
        else if (cp < 0x800) { out.push_back(char(0xC0 | (cp >> 6))); out.push_back(char(0x80 | (cp & 0x3F))); }
        else if (cp < 0x10000) {
            out.push_back(char(0xE0 | (cp >> 12))); out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(char(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(char(0xF0 | (cp >> 18))); out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(char(0x80 | ((cp >> 6) & 0x3F))); out.push_back(char(0x80 | (cp & 0x3F)));
        }
    };
    auto hex4 = [&](std::size_t i, std::uint32_t& v) {
        if (i + 4 > raw.size()) return false;
        v = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const char c = raw[i + k];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= std::uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f') v |= std::uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= std::uint32_t(c - 'A' + 10);
            else return false;
        }
        return true;
    };
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c != '\\' || i + 1 >= raw.size()) { out.push_back(c); continue; }
        const char e = raw[++i];
        switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': break;
        case 'b': case 'f': out.push_back(' '); break;
        case 'u': {
            std::uint32_t cp = 0;
            if (!hex4(i + 1, cp)) { out += "\xEF\xBF\xBD"; break; }
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                std::uint32_t lo = 0;
                if (i + 2 < raw.size() && raw[i + 1] == '\\' && raw[i + 2] == 'u' && hex4(i + 3, lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                } else cp = 0xFFFD;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) cp = 0xFFFD;
            if ((cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7F && cp < 0xA0)) cp = ' ';
            put(cp);
            break;
        }
        default: out.push_back(e); break;
        }
    }
}

} // namespace detail

// ---------------------------------------------------------------------------------------------
// The header grammars.

namespace {

using detail::json_members;
using detail::json_unescape;

bool is_level_word(std::string_view w, Severity& s) {
    // Upper-case level words, or any case inside brackets/angles/with a colon.
    std::string_view core = w;
    bool marked = false;
    if (core.size() >= 3 && ((core.front() == '[' && core.back() == ']') || (core.front() == '<' && core.back() == '>'))) {
        core = core.substr(1, core.size() - 2);
        marked = true;
    } else if (core.size() >= 2 && core.back() == ':') {
        core.remove_suffix(1);
    }
    if (core.size() < 3 || core.size() > 11) return false;
    if (!marked)
        for (char c : core)
            if (!(c >= 'A' && c <= 'Z')) return false;
    s = severity_from_text(core);
    return s != Severity::Unknown;
}

// A "[...]" group with nested brackets, starting at c.i; consumes it.
bool accept_bracket_group(Cursor& c, std::string_view& inside) {
    if (c.peek() != '[') return false;
    int depth = 0;
    for (std::size_t j = c.i; j < c.s.size() && j - c.i < 512; ++j) {
        if (c.s[j] == '[') ++depth;
        else if (c.s[j] == ']' && --depth == 0) {
            inside = c.s.substr(c.i + 1, j - c.i - 1);
            c.i = j + 1;
            return true;
        }
    }
    return false;
}

bool is_component_token(std::string_view w) {
    // "org.apache.Foo:", "dfs.DataNode$PacketResponder:" - a dotted or nested class name and a colon.
    if (w.size() < 3 || w.back() != ':') return false;
    w.remove_suffix(1);
    bool dot = false;
    for (char c : w) {
        if (c == '.' || c == '$') dot = true;
        else if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
    }
    return dot && !is_digit(w.front()) && w.back() != '.';
}

// syslog3164 := ["<" PRI ">"] TIMESTAMP " " [HOST " "] [TAG ["[" PID "]"] ":"] " " MESSAGE
//   TIMESTAMP is "Mmm dd hh:mm:ss" (year-less) or ISO 8601 (rsyslog's high-precision form);
//   TAG is a word without spaces ("sshd", "sshd(pam_unix)", "systemd-logind").
bool parse_syslog3164(std::string_view line, const TimeContext& tc, Header& h) {
    Cursor c{line};
    if (c.peek() == '<') {
        std::int64_t pri = 0;
        Cursor t = c;
        ++t.i;
        if (t.digits_upto(3, pri) && t.accept('>') && pri <= 191) {
            h.severity = severity_from_text(std::string_view(&"01234567"[pri & 7], 1));
            c = t;
        }
    }
    const bool iso = is_digit(c.peek());
    const std::size_t n = parse_timestamp(line.substr(c.i), tc, h.time_ms);
    if (!n) return false;
    if (iso && !(c.i + 10 < line.size() && line[c.i + 10] == 'T')) return false;   // ISO only in RFC 3339 form
    if (!iso && !month_index(line.substr(c.i, 3))) return false;                  // "Mmm dd ..." only
    c.i += n;
    h.has_time = true;
    if (!c.accept(' ')) return false;
    c.spaces();
    // HOST: a word not ending with ':'; a first word ending with ':' is the tag (no host).
    const std::size_t host_b = c.i;
    std::string_view w = c.word();
    if (w.empty()) return false;
    if (w.back() != ':' || w.size() == 1) {
        h.host = w;
        c.spaces();
        const std::size_t tag_b = c.i;
        w = c.word();
        if (w.empty() || w.back() != ':' || w.size() == 1) {   // no tag: the message follows the host
            c.i = tag_b;
            h.message = line.substr(c.i);
            return true;
        }
    } else {
        (void)host_b;
    }
    // TAG [ "[" PID "]" ] ":"
    std::string_view tag = w.substr(0, w.size() - 1);
    if (!tag.empty() && tag.back() == ']') {
        const std::size_t open = tag.rfind('[');
        if (open != std::string_view::npos) {
            h.pid = tag.substr(open + 1, tag.size() - open - 2);
            tag = tag.substr(0, open);
        }
    }
    h.app = tag;
    c.accept(' ');
    h.message = line.substr(c.i);
    return true;
}

// syslog5424 := "<" PRI ">" VERSION " " TIMESTAMP " " HOST " " APP " " PROCID " " MSGID " " SD [" " MSG]
//   each header field may be "-"; SD is "-" or one or more "[id param="value"...]".
bool parse_syslog5424(std::string_view line, const TimeContext& tc, Header& h) {
    Cursor c{line};
    std::int64_t pri = 0, version = 0;
    if (!c.accept('<') || !c.digits_upto(3, pri) || pri > 191 || !c.accept('>') || !c.digits_upto(2, version) || version < 1 ||
        !c.accept(' '))
        return false;
    h.severity = severity_from_text(std::string_view(&"01234567"[pri & 7], 1));
    if (c.accept('-')) {
    } else {
        const std::size_t n = parse_timestamp(line.substr(c.i), tc, h.time_ms);
        if (!n) return false;
        c.i += n;
        h.has_time = true;
    }
    auto field = [&](std::string_view& out) {
        if (!c.accept(' ')) return false;
        const std::string_view w = c.word();
        if (w.empty()) return false;
        out = w == "-" ? std::string_view{} : w;
        return true;
    };
    std::string_view msgid;
    if (!field(h.host) || !field(h.app) || !field(h.pid) || !field(msgid)) return false;
    if (!c.accept(' ')) return false;
    if (!c.accept('-')) {
        if (c.peek() != '[') return false;
        while (c.peek() == '[') {   // SD-ELEMENT: quoted values may hold escaped ']'
            ++c.i;
            bool in_quotes = false;
            while (!c.done()) {
                const char ch = c.peek();
                if (ch == '\\' && in_quotes) { c.i += 2; continue; }
                if (ch == '"') in_quotes = !in_quotes;
                else if (ch == ']' && !in_quotes) break;
                ++c.i;
            }
            if (!c.accept(']')) return false;
        }
    }
    c.accept(' ');
    std::string_view msg = line.substr(std::min(c.i, line.size()));
    if (msg.size() >= 3 && std::uint8_t(msg[0]) == 0xEF && std::uint8_t(msg[1]) == 0xBB && std::uint8_t(msg[2]) == 0xBF)
        msg.remove_prefix(3);   // the BOM RFC 5424 puts before UTF-8 messages
    h.message = msg;
    return true;
}

bool json_time(std::string_view raw, bool is_string, const TimeContext& tc, std::int64_t& ms) {
    if (is_string) {
        const std::size_t n = parse_timestamp(raw, tc, ms);
        return n > 0;
    }
    // A number: seconds, milliseconds, microseconds or nanoseconds since the epoch, by magnitude.
    double v = 0;
    try { v = std::stod(std::string(raw)); } catch (...) { return false; }
    if (!(v < 1e19)) return false;   // past 2286 in nanoseconds, inf, NaN: not a time (and no overflow)
    if (v > 1e17) ms = std::int64_t(v / 1e6);
    else if (v > 1e14) ms = std::int64_t(v / 1e3);
    else if (v > 1e11) ms = std::int64_t(v);
    else if (v > 1e8) ms = std::int64_t(v * 1e3);
    else return false;
    return true;
}

// journald := a JSON object with journald's fields: __REALTIME_TIMESTAMP (us), MESSAGE (a
// string, or an array of bytes for binary), PRIORITY, _HOSTNAME, SYSLOG_IDENTIFIER/_COMM, _PID.
bool parse_journald(std::string_view line, const TimeContext&, Header& h, std::string& scratch) {
    if (line.empty() || line[0] != '{') return false;
    bool journal = false, has_message = false;
    std::string_view message, comm;
    bool message_string = true;
    const bool ok = json_members(line, [&](std::string_view k, std::string_view v, bool is_string) {
        if (k == "__REALTIME_TIMESTAMP") {
            journal = true;
            std::int64_t us = 0;
            Cursor c{v};
            if (c.digits_upto(19, us) && c.done()) { h.time_ms = us / 1000; h.has_time = true; }
        } else if (k == "__CURSOR" || k == "_BOOT_ID" || k == "__MONOTONIC_TIMESTAMP") {
            journal = true;
        } else if (k == "MESSAGE") {
            has_message = true;
            message = v;
            message_string = is_string;
        } else if (k == "PRIORITY") {
            h.severity = severity_from_text(v);
        } else if (k == "_HOSTNAME") {
            h.host = v;
        } else if (k == "SYSLOG_IDENTIFIER") {
            h.app = v;
        } else if (k == "_COMM") {
            comm = v;
        } else if (k == "_PID" || (k == "SYSLOG_PID" && h.pid.empty())) {
            h.pid = v;
        }
    });
    if (!ok || !journal) return false;
    if (h.app.empty()) h.app = comm;
    if (!has_message) { h.message = {}; return true; }
    if (message_string) {
        if (message.find('\\') == std::string_view::npos) h.message = message;
        else { json_unescape(message, scratch); h.message = scratch; }
    } else {
        // An array of byte values: binary or invalid UTF-8 in the journal.
        scratch.clear();
        std::int64_t b = 0;
        Cursor c{message};
        while (!c.done()) {
            if (c.digits_upto(3, b)) scratch.push_back(char(b));
            else ++c.i;
        }
        std::string cleaned;
        clean_line(scratch, cleaned);
        scratch.swap(cleaned);
        h.message = scratch;
    }
    return true;
}

// jsonlines := a JSON object; the message is the first of msg/message/MESSAGE/log/text/event
// present, the time the first of @timestamp/timestamp/time/ts/t/date, the level of
// level/lvl/severity/loglevel, the app of logger/logger_name/name/service/app, the host of
// host/hostname. Without a message member, the whole object is the message.
bool parse_json_lines(std::string_view line, const TimeContext& tc, Header& h, std::string& scratch) {
    if (line.empty() || line[0] != '{') return false;
    std::string_view message;
    int message_rank = 99, time_rank = 99;
    auto rank_of = [](std::string_view k, std::initializer_list<std::string_view> keys) {
        int r = 0;
        for (auto key : keys) {
            if (k == key) return r;
            ++r;
        }
        return 99;
    };
    const bool ok = json_members(line, [&](std::string_view k, std::string_view v, bool is_string) {
        if (const int r = rank_of(k, {"msg", "message", "MESSAGE", "log", "text", "event"}); r < message_rank && is_string) {
            message = v;
            message_rank = r;
        } else if (const int t = rank_of(k, {"@timestamp", "timestamp", "time", "ts", "t", "date", "datetime"}); t < time_rank) {
            std::int64_t ms = 0;
            if (json_time(v, is_string, tc, ms)) { h.time_ms = ms; h.has_time = true; time_rank = t; }
        } else if (k == "level" || k == "lvl" || k == "severity" || k == "loglevel" || k == "levelname") {
            h.severity = severity_from_text(v);
        } else if (k == "logger" || k == "logger_name" || k == "name" || k == "service" || k == "app") {
            if (is_string) h.app = v;
        } else if (k == "host" || k == "hostname") {
            if (is_string) h.host = v;
        } else if (k == "pid") {
            h.pid = v;
        }
    });
    if (!ok) return false;
    if (message_rank == 99) h.message = line;
    else if (message.find('\\') == std::string_view::npos) h.message = message;
    else { json_unescape(message, scratch); h.message = scratch; }
    return true;
}

// access := CLIENT " " IDENT " " USER " [" CLF-TIME "] " '"' REQUEST '"' " " STATUS " " BYTES [...]
//   the message is the request and what follows; the severity follows the status (5xx error,
//   4xx warning, else info).
bool parse_access(std::string_view line, const TimeContext& tc, Header& h) {
    Cursor c{line};
    const std::string_view client = c.word();
    if (client.empty() || !c.accept(' ') || c.word().empty() || !c.accept(' ')) return false;
    // USER may be quoted or contain spaces in odd setups; take up to " [".
    const std::size_t lb = line.find(" [", c.i);
    if (lb == std::string_view::npos || lb - c.i > 256) return false;
    c.i = lb + 2;
    const std::size_t n = parse_timestamp(line.substr(c.i), tc, h.time_ms);
    if (!n) return false;
    c.i += n;
    if (!c.accept(']') || !c.accept(' ') || c.peek() != '"') return false;
    h.has_time = true;
    h.message = line.substr(c.i);
    // STATUS after the closing quote of the request.
    const std::size_t q = detail::skip_request(line, c.i);
    if (q == std::string_view::npos) return false;
    Cursor s{line, q};
    int status = 0;
    if (!s.accept(' ') || !s.digits(3, status) || !word_end(s)) return false;
    h.severity = status >= 500 ? Severity::Error : status >= 400 ? Severity::Warning : Severity::Info;
    (void)client;
    return true;
}

// apache_error := "[" CTIME "] [" [MODULE ":"] LEVEL "] " ["[pid " ... "] "] MESSAGE
bool parse_apache_error(std::string_view line, const TimeContext& tc, Header& h) {
    Cursor c{line};
    if (!c.accept('[')) return false;
    const std::size_t n = parse_timestamp(line.substr(c.i), tc, h.time_ms);
    if (!n || !is_weekday(line.substr(c.i, 3))) return false;
    c.i += n;
    if (!c.accept(']') || !c.accept(' ') || !c.accept('[')) return false;
    h.has_time = true;
    const std::size_t close = line.find(']', c.i);
    if (close == std::string_view::npos || close - c.i > 40) return false;
    std::string_view level = line.substr(c.i, close - c.i);
    if (const std::size_t colon = level.find(':'); colon != std::string_view::npos) {
        h.app = level.substr(0, colon);
        level = level.substr(colon + 1);
    }
    h.severity = severity_from_text(level);
    if (h.severity == Severity::Unknown && !(level.size() >= 5 && level.substr(0, 5) == "trace")) return false;
    if (h.severity == Severity::Unknown) h.severity = Severity::Debug;
    c.i = close + 1;
    c.accept(' ');
    if (line.substr(c.i, 5) == "[pid ") {
        const std::size_t e = line.find(']', c.i);
        if (e != std::string_view::npos) {
            std::string_view pid = line.substr(c.i + 5, e - c.i - 5);
            h.pid = pid.substr(0, pid.find(':'));
            c.i = e + 1;
            c.accept(' ');
        }
    }
    h.message = line.substr(c.i);
    return true;
}

// nginx_error := YYYY "/" MM "/" DD " " TIME " [" LEVEL "] " PID "#" TID ": " ["*" CID " "] MESSAGE
bool parse_nginx_error(std::string_view line, const TimeContext& tc, Header& h) {
    if (line.size() < 20 || line[4] != '/') return false;
    const std::size_t n = parse_timestamp(line, tc, h.time_ms);
    if (n != 19) return false;
    Cursor c{line, n};
    if (!c.accept(' ') || !c.accept('[')) return false;
    const std::size_t close = line.find(']', c.i);
    if (close == std::string_view::npos || close - c.i > 10) return false;
    h.severity = severity_from_text(line.substr(c.i, close - c.i));
    if (h.severity == Severity::Unknown) return false;
    c.i = close + 1;
    if (!c.accept(' ')) return false;
    const std::size_t pid_b = c.i;
    std::int64_t v = 0;
    if (!c.digits_upto(10, v) || !c.accept('#')) return false;
    h.pid = line.substr(pid_b, c.i - 1 - pid_b);
    if (!c.digits_upto(10, v) || !c.accept(':')) return false;
    c.accept(' ');
    h.has_time = true;
    h.message = line.substr(c.i);
    return true;
}

// kernel := ["<" LEVEL ">"] "[" SPACES SECONDS "." MICROS "] " MESSAGE     (dmesg)
//         | "[" CTIME "] " MESSAGE                                          (dmesg -T)
bool parse_kernel(std::string_view line, const TimeContext& tc, Header& h) {
    Cursor c{line};
    if (c.peek() == '<') {
        int lvl = 0;
        Cursor t = c;
        ++t.i;
        if (t.digits(1, lvl) && t.accept('>')) {
            h.severity = severity_from_text(std::string_view(&"01234567"[lvl & 7], 1));
            c = t;
        }
    }
    if (!c.accept('[')) return false;
    if (is_weekday(line.substr(c.i, 3))) {
        const std::size_t n = parse_timestamp(line.substr(c.i), tc, h.time_ms);
        if (!n) return false;
        c.i += n;
        if (!c.accept(']')) return false;
        h.has_time = true;
    } else {
        c.spaces();
        std::int64_t sec = 0, us = 0;
        if (!c.digits_upto(10, sec) || !c.accept('.')) return false;
        const std::size_t b = c.i;
        if (!c.digits_upto(9, us)) return false;
        for (std::size_t k = c.i - b; k < 6; ++k) us *= 10;
        for (std::size_t k = 6; k < c.i - b; ++k) us /= 10;
        if (!c.accept(']')) return false;
        h.time_ms = sec * 1000 + us / 1000;
        h.has_time = true;
        h.boot_relative = true;
    }
    c.accept(' ');
    h.message = line.substr(c.i);
    return true;
}

// generic := PREFIX{0,3} TIMESTAMP [","|"]"] TOKEN{0,8}? LEVEL [THREAD] ["-"] [COMPONENT] MESSAGE
//          | PREFIX{0,3} TIMESTAMP [PID] [COMPONENT] MESSAGE
//   a timestamp within the first four words (optionally in brackets); a level word within the
//   eight words after it (upper case, or bracketed: "[info]"); then optionally a "[thread]"
//   group, a "-" and a dotted "component:" before the message.
bool parse_generic(std::string_view line, const TimeContext& tc, Header& h) {
    Cursor c{line};
    std::size_t ts_n = 0;
    for (int k = 0; k < 4 && !c.done(); ++k) {
        Cursor t = c;
        const bool bracket = t.accept('[');
        ts_n = parse_timestamp(line.substr(t.i), tc, h.time_ms);
        if (ts_n) {
            t.i += ts_n;
            if (bracket && !t.accept(']')) { ts_n = 0; }
            else { c = t; break; }
        }
        // Skip one short prefix word (a label, a "-").
        const std::string_view w = c.word();
        if (w.size() > 40) return false;
        c.spaces();
    }
    if (!ts_n) return false;
    h.has_time = true;
    c.accept(',');
    c.spaces();
    const std::size_t after_ts = c.i;
    // LEVEL within the next eight words.
    Cursor t = c;
    std::size_t level_end = 0;
    std::size_t pid_b = 0, pid_e = 0;
    for (int k = 0; k < 8 && !t.done(); ++k) {
        const std::size_t b = t.i;
        std::string_view w;
        if (t.peek() == '[') {
            std::string_view inside;
            Cursor g = t;
            if (accept_bracket_group(g, inside)) { w = line.substr(b, g.i - b); t = g; }
            else w = t.word();
        } else {
            w = t.word();
        }
        Severity s = Severity::Unknown;
        if (is_level_word(w, s)) {
            h.severity = s;
            level_end = t.i;
            break;
        }
        if (k == 0 && !w.empty() && std::all_of(w.begin(), w.end(), is_digit)) { pid_b = b; pid_e = t.i; }
        t.spaces();
    }
    if (level_end) {
        c.i = level_end;
        if (pid_e) h.pid = line.substr(pid_b, pid_e - pid_b);
    } else {
        c.i = after_ts;
        if (pid_e) {   // "081109 203615 148 dfs.Foo: msg" without a level
            h.pid = line.substr(pid_b, pid_e - pid_b);
            c.i = pid_e;
        }
    }
    c.spaces();
    // [THREAD] and "-" separators, then COMPONENT ":".
    for (int k = 0; k < 3; ++k) {
        std::string_view inside;
        Cursor g = c;
        if (g.peek() == '[' && accept_bracket_group(g, inside) && (g.done() || is_space(g.peek()))) { c = g; c.spaces(); continue; }
        if (c.peek() == '-' && is_space(c.peek(1))) { ++c.i; c.spaces(); continue; }
        break;
    }
    {
        Cursor g = c;
        const std::string_view w = g.word();
        if (is_component_token(w)) {
            h.app = w.substr(0, w.size() - 1);
            c = g;
            c.spaces();
        }
    }
    h.message = line.substr(c.i);
    return true;
}

} // namespace

namespace detail {

std::size_t skip_request(std::string_view line, std::size_t i) {
    // A quoted string with backslash escapes ("GET /a\"b HTTP/1.1"); index after the quote.
    if (i >= line.size() || line[i] != '"') return std::string_view::npos;
    for (std::size_t j = i + 1; j < line.size(); ++j) {
        if (line[j] == '\\') { ++j; continue; }
        if (line[j] == '"') return j + 1;
    }
    return std::string_view::npos;
}

} // namespace detail

bool parse_header(Format format, std::string_view line, const TimeContext& time, Header& out, std::string& scratch) {
    out = Header{};
    switch (format) {
    case Format::Syslog3164: return parse_syslog3164(line, time, out);
    case Format::Syslog5424: return parse_syslog5424(line, time, out);
    case Format::Journald: return parse_journald(line, time, out, scratch);
    case Format::JsonLines: return parse_json_lines(line, time, out, scratch);
    case Format::AccessLog: return parse_access(line, time, out);
    case Format::ApacheError: return parse_apache_error(line, time, out);
    case Format::NginxError: return parse_nginx_error(line, time, out);
    case Format::Kernel: return parse_kernel(line, time, out);
    case Format::Generic: return parse_generic(line, time, out);
    case Format::Plain:
        out.message = line;
        return true;
    case Format::Custom:
    case Format::Unknown: return false;
    }
    return false;
}

Format detect_format(std::span<const std::string> sample) {
    // Most specific first: a tie goes to the earlier format.
    static constexpr Format candidates[] = {Format::Journald,   Format::Syslog5424,  Format::Syslog3164,
                                            Format::AccessLog,  Format::ApacheError, Format::NginxError,
                                            Format::Kernel,     Format::JsonLines,   Format::Generic};
    TimeContext tc;
    tc.now_ms = 1;   // detection does not care which year
    std::size_t n_lines = 0;
    std::size_t hits[std::size(candidates)] = {};
    Header h;
    std::string scratch;
    for (const std::string& line : sample) {
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        if (detail::is_continuation(line, true)) continue;   // stack frames say nothing of the format
        ++n_lines;
        for (std::size_t k = 0; k < std::size(candidates); ++k)
            if (parse_header(candidates[k], line, tc, h, scratch)) ++hits[k];
    }
    if (n_lines == 0) return Format::Plain;
    std::size_t best = 0;
    for (std::size_t k = 1; k < std::size(candidates); ++k)
        if (hits[k] > hits[best]) best = k;
    if (hits[best] * 2 < n_lines) return Format::Plain;
    return candidates[best];
}

} // namespace sigmaops::logs
