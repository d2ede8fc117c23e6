// remote/session.cpp - one SSH connection through libssh 0.10: connect, verify the host key
// against ~/.ssh/known_hosts and the app's own file, authenticate (agent, key files, keyboard-
// interactive, password), run commands with streaming output, SFTP with atomic writes.
// Every libssh call is checked; every known-hosts result is handled explicitly.
#include "internal.h"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>  // ssh_send_keepalive (works for clients too)
#include <libssh/sftp.h>

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <thread>

namespace sigmaops::remote {

namespace {

using Clock = std::chrono::steady_clock;

sigmaops::Unexpected fail(ErrorCode code, std::string msg) {
    log(1, msg);
    return sigmaops::unexpected(code, std::move(msg));
}

std::string where(const HostProfile& h) {
    return h.name + " (" + h.hostname + ":" + std::to_string(h.port) + ")";
}

// libssh's error text for a failed call, with the call named: "ssh_channel_open_session: ...".
std::string ssh_err(ssh_session s, const char* call) {
    return std::string(call) + ": " + (s ? ssh_get_error(s) : "out of memory");
}

// Number of keys an ssh-agent holds (SSH2_AGENTC_REQUEST_IDENTITIES), or an error message.
Expected<int> agent_key_count(const std::string& sock_path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return sigmaops::unexpected(ErrorCode::Auth, std::string("socket: ") + strerror(errno));
    struct Closer { int fd; ~Closer() { ::close(fd); } } closer{fd};
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (sock_path.size() >= sizeof addr.sun_path)
        return sigmaops::unexpected(ErrorCode::Auth, "ssh-agent socket path too long: " + sock_path);
    std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return sigmaops::unexpected(ErrorCode::Auth, "cannot reach ssh-agent at " + sock_path + ": " + strerror(errno));
    const unsigned char req[5] = {0, 0, 0, 1, 11};
    if (::write(fd, req, 5) != 5) return sigmaops::unexpected(ErrorCode::Auth, "ssh-agent did not accept a request");
    unsigned char hdr[9];
    std::size_t got = 0;
    while (got < sizeof hdr) {
        ssize_t n = ::read(fd, hdr + got, sizeof hdr - got);
        if (n <= 0) return sigmaops::unexpected(ErrorCode::Auth, "ssh-agent did not answer");
        got += static_cast<std::size_t>(n);
    }
    if (hdr[4] != 12) return sigmaops::unexpected(ErrorCode::Auth, "ssh-agent refused to list its keys");
    return static_cast<int>((hdr[5] << 24) | (hdr[6] << 16) | (hdr[7] << 8) | hdr[8]);
}

bool file_exists(const std::string& p) {
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0;
}

// An OpenSSH/PEM private key file that needs a passphrase.
bool key_is_encrypted(const std::string& path) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("ENCRYPTED") != std::string::npos) return true;
    const std::string v1 = "b3BlbnNzaC1rZXktdjE";  // base64 "openssh-key-v1"
    return text.find(v1) != std::string::npos && text.find("b3BlbnNzaC1rZXktdjEAAAAABG5vbmU") == std::string::npos;
}

