// remote/remote.h - the one place SigmaOps talks SSH (libssh 0.10): host profiles, host-key
// verification, authentication, command execution, SFTP and a bounded per-host pool.
//
// Secure by default: a changed host key is refused with no override (edit known_hosts by hand);
// an unknown key is accepted only when the Prompter says yes, and is then pinned in the app's
// own known_hosts file; secrets (passwords, passphrases, sudo passwords) live in SecretString,
// are wiped after use and never logged. Every fallible call returns sigmaops::Expected with one of
// ErrorCode::Network (DNS, refused, timeout, lost), Auth, HostKey, NotFound, Io, Cancelled.
//
// Threads: an SshSession is used by one thread at a time (libssh sessions are not thread-safe);
// cancellation is an atomic flag any thread may set. run_on_hosts() gives each host its own
// session on its own worker thread and serialises calls to the Prompter.
#pragma once

#include <base/result.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sigmaops::remote {

using sigmaops::Error;
using sigmaops::ErrorCode;
using sigmaops::Expected;

// ---------------------------------------------------------------------------------------------
// Secrets

// A password/passphrase held only in memory: move-only, explicit_bzero()ed on destruction, on
// clear() and before every reallocation. Never printed; str() is for handing to libssh.
class SecretString {
public:
    SecretString() = default;
    explicit SecretString(std::string_view s) { assign(s); }
    SecretString(const SecretString&) = delete;
    SecretString& operator=(const SecretString&) = delete;
    SecretString(SecretString&& o) noexcept;
    SecretString& operator=(SecretString&& o) noexcept;
    ~SecretString() { clear(); }

    void assign(std::string_view s);
    void push_back(char c);  // wipes the old buffer when it has to grow
    void clear();            // wipes and empties
    bool empty() const { return m_size == 0; }
    std::size_t size() const { return m_size; }
    const char* c_str() const { return m_buf ? m_buf.get() : ""; }
    std::string_view view() const { return {c_str(), m_size}; }

private:
    void reserve(std::size_t n);
    std::unique_ptr<char[]> m_buf;
    std::size_t m_size = 0;
    std::size_t m_cap = 0;
};

// ---------------------------------------------------------------------------------------------
// Talking to the user

enum class SecretKind { Password, KeyPassphrase, KeyboardInteractive, SudoPassword };

// What the transport asks the user. The terminal app implements it with TerminalPrompter, the Qt
// app with dialogs. There is deliberately no implementation that accepts unknown keys by itself.
class Prompter {
public:
    virtual ~Prompter() = default;
    // An unknown host key: show the fingerprint ("SHA256:..."), return true only if the user
    // accepts it. Returning false refuses the connection and writes nothing anywhere.
    virtual bool confirm_host_key(const std::string& host, int port, const std::string& key_type,
                                  const std::string& sha256_fingerprint) = 0;
    // A secret: `prompt` says what for (e.g. "Password for alice@web1: "). nullopt = user declined.
    virtual std::optional<SecretString> ask_secret(SecretKind kind, const std::string& prompt) = 0;
    // Something the user must see (the changed-host-key alarm, keyboard-interactive banners).
    virtual void notify(const std::string& message) = 0;
};

// Reads /dev/tty with echo off, writes to /dev/tty; host keys need the literal answer "yes".
// Without a terminal every question is declined.
class TerminalPrompter final : public Prompter {
public:
    bool confirm_host_key(const std::string& host, int port, const std::string& key_type,
                          const std::string& sha256_fingerprint) override;
    std::optional<SecretString> ask_secret(SecretKind kind, const std::string& prompt) override;
    void notify(const std::string& message) override;
};

// ---------------------------------------------------------------------------------------------
// Logging: libssh's log and ours go to one sink. Secrets are never passed to it.

// level: 0 none, 1 warning, 2 protocol, 3 packet, 4 functions (libssh's SSH_LOG_* values).
using LogSink = std::function<void(int level, std::string_view message)>;
void set_log_sink(LogSink sink, int level);  // process-wide; nullptr sink = silent

// ---------------------------------------------------------------------------------------------
// Host profiles

// One host as resolved from the app's hosts.conf and ~/.ssh/config (ssh_config syntax; the first
// value found for a key wins, the app's file is read first).
struct HostProfile {
    std::string name;                         // what the user types ("web1")
    std::string hostname;                     // HostName, defaults to name
    std::string user;                         // User, empty = local user name
    int port = 22;                            // Port
    std::vector<std::string> identity_files;  // IdentityFile, '~' expanded
    std::string proxy_jump;                   // ProxyJump ([user@]host[:port]), empty = direct
    std::string source;                       // file it came from ("" = given on the command line)
};

// Where the configuration lives. Empty fields take the defaults in the comments.
struct ConfigPaths {
    std::string ssh_config;        // ~/.ssh/config
    std::string app_hosts;         // $XDG_CONFIG_HOME/sigmaops/hosts.conf (~/.config/...)
    std::string known_hosts;       // ~/.ssh/known_hosts (read only: we never write it)
    std::string app_known_hosts;   // $XDG_CONFIG_HOME/sigmaops/known_hosts (pins go here)
    ConfigPaths resolved() const;  // with defaults filled in
};

// The concrete Host entries (no wildcards) of both files, app's first, duplicates dropped.
Expected<std::vector<HostProfile>> list_hosts(const ConfigPaths& paths);
// `name` resolved through both files; a name found in neither resolves to itself (host = name).
Expected<HostProfile> resolve_host(const std::string& name, const ConfigPaths& paths);
// Adds/removes a "Host NAME" block in the app's hosts.conf (never touches ~/.ssh/config).
Expected<void> add_host(const HostProfile& profile, const ConfigPaths& paths);
Expected<void> remove_host(const std::string& name, const ConfigPaths& paths);

