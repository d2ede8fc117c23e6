// journal.cpp - the local journal as a log source: journalctl -o json run as a child process
// (fork/exec with an argument vector, no shell), its stdout streamed into a LineReader.
//
// Why journalctl and not libsystemd's sd-journal: the remote path has to run journalctl anyway
// (a host has journalctl, not our program), so one output format - journalctl's JSON, which
// RecordParser already knows - serves both, with the same filter syntax (--since "yesterday",
// -p "warning..err") that users know from journalctl, and no new build dependency.
//
// Memory: a pipe's worth of journalctl's output (the kernel's 64 KiB) plus the reader's chunk;
// journalctl blocks when we do not read. stderr is drained alongside stdout (so journalctl never
// blocks on it) and its first 4 KiB kept for the error message.
#include "logs_internal.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace sigmaops::logs {

std::vector<std::string> journalctl_argv(const JournalQuery& q) {
    std::vector<std::string> words = {"journalctl", "--output=json", "--no-pager", "--all"};
    if (!q.file.empty()) words.push_back("--file=" + q.file);
    if (!q.directory.empty()) words.push_back("--directory=" + q.directory);
    for (const std::string& u : q.units) words.push_back("--unit=" + u);
    if (!q.since.empty()) words.push_back("--since=" + q.since);
    if (!q.until.empty()) words.push_back("--until=" + q.until);
    if (!q.priority.empty()) words.push_back("--priority=" + q.priority);
    return words;
}

std::string shell_quote(std::string_view word) {
    std::string out = "'";
    for (char c : word) {
        if (c == '\'') out += "'\\''";
        else out.push_back(c);
    }
    return out + "'";
}

namespace {

constexpr std::size_t k_max_stderr = 4096;

// The first line of journalctl's complaint, without the trailing newline.
std::string first_lines(const std::string& text, std::size_t max_lines = 3) {
    std::string out;
    std::size_t start = 0;
    for (std::size_t n = 0; n < max_lines && start < text.size(); ++n) {
        std::size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        std::string line = text.substr(start, nl - start);
        start = nl + 1;
        if (line.empty()) { --n; continue; }
        std::string cleaned;
        clean_line(line, cleaned);
        out += (out.empty() ? "" : "; ") + cleaned;
    }
    return out;
}

// The error journalctl's message and exit status stand for. `where` names the journal
// ("journal file /x.journal", "the journal of web1").
Error journalctl_error(const std::string& where, int status, const std::string& err) {
    const std::string msg = first_lines(err);
    if (msg.find("Failed to parse timestamp") != std::string::npos || msg.find("Failed to parse priority") != std::string::npos ||
        msg.find("Failed to parse") != std::string::npos)
        return Error{ErrorCode::InvalidArgument, "journalctl rejected a filter for " + where + ": " + msg};
    return Error{ErrorCode::BadFile, "journalctl could not read " + where + " (exit status " + std::to_string(status) + ")" +
                                         (msg.empty() ? "" : ": " + msg)};
}

bool has_journal_files(const std::filesystem::path& dir) {
    std::error_code ec;
    for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it.depth() > 2) { it.disable_recursion_pending(); continue; }
        const std::string name = it->path().filename().string();
        if (name.size() > 8 && (name.ends_with(".journal") || name.ends_with(".journal~"))) return true;
    }
    return false;
}

std::string pid1_name() {
    std::FILE* f = std::fopen("/proc/1/comm", "r");
    if (!f) return "unknown";
    char buf[64] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    std::string s(buf, n);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s.empty() ? "unknown" : s;
}

// journalctl as a child process; read() is its stdout.
class JournalProcess final : public ByteSource {
public:
    JournalProcess(pid_t pid, int out_fd, int err_fd, std::string where, const std::atomic<bool>* cancel)
        : m_pid(pid), m_out(out_fd), m_err(err_fd), m_where(std::move(where)), m_cancel(cancel) {}
    ~JournalProcess() override {
        close_fds();
        stop();
    }