const char* known_hosts_name(ssh_known_hosts_e r) {
    switch (r) {
    case SSH_KNOWN_HOSTS_OK: return "ok";
    case SSH_KNOWN_HOSTS_CHANGED: return "changed";
    case SSH_KNOWN_HOSTS_OTHER: return "other key type";
    case SSH_KNOWN_HOSTS_UNKNOWN: return "unknown";
    case SSH_KNOWN_HOSTS_NOT_FOUND: return "no file";
    case SSH_KNOWN_HOSTS_ERROR: return "error";
    }
    return "?";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct SshSession::Impl {
    ssh_session s = nullptr;
    sftp_session sftp = nullptr;
    ConnectOptions opts;
    HostProfile host;
    std::string fingerprint;
    bool sudo_checked = false;    // asked "sudo -n true" already
    bool sudo_needs_password = false;
    SecretString sudo_password;   // asked once per session, wiped in the destructor
    bool running_sudo = false;    // exec() runs a sudo command: kill_group() must kill as root too
    std::string jump_dir;         // ProxyJump: private temp dir (the hops' ssh_config, their stderr), removed after connect
    std::string jump_log;         // ProxyJump: the hops' stderr, in jump_dir
    std::string jump_name;        // ProxyJump: the host the hop connects to (the last of the list)
    std::string jump_pin_hint;    // ProxyJump: how to pin the jump host keys (for an unknown-key error)

    ~Impl() {
        if (sftp) sftp_free(sftp);
        if (s) {
            if (ssh_is_connected(s)) ssh_disconnect(s);
            ssh_free(s);
        }
    }

    Expected<void> set(ssh_options_e opt, const void* value, const char* name) {
        if (ssh_options_set(s, opt, value) != SSH_OK)
            return fail(ErrorCode::InvalidArgument, where(host) + ": ssh_options_set(" + name + "): " + ssh_get_error(s));
        return {};
    }
    Expected<void> configure();
    Expected<void> configure_jump(const ConfigPaths& paths, long timeout_secs);
    std::string jump_error();  // what the jump's ssh client said (its last lines), "" if nothing
    Expected<void> verify_host_key();
    Expected<void> authenticate();
    Expected<sftp_session> sftp_session_();
    Expected<ExecResult> run(const std::string& command, const ExecOptions& o, const std::string* stdin_secret,
                             bool track_pid = false);
    void kill_group(int pgid, const char* sig);
};

#define SIGMA_TRY(expr)                                 \
    do {                                                \
        auto _r = (expr);                               \
        if (!_r) return sigmaops::unexpected(_r.error());  \
    } while (0)

Expected<void> SshSession::Impl::configure() {
    // We resolve ~/.ssh/config ourselves (first value wins) and let libssh parse it for the rest
    // (ciphers, kex...); system-wide files are not read behind our back.
    bool no_auto = false;
    SIGMA_TRY(set(SSH_OPTIONS_PROCESS_CONFIG, &no_auto, "PROCESS_CONFIG"));
    SIGMA_TRY(set(SSH_OPTIONS_HOST, host.name.c_str(), "HOST"));
    const ConfigPaths paths = opts.paths.resolved();
    if (file_exists(paths.ssh_config) && ssh_options_parse_config(s, paths.ssh_config.c_str()) != SSH_OK)
        return fail(ErrorCode::BadFile, "reading " + paths.ssh_config + ": " + ssh_get_error(s));
    // Our resolution wins over whatever the config parse set.
    SIGMA_TRY(set(SSH_OPTIONS_HOST, host.hostname.c_str(), "HOST"));
    unsigned port = static_cast<unsigned>(host.port);
    SIGMA_TRY(set(SSH_OPTIONS_PORT, &port, "PORT"));
    if (!host.user.empty()) SIGMA_TRY(set(SSH_OPTIONS_USER, host.user.c_str(), "USER"));
    long secs = static_cast<long>(opts.connect_timeout.count() / 1000);
    long usecs = static_cast<long>((opts.connect_timeout.count() % 1000) * 1000);
    SIGMA_TRY(set(SSH_OPTIONS_TIMEOUT, &secs, "TIMEOUT"));
    SIGMA_TRY(set(SSH_OPTIONS_TIMEOUT_USEC, &usecs, "TIMEOUT_USEC"));
    // Request/response traffic (SFTP writes, channel requests): without TCP_NODELAY each 32 KiB
    // SFTP write waits for Nagle + the peer's delayed ACK, which made large uploads crawl.
    int nodelay = 1;
    SIGMA_TRY(set(SSH_OPTIONS_NODELAY, &nodelay, "NODELAY"));
    int strict = 1;  // never let a config file turn host-key checking off
    SIGMA_TRY(set(SSH_OPTIONS_STRICTHOSTKEYCHECK, &strict, "STRICTHOSTKEYCHECK"));
    // Both files take part in host-key algorithm negotiation; verification checks each one.
    SIGMA_TRY(set(SSH_OPTIONS_KNOWNHOSTS, paths.known_hosts.c_str(), "KNOWNHOSTS"));
    SIGMA_TRY(set(SSH_OPTIONS_GLOBAL_KNOWNHOSTS, paths.app_known_hosts.c_str(), "GLOBAL_KNOWNHOSTS"));
    if (!opts.agent_socket.empty()) SIGMA_TRY(set(SSH_OPTIONS_IDENTITY_AGENT, opts.agent_socket.c_str(), "IDENTITY_AGENT"));
    int verbosity = log_level();
    SIGMA_TRY(set(SSH_OPTIONS_LOG_VERBOSITY, &verbosity, "LOG_VERBOSITY"));
    if (!host.proxy_jump.empty()) SIGMA_TRY(configure_jump(paths, secs));
    return {};
}

// libssh 0.10 has no native ProxyJump: the OpenSSH client makes the hop ("ssh -W [%h]:%p jump"),
// set up so that it behaves like the rest of the app:
// - every jump host is resolved through the app's hosts.conf and ~/.ssh/config like any host
//   (HostName, User, Port, IdentityFile; a user or port in the ProxyJump value wins), and earlier
//   hops of a list ("ProxyJump a,b") go to its -J;
// - its host key is checked against the same two known_hosts files as ours, strictly (an unknown
//   jump key is refused; `sigmaops hosts test JUMP` pins it), and it never prompts (BatchMode:
//   the desktop app has no terminal to answer on; keys come from the agent or IdentityFile);
// - what it prints goes to a private temp file, read back into the error when the connection
//   fails (no secret can be in it: it never asks for one).
// All of it through an ssh_config written for the connection (-F, which ssh hands on to the
// earlier hops' own ssh): a block per hop from our resolution, then the policy for every host,
// then an Include of the user's ~/.ssh/config for the rest. Removed once connected.
Expected<void> SshSession::Impl::configure_jump(const ConfigPaths& paths, long timeout_secs) {
    auto hops = parse_proxy_jump(host.proxy_jump);
    if (!hops) return fail(ErrorCode::InvalidArgument, where(host) + ": " + hops.error().message);
    const JumpHop last = hops->back();
    std::string earlier;  // the hops before the last, as written (they go to -J)
    if (auto comma = host.proxy_jump.rfind(','); comma != std::string::npos) earlier = host.proxy_jump.substr(0, comma);

    // ssh_config values: double-quoted (paths may hold spaces), '%' doubled (ssh expands %d...).
    std::string bad_value;
    auto cfg_word = [&bad_value](const std::string& v) {
        if (v.find_first_of("\"\n") != std::string::npos) bad_value = v;
        std::string out = "\"";
        for (char ch : v) out += ch == '%' ? std::string("%%") : std::string(1, ch);
        return out + "\"";
    };
    // Every hop's own entry (HostName, User, Port, IdentityFile, ProxyJump), resolved like any
    // host; hops named only in another hop's ProxyJump get a block too (a chain written per host).
    std::string cfg = "# Written by SigmaOps for one connection to " + host.name + " via " + host.proxy_jump +
                      "; removed once it is up.\n";
    std::set<std::string> done;
    std::vector<std::string> todo;
    std::map<std::string, std::vector<std::string>> jumps_of;  // hop -> the hosts of its own ProxyJump
    for (const JumpHop& hop : *hops) todo.push_back(hop.host);
    jump_name = hops->back().host;
    for (std::size_t i = 0; i < todo.size(); ++i) {
        if (!done.insert(todo[i]).second) continue;
        if (done.size() > 16) return fail(ErrorCode::InvalidArgument, where(host) + ": ProxyJump: more than 16 jump hosts");
        auto resolved = resolve_host(todo[i], opts.paths);
        if (!resolved) return fail(resolved.error().code, where(host) + ": ProxyJump: " + resolved.error().message);
        cfg += "Host " + cfg_word(todo[i]) + "\n    HostName " + cfg_word(resolved->hostname) + "\n";
        if (!resolved->user.empty()) cfg += "    User " + cfg_word(resolved->user) + "\n";
        cfg += "    Port " + std::to_string(resolved->port) + "\n";
        for (const auto& id : resolved->identity_files) cfg += "    IdentityFile " + cfg_word(id) + "\n";
        if (!resolved->proxy_jump.empty()) {
            auto more = parse_proxy_jump(resolved->proxy_jump);
            if (!more) return fail(ErrorCode::InvalidArgument, where(host) + ": jump host " + todo[i] + ": " + more.error().message);
            cfg += "    ProxyJump " + cfg_word(resolved->proxy_jump) + "\n";
            for (const JumpHop& hop : *more) {
                todo.push_back(hop.host);
                jumps_of[todo[i]].push_back(hop.host);
            }
        }
    }
    // A loop (a via b, b via a) would have ssh start clients until something gives out.
    std::map<std::string, int> state;  // 1: on the current path, 2: done
    std::vector<std::string> path;
    std::function<bool(const std::string&)> loops = [&](const std::string& h) {
        if (state[h] == 1) { path.push_back(h); return true; }
        if (state[h] == 2) return false;
        state[h] = 1;
        path.push_back(h);
        for (const auto& next : jumps_of[h])
            if (loops(next)) return true;
        path.pop_back();
        state[h] = 2;
        return false;
    };
    for (const auto& h : todo)
        if (loops(h)) {
            std::string chain;
            for (const auto& x : path) chain += (chain.empty() ? "" : " -> ") + x;
            return fail(ErrorCode::InvalidArgument, where(host) + ": ProxyJump loop: " + chain + " (each reached through the next)");
        }
    // For every hop: the app's known_hosts files, strictly; never a prompt; the app's agent.
    cfg += "Match all\n    BatchMode yes\n    StrictHostKeyChecking yes\n";
    cfg += "    UserKnownHostsFile " + cfg_word(paths.known_hosts) + " " + cfg_word(paths.app_known_hosts) + "\n";
    cfg += "    GlobalKnownHostsFile /dev/null\n";
    cfg += "    ConnectTimeout " + std::to_string(std::max(1L, timeout_secs)) + "\n";
    if (!opts.agent_socket.empty()) cfg += "    IdentityAgent " + cfg_word(opts.agent_socket) + "\n";
    // Then the user's own settings (ciphers, ...): the first value obtained wins, so ours stay.
    if (file_exists(paths.ssh_config)) cfg += "Include " + cfg_word(paths.ssh_config) + "\n";
    if (!bad_value.empty())
        return fail(ErrorCode::InvalidArgument, where(host) + ": ProxyJump: cannot pass a value with '\"' to ssh: " + bad_value);
    // `sigmaops hosts test NAME` connects directly and pins the key; it reaches a jump host only
    // through a name that resolves to its address and port.
    if (done.size() > 1)
        jump_pin_hint = "connect once to each jump host with `sigmaops hosts test NAME` to pin its key";
    else if (last.port == 0)
        jump_pin_hint = "pin it with `sigmaops hosts test " + last.host + "`";
    else
        jump_pin_hint = "add it as a host (`sigmaops hosts add NAME --host " + last.host + " --port " + std::to_string(last.port) +
                        "`), then `sigmaops hosts test NAME` pins it";

    // libssh runs "exec " + the command with $SHELL -c (and its stderr to /dev/null, hence the
    // redirection below), so the command starts with the program, found here for a clear error.
    std::string ssh_path;
    if (const char* path_env = std::getenv("PATH")) {
        std::string dirs = path_env;
        for (std::size_t start = 0; start <= dirs.size() && ssh_path.empty();) {
            std::size_t end = dirs.find(':', start);
            if (end == std::string::npos) end = dirs.size();
            const std::string cand = (end > start ? dirs.substr(start, end - start) : std::string(".")) + "/ssh";
            if (cand.front() == '/' && ::access(cand.c_str(), X_OK) == 0) ssh_path = cand;
            start = end + 1;
        }
    }
    if (ssh_path.empty())
        return fail(ErrorCode::NotFound, where(host) + ": ProxyJump needs the OpenSSH client, and no ssh was found in PATH "
                                                       "(install openssh-client)");

    // A private directory (0700) for the config and the hop's stderr; removed after connect.
    std::error_code ec;
    std::string tmpl = (std::filesystem::temp_directory_path(ec) / "sigmaops-jump-XXXXXX").string();
    if (ec) tmpl = "/tmp/sigmaops-jump-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) return fail(ErrorCode::Io, where(host) + ": ProxyJump: cannot create a temp directory: " + strerror(errno));
    jump_dir = buf.data();
    const std::string cfg_path = jump_dir + "/ssh_config", err_path = jump_dir + "/stderr";
    {
        std::ofstream out(cfg_path, std::ios::binary | std::ios::trunc);
        out << cfg;
        if (!out.flush()) return fail(ErrorCode::Io, where(host) + ": ProxyJump: cannot write " + cfg_path);
    }
    jump_log = err_path;

    // libssh expands %h, %p (and %%) in the command: every other '%' is doubled.
    auto pct = [](std::string v) {
        for (std::size_t pos = v.find('%'); pos != std::string::npos; pos = v.find('%', pos + 2)) v.insert(pos, 1, '%');
        return v;
    };
    std::string cmd = shell_quote(pct(ssh_path)) + " -F " + shell_quote(pct(cfg_path));
    if (!last.user.empty()) cmd += " -l " + shell_quote(pct(last.user));
    if (last.port != 0) cmd += " -p " + std::to_string(last.port);
    if (!earlier.empty()) cmd += " -J " + shell_quote(pct(earlier));
    cmd += " -W '[%h]:%p' " + shell_quote(pct(last.host)) + " 2>>" + shell_quote(pct(err_path));
    log(2, where(host) + ": via " + host.proxy_jump + ": " + cmd);
    return set(SSH_OPTIONS_PROXYCOMMAND, cmd.c_str(), "PROXYCOMMAND");
}

std::string SshSession::Impl::jump_error() {
    if (jump_log.empty()) return "";
    std::string text;
    {
        std::ifstream in(jump_log);
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) lines.push_back(line);
        start = end + 1;
    }
    std::string out;
    for (std::size_t i = lines.size() > 3 ? lines.size() - 3 : 0; i < lines.size(); ++i)
        out += (out.empty() ? "" : out.back() == '.' ? " " : "; ") + lines[i];
    return out;
}