// ---------------------------------------------------------------------------------------------
// Connecting

enum class AuthMethod { Agent, PublicKey, KeyboardInteractive, Password };

struct ConnectOptions {
    ConfigPaths paths;                        // config and known_hosts files
    Prompter* prompter = nullptr;             // nullptr: unknown keys refused, no secrets asked
    std::vector<AuthMethod> auth_methods = {AuthMethod::Agent, AuthMethod::PublicKey,
                                            AuthMethod::KeyboardInteractive, AuthMethod::Password};
    std::string agent_socket;                 // empty: $SSH_AUTH_SOCK
    std::chrono::milliseconds connect_timeout{10000};  // TCP + handshake
    std::chrono::seconds keepalive_interval{30};       // keepalive@openssh.com while waiting
    int max_password_attempts = 3;            // per method
};

// How a command runs. `on_output` receives bytes as they arrive; returning false cancels.
enum class Stream { Stdout, Stderr };
using OutputCallback = std::function<bool(Stream stream, std::string_view bytes)>;

struct ExecOptions {
    OutputCallback on_output;                         // nullptr: output only collected
    std::chrono::milliseconds timeout{0};             // 0 = none; on expiry the command is stopped
    const std::atomic<bool>* cancel = nullptr;        // set to true to stop the command
    std::map<std::string, std::string> env;           // exported before the command runs
    std::string working_dir;                          // "cd" there first; empty = login directory
    std::size_t max_output_bytes = 16u << 20;         // per stream; beyond it the command is stopped
    bool collect_output = true;                       // keep output in ExecResult
    bool sudo = false;                                // run under sudo (password asked once, on stdin)
};

struct ExecResult {
    std::optional<int> exit_status;  // absent if killed by a signal or stopped
    std::string exit_signal;         // "TERM", "KILL"... when the remote process died of a signal
    std::string out, err;            // collected output (up to max_output_bytes each)
    bool timed_out = false;          // stopped because of ExecOptions::timeout
    bool cancelled = false;          // stopped because of cancel / on_output returned false
    bool truncated = false;          // stopped because of max_output_bytes
    std::chrono::milliseconds elapsed{0};
    bool ok() const { return exit_status && *exit_status == 0; }
};

struct RemoteStat {
    unsigned mode = 0;  // permission bits (07777)
    unsigned uid = 0, gid = 0;
    std::uint64_t size = 0;
};

// One authenticated SSH connection. Owns the libssh session; not copyable; disconnects and frees
// it in the destructor. Use from one thread at a time.
class SshSession {
public:
    // Resolves, connects, verifies the host key, authenticates. Errors: Network (DNS, refused,
    // timeout), HostKey (changed/refused/unknown without prompter), Auth (every method failed; the
    // message lists each method's reason).
    static Expected<std::unique_ptr<SshSession>> connect(const HostProfile& host,
                                                      const ConnectOptions& options);
    ~SshSession();
    SshSession(const SshSession&) = delete;
    SshSession& operator=(const SshSession&) = delete;

    const HostProfile& host() const { return m_host; }
    std::string host_key_fingerprint() const;  // "SHA256:..." of the verified key
    bool is_connected() const;
    Expected<void> keepalive();                // one keepalive@openssh.com round

    // Runs `command` through the remote user's shell. An error means the transport failed; a
    // command that fails is a result with a non-zero exit_status. Timeout, cancel and output cap
    // send SIGTERM, then SIGKILL one second later, then close the channel.
    Expected<ExecResult> exec(const std::string& command, const ExecOptions& options = {});

    // SFTP. write_file() writes a temp file in the same directory, copies owner, group and mode
    // of the file it replaces (new files: `new_mode`), then renames it into place: readers see
    // the old or the new content, never a mix. On any failure the temp file is removed and the
    // original is untouched.
    Expected<std::string> read_file(const std::string& path, std::size_t max_bytes = 256u << 20);
    Expected<void> write_file(const std::string& path, std::string_view data, unsigned new_mode = 0644);
    Expected<RemoteStat> stat(const std::string& path);

private:
    struct Impl;
    explicit SshSession(std::unique_ptr<Impl> impl, HostProfile host);
    std::unique_ptr<Impl> m_impl;
    HostProfile m_host;
};

// ---------------------------------------------------------------------------------------------
// Many hosts

struct HostResult {
    std::string host;                 // the name as given
    Expected<ExecResult> result;      // Error if connecting or running failed
};

// Keeps one idle authenticated SshSession per host name for reuse; thread-safe.
class ConnectionPool {
public:
    explicit ConnectionPool(ConnectOptions options);
    ~ConnectionPool();
    // A connected session for `name` (reused when idle and alive); give it back with release().
    Expected<std::unique_ptr<SshSession>> acquire(const std::string& name);
    void release(std::unique_ptr<SshSession> session);  // keeps it if still connected
    void keepalive_idle();                           // sends a keepalive on every idle session
    const ConnectOptions& options() const { return m_options; }

private:
    ConnectOptions m_options;                   // its prompter: m_serial_prompter
    std::unique_ptr<Prompter> m_serial_prompter;  // one question at a time across workers
    std::mutex m_mutex;
    std::map<std::string, std::unique_ptr<SshSession>> m_idle;
};

// Runs `command` on every host, at most `max_parallel` at a time; results in the order of
// `hosts`. Output callbacks (if any in `exec`) are called from worker threads.
std::vector<HostResult> run_on_hosts(ConnectionPool& pool, const std::vector<std::string>& hosts,
                                     const std::string& command, std::size_t max_parallel,
                                     const ExecOptions& exec = {});

}  // namespace sigmaops::remote
