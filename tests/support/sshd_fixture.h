// tests/support/sshd_fixture.h - a throwaway OpenSSH server for the remote tests.
//
// SshdFixture starts /usr/sbin/sshd -D -e on a free 127.0.0.1 port with a fresh ed25519 host key,
// AuthorizedKeysFile/PidFile/logs in its own temp dir, and kills it in the destructor. It also
// makes user keys (plain, passphrase-protected, and one the server does not know), a pinned
// known_hosts, and can start a real ssh-agent (with or without the key).
//
// Password and keyboard-interactive auth need an account with a known password. The least
// invasive real approach we found: a dedicated system account "sigmaops-test" (created with
// useradd only if missing), whose password is set to a random per-fixture value while the
// fixture holds an exclusive flock, and locked again (passwd -l) when the fixture ends. So the
// account never has a usable password outside a running test, and parallel test processes
// (ctest -j) do not race on it. Needs root; tests print "skipped: needs root" otherwise.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sshd_test {

namespace fs = std::filesystem;

inline bool is_root() { return geteuid() == 0; }

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void write_text(const std::string& path, const std::string& text, mode_t mode = 0644) {
    std::ofstream o(path, std::ios::binary | std::ios::trunc);
    o << text;
    o.close();
    chmod(path.c_str(), mode);
}

