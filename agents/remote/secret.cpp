// remote/secret.cpp - SecretString (wiped memory), the terminal Prompter and the log sink.
#include <remote/remote.h>
#include "internal.h"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>

namespace sigmaops::remote {

// --- SecretString -----------------------------------------------------------------------------

SecretString::SecretString(SecretString&& o) noexcept
    : m_buf(std::move(o.m_buf)), m_size(o.m_size), m_cap(o.m_cap) {
    o.m_size = o.m_cap = 0;
}

SecretString& SecretString::operator=(SecretString&& o) noexcept {
    if (this != &o) {
        clear();
        m_buf = std::move(o.m_buf);
        m_size = o.m_size;
        m_cap = o.m_cap;
        o.m_size = o.m_cap = 0;
    }
    return *this;
}

void SecretString::clear() {
    if (m_buf) explicit_bzero(m_buf.get(), m_cap + 1);
    m_buf.reset();
    m_size = m_cap = 0;
}

void SecretString::reserve(std::size_t n) {
    if (n <= m_cap && m_buf) return;
    std::size_t cap = std::max<std::size_t>(n, 32);
    auto buf = std::make_unique<char[]>(cap + 1);
    if (m_buf) {
        memcpy(buf.get(), m_buf.get(), m_size);
        explicit_bzero(m_buf.get(), m_cap + 1);
    }
    buf[m_size] = '\0';
    m_buf = std::move(buf);
    m_cap = cap;
}

void SecretString::assign(std::string_view s) {
    clear();
    reserve(s.size());
    memcpy(m_buf.get(), s.data(), s.size());
    m_size = s.size();
    m_buf[m_size] = '\0';
}

void SecretString::push_back(char c) {
    if (m_size + 1 > m_cap) reserve(m_cap * 2 + 1);
    m_buf[m_size++] = c;
    m_buf[m_size] = '\0';
}

// --- TerminalPrompter ---------------------------------------------------------------------------

namespace {

// An open /dev/tty, closed in the destructor; echo restored if it was turned off.
class Tty {
public:
    Tty() : m_fd(::open("/dev/tty", O_RDWR | O_CLOEXEC)) {}
    ~Tty() {
        if (m_echo_off) tcsetattr(m_fd, TCSAFLUSH, &m_saved);
        if (m_fd >= 0) ::close(m_fd);
    }
    Tty(const Tty&) = delete;
    Tty& operator=(const Tty&) = delete;
    bool ok() const { return m_fd >= 0; }
    void write(const std::string& s) {
        std::size_t off = 0;
        while (off < s.size()) {
            ssize_t n = ::write(m_fd, s.data() + off, s.size() - off);
            if (n <= 0) return;
            off += static_cast<std::size_t>(n);
        }
    }
    bool echo_off() {
        if (tcgetattr(m_fd, &m_saved) != 0) return false;
        termios t = m_saved;
        t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        t.c_lflag |= ECHONL;
        if (tcsetattr(m_fd, TCSAFLUSH, &t) != 0) return false;
        m_echo_off = true;
        return true;
    }
    // Reads one line into `out` (without the newline). False on EOF before any byte.
    bool read_line(SecretString& out) {
        out.clear();
        char c = 0;
        bool any = false;
        while (true) {
            ssize_t n = ::read(m_fd, &c, 1);
            if (n <= 0) return any;
            any = true;
            if (c == '\n' || c == '\r') return true;
            out.push_back(c);
        }
    }

private:
    int m_fd;
    termios m_saved{};
    bool m_echo_off = false;
};

}  // namespace

bool TerminalPrompter::confirm_host_key(const std::string& host, int port, const std::string& key_type,
                                        const std::string& fingerprint) {
    Tty tty;
    if (!tty.ok()) return false;
    tty.write("The authenticity of host '" + host + "' (port " + std::to_string(port) +
              ") can't be established.\n" + key_type + " key fingerprint is " + fingerprint +
              ".\nAre you sure you want to continue connecting (yes/no)? ");
    SecretString answer;
    if (!tty.read_line(answer)) return false;
    return answer.view() == "yes";
}

std::optional<SecretString> TerminalPrompter::ask_secret(SecretKind, const std::string& prompt) {
    Tty tty;
    if (!tty.ok()) return std::nullopt;
    tty.write(prompt);
    if (!tty.echo_off()) return std::nullopt;  // never read a secret with echo on
    SecretString s;
    if (!tty.read_line(s)) return std::nullopt;
    return s;
}

void TerminalPrompter::notify(const std::string& message) {
    Tty tty;
    if (tty.ok()) tty.write(message + "\n");
    else std::fprintf(stderr, "%s\n", message.c_str());
}

// --- logging ----------------------------------------------------------------------------------

namespace {
std::mutex g_log_mutex;
LogSink g_log_sink;
int g_log_level = 0;

void libssh_log_cb(int priority, const char* function, const char* buffer, void*) {
    std::string msg = std::string("libssh: ") + (function ? function : "") + ": " + (buffer ? buffer : "");
    std::lock_guard<std::mutex> lock(g_log_mutex);
    if (g_log_sink && priority <= g_log_level) g_log_sink(priority, msg);
}
}  // namespace

void set_log_sink(LogSink sink, int level) {
    {
        std::lock_guard<std::mutex> lock(g_log_mutex);
        g_log_sink = std::move(sink);
        g_log_level = g_log_sink ? level : 0;
    }
    ssh_set_log_callback(libssh_log_cb);
    ssh_set_log_level(level);
}

int log_level() {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    return g_log_level;
}

void log(int level, const std::string& message) {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    if (g_log_sink && level <= g_log_level) g_log_sink(level, "sigmaops: " + message);
}

}  // namespace sigmaops::remote