Expected<void> SshSession::Impl::verify_host_key() {
    ssh_key key = nullptr;
    if (ssh_get_server_publickey(s, &key) != SSH_OK)
        return fail(ErrorCode::HostKey, where(host) + ": " + ssh_err(s, "ssh_get_server_publickey"));
    unsigned char* hash = nullptr;
    size_t hlen = 0;
    int rc = ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen);
    std::string key_type = ssh_key_type_to_char(ssh_key_type(key)) ? ssh_key_type_to_char(ssh_key_type(key)) : "unknown";
    ssh_key_free(key);
    if (rc != SSH_OK) return fail(ErrorCode::HostKey, where(host) + ": cannot hash the server's host key");
    char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    ssh_clean_pubkey_hash(&hash);
    if (!fp) return fail(ErrorCode::HostKey, where(host) + ": cannot format the host key fingerprint");
    fingerprint = fp;
    ssh_string_free_char(fp);

    // Check each file on its own (libssh's combined check lets an OK in one file hide a CHANGED
    // in the other).
    const ConfigPaths paths = opts.paths.resolved();
    bool ok = false, unknown = true;
    std::string changed_in, other_in;
    for (const std::string& file : {paths.known_hosts, paths.app_known_hosts}) {
        SIGMA_TRY(set(SSH_OPTIONS_KNOWNHOSTS, file.c_str(), "KNOWNHOSTS"));
        SIGMA_TRY(set(SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null", "GLOBAL_KNOWNHOSTS"));
        ssh_known_hosts_e r = ssh_session_is_known_server(s);
        log(2, where(host) + ": host key " + key_type + " " + fingerprint + " in " + file + ": " + known_hosts_name(r));
        switch (r) {
        case SSH_KNOWN_HOSTS_OK: ok = true; unknown = false; break;
        case SSH_KNOWN_HOSTS_CHANGED: changed_in = file; unknown = false; break;
        case SSH_KNOWN_HOSTS_OTHER: other_in = file; unknown = false; break;
        case SSH_KNOWN_HOSTS_UNKNOWN: break;
        case SSH_KNOWN_HOSTS_NOT_FOUND: break;  // the file does not exist yet
        case SSH_KNOWN_HOSTS_ERROR:
            return fail(ErrorCode::HostKey, where(host) + ": cannot check " + file + ": " + ssh_get_error(s));
        }
    }
    if (!changed_in.empty() || !other_in.empty()) {
        const std::string file = changed_in.empty() ? other_in : changed_in;
        std::string alarm =
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
            "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
            "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"
            "Someone could be eavesdropping on you right now (man-in-the-middle attack)!\n"
            "It is also possible that a host key has just been changed.\n"
            "The fingerprint for the " + key_type + " key sent by the remote host " + host.hostname + ":" +
            std::to_string(host.port) + " is\n" + fingerprint + ".\n" +
            (changed_in.empty() ? "The server offered a different key type than the one recorded in " + file + ".\n"
                                : std::string()) +
            "If you have verified the new key out of band, remove the old entry from " + file +
            " (ssh-keygen -R) and connect again.\n"
            "Host key verification failed: connection to " + host.name + " refused.";
        if (opts.prompter) opts.prompter->notify(alarm);
        return fail(ErrorCode::HostKey, alarm);
    }
    if (ok) return {};
    (void)unknown;
    // Unknown: only the user can accept it; nothing is written unless they do.
    if (!opts.prompter)
        return fail(ErrorCode::HostKey, where(host) + ": unknown host key " + key_type + " " + fingerprint +
                                            " and no way to ask the user; refused (add it to " + paths.app_known_hosts + ")");
    if (!opts.prompter->confirm_host_key(host.hostname, host.port, key_type, fingerprint))
        return fail(ErrorCode::HostKey, where(host) + ": host key " + fingerprint + " refused by the user");
    // Pin it in the app's file (never in ~/.ssh/known_hosts).
    SIGMA_TRY(set(SSH_OPTIONS_KNOWNHOSTS, paths.app_known_hosts.c_str(), "KNOWNHOSTS"));
    char* entry = nullptr;
    if (ssh_session_export_known_hosts_entry(s, &entry) != SSH_OK || !entry)
        return fail(ErrorCode::HostKey, where(host) + ": " + ssh_err(s, "ssh_session_export_known_hosts_entry"));
    std::string line = entry;
    ssh_string_free_char(entry);
    if (line.empty() || line.back() != '\n') line += '\n';
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(paths.app_known_hosts).parent_path(), ec);
    int fd = ::open(paths.app_known_hosts.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        if (fd >= 0) ::close(fd);
        return fail(ErrorCode::Io, where(host) + ": accepted host key could not be pinned in " + paths.app_known_hosts +
                                       ": " + strerror(errno));
    }
    ::close(fd);
    log(2, where(host) + ": pinned host key " + fingerprint + " in " + paths.app_known_hosts);
    return {};
}

