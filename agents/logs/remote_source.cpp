// remote_source.cpp - a host's journal or log file as a log source, over agents/remote's SSH.
//
// SshSession::exec is blocking and delivers output through a callback; the reader pulls. So the
// command runs on a thread of the source's own and its callback moves stdout into a bounded
// buffer (k_buffer_bytes) that read() drains. When the buffer is full the callback waits: libssh
// stops reading, the SSH channel's window closes, and the remote `cat`/journalctl blocks on its
// pipe. Memory is the buffer plus the reader's chunk whatever the size of the remote file, and a
// reader that stops early (or is cancelled) makes the callback return false, which stops the
// remote command (SshSession sends TERM, then KILL).
//
// The remote command runs through the login shell, so every argument is shell-quoted. LC_ALL=C
// keeps the host's error messages in English, which the error classification below reads.
#include "logs_internal.h"
#include <remote/remote.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

namespace sigmaops::logs {

namespace {

constexpr std::size_t k_buffer_bytes = 1 << 20;
constexpr std::size_t k_max_stderr = 4096;

std::string clean_text(std::string_view text, std::size_t max_lines = 3) {
    std::string out;
    std::size_t start = 0;
    for (std::size_t n = 0; n < max_lines && start < text.size();) {
        std::size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos) nl = text.size();
        const std::string_view line = text.substr(start, nl - start);
        start = nl + 1;
        if (line.empty()) continue;
        std::string cleaned;
        clean_line(line, cleaned);
        out += (out.empty() ? "" : "; ") + cleaned;
        ++n;
    }
    return out;
}

bool contains(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }

class RemoteStream final : public ByteSource {
public:
    RemoteStream(std::shared_ptr<remote::SshSession> session, RemoteQuery query, std::uint64_t size_hint,
                 const std::atomic<bool>* cancel)
        : m_session(std::move(session)), m_query(std::move(query)), m_size_hint(size_hint), m_cancel(cancel) {
        m_host = m_session->host().name.empty() ? m_session->host().hostname : m_session->host().name;
        m_thread = std::thread([this] { run(); });
    }
    ~RemoteStream() override {
        {
            std::lock_guard lock(m_mutex);
            request_stop();
        }
        m_thread.join();
    }

    long read(char* buf, std::size_t n) override {
        std::unique_lock lock(m_mutex);
        for (;;) {
            if (m_cancel && m_cancel->load(std::memory_order_relaxed) && !m_stop) {
                request_stop();
                m_cancelled = true;
                m_failure = Error{ErrorCode::Cancelled, "reading " + where() + " was cancelled"};
            }
            if (m_cancelled) return -1;
            if (!m_chunks.empty()) break;   // what came before a failure is read first
            if (m_failure) return -1;
            if (m_done) return 0;
            m_cv.wait_for(lock, std::chrono::milliseconds(200));
        }
        std::size_t k = 0;
        while (k < n && !m_chunks.empty()) {
            std::string& front = m_chunks.front();
            const std::size_t take = std::min(n - k, front.size() - m_front_pos);
            std::memcpy(buf + k, front.data() + m_front_pos, take);
            k += take;
            m_front_pos += take;
            if (m_front_pos == front.size()) {
                m_chunks.pop_front();
                m_front_pos = 0;
            }
        }
        m_buffered -= k;
        m_cv.notify_all();   // room for the callback
        return long(k);
    }

    std::optional<Error> error() override {
        std::lock_guard lock(m_mutex);
        return m_failure ? m_failure : m_end_error;
    }

    std::uint64_t size_hint() const override { return m_size_hint; }

private:
    // Stops the remote command: the callback returns false, exec's cancel flag is set. m_mutex held.
    void request_stop() {
        m_stop = true;
        m_stop_flag.store(true);
        m_cv.notify_all();
    }

    std::string where() const {
        return m_query.journal ? (m_query.journal->file.empty() ? "the journal of " + m_host : m_host + ":" + m_query.journal->file)
                               : m_host + ":" + m_query.file;
    }

