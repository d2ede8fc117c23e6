// fuzz_commands.cpp - libFuzzer target for the command agent's text handling (agents/commands):
// the output cleaner (escape sequences, control bytes, UTF-8 repair) and the display form of a
// command being confirmed.
//
// Contract under test, on any bytes: clean_output() returns valid UTF-8 with no control byte
// but \n and \t and no C1 control; cleaning the same bytes as a stream split at points the
// first bytes choose gives exactly the same text; visible() returns text with no control byte
// at all (so a command shown for confirmation cannot move the cursor or hide a part); and
// make_proposal() + confirm_request() never throw. The same bytes as a target probe's output
// (parse_context: never throws, every program name it keeps is one printable line) and as a
// chat answer (annotate_answer: every command found is non-empty, starts on a line of the
// answer, and one that does not parse is rated unknown or worse). Build and run: docs/fuzzing.md.
#include "commands_internal.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace sigmaops::commands;

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

void check_screen_safe(const std::string& s, bool allow_newline_tab) {
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            const bool ctl = b < 0x20 || b == 0x7F;
            require(!ctl || (allow_newline_tab && (b == '\n' || b == '\t')));
            ++i;
            continue;
        }
        const int n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
        require(n != 0 && i + std::size_t(n) <= s.size());
        for (int k = 1; k < n; ++k) require((static_cast<unsigned char>(s[i + std::size_t(k)]) & 0xC0) == 0x80);
        require(!(n == 2 && b == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0));
        i += std::size_t(n);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const unsigned step = 1u + data[0] % 13u;   // chunk length pattern for the streamed run
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);

    const std::string whole = clean_output(text);
    check_screen_safe(whole, true);
    StreamCleaner cleaner;
    std::string streamed;
    for (std::size_t at = 0; at < text.size(); at += step) streamed += cleaner.feed(std::string_view(text).substr(at, step));
    streamed += cleaner.finish();
    require(streamed == whole);

    check_screen_safe(visible(text), false);
    if (text.size() <= 4096) {
        const Proposal p = make_proposal(text, data[0] & 1 ? "web1" : "", data[0] & 2 ? Origin::Model : Origin::User, text);
        const ConfirmRequest r = confirm_request(p);
        check_screen_safe(r.command, false);
        check_screen_safe(r.explanation, false);
        for (const std::string& reason : r.reasons) check_screen_safe(reason, false);

        const TargetContext ctx = parse_context(text);
        for (const auto& [name, found] : ctx.programs) {
            require(!name.empty());
            for (char ch : name) require(static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7F);
        }
        const std::size_t n_lines = 1 + std::size_t(std::count(text.begin(), text.end(), '\n'));
        for (const ShownCommand& c : annotate_answer(text, &ctx)) {
            require(!c.text.empty());
            require(c.line >= 1 && c.line <= n_lines);
            if (c.parse_error) require(c.assessment.risk >= sigmaops::shell::Risk::Unknown);
        }
    }
    return 0;
}