Expected<void> SshSession::Impl::authenticate() {
    int rc = ssh_userauth_none(s, nullptr);
    if (rc == SSH_AUTH_SUCCESS) return {};
    if (rc == SSH_AUTH_ERROR) return fail(ErrorCode::Network, where(host) + ": " + ssh_err(s, "ssh_userauth_none"));
    std::vector<std::string> reasons;
    const std::string who = (host.user.empty() ? std::string() : host.user + "@") + host.name;

    for (AuthMethod m : opts.auth_methods) {
        int offered = ssh_userauth_list(s, nullptr);
        switch (m) {
        case AuthMethod::Agent: {
            if (!(offered & SSH_AUTH_METHOD_PUBLICKEY)) { reasons.push_back("agent: server does not accept public keys"); break; }
            std::string sock = opts.agent_socket;
            if (sock.empty()) if (const char* e = std::getenv("SSH_AUTH_SOCK")) sock = e;
            if (sock.empty()) { reasons.push_back("agent: no ssh-agent (SSH_AUTH_SOCK is not set)"); break; }
            auto n = agent_key_count(sock);
            if (!n) { reasons.push_back("agent: " + n.error().message); break; }
            if (*n == 0) { reasons.push_back("agent: ssh-agent has no keys (add one with ssh-add)"); break; }
            rc = ssh_userauth_agent(s, nullptr);
            if (rc == SSH_AUTH_SUCCESS) return {};
            if (rc == SSH_AUTH_ERROR) return fail(ErrorCode::Auth, who + ": agent: " + ssh_err(s, "ssh_userauth_agent"));
            reasons.push_back(rc == SSH_AUTH_PARTIAL ? "agent: accepted, more authentication needed"
                                                     : "agent: server refused all " + std::to_string(*n) + " key(s) held by ssh-agent");
            break;
        }
        case AuthMethod::PublicKey: {
            if (!(offered & SSH_AUTH_METHOD_PUBLICKEY)) { reasons.push_back("publickey: server does not accept public keys"); break; }
            std::vector<std::string> files = host.identity_files;
            bool explicit_files = !files.empty();
            if (!explicit_files)
                for (const char* d : {"/.ssh/id_ed25519", "/.ssh/id_ecdsa", "/.ssh/id_rsa"})
                    if (file_exists(home_dir() + d)) files.push_back(home_dir() + d);
            if (files.empty()) { reasons.push_back("publickey: no key files (~/.ssh/id_ed25519, id_ecdsa, id_rsa)"); break; }
            for (const auto& file : files) {
                if (!file_exists(file)) { reasons.push_back("publickey: key file " + file + " not found"); continue; }
                // Offer the public half first so we never ask a passphrase for a key the server refuses.
                ssh_key pub = nullptr;
                if (ssh_pki_import_pubkey_file((file + ".pub").c_str(), &pub) == SSH_OK) {
                    int trc = ssh_userauth_try_publickey(s, nullptr, pub);
                    ssh_key_free(pub);
                    if (trc == SSH_AUTH_ERROR) return fail(ErrorCode::Auth, who + ": " + ssh_err(s, "ssh_userauth_try_publickey"));
                    if (trc == SSH_AUTH_DENIED) { reasons.push_back("publickey: server refused key " + file); continue; }
                }
                ssh_key priv = nullptr;
                if (key_is_encrypted(file)) {
                    if (!opts.prompter) { reasons.push_back("publickey: key " + file + " needs a passphrase and none can be asked"); continue; }
                    for (int attempt = 0; attempt < opts.max_password_attempts && !priv; ++attempt) {
                        auto pass = opts.prompter->ask_secret(SecretKind::KeyPassphrase, "Enter passphrase for key '" + file + "': ");
                        if (!pass) break;
                        if (ssh_pki_import_privkey_file(file.c_str(), pass->c_str(), nullptr, nullptr, &priv) != SSH_OK) priv = nullptr;
                    }
                    if (!priv) { reasons.push_back("publickey: wrong or no passphrase for key " + file); continue; }
                } else if (ssh_pki_import_privkey_file(file.c_str(), nullptr, nullptr, nullptr, &priv) != SSH_OK) {
                    reasons.push_back("publickey: cannot read key " + file); continue;
                }
                rc = ssh_userauth_publickey(s, nullptr, priv);
                ssh_key_free(priv);
                if (rc == SSH_AUTH_SUCCESS) return {};
                if (rc == SSH_AUTH_ERROR) return fail(ErrorCode::Auth, who + ": " + ssh_err(s, "ssh_userauth_publickey"));
                reasons.push_back("publickey: server refused key " + file);
            }
            break;
        }
        case AuthMethod::KeyboardInteractive: {
            if (!(offered & SSH_AUTH_METHOD_INTERACTIVE)) { reasons.push_back("keyboard-interactive: not offered by the server"); break; }
            if (!opts.prompter) { reasons.push_back("keyboard-interactive: no way to ask the user"); break; }
            bool declined = false;
            int attempt = 0;
            for (; attempt < opts.max_password_attempts && !declined; ++attempt) {
                rc = ssh_userauth_kbdint(s, nullptr, nullptr);
                while (rc == SSH_AUTH_INFO && !declined) {
                    const char* instr = ssh_userauth_kbdint_getinstruction(s);
                    if (instr && *instr) opts.prompter->notify(instr);
                    int n = ssh_userauth_kbdint_getnprompts(s);
                    for (int i = 0; i < n; ++i) {
                        char echo = 0;
                        const char* p = ssh_userauth_kbdint_getprompt(s, static_cast<unsigned>(i), &echo);
                        auto answer = opts.prompter->ask_secret(SecretKind::KeyboardInteractive,
                                                                "(" + who + ") " + (p ? p : "Response: "));
                        if (!answer) { declined = true; break; }
                        if (ssh_userauth_kbdint_setanswer(s, static_cast<unsigned>(i), answer->c_str()) < 0)
                            return fail(ErrorCode::Auth, who + ": " + ssh_err(s, "ssh_userauth_kbdint_setanswer"));
                    }
                    if (!declined) rc = ssh_userauth_kbdint(s, nullptr, nullptr);
                }
                if (declined) break;
                if (rc == SSH_AUTH_SUCCESS) return {};
                if (rc == SSH_AUTH_ERROR) return fail(ErrorCode::Auth, who + ": " + ssh_err(s, "ssh_userauth_kbdint"));
                if (rc == SSH_AUTH_PARTIAL) break;
            }
            reasons.push_back(declined ? "keyboard-interactive: cancelled by the user"
                                       : "keyboard-interactive: response rejected (" + std::to_string(attempt) + " attempt(s))");
            break;
        }
        case AuthMethod::Password: {
            if (!(offered & SSH_AUTH_METHOD_PASSWORD)) { reasons.push_back("password: not offered by the server"); break; }
            if (!opts.prompter) { reasons.push_back("password: no way to ask the user"); break; }
            int attempt = 0;
            bool declined = false;
            for (; attempt < opts.max_password_attempts; ++attempt) {
                auto pw = opts.prompter->ask_secret(SecretKind::Password, who + "'s password: ");
                if (!pw) { declined = true; break; }
                rc = ssh_userauth_password(s, nullptr, pw->c_str());
                if (rc == SSH_AUTH_SUCCESS) return {};
                if (rc == SSH_AUTH_ERROR) return fail(ErrorCode::Auth, who + ": " + ssh_err(s, "ssh_userauth_password"));
                if (rc == SSH_AUTH_PARTIAL) break;
            }
            reasons.push_back(declined ? "password: cancelled by the user"
                                       : "password: password rejected (" + std::to_string(attempt) + " attempt(s))");
            break;
        }
        }
    }
    std::string msg = "authentication failed for " + who + ": ";
    for (std::size_t i = 0; i < reasons.size(); ++i) msg += (i ? "; " : "") + reasons[i];
    if (reasons.empty()) msg += "no authentication method enabled";
    return fail(ErrorCode::Auth, msg);
}