    long read(char* buf, std::size_t n) override {
        if (m_failed) return -1;
        if (m_out < 0) return 0;
        for (;;) {
            if (m_cancel && m_cancel->load(std::memory_order_relaxed)) {
                m_error = Error{ErrorCode::Cancelled, "reading " + m_where + " was cancelled"};
                m_failed = true;
                close_fds();
                stop();
                return -1;
            }
            pollfd fds[2] = {{m_out, POLLIN, 0}, {m_err, POLLIN, 0}};
            const int rc = ::poll(fds, m_err >= 0 ? 2 : 1, 200);
            if (rc < 0 && errno != EINTR) {
                m_error = Error{ErrorCode::Io, "reading " + m_where + ": poll: " + std::strerror(errno)};
                m_failed = true;
                return -1;
            }
            if (rc <= 0) continue;
            if (m_err >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) drain_stderr();
            if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                const ssize_t k = ::read(m_out, buf, n);
                if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
                if (k < 0) {
                    m_error = Error{ErrorCode::Io, "reading " + m_where + ": " + std::strerror(errno)};
                    m_failed = true;
                    return -1;
                }
                if (k > 0) return long(k);
                finish();   // EOF on stdout: collect stderr, reap the child
                return 0;
            }
        }
    }

    std::optional<Error> error() override { return m_error; }

private:
    void drain_stderr() {
        char buf[4096];
        const ssize_t k = ::read(m_err, buf, sizeof buf);
        if (k <= 0) {
            if (k == 0 || (errno != EINTR && errno != EAGAIN)) { ::close(m_err); m_err = -1; }
            return;
        }
        if (m_stderr.size() < k_max_stderr) m_stderr.append(buf, std::min<std::size_t>(std::size_t(k), k_max_stderr - m_stderr.size()));
    }

    void finish() {
        ::close(m_out);
        m_out = -1;
        while (m_err >= 0) drain_stderr();   // journalctl has closed stdout; stderr ends with it
        int status = 0;
        while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {}
        m_pid = -1;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
        if (WIFEXITED(status)) m_error = journalctl_error(m_where, WEXITSTATUS(status), m_stderr);
        else m_error = Error{ErrorCode::Io, "journalctl was killed by signal " + std::to_string(WTERMSIG(status)) + " while reading " + m_where};
    }

    void close_fds() {
        if (m_out >= 0) ::close(m_out);
        if (m_err >= 0) ::close(m_err);
        m_out = m_err = -1;
    }

    // Stops the child if it still runs: TERM, KILL after a second; always reaped.
    void stop() {
        if (m_pid <= 0) return;
        ::kill(m_pid, SIGTERM);
        int status = 0;
        for (int i = 0; i < 100; ++i) {
            const pid_t r = ::waitpid(m_pid, &status, WNOHANG);
            if (r == m_pid || (r < 0 && errno != EINTR)) { m_pid = -1; return; }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ::kill(m_pid, SIGKILL);
        while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {}
        m_pid = -1;
    }

    pid_t m_pid;
    int m_out, m_err;
    std::string m_where;
    const std::atomic<bool>* m_cancel;
    std::string m_stderr;
    std::optional<Error> m_error;
    bool m_failed = false;
};

} // namespace

