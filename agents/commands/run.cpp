// run.cpp - running an approved proposal: locally with fork/exec of `bash -c TEXT` in its own
// session and process group (so Ctrl-C stops every process it started: SIGTERM to the group,
// SIGKILL after a grace), or on a host through remote::SshSession::exec (which stops the remote
// process group the same way). Output is cleaned as it streams, kept bounded, and the run is
// recorded in history with who approved it. sudo passwords go through the remote::Prompter,
// on the command's stdin only.
#include "commands_internal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

namespace sigmaops::commands {

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string signal_name(int sig) {
    const char* n = sigabbrev_np(sig);
    return n ? n : std::to_string(sig);
}

// Every occurrence of `secret` in `text` replaced (a command that prints its stdin cannot leak
// the sudo password into the screen or history).
void redact(std::string& text, std::string_view secret) {
    if (secret.size() < 1) return;
    for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
        text.replace(at, secret.size(), "[redacted]");
}

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

bool write_all(int fd, std::string_view s) {
    while (!s.empty()) {
        const ssize_t n = ::write(fd, s.data(), s.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        s.remove_prefix(std::size_t(n));
    }
    return true;
}

// Collects one stream: cleaned text to the callback and, up to `cap` bytes, to `kept`.
struct Sink {
    Stream stream;
    std::string* kept;
    std::size_t cap;
    bool* truncated;
    StreamCleaner cleaner;

    // Returns false when the callback asks to stop.
    bool take(std::string text, const OutputCallback& cb, std::string_view secret) {
        if (text.empty()) return true;
        redact(text, secret);
        if (kept->size() < cap) {
            const std::size_t room = cap - kept->size();
            if (text.size() <= room) kept->append(text);
            else {
                kept->append(utf8_prefix(text, room));
                *truncated = true;
            }
        } else {
            *truncated = true;
        }
        return !cb || cb(stream, text);
    }
};

struct Spawned {
    pid_t pid = -1;
    int in = -1, out = -1, err = -1;
};

// fork + exec `words` in a new session (its own process group, no controlling terminal: nothing
// in it can open /dev/tty to ask the user anything behind the app's back).
Expected<Spawned> spawn(const std::vector<std::string>& words, bool stdin_pipe) {
    int p_in[2] = {-1, -1}, p_out[2] = {-1, -1}, p_err[2] = {-1, -1};
    auto fail = [&](const char* what) {
        const int e = errno;
        for (int* p : {p_in, p_out, p_err})
            for (int k = 0; k < 2; ++k)
                if (p[k] >= 0) ::close(p[k]);
        return sigmaops::unexpected(ErrorCode::Io, std::string("cannot start the command: ") + what + ": " + strerror(e));
    };
    if ((stdin_pipe && pipe2(p_in, O_CLOEXEC) != 0) || pipe2(p_out, O_CLOEXEC) != 0 || pipe2(p_err, O_CLOEXEC) != 0)
        return fail("pipe");
    std::vector<char*> args;
    for (const auto& a : words) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return fail("fork");
    if (pid == 0) {
        setsid();
        // Default dispositions: the app ignores or catches some signals; the command must not inherit that.
        for (int s : {SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGHUP, SIGCHLD}) signal(s, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        int in = stdin_pipe ? p_in[0] : ::open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(p_out[1], 1) < 0 || dup2(p_err[1], 2) < 0) _exit(127);
        execvp(args[0], args.data());
        _exit(127);
    }
    Spawned s;
    s.pid = pid;
    if (stdin_pipe) {
        ::close(p_in[0]);
        s.in = p_in[1];
    }
    ::close(p_out[1]);
    ::close(p_err[1]);
    s.out = p_out[0];
    s.err = p_err[0];
    return s;
}

// Runs words to completion with no input and no output kept; the exit status (-1 if it could not run).
int run_quiet(const std::vector<std::string>& words, std::string_view stdin_text = {}) {
    auto s = spawn(words, !stdin_text.empty());
    if (!s) return -1;
    if (s->in >= 0) {
        (void)write_all(s->in, stdin_text);
        close_fd(s->in);
    }
    close_fd(s->out);
    close_fd(s->err);
    int status = 0;
    while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

struct Runner::Impl {
    RunnerOptions options;
    std::unique_ptr<remote::ConnectionPool> pool;    // made on the first remote run
    bool sudo_checked = false, sudo_needs_password = false;
    remote::SecretString sudo_password;             // local sudo, asked once

    Expected<RunResult> run_local(const Proposal& p, const RunOptions& o);
    Expected<RunResult> run_remote(const Proposal& p, const RunOptions& o);
    Expected<void> local_sudo_ready(const std::string& host);
};

Runner::Runner(RunnerOptions options) : m_impl(std::make_unique<Impl>()) {
    m_impl->options = std::move(options);
    if (!m_impl->options.connect.prompter) m_impl->options.connect.prompter = m_impl->options.prompter;
}

Runner::~Runner() = default;

Expected<void> Runner::Impl::local_sudo_ready(const std::string& host) {
    if (geteuid() == 0) return {};
    if (!sudo_checked) {
        sudo_needs_password = run_quiet({"sudo", "-n", "true"}) != 0;
        sudo_checked = true;
    }
    if (!sudo_needs_password || !sudo_password.empty()) return {};
    if (!options.prompter)
        return sigmaops::unexpected(ErrorCode::Auth, host + ": sudo needs a password and none can be asked");
    auto pw = options.prompter->ask_secret(remote::SecretKind::SudoPassword,
                                           "[sudo] password for " + current_user_name() + "@" + host + ": ");
    if (!pw) return sigmaops::unexpected(ErrorCode::Cancelled, host + ": sudo password not given");
    std::string line(pw->view());
    line += '\n';
    const int rc = run_quiet({"sudo", "-S", "-k", "-p", "", "-v"}, line);
    explicit_bzero(line.data(), line.size());
    if (rc != 0) return sigmaops::unexpected(ErrorCode::Auth, host + ": sudo password rejected");
    sudo_password = std::move(*pw);
    return {};
}

Expected<RunResult> Runner::Impl::run_local(const Proposal& p, const RunOptions& o) {
    RunResult r;
    r.host = "localhost";
    std::vector<std::string> words;
    const bool as_root_already = geteuid() == 0;
    std::string stdin_text;
    if (p.sudo && !as_root_already) {
        if (auto ready = local_sudo_ready(local_host_name()); !ready) return sigmaops::unexpected(ready.error());
        if (sudo_needs_password) {
            words = {"sudo", "-S", "-k", "-p", "", "--", "bash", "-c", p.text};
            stdin_text.assign(sudo_password.view());
            stdin_text += '\n';
        } else {
            words = {"sudo", "-n", "--", "bash", "-c", p.text};
        }
    } else {
        words = {"bash", "-c", p.text};
    }
    const auto t0 = Clock::now();
    auto spawned = spawn(words, !stdin_text.empty());
    if (!spawned) {
        explicit_bzero(stdin_text.data(), stdin_text.size());
        return sigmaops::unexpected(spawned.error());
    }
    Spawned s = *spawned;
    if (s.in >= 0) {
        (void)write_all(s.in, stdin_text);
        explicit_bzero(stdin_text.data(), stdin_text.size());
        close_fd(s.in);   // the command sees end of input after the password
    }
    const std::string_view secret = sudo_password.view();
    Sink sinks[2] = {{Stream::Stdout, &r.out, o.max_output_bytes, &r.truncated, {}},
                     {Stream::Stderr, &r.err, o.max_output_bytes, &r.truncated, {}}};
    int* fds[2] = {&s.out, &s.err};
    bool exited = false, stop = false;
    int status = 0;
    std::optional<Clock::time_point> term_sent, drain_until;
    char buf[16384];
    while (true) {
        // Read what is there.
        pollfd pf[2];
        int n_pf = 0, which[2];
        for (int k = 0; k < 2; ++k)
            if (*fds[k] >= 0) {
                pf[n_pf] = {*fds[k], POLLIN, 0};
                which[n_pf++] = k;
            }
        if (n_pf > 0) {
            const int n = ::poll(pf, nfds_t(n_pf), 50);
            if (n > 0) {
                for (int i = 0; i < n_pf; ++i) {
                    if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                    const int k = which[i];
                    const ssize_t got = ::read(*fds[k], buf, sizeof buf);
                    if (got < 0 && errno == EINTR) continue;
                    if (got <= 0) {
                        if (!sinks[k].take(sinks[k].cleaner.finish(), o.on_output, secret)) stop = true;
                        close_fd(*fds[k]);
                        continue;
                    }
                    if (!sinks[k].take(sinks[k].cleaner.feed(std::string_view(buf, std::size_t(got))), o.on_output, secret))
                        stop = true;
                }
            }
        } else if (!exited) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        // Reap.
        if (!exited) {
            const pid_t w = waitpid(s.pid, &status, WNOHANG);
            if (w == s.pid) {
                exited = true;
                // Background processes may hold the pipes: read what is left for a moment, then stop.
                drain_until = Clock::now() + std::chrono::milliseconds(300);
            }
        }
        const auto now = Clock::now();
        if (exited && (n_pf == 0 || (drain_until && now >= *drain_until))) break;
        // Cancel / timeout: TERM the group, KILL after the grace.
        if (!exited) {
            if (o.cancel && o.cancel->load()) { r.cancelled = true; stop = true; }
            if (o.timeout.count() > 0 && now - t0 >= o.timeout) { r.timed_out = true; stop = true; }
            if (stop && !term_sent) {
                ::kill(-s.pid, SIGTERM);
                ::kill(-s.pid, SIGCONT);   // a stopped process must see the TERM
                term_sent = now;
            } else if (term_sent && now - *term_sent >= o.kill_grace) {
                ::kill(-s.pid, SIGKILL);
            }
        }
    }
    if (stop) {
        if (!r.timed_out) r.cancelled = true;
        // Whatever is left of the group (children that ignored TERM or outlived bash) goes too.
        ::kill(-s.pid, SIGKILL);
    }
    for (int k = 0; k < 2; ++k) {
        if (*fds[k] >= 0) (void)sinks[k].take(sinks[k].cleaner.finish(), o.on_output, secret);
        close_fd(*fds[k]);
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) r.signal = signal_name(WTERMSIG(status));
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    return r;
}

Expected<RunResult> Runner::Impl::run_remote(const Proposal& p, const RunOptions& o) {
    if (!pool) pool = std::make_unique<remote::ConnectionPool>(options.connect);
    auto session = pool->acquire(p.host);
    if (!session) return sigmaops::unexpected(session.error());
    RunResult r;
    r.host = p.host;
    Sink sinks[2] = {{Stream::Stdout, &r.out, o.max_output_bytes, &r.truncated, {}},
                     {Stream::Stderr, &r.err, o.max_output_bytes, &r.truncated, {}}};
    remote::ExecOptions eo;
    eo.collect_output = false;
    eo.cancel = o.cancel;
    eo.timeout = o.timeout;
    eo.sudo = p.sudo;
    eo.on_output = [&](remote::Stream st, std::string_view bytes) {
        Sink& sink = sinks[st == remote::Stream::Stdout ? 0 : 1];
        return sink.take(sink.cleaner.feed(bytes), o.on_output, {});
    };
    auto done = (*session)->exec(p.text, eo);
    pool->release(std::move(*session));
    if (!done) return sigmaops::unexpected(done.error());
    for (Sink& sink : sinks) (void)sink.take(sink.cleaner.finish(), o.on_output, {});
    r.exit_code = done->exit_status;
    r.signal = done->exit_signal;
    r.cancelled = done->cancelled || (o.cancel && o.cancel->load());
    r.timed_out = done->timed_out;
    r.truncated = r.truncated || done->truncated;
    r.elapsed = done->elapsed;
    return r;
}

Expected<RunResult> Runner::run(const Proposal& proposal, Approval approval, const RunOptions& options) {
    if (!approval.covers(proposal))
        return sigmaops::unexpected(ErrorCode::InvalidArgument,
                                   approval.valid() ? "the approval is for another command, host or risk; nothing was run"
                                                    : "the approval was already used; nothing was run");
    approval.m_valid = false;   // used up, whatever happens next
    const std::int64_t started = now_ms();
    auto result = proposal.local() ? m_impl->run_local(proposal, options) : m_impl->run_remote(proposal, options);
    if (!result) return result;
    if (m_impl->options.history) {
        history::Command c;
        c.session_id = options.session_id;
        c.host = result->host;
        c.text = (proposal.sudo ? "sudo " : "") + proposal.text;
        c.risk = history_risk(proposal.risk());
        c.approved_by = approved_by_text(approval, proposal);
        c.exit_code = result->exit_code;
        c.stdout_text = result->out;
        c.stderr_text = result->err;
        c.stdout_truncated = c.stderr_truncated = result->truncated;
        c.n_stdout_bytes = std::int64_t(result->out.size());
        c.n_stderr_bytes = std::int64_t(result->err.size());
        c.started_ms = started;
        c.duration_ms = double(result->elapsed.count());
        auto id = m_impl->options.history->record_command(c);
        if (!id) return sigmaops::unexpected(ErrorCode::Database, "the command ran, but recording it in history failed: " + id.error().message);
        result->history_id = *id;
    }
    return result;
}

std::string approved_by_text(const Approval& a, const Proposal& p) {
    std::string s = a.approved_by();
    s += " (" + std::string(shell::risk_name(p.risk()));
    if (a.host_typed()) s += ", host name typed";
    s += p.origin == Origin::Model ? ", proposed by the model" : ", typed by the user";
    s += "; approved " + history::format_utc(a.approved_ms()) + ")";
    return s;
}

Expected<history::Id> record_declined(history::History& h, const Proposal& p, const std::string& why,
                                      history::Id session_id) {
    history::Command c;
    c.session_id = session_id;
    c.host = p.local() ? "localhost" : p.host;
    c.text = (p.sudo ? "sudo " : "") + p.text;
    c.risk = history_risk(p.risk());
    c.approved_by = "";
    c.stderr_text = "[sigmaops: not run: " + why + "]";
    c.started_ms = now_ms();
    return h.record_command(c);
}

} // namespace sigmaops::commands