// ---------------------------------------------------------------------------------------------

SshSession::SshSession(std::unique_ptr<Impl> impl, HostProfile host) : m_impl(std::move(impl)), m_host(std::move(host)) {}
SshSession::~SshSession() = default;

Expected<std::unique_ptr<SshSession>> SshSession::connect(const HostProfile& host, const ConnectOptions& options) {
    auto impl = std::make_unique<Impl>();
    impl->opts = options;
    impl->host = host;
    if (host.proxy_jump.empty()) {
        // Resolve first, so a DNS failure reads as one.
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        int grc = getaddrinfo(host.hostname.c_str(), nullptr, &hints, &res);
        if (grc != 0) return fail(ErrorCode::Network, where(host) + ": cannot resolve host name '" + host.hostname + "': " + gai_strerror(grc));
        freeaddrinfo(res);
    }
    impl->s = ssh_new();
    if (!impl->s) return fail(ErrorCode::Generic, "ssh_new: out of memory");
    struct JumpLog {  // the hop's stderr file goes once the connection is up or has failed
        Impl* impl;
        ~JumpLog() {
            std::error_code ec;
            if (!impl->jump_dir.empty()) std::filesystem::remove_all(impl->jump_dir, ec);
            impl->jump_dir.clear();
            impl->jump_log.clear();
        }
    } jump_log{impl.get()};
    SIGMA_TRY(impl->configure());
    if (ssh_connect(impl->s) != SSH_OK) {
        std::string e = ssh_get_error(impl->s);
        if (!host.proxy_jump.empty()) {
            // The hop's own words say more than libssh's "connection closed" on its pipe.
            const std::string said = impl->jump_error();
            std::string msg = where(host) + ": cannot connect via jump host " + impl->jump_name;
            msg += said.empty() ? " (" + e + ")" : ": " + said;
            if (said.find("Host key verification failed") != std::string::npos)
                msg += " (a jump host's key is not in known_hosts: " + impl->jump_pin_hint + ")";
            return fail(ErrorCode::Network, msg);
        }
        std::string hint;
        if (e.find("refused") != std::string::npos) hint = "connection refused (is sshd running on port " + std::to_string(host.port) + "?)";
        else if (e.find("imeout") != std::string::npos || e.find("timed out") != std::string::npos)
            hint = "connection timed out after " + std::to_string(options.connect_timeout.count()) + " ms";
        else if (e.find("resolve") != std::string::npos) hint = "cannot resolve host name '" + host.hostname + "'";
        else hint = "cannot connect";
        return fail(ErrorCode::Network, where(host) + ": " + hint + " (" + e + ")");
    }
    SIGMA_TRY(impl->verify_host_key());
    SIGMA_TRY(impl->authenticate());
    log(2, where(host) + ": authenticated");
    return std::unique_ptr<SshSession>(new SshSession(std::move(impl), host));
}