Expected<LineReader> open_journal(const JournalQuery& query, ReadOptions options, const std::atomic<bool>* cancel) {
    namespace fs = std::filesystem;
    std::string where = "the system journal";
    std::error_code ec;
    if (!query.file.empty()) {
        if (!fs::exists(query.file, ec)) return unexpected(ErrorCode::NotFound, "no such journal file: " + query.file);
        if (fs::is_directory(query.file, ec))
            return unexpected(ErrorCode::InvalidArgument, query.file + " is a directory: read it with --journal-dir");
        where = "journal file " + query.file;
    } else if (!query.directory.empty()) {
        if (!fs::is_directory(query.directory, ec)) return unexpected(ErrorCode::NotFound, "no such journal directory: " + query.directory);
        if (!has_journal_files(query.directory))
            return unexpected(ErrorCode::NotFound, "no journal files (*.journal) in " + query.directory);
        where = "journal directory " + query.directory;
    } else if (!has_journal_files("/var/log/journal") && !has_journal_files("/run/log/journal")) {
        const bool systemd = fs::is_directory("/run/systemd/system", ec);
        return unexpected(ErrorCode::NotFound,
                          std::string("this machine has no system journal: /var/log/journal and /run/log/journal hold no journal files") +
                              (systemd ? " (systemd-journald keeps none here)" : " (PID 1 is " + pid1_name() + ", not systemd)") +
                              "; read journal files with --journal-file FILE or --journal-dir DIR, or a host's journal with --host H");
    }

    const std::vector<std::string> args = journalctl_argv(query);
    std::vector<char*> words;
    for (const std::string& a : args) words.push_back(const_cast<char*>(a.c_str()));
    words.push_back(nullptr);

    int out[2], err[2], exec_err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return unexpected(ErrorCode::Io, std::string("pipe: ") + std::strerror(errno));
    if (::pipe2(err, O_CLOEXEC) != 0) {
        ::close(out[0]); ::close(out[1]);
        return unexpected(ErrorCode::Io, std::string("pipe: ") + std::strerror(errno));
    }
    if (::pipe2(exec_err, O_CLOEXEC) != 0) {
        for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
        return unexpected(ErrorCode::Io, std::string("pipe: ") + std::strerror(errno));
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        for (int fd : {out[0], out[1], err[0], err[1], exec_err[0], exec_err[1]}) ::close(fd);
        return unexpected(ErrorCode::Io, std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        // The child: only async-signal-safe calls from here to exec.
        const int nul = ::open("/dev/null", O_RDONLY);
        if (nul >= 0) ::dup2(nul, 0);
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        ::signal(SIGPIPE, SIG_DFL);
        ::execvp(words[0], words.data());
        const int e = errno;
        (void)!::write(exec_err[1], &e, sizeof e);
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    ::close(exec_err[1]);
    int exec_errno = 0;
    ssize_t k;
    while ((k = ::read(exec_err[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {}
    ::close(exec_err[0]);
    if (k == sizeof exec_errno) {   // exec failed: the child has exited
        ::close(out[0]);
        ::close(err[0]);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        if (exec_errno == ENOENT)
            return unexpected(ErrorCode::Unsupported, "journalctl is not installed (it comes with systemd); read log files instead");
        return unexpected(ErrorCode::Io, std::string("cannot run journalctl: ") + std::strerror(exec_errno));
    }
    std::string name = !query.file.empty() ? "journal:" + query.file : !query.directory.empty() ? "journal:" + query.directory : "journal";
    auto source = std::make_unique<JournalProcess>(pid, out[0], err[0], where, cancel);
    return LineReader::from_source(std::move(source), std::move(name), options);
}

namespace {

std::string joined_units(const std::vector<std::string>& units) {
    std::string s;
    for (const std::string& u : units) s += (s.empty() ? "" : ",") + u;
    return s;
}

} // namespace

std::string detail::journal_source_name(const JournalQuery& q) {
    const std::string where = !q.file.empty() ? q.file : q.directory;
    std::string name = where.empty() ? "journal" : "journal:" + where;
    if (!q.units.empty()) name += ":" + joined_units(q.units);
    return name;
}

Source journal_source(const JournalQuery& query, ReadOptions options, const std::atomic<bool>* cancel) {
    Source src;
    src.name = detail::journal_source_name(query);
    src.label = "journal";
    auto r = open_journal(query, options, cancel);
    if (r) src.reader.emplace(std::move(*r));
    else src.error = r.error();
    return src;
}

} // namespace sigmaops::logs
