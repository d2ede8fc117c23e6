// Output cleaning (agents/commands display.cpp): what a command prints reaches the screen and
// history without escape sequences or control bytes, as valid UTF-8, and cleaning a stream chunk
// by chunk (as it arrives from a pipe or an SSH channel) gives exactly what cleaning it whole
// does, wherever the chunks split an escape sequence or a UTF-8 character.
#include <catch2/catch.hpp>

#include "commands_internal.h"

#include <random>

using namespace sigmaops::commands;

namespace {

// True when `s` is valid UTF-8 with no C0/C1 control or DEL except \n and \t.
bool screen_safe(const std::string& s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            if ((b < 0x20 && b != '\n' && b != '\t') || b == 0x7F) return false;
            ++i;
            continue;
        }
        int n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (int k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        if (n == 2 && b == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) return false;   // C1
        i += std::size_t(n);
    }
    return true;
}

std::string chunked(const std::string& s, std::mt19937& rng) {
    StreamCleaner cleaner;
    std::string out;
    std::size_t at = 0;
    while (at < s.size()) {
        const std::size_t n = std::min(s.size() - at, std::size_t(rng() % 7));
        out += cleaner.feed(std::string_view(s).substr(at, n));
        at += n;
    }
    return out + cleaner.finish();
}

} // namespace

TEST_CASE("commands display: escape sequences and controls are removed, text kept", "[commands][display]") {
    CHECK(clean_output("\x1b[1;31mERROR\x1b[0m: disk full\r\n") == "ERROR: disk full\n");
    CHECK(clean_output("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "link");           // OSC 8 hyperlink
    CHECK(clean_output("\x1b]0;title\x07rest") == "rest");
    CHECK(clean_output("a\x1b(Bb\x1b" "7c\x1b" "8") == "abc");                             // charset, save/restore
    CHECK(clean_output("progress 10%\rprogress 20%\n") == "progress 10%\nprogress 20%\n");
    CHECK(clean_output("bell\x07 back\x08space del\x7f") == "bell backspace del");
    CHECK(clean_output("caf\xC3\xA9 \xE2\x9C\x93") == "caf\xC3\xA9 \xE2\x9C\x93");        // UTF-8 kept
    CHECK(clean_output("bad\xFF\xC3(") == "bad\xEF\xBF\xBD\xEF\xBF\xBD(");
    CHECK(clean_output("\xC2\x9B" "31m8-bit CSI") == "31m8-bit CSI");                       // the C1 byte goes
    CHECK(clean_output("unterminated \x1b]0;never ends") == "unterminated ");
    CHECK(clean_output("tab\tkept") == "tab\tkept");
}

TEST_CASE("commands display: chunked cleaning equals whole cleaning, output always screen-safe", "[commands][display]") {
    std::mt19937 rng(17);
    // Inputs built from the pieces that matter: escapes of every kind, partial UTF-8, \r, text.
    const std::vector<std::string> pieces = {"\x1b[", "31", "m", "\x1b]", "0;t", "\x07", "\x1b\\", "\x1b", "P",
                                             "\xC3", "\xA9", "\xE2\x9C", "\x93", "\r", "\n", "\r\n", "\t", "abc",
                                             " ", "\xFF", "\xC2\x9B", "\x00", "\x7F", "(B", "7"};
    for (int round = 0; round < 3000; ++round) {
        std::string s;
        const int n = 1 + int(rng() % 24);
        for (int k = 0; k < n; ++k) {
            const std::string& piece = pieces[rng() % pieces.size()];
            s += piece.empty() ? std::string(1, '\0') : piece;
        }
        const std::string whole = clean_output(s);
        INFO("input bytes: " << visible(s));
        REQUIRE(screen_safe(whole));
        REQUIRE(chunked(s, rng) == whole);
    }
}