std::string SshSession::host_key_fingerprint() const { return m_impl->fingerprint; }
bool SshSession::is_connected() const { return m_impl->s && ssh_is_connected(m_impl->s); }

Expected<void> SshSession::keepalive() {
    if (ssh_send_keepalive(m_impl->s) != SSH_OK)
        return fail(ErrorCode::Network, where(m_host) + ": " + ssh_err(m_impl->s, "ssh_send_keepalive"));
    return {};
}

// --- exec ---------------------------------------------------------------------------------------

namespace {

struct ExitInfo {
    bool have_status = false;
    int status = 0;
    std::string signal;
};

void on_exit_status(ssh_session, ssh_channel, int status, void* u) {
    auto* e = static_cast<ExitInfo*>(u);
    e->have_status = true;
    e->status = status;
}
void on_exit_signal(ssh_session, ssh_channel, const char* sig, int, const char*, const char*, void* u) {
    static_cast<ExitInfo*>(u)->signal = sig ? sig : "";
}

// A channel closed and freed when the scope ends. ssh_channel_free() keeps the channel in the
// session until the server's CLOSE arrives and still runs its callbacks for late messages
// (exit-status, exit-signal), so the callbacks are removed first: they point into run()'s frame.
struct Channel {
    ssh_channel c = nullptr;
    ssh_channel_callbacks cb = nullptr;
    ~Channel() {
        if (c) {
            if (cb) ssh_remove_channel_callbacks(c, cb);
            if (ssh_channel_is_open(c)) ssh_channel_close(c);
            ssh_channel_free(c);
        }
    }
};

}  // namespace

// sshd runs each command as a session leader (setsid), so its pid is the process group to kill.
// sshd refuses "signal" channel requests for sessions it did not privilege-separate (root
// logins), so stopping also kills the group from a second channel.
// "kill -SIG -PGID", not "kill -SIG -- -PGID": dash's kill (Debian's /bin/sh, a login shell of
// system accounts) rejects "--", so only the leader was signalled. A sudo command's
// processes belong to root: the login user can only signal sudo itself, which relays the signal
// to its direct child alone, so the command's own children survived; the group is also killed
// through sudo (password, if any, on stdin as always).
void SshSession::Impl::kill_group(int pgid, const char* sig) {
    if (pgid <= 1) return;
    const std::string p = std::to_string(pgid);
    const std::string kill_cmd = std::string("kill -") + sig + " -" + p + " 2>/dev/null || kill -" + sig + " " + p + " 2>/dev/null; true";
    ExecOptions ko;
    ko.timeout = std::chrono::seconds(5);
    if (running_sudo) {
        if (!sudo_needs_password) {
            (void)run("sudo -n -- sh -c " + shell_quote(kill_cmd) + " 2>/dev/null", ko, nullptr);
        } else if (!sudo_password.empty()) {
            std::string line(sudo_password.view());
            line += '\n';
            (void)run("sudo -S -k -p '' -- sh -c " + shell_quote(kill_cmd) + " 2>/dev/null", ko, &line);
            explicit_bzero(line.data(), line.size());
        }
    }
    (void)run(kill_cmd, ko, nullptr);
}