    // The exec thread.
    void run() {
        remote::ExecOptions eo;
        eo.collect_output = false;
        eo.max_output_bytes = std::numeric_limits<std::size_t>::max();
        eo.cancel = &m_stop_flag;
        eo.on_output = [this](remote::Stream stream, std::string_view bytes) {
            std::unique_lock lock(m_mutex);
            if (stream == remote::Stream::Stderr) {
                if (m_stderr.size() < k_max_stderr) m_stderr.append(bytes.substr(0, k_max_stderr - m_stderr.size()));
                return !m_stop;
            }
            m_cv.wait(lock, [&] { return m_stop || m_buffered < k_buffer_bytes; });
            if (m_stop) return false;
            m_chunks.emplace_back(bytes);
            m_buffered += bytes.size();
            m_cv.notify_all();
            return true;
        };
        auto result = m_session->exec(remote_command(m_query), eo);
        std::lock_guard lock(m_mutex);
        m_done = true;
        if (!result) {
            if (!m_stop) m_failure = Error{result.error().code, "reading " + where() + ": " + result.error().message};
        } else if (!m_stop) {
            m_end_error = classify(*result);
        }
        m_cv.notify_all();
    }

    // What the remote command's end means: nullopt when all is well.
    std::optional<Error> classify(const remote::ExecResult& r) const {
        const std::string err = clean_text(m_stderr);
        const bool ok = r.exit_status && *r.exit_status == 0;
        if (m_query.journal) {
            if ((r.exit_status && *r.exit_status == 127) || contains(err, "journalctl: not found") ||
                contains(err, "journalctl: command not found"))
                return Error{ErrorCode::Unsupported, m_host + " has no journalctl (not a systemd host?); read a log file there with "
                                                              "--file PATH (e.g. /var/log/syslog)"};
            if (contains(err, "No journal files were found")) {
                const JournalQuery& q = *m_query.journal;
                return Error{ErrorCode::NotFound,
                             m_host + " has no journal files " +
                                 (!q.file.empty() ? "at " + q.file
                                  : !q.directory.empty() ? "in " + q.directory
                                                         : "in /var/log/journal or /run/log/journal (not a systemd host, or journald "
                                                           "keeps no files); read a log file there with --file PATH")};
            }
            if (ok) return std::nullopt;
            if (contains(err, "Failed to parse"))
                return Error{ErrorCode::InvalidArgument, "journalctl on " + m_host + " rejected a filter: " + err};
            if (contains(err, "No such file or directory") && !m_query.journal->file.empty())
                return Error{ErrorCode::NotFound, m_host + ": no such journal file: " + m_query.journal->file};
        } else {
            if (ok) return std::nullopt;
            if (contains(err, "No such file or directory"))
                return Error{ErrorCode::NotFound, m_host + ": no such file: " + m_query.file};
            if (contains(err, "Permission denied"))
                return Error{ErrorCode::Io, m_host + ": permission denied reading " + m_query.file + " (user " +
                                                (m_session->host().user.empty() ? "?" : m_session->host().user) +
                                                " may not read it; logs are often readable by the adm group or root)"};
            if (contains(err, "Is a directory"))
                return Error{ErrorCode::InvalidArgument, m_host + ": " + m_query.file + " is a directory, not a log file"};
        }
        if (r.exit_status)
            return Error{ErrorCode::Io, "reading " + where() + " failed (exit status " + std::to_string(*r.exit_status) + ")" +
                                            (err.empty() ? "" : ": " + err)};
        return Error{ErrorCode::Io, "reading " + where() + " failed: the remote command " +
                                        (r.exit_signal.empty() ? "gave no exit status" : "died of signal " + r.exit_signal) +
                                        (err.empty() ? "" : ": " + err)};
    }

