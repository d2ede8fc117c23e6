// lineedit.cpp - the terminal chat's input line (libedit) and its screen-safe output (lineedit.h).
//
// libedit (Debian's libedit2, BSD licence) through its readline-compatible API rather than GNU
// readline (GPL) or a line editor of our own. Ctrl-C: libedit's own signal handling is off
// (rl_catch_signals = 0; it would re-send the signal to the whole process group); while a line
// is read a handler of ours only notes the signal, the read() under el_gets fails with EINTR,
// libedit empties the line and readline() returns NULL, which the note tells apart from Ctrl-D.
#include "lineedit.h"
#include "common.h"

#include <base/paths.h>
#include <commands/commands.h>
#include <logs/logs.h>

#include <editline/readline.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>
#include <vector>

namespace sigmaops::cli {

namespace {

namespace fs = std::filesystem;

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// A run of at least `n` characters of [A-Za-z0-9_-] starting at s[i].
bool token_run(std::string_view s, std::size_t i, std::size_t n) {
    std::size_t k = i;
    while (k < s.size() && (std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '_' || s[k] == '-')) ++k;
    return k - i >= n;
}

// ---- libedit's global state -------------------------------------------------------------------

volatile std::sig_atomic_t g_interrupted = 0;
std::vector<std::string>* g_completions = nullptr;

extern "C" void note_sigint(int) { g_interrupted = 1; }

// Ctrl-C while a line is handled: what Interrupt's handler does during a cancellable stretch,
// otherwise a note (the blocking read it interrupts fails with EINTR); a second one outside a
// cancellable stretch ends the process as before (work that cannot be stopped, a hung connect).
extern "C" void stop_or_note_sigint(int) {
    if (Interrupt::generating.load()) {
        Interrupt::cancel = true;
    } else if (g_interrupted) {
        const char nl[] = "\n";
        (void)!::write(STDOUT_FILENO, nl, 1);
        ::_exit(130);
    } else {
        g_interrupted = 1;
    }
}

// Tab: the chat's commands at the start of a line; file names after a command (/diagnose FILE);
// nothing in a message.
char* complete_command(const char* text, int state) {
    static std::size_t next = 0;
    if (state == 0) next = 0;
    if (!g_completions) return nullptr;
    const std::size_t len = std::strlen(text);
    while (next < g_completions->size()) {
        const std::string& c = (*g_completions)[next++];
        if (c.compare(0, len, text) == 0) return ::strdup(c.c_str());
    }
    return nullptr;
}

char** complete(const char* text, int start, int /*end*/) {
    rl_attempted_completion_over = 1;
    if (start == 0) return text[0] == '/' ? rl_completion_matches(text, complete_command) : nullptr;
    if (rl_line_buffer && rl_line_buffer[0] == '/') rl_attempted_completion_over = 0;   // file names
    return nullptr;
}

// The UTF-8 locale libedit needs to edit non-ASCII text: the environment's, else C.UTF-8.
void use_utf8_ctype() {
    const char* got = std::setlocale(LC_CTYPE, "");
    if (!got || std::strcmp(got, "C") == 0 || std::strcmp(got, "POSIX") == 0) std::setlocale(LC_CTYPE, "C.UTF-8");
}

// ---- escape sequences cut between writes -----------------------------------------------------

// How a stream cleaner (commands::clean_output) reads bytes, so that a piece can be cut where
// cleaning the part before the cut gives what cleaning the whole text would: the same rules as
// agents/commands/display.cpp, which keeps its streaming variant private.

// The length of a valid UTF-8 sequence at s[i] (1..4), 0 when invalid, -1 when cut off by the end.
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
        if (i + std::size_t(k) >= s.size()) return -1;
        const auto b = static_cast<unsigned char>(s[i + std::size_t(k)]);
        if ((b & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

// The length of the escape sequence at s[i] (s[i] == ESC); -1 when cut off by the end.
long escape_length(std::string_view s, std::size_t i) {
    if (i + 1 >= s.size()) return -1;
    const char c = s[i + 1];
    std::size_t j = i + 2;
    if (c == '[') {   // CSI: parameters, intermediates, a final byte
        for (; j < s.size(); ++j) {
            const auto b = static_cast<unsigned char>(s[j]);
            if (b >= 0x40 && b <= 0x7E) return long(j + 1 - i);
            if (b < 0x20 || b > 0x3F) {
                if (b < 0x20 || b > 0x2F) return long(j - i);   // malformed: ends before this byte
            }
        }
        return -1;
    }
    if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {   // a string: until BEL or ESC backslash
        for (; j < s.size(); ++j) {
            if (s[j] == '\x07') return long(j + 1 - i);
            if (s[j] == '\x1b') {
                if (j + 1 >= s.size()) return -1;
                if (s[j + 1] == '\\') return long(j + 2 - i);
            }
        }
        return -1;
    }
    if (c >= 0x20 && c <= 0x2F) {   // intermediates, then a final byte
        for (; j < s.size(); ++j)
            if (static_cast<unsigned char>(s[j]) >= 0x30) return long(j + 1 - i);
        return -1;
    }
    return 2;
}

// The index of the byte that makes the UTF-8 sequence at s[i] invalid (the first byte that is
// not a continuation), or i when the lead byte itself is invalid or the decoded value is.
std::size_t utf8_offender(std::string_view s, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    const int n = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
    if (b0 < 0xC2 || b0 > 0xF4) return i;
    for (int k = 1; k < n && i + std::size_t(k) < s.size(); ++k)
        if ((static_cast<unsigned char>(s[i + std::size_t(k)]) & 0xC0) != 0x80) return i + std::size_t(k);
    return i;
}

// How many bytes of `s` can be cleaned now, so that cleaning them alone gives what cleaning the
// whole stream would: all but an escape sequence, a \r or a UTF-8 character cut off by the end
// (an unfinished sequence 4096 bytes long is dropped, as clean_output does), and a broken UTF-8
// sequence whose breaking byte lies in what is held.
std::size_t ready_bytes(std::string_view s) {
    std::vector<std::pair<std::size_t, std::size_t>> broken;   // (start, breaking byte)
    std::size_t i = 0, ready = s.size();
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b == 0x1b) {
            const long n = escape_length(s, i);
            if (n < 0) {
                ready = s.size() - i < 4096 ? i : s.size();
                break;
            }
            i += std::size_t(n);
            continue;
        }
        if (b == '\r' && i + 1 >= s.size()) {
            ready = i;
            break;
        }
        if (b < 0x80) { ++i; continue; }
        const int n = utf8_length(s, i);
        if (n < 0) {
            ready = i;
            break;
        }
        if (n == 0) {
            if (const std::size_t o = utf8_offender(s, i); o > i) broken.emplace_back(i, o);
            ++i;
            continue;
        }
        i += std::size_t(n);
    }
    for (auto it = broken.rbegin(); it != broken.rend(); ++it)
        if (it->first < ready && it->second >= ready) ready = it->first;
    return ready;
}

constexpr std::string_view k_risk_names[] = {"read-only", "changes-files", "changes-system", "unknown", "destructive",
                                             "irreversible"};

// `line` (no colour in it yet) with the risk name after a leading "risk:" coloured.
std::string color_risk_line(const std::string& line) {
    const std::size_t lead = line.find_first_not_of(" \t");
    if (lead == std::string::npos || line.compare(lead, 5, "risk:") != 0) return line;
    const std::size_t name = line.find_first_not_of(' ', lead + 5);
    if (name == std::string::npos) return line;
    for (std::string_view r : k_risk_names) {
        if (line.compare(name, r.size(), r) != 0) continue;
        const std::size_t after = name + r.size();
        if (after < line.size() && (std::isalnum(static_cast<unsigned char>(line[after])) || line[after] == '-')) continue;
        return line.substr(0, name) + colored_risk(r) + line.substr(after);
    }
    return line;
}

// Whether `line` (the start of a line) is or may become "  risk: ...".
bool may_be_risk_line(std::string_view line) {
    const std::size_t lead = line.find_first_not_of(" \t");
    if (lead == std::string_view::npos) return true;
    const std::string_view rest = line.substr(lead);
    constexpr std::string_view key = "risk:";
    return rest.size() < key.size() ? key.substr(0, rest.size()) == rest : rest.substr(0, key.size()) == key;
}

} // namespace

bool looks_secret(std::string_view line) {
    if (logs::mask_secrets(line) != line) return true;
    const std::string l = lower(line);
    static constexpr std::string_view words[] = {"password", "passwd", "passphrase", "passcode", "token",  "secret",
                                                 "api_key",  "apikey", "api-key",    "private key", "private_key",
                                                 "credential", "bearer ", "authorization", "sshpass", "-----begin"};
    for (std::string_view w : words)
        if (l.find(w) != std::string::npos) return true;
    // Credential shapes: AWS access key ids, GitHub tokens, OpenAI/Anthropic-style keys, Slack tokens.
    for (std::size_t i = 0; i < line.size(); ++i) {
        const std::string_view at = line.substr(i);
        if ((at.rfind("AKIA", 0) == 0 || at.rfind("ASIA", 0) == 0) && token_run(line, i, 20)) return true;
        if ((at.rfind("ghp_", 0) == 0 || at.rfind("gho_", 0) == 0 || at.rfind("ghs_", 0) == 0 ||
             at.rfind("github_pat_", 0) == 0 || at.rfind("glpat-", 0) == 0) && token_run(line, i, 20))
            return true;
        if ((at.rfind("sk-", 0) == 0 || at.rfind("xoxb-", 0) == 0 || at.rfind("xoxp-", 0) == 0) && token_run(line, i, 24))
            return true;
    }
    return false;
}

bool color_wanted(const Io& io) {
    return &io.out == &std::cout && ::isatty(STDOUT_FILENO) == 1 && color_allowed_by_env();
}

std::string chat_input_history_path() { return AppPaths::resolve().data_dir + "/chat_history"; }

// ---- LineEditor -------------------------------------------------------------------------------

LineEditor::LineEditor(Io& io, LineEditorOptions options) : m_io(io), m_options(std::move(options)) {
    m_interactive = &io.in == &std::cin && ::isatty(STDIN_FILENO) == 1;
    if (!m_interactive) return;
    use_utf8_ctype();
    rl_readline_name = const_cast<char*>("sigmaops");
    rl_catch_signals = 0;   // read before libedit starts: no handlers of its own
    g_completions = &m_options.completions;
    rl_attempted_completion_function = complete;
    rl_initialize();
    using_history();
    stifle_history(int(std::max<std::size_t>(1, m_options.history_max)));
    if (m_options.history_file.empty()) return;
    std::error_code ec;
    if (!fs::exists(m_options.history_file, ec)) return;
    if (read_history(m_options.history_file.c_str()) != 0)
        m_note = "cannot read the input history " + m_options.history_file + ": " + std::strerror(errno);
    if (history_length > 0)
        if (HIST_ENTRY* last = history_get(history_base + history_length - 1); last && last->line) m_last = last->line;
}

LineEditor::~LineEditor() {
    if (!m_interactive) return;
    g_completions = nullptr;
    rl_attempted_completion_function = nullptr;
}

LineEditor::Input LineEditor::read(const std::string& prompt) {
    Input in;
    if (!m_interactive) {
        m_io.out << prompt << std::flush;
        if (std::getline(m_io.in, in.text)) in.status = Status::Line;
        return in;
    }
    std::cout << std::flush;
    struct sigaction note{}, old{};
    note.sa_handler = note_sigint;
    sigemptyset(&note.sa_mask);
    note.sa_flags = 0;   // no SA_RESTART: the read under el_gets must fail with EINTR
    g_interrupted = 0;
    ::sigaction(SIGINT, &note, &old);
    char* line = ::readline(prompt.c_str());
    ::sigaction(SIGINT, &old, nullptr);
    if (g_interrupted) {
        std::free(line);
        in.status = Status::Interrupted;
        return in;
    }
    if (!line) return in;
    in.status = Status::Line;
    in.text = line;
    std::free(line);
    return in;
}

bool LineEditor::remember(const std::string& line) {
    if (!m_interactive) return false;
    if (line.find_first_not_of(" \t") == std::string::npos || line == m_last || looks_secret(line)) return false;
    add_history(line.c_str());
    m_last = line;
    save();
    return true;
}

void LineEditor::save() {
    if (m_options.history_file.empty()) return;
    const fs::path file(m_options.history_file);
    std::error_code ec;
    if (file.has_parent_path() && !fs::exists(file.parent_path(), ec)) {
        fs::create_directories(file.parent_path(), ec);
        if (!ec) ::chmod(file.parent_path().c_str(), 0700);
    }
    // A temporary file of mode 0600 beside it, then rename: never a half-written or readable file.
    std::string tmp = m_options.history_file + ".XXXXXX";
    const int fd = ::mkstemp(tmp.data());
    if (fd < 0) {
        m_note = "cannot write the input history " + m_options.history_file + ": " + std::strerror(errno);
        return;
    }
    ::close(fd);
    const int rc = write_history(tmp.c_str());
    if (rc != 0 || ::chmod(tmp.c_str(), 0600) != 0 || ::rename(tmp.c_str(), m_options.history_file.c_str()) != 0) {
        m_note = "cannot write the input history " + m_options.history_file + ": " + std::strerror(rc > 0 ? rc : errno);
        ::unlink(tmp.c_str());
        return;
    }
    m_note.clear();
}

// ---- InterruptScope ---------------------------------------------------------------------------

struct InterruptScope::Saved {
    struct sigaction old {};
};

InterruptScope::InterruptScope() : m_saved(new Saved) {
    struct sigaction sa{};
    sa.sa_handler = stop_or_note_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;   // no SA_RESTART: a read waiting for an answer returns
    g_interrupted = 0;
    ::sigaction(SIGINT, &sa, &m_saved->old);
}

InterruptScope::~InterruptScope() {
    ::sigaction(SIGINT, &m_saved->old, nullptr);
    delete m_saved;
}

bool InterruptScope::interrupted() { return g_interrupted != 0; }

// ---- SafeTextBuf ------------------------------------------------------------------------------

SafeTextBuf::int_type SafeTextBuf::overflow(int_type ch) {
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    const char c = traits_type::to_char_type(ch);
    xsputn(&c, 1);
    return ch;
}

std::streamsize SafeTextBuf::xsputn(const char* s, std::streamsize n) {
    m_pending.append(s, std::size_t(n));
    pass(false);
    return n;
}

int SafeTextBuf::sync() {
    pass(false);
    emit("", true);
    m_out.flush();
    return 0;
}

void SafeTextBuf::finish() {
    pass(true);
    emit("", true);
    m_out.flush();
}

void SafeTextBuf::pass(bool final) {
    if (m_pending.empty()) return;
    const std::size_t ready = final ? m_pending.size() : ready_bytes(m_pending);
    if (ready == 0) return;
    const std::string clean = commands::clean_output(std::string_view(m_pending).substr(0, ready));
    m_pending.erase(0, ready);
    emit(clean, false);
}

void SafeTextBuf::emit(const std::string& clean, bool force) {
    if (!m_color) {
        m_out << clean;
        return;
    }
    // Whole lines go out at once; the start of a line is held only while it may become a
    // "risk: NAME" line (until its end or a flush).
    m_line += clean;
    for (;;) {
        const std::size_t nl = m_line.find('\n');
        if (nl == std::string::npos) {
            if (m_line.empty() || (!m_mid && !force && may_be_risk_line(m_line))) return;
            m_out << (m_mid ? m_line : color_risk_line(m_line));
            m_mid = true;
            m_line.clear();
            return;
        }
        const std::string line = m_line.substr(0, nl + 1);
        m_out << (m_mid ? line : color_risk_line(line));
        m_mid = false;
        m_line.erase(0, nl + 1);
    }
}

} // namespace sigmaops::cli