Expected<ExecResult> SshSession::Impl::run(const std::string& command_in, const ExecOptions& o, const std::string* stdin_secret,
                                        bool track_pid) {
    const auto start = Clock::now();
    // With track_pid the remote shell first reports its pid on stderr behind a marker byte; the
    // marker line is removed before any output is delivered.
    static const std::string marker = "\036sigmaops-pid ";
    const std::string command = track_pid ? "printf '\\036sigmaops-pid %d\\n' $$ >&2; " + command_in : command_in;
    bool marker_pending = track_pid;
    std::string err_head;
    int remote_pid = 0;
    ExitInfo exit_info;
    ssh_channel_callbacks_struct cb{};
    cb.userdata = &exit_info;
    cb.channel_exit_status_function = on_exit_status;
    cb.channel_exit_signal_function = on_exit_signal;
    ssh_callbacks_init(&cb);
    Channel ch;  // declared after cb and exit_info: its destructor unregisters them
    ch.c = ssh_channel_new(s);
    if (!ch.c) return fail(ErrorCode::Network, where(host) + ": " + ssh_err(s, "ssh_channel_new"));
    if (ssh_channel_open_session(ch.c) != SSH_OK) return fail(ErrorCode::Network, where(host) + ": " + ssh_err(s, "ssh_channel_open_session"));
    if (ssh_set_channel_callbacks(ch.c, &cb) != SSH_OK) return fail(ErrorCode::Generic, where(host) + ": ssh_set_channel_callbacks failed");
    ch.cb = &cb;
    if (ssh_channel_request_exec(ch.c, command.c_str()) != SSH_OK)
        return fail(ErrorCode::Network, where(host) + ": " + ssh_err(s, "ssh_channel_request_exec"));
    if (stdin_secret) {
        if (ssh_channel_write(ch.c, stdin_secret->data(), static_cast<uint32_t>(stdin_secret->size())) < 0)
            return fail(ErrorCode::Network, where(host) + ": " + ssh_err(s, "ssh_channel_write"));
    }
    if (ssh_channel_send_eof(ch.c) != SSH_OK) return fail(ErrorCode::Network, where(host) + ": " + ssh_err(s, "ssh_channel_send_eof"));

    ExecResult r;
    std::size_t n_bytes[2] = {0, 0};
    auto last_keepalive = Clock::now();
    enum class Stop { None, Cancel, Timeout, Cap } stop = Stop::None;
    Clock::time_point stop_at{};
    bool sent_kill = false;
    char buf[32768];

    while (true) {
        bool got = false;
        for (int is_err = 0; is_err < 2; ++is_err) {
            int n = ssh_channel_read_nonblocking(ch.c, buf, sizeof buf, is_err);
            if (n == SSH_ERROR) return fail(ErrorCode::Network, where(host) + ": connection lost: " + ssh_get_error(s));
            if (n <= 0) continue;
            got = true;
            if (stop != Stop::None) continue;  // draining after a stop: discard
            std::string_view data(buf, static_cast<std::size_t>(n));
            if (is_err && marker_pending) {
                err_head.append(data);
                if (err_head.size() < marker.size() && marker.compare(0, err_head.size(), err_head) == 0) continue;
                if (err_head.rfind(marker, 0) == 0) {
                    auto nl = err_head.find('\n');
                    if (nl == std::string::npos) continue;
                    remote_pid = std::atoi(err_head.c_str() + marker.size());
                    err_head.erase(0, nl + 1);
                }
                marker_pending = false;
                data = err_head;
                if (data.empty()) continue;
            }
            std::size_t room = o.max_output_bytes - std::min(o.max_output_bytes, n_bytes[is_err]);
            if (data.size() > room) { data = data.substr(0, room); stop = Stop::Cap; }
            n_bytes[is_err] += data.size();
            if (o.collect_output) (is_err ? r.err : r.out).append(data);
            if (is_err && !err_head.empty()) {
                // `data` points into err_head: deliver before clearing it.
                if (o.on_output && !o.on_output(Stream::Stderr, data) && stop == Stop::None) stop = Stop::Cancel;
                err_head.clear();
                continue;
            }
            if (o.on_output && !data.empty() && !o.on_output(is_err ? Stream::Stderr : Stream::Stdout, data) && stop == Stop::None)
                stop = Stop::Cancel;
        }
        if (!got && (ssh_channel_is_eof(ch.c) || ssh_channel_is_closed(ch.c))) break;
        if (stop == Stop::None) {
            if (o.cancel && o.cancel->load()) stop = Stop::Cancel;
            else if (o.timeout.count() > 0 && Clock::now() - start >= o.timeout) stop = Stop::Timeout;
        }
        if (stop != Stop::None && stop_at == Clock::time_point{}) {
            // Signal first (sshd delivers it to the command's process group), KILL a second later.
            stop_at = Clock::now();
            log(2, where(host) + ": stopping remote command (TERM)");
            if (ssh_channel_request_send_signal(ch.c, "TERM") != SSH_OK) break;
            kill_group(remote_pid, "TERM");
            stop_at = Clock::now();  // the grace period starts once both ways were tried
        }
        if (stop != Stop::None) {
            auto waited = Clock::now() - stop_at;
            if (!sent_kill && waited > std::chrono::seconds(1)) {
                sent_kill = true;
                log(2, where(host) + ": remote command ignored TERM, sending KILL");
                if (ssh_channel_request_send_signal(ch.c, "KILL") != SSH_OK) break;
                kill_group(remote_pid, "KILL");
            }
            if (waited > std::chrono::milliseconds(1500)) break;  // close the channel regardless
        }
        if (Clock::now() - last_keepalive > opts.keepalive_interval) {
            last_keepalive = Clock::now();
            ssh_send_ignore(s, "");
        }
        if (!got) {
            int prc = ssh_channel_poll_timeout(ch.c, 20, 0);
            if (prc == SSH_ERROR) return fail(ErrorCode::Network, where(host) + ": connection lost: " + ssh_get_error(s));
        }
    }
    // exit-status / exit-signal follow the EOF, often in a later packet. ssh_channel_poll*() and
    // ssh_channel_read_nonblocking() stop reading packets once the channel is at EOF, so only
    // ssh_channel_get_exit_status() (reads until exit-status or CLOSE, bounded by the session
    // timeout) can see them.
    if (stop == Stop::None && !exit_info.have_status && exit_info.signal.empty() && !ssh_channel_is_closed(ch.c))
        (void)ssh_channel_get_exit_status(ch.c);
    auto deadline = Clock::now() + std::chrono::milliseconds(stop == Stop::None ? 2000 : 200);
    while (!exit_info.have_status && exit_info.signal.empty() && !ssh_channel_is_closed(ch.c) && Clock::now() < deadline) {
        if (ssh_channel_poll_timeout(ch.c, 20, 0) == SSH_ERROR) break;
        char sink[4096];
        ssh_channel_read_nonblocking(ch.c, sink, sizeof sink, 0);
        ssh_channel_read_nonblocking(ch.c, sink, sizeof sink, 1);
    }
    if (exit_info.have_status && stop == Stop::None) r.exit_status = exit_info.status;
    else if (exit_info.have_status && exit_info.signal.empty()) r.exit_status = exit_info.status;
    r.exit_signal = exit_info.signal;
    r.cancelled = stop == Stop::Cancel;
    r.timed_out = stop == Stop::Timeout;
    r.truncated = stop == Stop::Cap;
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return r;
}

Expected<ExecResult> SshSession::exec(const std::string& command, const ExecOptions& o) {
    static const std::regex env_name("[A-Za-z_][A-Za-z0-9_]*");
    std::string inner;
    if (!o.working_dir.empty()) inner += "cd " + shell_quote(o.working_dir) + " && ";
    for (const auto& [k, v] : o.env) {
        if (!std::regex_match(k, env_name)) return fail(ErrorCode::InvalidArgument, "invalid environment variable name '" + k + "'");
        inner += "export " + k + "=" + shell_quote(v) + " && ";
    }
    inner += command;
    if (!o.sudo) return m_impl->run(inner, o, nullptr, true);

    // sudo: ask for the password at most once per session; it travels on stdin, never argv.
    if (!m_impl->sudo_checked) {
        auto probe = m_impl->run("sudo -n true 2>/dev/null", ExecOptions{}, nullptr);
        if (!probe) return sigmaops::unexpected(probe.error());
        m_impl->sudo_checked = true;
        m_impl->sudo_needs_password = !probe->ok();
    }
    const std::string wrapped = "sh -c " + shell_quote(inner);
    struct RunningSudo {
        bool& flag;
        ~RunningSudo() { flag = false; }
    };
    if (!m_impl->sudo_needs_password) {
        m_impl->running_sudo = true;
        RunningSudo guard{m_impl->running_sudo};
        return m_impl->run("sudo -n -- " + wrapped, o, nullptr, true);
    }
    if (m_impl->sudo_password.empty()) {
        if (!m_impl->opts.prompter) return fail(ErrorCode::Auth, where(m_host) + ": sudo needs a password and none can be asked");
        auto pw = m_impl->opts.prompter->ask_secret(SecretKind::SudoPassword, "[sudo] password for " +
                                                    (m_host.user.empty() ? std::string("you") : m_host.user) + "@" + m_host.name + ": ");
        if (!pw) return fail(ErrorCode::Cancelled, where(m_host) + ": sudo password not given");
        std::string line(pw->view());
        line += '\n';
        auto check = m_impl->run("sudo -S -k -p '' -v", ExecOptions{}, &line);
        explicit_bzero(line.data(), line.size());
        if (!check) return sigmaops::unexpected(check.error());
        if (!check->ok()) return fail(ErrorCode::Auth, where(m_host) + ": sudo password rejected");
        m_impl->sudo_password = std::move(*pw);
    }
    std::string line(m_impl->sudo_password.view());
    line += '\n';
    m_impl->running_sudo = true;
    RunningSudo guard{m_impl->running_sudo};
    auto r = m_impl->run("sudo -S -k -p '' -- " + wrapped, o, &line, true);
    explicit_bzero(line.data(), line.size());
    return r;
}

// --- SFTP -------------------------------------------------------------------------------------

