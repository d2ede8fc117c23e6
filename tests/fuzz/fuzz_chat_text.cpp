// fuzz_chat_text.cpp - libFuzzer target for the terminal chat's screen text (app/cli/lineedit.h):
// SafeText, which holds back an escape sequence, \r or UTF-8 character cut between two writes.
//
// Contract under test, on any bytes written in pieces whose sizes the first bytes choose, each
// piece flushed as a streamed reply is: the screen gets no ESC, no control byte but \n and \t and
// no C1 control, whatever the cuts and with colour on or off; with colour off and fewer than 4096
// bytes (the longest sequence held) it gets exactly commands::clean_output() of the whole text;
// looks_secret() never throws. Build and run: docs/fuzzing.md.
#include <cli/lineedit.h>
#include <commands/commands.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

using namespace sigmaops;

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

void check_screen_safe(const std::string& s, bool color) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b == 0x1b && color) {   // only the chat's own colour: ESC [ digits/; m
            std::size_t j = i + 1;
            require(j < s.size() && s[j] == '[');
            for (++j; j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == ';'); ++j) {}
            require(j < s.size() && s[j] == 'm');
            i = j;
            continue;
        }
        require(!(b < 0x20 || b == 0x7F) || b == '\n' || b == '\t');
        if (b == 0xC2 && i + 1 < s.size()) require(static_cast<unsigned char>(s[i + 1]) >= 0xA0);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const bool color = data[0] & 1;
    const std::size_t step = 1 + data[1] % 16;
    const std::string text(reinterpret_cast<const char*>(data + 2), size - 2);
    std::ostringstream screen;
    {
        cli::SafeText safe(screen, color);
        // Piece sizes cycle through 1..step, so cuts land everywhere.
        for (std::size_t i = 0, n = 1; i < text.size(); i += n, n = n % step + 1)
            safe << text.substr(i, n) << std::flush;
        safe.finish();
    }
    check_screen_safe(screen.str(), color);
    if (!color && text.size() < 4096) require(screen.str() == commands::clean_output(text));
    (void)cli::looks_secret(text);
    return 0;
}