    std::shared_ptr<remote::SshSession> m_session;
    RemoteQuery m_query;
    std::uint64_t m_size_hint;
    const std::atomic<bool>* m_cancel;
    std::string m_host;

    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<std::string> m_chunks;       // stdout not yet read
    std::size_t m_front_pos = 0;            // read offset in m_chunks.front()
    std::size_t m_buffered = 0;             // bytes in m_chunks past the offsets
    std::string m_stderr;                   // the first k_max_stderr bytes
    bool m_stop = false;                    // the reader is gone or cancelled
    std::atomic<bool> m_stop_flag{false};   // m_stop for exec's cancel polling
    bool m_done = false;                    // exec returned
    bool m_cancelled = false;               // `cancel` was seen set
    std::optional<Error> m_failure;         // a transport failure or cancellation (read() returns -1)
    std::optional<Error> m_end_error;       // what the command's end means (read() returned 0)
    std::thread m_thread;                   // last: started once everything above exists
};

} // namespace

std::string remote_command(const RemoteQuery& query) {
    if (!query.journal) return "LC_ALL=C cat -- " + shell_quote(query.file);
    std::string cmd;
    const JournalQuery& q = *query.journal;
    // journalctl -o json prints nothing, successfully, where there is no journal at all: say so.
    if (q.file.empty() && q.directory.empty())
        cmd = "if ! command -v journalctl >/dev/null 2>&1; then echo 'sigmaops: journalctl: not found' >&2; exit 127; fi; "
              "if ! ls /var/log/journal/*.journal /var/log/journal/*/*.journal /run/log/journal/*.journal "
              "/run/log/journal/*/*.journal >/dev/null 2>&1; then echo 'sigmaops: No journal files were found in "
              "/var/log/journal or /run/log/journal' >&2; exit 3; fi; ";
    cmd += "LC_ALL=C exec";
    for (const std::string& a : journalctl_argv(q)) {
        cmd.push_back(' ');
        cmd += shell_quote(a);
    }
    return cmd;
}

Expected<LineReader> open_remote(std::shared_ptr<remote::SshSession> session, const RemoteQuery& query, ReadOptions options,
                                 const std::atomic<bool>* cancel) {
    if (!session) return unexpected(ErrorCode::InvalidArgument, "no SSH session to read from");
    if (!query.journal && query.file.empty())
        return unexpected(ErrorCode::InvalidArgument, "nothing to read on the host: give a journal query or a file");
    if (query.journal && !query.file.empty())
        return unexpected(ErrorCode::InvalidArgument, "read a host's journal or a file there, not both at once");
    const std::string host = session->host().name.empty() ? session->host().hostname : session->host().name;
    std::uint64_t size = 0;
    if (!query.journal) {
        // The size, for progress; a failure here (no SFTP on the host) is not one: cat says what is wrong.
        if (auto st = session->stat(query.file)) size = st->size;
    }
    std::string name = query.journal ? (query.journal->file.empty() ? host + ":journal" : host + ":" + query.journal->file)
                                     : host + ":" + query.file;
    auto source = std::make_unique<RemoteStream>(std::move(session), query, size, cancel);
    return LineReader::from_source(std::move(source), std::move(name), options);
}

Source remote_source(std::shared_ptr<remote::SshSession> session, const RemoteQuery& query, ReadOptions options,
                     const std::atomic<bool>* cancel) {
    Source src;
    const std::string host = !session ? "?" : session->host().name.empty() ? session->host().hostname : session->host().name;
    if (query.journal) {
        const std::string j = detail::journal_source_name(*query.journal);   // "journal[:FILE][:UNITS]"
        src.name = host + ":" + (query.journal->file.empty() && query.journal->directory.empty() ? j : j.substr(8));
        src.label = host + ":journal";
    } else {
        src.name = host + ":" + query.file;
        src.label = host + ":" + std::filesystem::path(query.file).filename().string();
    }
    src.key = "ssh://" + host + "/" + src.name.substr(host.size() + 1);
    auto r = open_remote(std::move(session), query, options, cancel);
    if (r) src.reader.emplace(std::move(*r));
    else src.error = r.error();
    return src;
}

} // namespace sigmaops::logs