namespace {
std::string sftp_err_text(sftp_session sftp, ssh_session s) {
    switch (sftp_get_error(sftp)) {
    case SSH_FX_NO_SUCH_FILE: return "no such file or directory";
    case SSH_FX_PERMISSION_DENIED: return "permission denied";
    case SSH_FX_FAILURE: return std::string("failure (disk full, read-only or quota?): ") + ssh_get_error(s);
    case SSH_FX_FILE_ALREADY_EXISTS: return "file already exists";
    case SSH_FX_WRITE_PROTECT: return "read-only file system";
    default: return ssh_get_error(s);
    }
}
struct SftpFile {
    sftp_file f = nullptr;
    ~SftpFile() { if (f) sftp_close(f); }
};
struct SftpAttrs {
    sftp_attributes a = nullptr;
    ~SftpAttrs() { if (a) sftp_attributes_free(a); }
};
}  // namespace

Expected<sftp_session> SshSession::Impl::sftp_session_() {
    if (sftp) return sftp;
    sftp_session n = sftp_new(s);
    if (!n) return fail(ErrorCode::Network, where(host) + ": " + ssh_err(s, "sftp_new"));
    if (sftp_init(n) != SSH_OK) {
        std::string e = ssh_err(s, "sftp_init");
        sftp_free(n);
        return fail(ErrorCode::Network, where(host) + ": " + e + " (is the sftp subsystem enabled?)");
    }
    sftp = n;
    return sftp;
}

Expected<RemoteStat> SshSession::stat(const std::string& path) {
    auto sf = m_impl->sftp_session_();
    if (!sf) return sigmaops::unexpected(sf.error());
    SftpAttrs at{sftp_stat(*sf, path.c_str())};
    if (!at.a) {
        ErrorCode code = sftp_get_error(*sf) == SSH_FX_NO_SUCH_FILE ? ErrorCode::NotFound : ErrorCode::Io;
        return fail(code, where(m_host) + ": stat " + path + ": " + sftp_err_text(*sf, m_impl->s));
    }
    return RemoteStat{at.a->permissions & 07777u, at.a->uid, at.a->gid, at.a->size};
}

Expected<std::string> SshSession::read_file(const std::string& path, std::size_t max_bytes) {
    auto sf = m_impl->sftp_session_();
    if (!sf) return sigmaops::unexpected(sf.error());
    SftpFile f{sftp_open(*sf, path.c_str(), O_RDONLY, 0)};
    if (!f.f) {
        ErrorCode code = sftp_get_error(*sf) == SSH_FX_NO_SUCH_FILE ? ErrorCode::NotFound : ErrorCode::Io;
        return fail(code, where(m_host) + ": open " + path + ": " + sftp_err_text(*sf, m_impl->s));
    }
    std::string data;
    char buf[65536];
    while (true) {
        ssize_t n = sftp_read(f.f, buf, sizeof buf);
        if (n < 0) return fail(ErrorCode::Io, where(m_host) + ": read " + path + ": " + sftp_err_text(*sf, m_impl->s));
        if (n == 0) break;
        if (data.size() + static_cast<std::size_t>(n) > max_bytes)
            return fail(ErrorCode::Io, where(m_host) + ": " + path + " is larger than " + std::to_string(max_bytes) + " bytes");
        data.append(buf, static_cast<std::size_t>(n));
    }
    return data;
}

Expected<void> SshSession::write_file(const std::string& path, std::string_view data, unsigned new_mode) {
    auto sfr = m_impl->sftp_session_();
    if (!sfr) return sigmaops::unexpected(sfr.error());
    sftp_session sf = *sfr;
    ssh_session s = m_impl->s;
    const std::string w = where(m_host) + ": writing " + path;

    std::optional<RemoteStat> old;
    {
        SftpAttrs at{sftp_stat(sf, path.c_str())};
        if (at.a) {
            if (at.a->type != SSH_FILEXFER_TYPE_REGULAR) return fail(ErrorCode::Io, w + ": not a regular file");
            old = RemoteStat{at.a->permissions & 07777u, at.a->uid, at.a->gid, at.a->size};
        } else if (sftp_get_error(sf) != SSH_FX_NO_SUCH_FILE) {
            return fail(ErrorCode::Io, w + ": " + sftp_err_text(sf, s));
        }
    }
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    std::random_device rd;
    char suffix[17];
    std::snprintf(suffix, sizeof suffix, "%08x%08x", rd(), rd());
    const std::string tmp = (dir == "/" ? "" : dir) + "/." + base + ".sigmaops-" + suffix;

    auto cleanup = [&](ErrorCode code, const std::string& why) {
        sftp_unlink(sf, tmp.c_str());  // best effort; the original was never touched
        return fail(code, w + ": " + why + "; the original is unchanged");
    };
    {
        SftpFile f{sftp_open(sf, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600)};
        if (!f.f) return fail(ErrorCode::Io, w + ": cannot create a temporary file in " + dir + ": " + sftp_err_text(sf, s) +
                                                 "; the original is unchanged");
        std::size_t off = 0;
        while (off < data.size()) {
            std::size_t chunk = std::min<std::size_t>(data.size() - off, 32768);
            ssize_t n = sftp_write(f.f, data.data() + off, chunk);
            if (n <= 0) return cleanup(ErrorCode::Io, "write failed: " + sftp_err_text(sf, s));
            off += static_cast<std::size_t>(n);
        }
        int crc = sftp_close(f.f);
        f.f = nullptr;
        if (crc != SSH_NO_ERROR) return cleanup(ErrorCode::Io, "close failed: " + sftp_err_text(sf, s));
    }
    if (old) {
        if (sftp_chown(sf, tmp.c_str(), old->uid, old->gid) != 0)
            return cleanup(ErrorCode::Io, "cannot keep owner " + std::to_string(old->uid) + ":" + std::to_string(old->gid) + ": " +
                                              sftp_err_text(sf, s));
    }
    if (sftp_chmod(sf, tmp.c_str(), old ? old->mode : new_mode) != 0)
        return cleanup(ErrorCode::Io, "cannot set mode: " + sftp_err_text(sf, s));
    // Rename into place. SFTP v3 RENAME refuses to replace an existing file and libssh 0.10 has no
    // posix-rename@openssh.com, so replacing goes through mv (rename(2) in the same directory).
    if (!old) {
        if (sftp_rename(sf, tmp.c_str(), path.c_str()) != 0) return cleanup(ErrorCode::Io, "rename failed: " + sftp_err_text(sf, s));
        return {};
    }
    auto mv = m_impl->run("mv -f -- " + shell_quote(tmp) + " " + shell_quote(path), ExecOptions{}, nullptr);
    if (!mv) return cleanup(mv.error().code, mv.error().message);
    if (!mv->ok()) return cleanup(ErrorCode::Io, "rename failed: " + mv->err);
    return {};
}

}  // namespace sigmaops::remote
