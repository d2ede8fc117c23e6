// The terminal chat's screen text and input history rules (app/cli/lineedit.h): escape sequences
// from the model, logs and commands never reach the screen, however the text is cut into writes;
// risk names are coloured only where asked; secret-looking lines are told apart from plain ones.
#include <catch2/catch.hpp>

#include <cli/lineedit.h>
#include <commands/commands.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace sigmaops::cli;
namespace commands = sigmaops::commands;

namespace {

// `text` written through a SafeText in pieces of `step` bytes, each piece flushed as the chat
// does with a streamed reply.
std::string through(const std::string& text, std::size_t step, bool color = false) {
    std::ostringstream screen;
    {
        SafeText safe(screen, color);
        for (std::size_t i = 0; i < text.size(); i += step) safe << text.substr(i, step) << std::flush;
        safe.finish();
    }
    return screen.str();
}

} // namespace

TEST_CASE("chat output: escape sequences are removed however the text is cut", "[app][chat]") {
    // A title change (OSC ... BEL and OSC ... ST), a screen clear, a cursor move, a charset switch,
    // an 8-bit CSI, a lone CR that would overwrite the line, and UTF-8 around them.
    const std::string evil = "caf\xC3\xA9 \x1b]0;owned\x07ok\x1b[2J\x1b[10;1Hnext\x1b]8;;http://x\x1b\\link\x1b(0q"
                             "\xC2\x9B" "31m\r\nline \xE2\x9C\x93 end\rover";
    const std::string want = "caf\xC3\xA9 oknextlinkq31m\nline \xE2\x9C\x93 end\nover";
    for (std::size_t step = 1; step <= evil.size(); ++step) {
        INFO("pieces of " << step << " bytes");
        const std::string got = through(evil, step);
        CHECK(got == want);
        CHECK(got.find('\x1b') == std::string::npos);
    }
}

TEST_CASE("chat output: streamed in any pieces equals the whole text cleaned", "[app][chat]") {
    // Random text made of the bytes escape sequences, line ends and UTF-8 are built from
    // (tests/fuzz/fuzz_chat_text.cpp explores further).
    const std::string alphabet = std::string("\x1b\x1b\x1b[]P_X^\\\x07\r\n\t;0123mHJ(", 24) + "a \xC2\x9B\xE2\x9C\x93\xF0\x9F\x98\x80\xFF";
    std::mt19937 rng(19);
    for (int round = 0; round < 3000; ++round) {
        std::string text;
        const std::size_t len = rng() % 40;
        for (std::size_t i = 0; i < len; ++i) text += alphabet[rng() % alphabet.size()];
        const std::size_t step = 1 + rng() % 7;
        INFO("text " << commands::visible(text) << ", pieces of " << step);
        CHECK(through(text, step) == commands::clean_output(text));
    }
}

TEST_CASE("chat output: plain text passes unchanged and at once", "[app][chat]") {
    std::ostringstream screen;
    SafeText safe(screen, false);
    safe << "sigma> disk /dev/sda1 is 93% full";
    // Nothing held back: a confirmation prompt written to /dev/tty next comes after it.
    CHECK(screen.str() == "sigma> disk /dev/sda1 is 93% full");
    safe << "\x1b[";   // the start of a sequence is held until its end
    CHECK(screen.str() == "sigma> disk /dev/sda1 is 93% full");
    safe << "31mred";
    CHECK(screen.str() == "sigma> disk /dev/sda1 is 93% fullred");
}

TEST_CASE("chat output: risk names in colour only when asked", "[app][chat]") {
    const std::string proposal = "command: rm -rf /tmp/x\nrisk:    destructive (running it needs the host name typed)\n"
                                 "the risk: read-only stays plain mid-line\n";
    CHECK(through(proposal, 3, false) == proposal);
    const std::string colored = through(proposal, 1000, true);
    CHECK(colored.find("risk:    " + colored_risk("destructive") + " (running") != std::string::npos);
    CHECK(colored.find("the risk: read-only stays plain") != std::string::npos);
    CHECK(colored_risk("read-only") == "\x1b[32mread-only\x1b[0m");
    CHECK(colored_risk("irreversible") == "\x1b[1;31mirreversible\x1b[0m");
    // The model's own escape sequences are still removed when colour is on.
    CHECK(through("risk: \x1b[5mblink\n", 2, true) == "risk: blink\n");
}

TEST_CASE("chat input history: secret-looking lines are not kept", "[app][chat]") {
    const std::vector<std::string> secret = {
        "mysql --password=hunter2 -e 'show databases'",
        "export GITHUB_TOKEN=abc123",
        "my token is abc123",
        "PGPASSWORD=x psql",
        "curl -H 'Authorization: Bearer eyJhbGciOi'",
        "api_key: 12345",
        "use key AKIAIOSFODNN7EXAMPLE please",
        "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        "sk-proj-0123456789abcdefghijklmnopqrstuv",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "sshpass -p hunter2 ssh root@db1",
        "what does my secret santa get",
    };
    for (const std::string& s : secret) {
        INFO(s);
        CHECK(looks_secret(s));
    }
    const std::vector<std::string> plain = {"what is an inode", "/cmd find files larger than 1GB under /var",
                                            "/diagnose /var/log/syslog", "why did sshd refuse my key",
                                            "/run touch /tmp/x", "skip the desk-check"};
    for (const std::string& s : plain) {
        INFO(s);
        CHECK_FALSE(looks_secret(s));
    }
}

TEST_CASE("chat input: without a terminal lines are read plainly and nothing is kept", "[app][chat]") {
    std::istringstream in("first line\nsecond\n");
    std::ostringstream out, err;
    Io io{in, out, err};
    LineEditor editor(io, LineEditorOptions{});
    CHECK_FALSE(editor.interactive());
    auto a = editor.read("you> ");
    CHECK(a.status == LineEditor::Status::Line);
    CHECK(a.text == "first line");
    CHECK_FALSE(editor.remember(a.text));   // a pipe's lines are not typed: no input history
    CHECK(editor.read("you> ").text == "second");
    CHECK(editor.read("you> ").status == LineEditor::Status::End);
    CHECK(out.str() == "you> you> you> ");
}
