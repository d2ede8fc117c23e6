// cli/lineedit.h - the terminal chat's input and screen output: line editing, input history and
// Tab completion through libedit's readline-compatible API on a terminal (plain lines from a
// pipe), and an output stream that makes untrusted text (the model's, logs', commands') safe to
// put on a terminal, with risk names in colour where colour is wanted.
#pragma once

#include "command.h"

#include <base/term.h>

#include <cstddef>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace sigmaops::cli {

// Whether a typed line looks like it carries a secret and so stays out of the input history:
// a value after a secret-looking key (logs::mask_secrets: password=, token: ..., api_key=...,
// "Authorization: Bearer ..."), or a secret word at all (password, passphrase, token, secret,
// private key, ...), or a well-known credential shape (an AWS access key id, GitHub and OpenAI
// style tokens, a PEM header).
bool looks_secret(std::string_view line);

// Whether io.out may get colour: it is the process's stdout, a terminal, TERM is not "dumb" and
// NO_COLOR (https://no-color.org) is unset or empty (base/term.h).
bool color_wanted(const Io& io);
// A risk name in its colour (base/term.h), for the chat and `sigmaops cmd` alike.
using sigmaops::colored_risk;

struct LineEditorOptions {
    std::string history_file;              // "" = the input history lives in memory only
    std::size_t history_max = 1000;        // entries kept (in memory and in the file)
    std::vector<std::string> completions;  // what Tab completes at the start of a line ("/help", ...)
};

// One line at a time. Interactive (libedit: editing, Up/Down through the history, Tab) when
// io.in is the process's stdin and that is a terminal; otherwise plain lines read from io.in
// after the prompt is written to io.out. One LineEditor at a time (libedit's readline API keeps
// global state).
class LineEditor {
public:
    enum class Status { Line, Interrupted, End };
    struct Input {
        Status status = Status::End;
        std::string text;   // the line without its end (Status::Line)
    };

    LineEditor(Io& io, LineEditorOptions options);
    ~LineEditor();
    LineEditor(const LineEditor&) = delete;
    LineEditor& operator=(const LineEditor&) = delete;

    bool interactive() const { return m_interactive; }
    // Shows `prompt` and reads a line. Ctrl-C while editing drops the line and gives Interrupted;
    // Ctrl-D on an empty line (or the end of the input) gives End.
    Input read(const std::string& prompt);
    // Adds a typed line to the input history and saves the file (mode 0600, written to a temporary
    // file and renamed, at most history_max entries), unless the editor is not interactive, the
    // line is blank, repeats the previous entry or looks_secret(). True when it was kept.
    bool remember(const std::string& line);
    // Why the history file could not be read or written; "" when it could.
    const std::string& history_note() const { return m_note; }

private:
    void save();

    Io& m_io;
    LineEditorOptions m_options;
    bool m_interactive = false;
    std::string m_last;
    std::string m_note;
};

// A stream buffer that passes text on to `out` with escape sequences and control bytes removed
// (commands::clean_output: CSI, OSC, DCS, C1 controls; \r made a newline), for text that came
// from the model, logs or a command. An escape sequence, UTF-8 character or \r\n cut between two
// writes is held until its end arrives (or finish()); everything else is passed on at once, so a
// prompt written to /dev/tty afterwards appears after it. With `color`, a line "risk: NAME" gets
// NAME in its colour (colored_risk).
class SafeTextBuf final : public std::streambuf {
public:
    SafeTextBuf(std::ostream& out, bool color) : m_out(out), m_color(color) {}
    ~SafeTextBuf() override { finish(); }
    // Passes on what is held (a cut sequence is dropped) and flushes `out`.
    void finish();

protected:
    int_type overflow(int_type ch) override;
    std::streamsize xsputn(const char* s, std::streamsize n) override;
    int sync() override;

private:
    void pass(bool final);
    void emit(const std::string& clean, bool force);

    std::ostream& m_out;
    bool m_color;
    std::string m_pending;   // raw bytes not yet cleaned (a cut sequence)
    std::string m_line;      // cleaned text of a line that may be a "risk:" line (color only)
    bool m_mid = false;      // part of the current line is out already (color only)
};

// An ostream over a SafeTextBuf.
class SafeText final : public std::ostream {
public:
    SafeText(std::ostream& out, bool color) : std::ostream(nullptr), m_buf(out, color) { rdbuf(&m_buf); }
    ~SafeText() override { m_buf.finish(); }
    void finish() { m_buf.finish(); }

private:
    SafeTextBuf m_buf;
};

// While alive, Ctrl-C no longer ends the process outside a reply: it still stops what
// Interrupt::while_cancellable runs (a reply, a proposal, a running command), and otherwise only
// interrupts the blocking read it lands in (a confirmation prompt then counts as unanswered, so
// nothing runs); a second Ctrl-C there ends the process (exit 130), for work that cannot be
// stopped. The chat handles each line inside one, so one Ctrl-C never leaves it.
class InterruptScope {
public:
    InterruptScope();
    ~InterruptScope();
    InterruptScope(const InterruptScope&) = delete;
    InterruptScope& operator=(const InterruptScope&) = delete;
    // Whether Ctrl-C came outside a cancellable stretch while this scope was alive.
    static bool interrupted();

private:
    struct Saved;
    Saved* m_saved;
};

// Where the terminal chat keeps its input history: <data dir>/chat_history.
std::string chat_input_history_path();

} // namespace sigmaops::cli