// Runs argv (no shell), stdout+stderr to `log` (or /dev/null); returns the exit status.
inline int run(const std::vector<std::string>& argv, const std::string& log = "/dev/null",
               const std::vector<std::string>& env = {}, const std::string& stdin_text = "") {
    int in_pipe[2] = {-1, -1};
    if (!stdin_text.empty() && pipe(in_pipe) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        if (in_pipe[0] >= 0) { dup2(in_pipe[0], 0); close(in_pipe[1]); }
        else { int nul = open("/dev/null", O_RDONLY); dup2(nul, 0); }
        for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
        std::vector<char*> a;
        for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
        a.push_back(nullptr);
        execvp(a[0], a.data());
        _exit(127);
    }
    if (in_pipe[0] >= 0) {
        close(in_pipe[0]);
        (void)!write(in_pipe[1], stdin_text.data(), stdin_text.size());
        close(in_pipe[1]);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string random_token(std::size_t n) {
    static const char chars[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    std::random_device rd;
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += chars[rd() % (sizeof chars - 1)];
    return s;
}

inline bool wait_for_port(int port, std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        close(fd);
        if (ok) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

inline int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

// The dedicated account for password / keyboard-interactive tests (see the file comment).
class TestUser {
public:
    static constexpr const char* name = "sigmaops-test";
    TestUser() {
        m_lock = open("/run/lock/sigmaops-test-user.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (m_lock < 0 || flock(m_lock, LOCK_EX) != 0) throw std::runtime_error("cannot lock the test account");
        if (!getpwnam(name) && run({"useradd", "-m", "-s", "/bin/sh", name}) != 0)
            throw std::runtime_error("useradd sigmaops-test failed");
        password = "pw-" + random_token(24);
        if (run({"chpasswd"}, "/dev/null", {}, std::string(name) + ":" + password + "\n") != 0)
            throw std::runtime_error("chpasswd failed");
        const passwd* pw = getpwnam(name);
        uid = pw->pw_uid;
        gid = pw->pw_gid;
        home = pw->pw_dir;
    }
    ~TestUser() {
        run({"passwd", "-l", name});  // no usable password outside a test
        if (m_lock >= 0) close(m_lock);
    }
    TestUser(const TestUser&) = delete;
    TestUser& operator=(const TestUser&) = delete;
    std::string password;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string home;

private:
    int m_lock = -1;
};

class SshdFixture {
public:
    // with_pam = false: public-key auth only (password and keyboard-interactive need PAM), and
    // sessions start faster: no PAM account/session stack (pam_motd runs run-parts on every
    // session), which cost ~0.7 s of wall time for 20 parallel logins on a loaded 2-core machine.
    explicit SshdFixture(bool with_pam = true) : m_pam(with_pam) {
        char tmpl[] = "/tmp/sigmaops-sshd-XXXXXX";
        if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
        dir = tmpl;
        chmod(dir.c_str(), 0755);  // sshd reads authorized_keys as the target user
        mkdir("/run/sshd", 0755);  // privilege separation directory
        keygen(dir + "/host_ed25519", "");
        keygen(key = dir + "/id_ed25519", "");
        keygen(enc_key = dir + "/id_enc", passphrase = "pp-" + random_token(20));
        keygen(wrong_key = dir + "/id_wrong", "");
        write_text(dir + "/authorized_keys", read_text(key + ".pub") + read_text(enc_key + ".pub"), 0644);
        host_pub = read_text(dir + "/host_ed25519.pub");
        while (!host_pub.empty() && host_pub.back() == '\n') host_pub.pop_back();
        known_hosts = dir + "/known_hosts";
        app_known_hosts = dir + "/app_known_hosts";
        log_file = dir + "/sshd.log";
        for (int attempt = 0; attempt < 5; ++attempt) {
            port = free_port();
            write_config();
            start();
            if (wait_for_port(port, std::chrono::milliseconds(5000))) break;
            stop();
            if (attempt == 4) throw std::runtime_error("sshd did not start; see " + log_file + ":\n" + read_text(log_file));
        }
        pin();
    }
    ~SshdFixture() {
        stop();
        stop_agent();
        std::error_code ec;
        if (!getenv("SIGMAOPS_KEEP_SSHD")) fs::remove_all(dir, ec);
    }
    SshdFixture(const SshdFixture&) = delete;
    SshdFixture& operator=(const SshdFixture&) = delete;

    // known_hosts with the real host key for [127.0.0.1]:port.
    void pin() { write_text(known_hosts, "[127.0.0.1]:" + std::to_string(port) + " " + host_pub + "\n", 0644); }

    // Starts `ssh-agent -D -a SOCK`; adds the plain user key when `with_key`.
    std::string start_agent(bool with_key) {
        stop_agent();
        agent_sock = dir + "/agent." + random_token(6) + ".sock";
        m_agent_pid = fork();
        if (m_agent_pid == 0) {
            int nul = open("/dev/null", O_RDWR);
            dup2(nul, 0); dup2(nul, 1); dup2(nul, 2);
            execlp("ssh-agent", "ssh-agent", "-D", "-a", agent_sock.c_str(), (char*)nullptr);
            _exit(127);
        }
        for (int i = 0; i < 250 && !fs::exists(agent_sock); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (with_key && run({"ssh-add", key}, dir + "/ssh-add.log", {"SSH_AUTH_SOCK=" + agent_sock}) != 0)
            throw std::runtime_error("ssh-add failed: " + read_text(dir + "/ssh-add.log"));
        return agent_sock;
    }

    std::string dir, key, enc_key, wrong_key, passphrase, host_pub, known_hosts, app_known_hosts, log_file, agent_sock;
    int port = 0;
    pid_t pid = -1;

private:
    void keygen(const std::string& path, const std::string& pass) {
        if (run({"ssh-keygen", "-q", "-t", "ed25519", "-N", pass, "-C", "sigmaops-test", "-f", path}) != 0)
            throw std::runtime_error("ssh-keygen failed for " + path);
        chmod((path + ".pub").c_str(), 0644);
    }
    void write_config() {
        std::string c;
        c += "Port " + std::to_string(port) + "\nListenAddress 127.0.0.1\n";
        c += "HostKey " + dir + "/host_ed25519\nPidFile " + dir + "/sshd.pid\n";
        c += "AuthorizedKeysFile " + dir + "/authorized_keys\nStrictModes no\n";
        c += std::string(m_pam ? "UsePAM yes" : "UsePAM no") + "\nPasswordAuthentication yes\nKbdInteractiveAuthentication yes\nPubkeyAuthentication yes\n";
        c += "PermitRootLogin yes\nUseDNS no\nMaxStartups 100:30:200\nMaxSessions 100\nMaxAuthTries 20\n";
        c += "LoginGraceTime 30\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\nPrintMotd no\nPrintLastLog no\n";
        // Fast session start: bash (Debian builds it with SSH_SOURCE_BASHRC) sources
        // /etc/bash.bashrc and ~/.bashrc for every `bash -c CMD` started by sshd, unless SHLVL
        // says it is a nested shell. A user's rc (root's here runs `pyenv init`) cost 3-4 s per
        // command under load; the tests need none of it. PAM stays on (password and
        // keyboard-interactive tests need it) unless the fixture is made with with_pam = false.
        c += "SetEnv SHLVL=1\n";
        write_text(dir + "/sshd_config", c, 0600);
    }
    void start() {
        pid = fork();
        if (pid == 0) {
            int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
            dup2(fd, 1); dup2(fd, 2);
            int nul = open("/dev/null", O_RDONLY);
            dup2(nul, 0);
            setpgid(0, 0);
            execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", (dir + "/sshd_config").c_str(), (char*)nullptr);
            _exit(127);
        }
    }
    void stop() {
        if (pid > 0) {
            kill(pid, SIGTERM);
            int st = 0;
            waitpid(pid, &st, 0);
            pid = -1;
        }
    }
    void stop_agent() {
        if (m_agent_pid > 0) {
            kill(m_agent_pid, SIGTERM);
            int st = 0;
            waitpid(m_agent_pid, &st, 0);
            m_agent_pid = -1;
        }
    }
    pid_t m_agent_pid = -1;
    bool m_pam = true;
};

}  // namespace sshd_test

// Use at the top of a TEST_CASE that needs the real sshd.
#define SSHD_TEST_NEEDS_ROOT()                                  \
    do {                                                        \
        if (!sshd_test::is_root()) {                            \
            WARN("skipped: needs root (starts sshd, test user)"); \
            std::puts("skipped: needs root");                   \
            return;                                             \
        }                                                       \
    } while (0)
