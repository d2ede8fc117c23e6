// display.cpp - making command output and command text safe to put on a terminal: escape
// sequences (CSI, OSC, DCS/SOS/PM/APC, two-byte ESC forms, 8-bit C1 controls) and control bytes
// removed from output, made visible in a command being confirmed (so a command cannot hide part
// of itself from the person approving it). Invalid UTF-8 becomes U+FFFD.
#include "commands_internal.h"

namespace sigmaops::commands {

namespace {

constexpr std::string_view k_replacement = "\xEF\xBF\xBD";   // U+FFFD

// Length of a valid UTF-8 sequence starting at s[i] (1..4), 0 when invalid, -1 when it is cut
// off by the end of the buffer (could become valid with more bytes).
int utf8_length(std::string_view s, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int n = 0;
    unsigned min = 0;
    if (b0 < 0x80) return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF) { n = 2; min = 0x80; }
    else if (b0 >= 0xE0 && b0 <= 0xEF) { n = 3; min = 0x800; }
    else if (b0 >= 0xF0 && b0 <= 0xF4) { n = 4; min = 0x10000; }
    else return 0;
    unsigned cp = b0 & (0x7F >> n);
    for (int k = 1; k < n; ++k) {
        if (i + k >= s.size()) return -1;
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

// Length of the escape sequence starting with ESC at s[i]; -1 when cut off by the end.
long escape_length(std::string_view s, std::size_t i) {
    if (i + 1 >= s.size()) return -1;
    const char c = s[i + 1];
    std::size_t j = i + 2;
    if (c == '[') {                                  // CSI: parameters, intermediates, final 0x40-0x7E
        for (; j < s.size(); ++j) {
            const auto b = static_cast<unsigned char>(s[j]);
            if (b >= 0x40 && b <= 0x7E) return long(j + 1 - i);
            if (b < 0x20 || b > 0x3F) {
                if (b < 0x20 || b > 0x2F) return long(j - i);   // malformed: drop what we saw
            }
        }
        return -1;
    }
    if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {   // string: until BEL or ST
        for (; j < s.size(); ++j) {
            if (s[j] == '\x07') return long(j + 1 - i);
            if (s[j] == '\x1b') {
                if (j + 1 >= s.size()) return -1;
                if (s[j + 1] == '\\') return long(j + 2 - i);
            }
        }
        return -1;
    }
    if (c >= 0x20 && c <= 0x2F) {                   // ESC intermediates final (charset designations)
        for (; j < s.size(); ++j)
            if (static_cast<unsigned char>(s[j]) >= 0x30) return long(j + 1 - i);
        return -1;
    }
    return 2;                                        // ESC + one byte (ESC 7, ESC M, ...)
}

} // namespace

std::size_t clean_chunk(std::string_view s, bool final, std::string& out) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b == 0x1b) {
            const long n = escape_length(s, i);
            if (n < 0) {
                if (!final && s.size() - i < 4096) return i;   // wait for the rest
                return s.size();                             // unterminated: drop the tail
            }
            i += std::size_t(n);
            continue;
        }
        if (b == '\r') {
            if (i + 1 >= s.size() && !final) return i;
            if (i + 1 < s.size() && s[i + 1] == '\n') { ++i; continue; }
            out += '\n';
            ++i;
            continue;
        }
        if (b == '\n' || b == '\t') { out += char(b); ++i; continue; }
        if (b < 0x20 || b == 0x7F) { ++i; continue; }
        const int n = utf8_length(s, i);
        if (n < 0) {
            if (!final) return i;
            out += k_replacement;
            return s.size();
        }
        if (n == 0) { out += k_replacement; ++i; continue; }
        if (n == 2 && b == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) { i += 2; continue; }  // C1
        out.append(s.data() + i, std::size_t(n));
        i += std::size_t(n);
    }
    return s.size();
}

std::string clean_output(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    clean_chunk(text, true, out);
    return out;
}

std::string visible(std::string_view s) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b == 0x1b) { out += "\\e"; ++i; continue; }
        if (b == '\n') { out += "\\n"; ++i; continue; }
        if (b == '\r') { out += "\\r"; ++i; continue; }
        if (b == '\t') { out += "\\t"; ++i; continue; }
        if (b < 0x20 || b == 0x7F) {
            out += "\\x";
            out += hex[b >> 4];
            out += hex[b & 15];
            ++i;
            continue;
        }
        const int n = utf8_length(s, i);
        if (n <= 0) {
            out += "\\x";
            out += hex[b >> 4];
            out += hex[b & 15];
            ++i;
            continue;
        }
        const bool c1 = n == 2 && b == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0;
        // Bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069) reorder what a
        // terminal shows: shown as code points so the text reads in its real order.
        bool bidi = false;
        if (n == 3 && b == 0xE2) {
            const auto b1 = static_cast<unsigned char>(s[i + 1]), b2 = static_cast<unsigned char>(s[i + 2]);
            bidi = (b1 == 0x80 && b2 >= 0xAA && b2 <= 0xAE) || (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9);
            if (bidi) {
                const unsigned cp = ((b & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F);
                out += "\\u";
                for (int k = 3; k >= 0; --k) out += hex[(cp >> (4 * k)) & 15];
            }
        }
        if (c1) {
            out += "\\u00";
            out += hex[static_cast<unsigned char>(s[i + 1]) >> 4];
            out += hex[static_cast<unsigned char>(s[i + 1]) & 15];
        } else if (!bidi) {
            out.append(s.data() + i, std::size_t(n));
        }
        i += std::size_t(n);
    }
    return out;
}

} // namespace sigmaops::commands
