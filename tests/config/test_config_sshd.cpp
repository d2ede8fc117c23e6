// test_config_sshd.cpp - the sshd hardening rules (issue 18 item 3) on Debian 12's own
// sshd_config (copied to a temp dir; /etc is never written): the hardened file passes the real
// `sshd -t` with a temp host key, keeps the user's login method, is not hardened twice, and raises
// Debian's Lynis SSH score with no SSH-7408 suggestion left for an option the rules cover. Lynis
// reads /etc/ssh/sshd_config through `sshd -T`, so each Lynis run happens in a private mount
// namespace (`unshare -m`) with the file under test bind-mounted over /etc/ssh/sshd_config.
#include <config/config.h>
#include <sshd_fixture.h>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using namespace sigmaops;
using namespace sigmaops::config;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        std::random_device rd;
        path = fs::temp_directory_path() / ("sigmaops-sshd-" + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~TempDir() { std::error_code ec; fs::remove_all(path, ec); }
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void spit(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

// Runs a shell command; its exit status and its output (stdout + stderr).
std::pair<int, std::string> sh(const std::string& cmd) {
    std::string out;
    FILE* f = popen((cmd + " 2>&1").c_str(), "r");
    if (!f) return {-1, ""};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    const int st = pclose(f);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

bool have(const char* path) { return access(path, X_OK) == 0; }

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

// Hardens `text` (an sshd_config at `path`) and returns the new bytes.
std::string harden(const std::string& path, const SshdFacts& facts, std::vector<Change>* changes = nullptr) {
    auto set = load(Format::Sshd, path, local_files());
    REQUIRE(set);
    auto ch = sshd_hardening(*set, facts);
    if (changes) *changes = ch;
    auto plan = plan_changes(*set, ch);
    REQUIRE(plan);
    auto files = apply_hunks(*set, plan->hunks);
    REQUIRE(files);
    for (auto& [fi, text] : *files)
        if (fi == 0) return text;
    return set->files[0].text;
}

// Lynis' report for the given file standing in for /etc/ssh/sshd_config: hardening_index and the
// SSH-7408 suggestions' option names.
struct LynisResult {
    int index = -1;
    std::set<std::string> ssh_suggestions;
    std::string raw;
};
LynisResult lynis_on(const fs::path& config, const fs::path& dir, const std::string& tag) {
    const fs::path report = dir / ("report-" + tag + ".dat"), log = dir / ("lynis-" + tag + ".log");
    const std::string cmd = "unshare -m sh -c 'mount --bind " + config.string() +
                            " /etc/ssh/sshd_config && cd /tmp && lynis audit system --tests-from-group ssh --quick --no-colors --report-file " +
                            report.string() + " --log-file " + log.string() + " >/dev/null'";
    auto [rc, out] = sh(cmd);
    INFO(out);
    REQUIRE(rc == 0);
    LynisResult r;
    r.raw = slurp(report);
    std::istringstream in(r.raw);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("hardening_index=", 0) == 0) r.index = std::stoi(line.substr(16));
        if (line.rfind("suggestion[]=SSH-7408|", 0) == 0) {
            // suggestion[]=SSH-7408|Consider hardening SSH configuration|MaxAuthTries (set 6 to 3)|-|
            const size_t a = line.find('|', 22);
            const size_t b = line.find(' ', a + 1);
            r.ssh_suggestions.insert(line.substr(a + 1, b - a - 1));
        }
    }
    return r;
}

} // namespace

TEST_CASE("sshd hardening of Debian 12's sshd_config passes sshd -t and is not repeated", "[config][sshd]") {
    if (!fs::exists("/etc/ssh/sshd_config") || !have("/usr/sbin/sshd") || !have("/usr/bin/ssh-keygen")) {
        std::puts("skipped: openssh-server is not installed");
        return;
    }
    TempDir tmp;
    const fs::path conf = tmp.path / "sshd_config";
    const std::string original = slurp("/etc/ssh/sshd_config");
    spit(conf, original);
    SshdFacts facts;  // Debian 12, OpenSSH 9.2, a key login as a normal user
    facts.login_method = "publickey";
    facts.login_user = "admin";
    std::vector<Change> changes;
    const std::string hardened = harden(conf.string(), facts, &changes);
    REQUIRE(hardened != original);
    std::set<std::string> keys;
    for (const Change& c : changes) {
        keys.insert(c.key);
        CHECK(!c.source.empty());
        CHECK(!c.reason.empty());
        CHECK(!c.rule_id.empty());
    }
    CHECK(keys.count("PasswordAuthentication"));
    CHECK(keys.count("PermitRootLogin"));
    CHECK(keys.count("X11Forwarding"));
    CHECK(keys.count("Ciphers"));
    CHECK(!keys.count("KbdInteractiveAuthentication"));  // Debian already sets it to no: never recommend what is set

    // Every line of the original is still there but the edited ones (X11Forwarding yes -> no).
    CHECK(hardened.find("X11Forwarding no\n") != std::string::npos);
    CHECK(hardened.find("X11Forwarding yes") == std::string::npos);
    CHECK(hardened.compare(0, 300, original, 0, 300) == 0);  // the header comments are untouched

    // The real checker, with a throwaway host key.
    const fs::path key = tmp.path / "host_ed25519";
    REQUIRE(sh("ssh-keygen -q -t ed25519 -N '' -f " + key.string()).first == 0);
    const fs::path out = tmp.path / "sshd_config.hardened";
    spit(out, hardened);
    auto [rc, text] = sh("/usr/sbin/sshd -t -f " + out.string() + " -h " + key.string());
    INFO(text);
    CHECK(rc == 0);
    // And sshd reads back the values the rules set.
    auto [rc2, dump] = sh("/usr/sbin/sshd -T -f " + out.string() + " -h " + key.string() + " -C user=admin,host=x,addr=10.0.0.1");
    REQUIRE(rc2 == 0);
    CHECK(dump.find("\npasswordauthentication no\n") != std::string::npos);
    CHECK(dump.find("\npermitrootlogin no\n") != std::string::npos);
    CHECK(dump.find("\nmaxauthtries 3\n") != std::string::npos);
    CHECK(dump.find("\nmacs hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,umac-128-etm@openssh.com\n") != std::string::npos);

    // Hardening the hardened file again changes nothing.
    auto again = load(Format::Sshd, out.string(), local_files());
    REQUIRE(again);
    CHECK(sshd_hardening(*again, facts).empty());
}

TEST_CASE("sshd hardening never takes away the way the user logs in", "[config][sshd]") {
    TempDir tmp;
    const fs::path conf = tmp.path / "sshd_config";
    spit(conf, "PermitRootLogin yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication yes\nUsePAM yes\n");
    SshdFacts pw;
    pw.login_method = "password";
    pw.login_user = "alice";
    std::vector<Change> ch;
    const std::string a = harden(conf.string(), pw, &ch);
    CHECK(a.find("PasswordAuthentication yes\n") != std::string::npos);
    for (const Change& c : ch) CHECK(c.key != "PasswordAuthentication");
    CHECK(a.find("KbdInteractiveAuthentication no\n") != std::string::npos);  // password login does not need it

    SshdFacts kbd;
    kbd.login_method = "keyboard-interactive";
    const std::string b = harden(conf.string(), kbd);
    CHECK(b.find("KbdInteractiveAuthentication yes\n") != std::string::npos);
    CHECK(b.find("PasswordAuthentication yes\n") != std::string::npos);

    // root logs in with a key: root keeps key login (prohibit-password), not "no".
    SshdFacts root;
    root.login_user = "root";
    const std::string c = harden(conf.string(), root, &ch);
    CHECK(c.find("PermitRootLogin prohibit-password\n") != std::string::npos);
    CHECK(c.find("PasswordAuthentication no\n") != std::string::npos);
    bool said = false;
    for (const Change& x : ch)
        if (x.key == "PermitRootLogin") said = x.disagreement.find("Mozilla") != std::string::npos;
    CHECK(said);
}

TEST_CASE("Lynis' SSH score rises and no covered SSH-7408 suggestion is left", "[config][sshd][lynis]") {
    if (geteuid() != 0) {
        std::puts("skipped: needs root (a private mount namespace for Lynis)");
        return;
    }
    if (!have("/usr/sbin/lynis") || !have("/usr/sbin/sshd") || !have("/usr/bin/unshare")) {
        std::puts("skipped: lynis, openssh-server or unshare is not installed");
        return;
    }
    TempDir tmp;
    const fs::path orig = tmp.path / "sshd_config.orig";
    spit(orig, slurp("/etc/ssh/sshd_config"));
    SshdFacts facts;
    facts.login_user = "admin";
    std::vector<Change> changes;
    const fs::path hard = tmp.path / "sshd_config.hardened";
    spit(hard, harden(orig.string(), facts, &changes));

    // Lynis' SSH tests need a running sshd (SSH-7402): one on a free port, on the original file.
    const fs::path key = tmp.path / "host_ed25519";
    REQUIRE(sh("ssh-keygen -q -t ed25519 -N '' -f " + key.string()).first == 0);
    const fs::path pid = tmp.path / "sshd.pid";
    fs::create_directories("/run/sshd");  // sshd's privilege separation directory
    const int port = free_port();
    auto [src, sout] = sh("/usr/sbin/sshd -f " + orig.string() + " -h " + key.string() + " -o ListenAddress=127.0.0.1:" +
                          std::to_string(port) + " -o PidFile=" + pid.string());
    INFO(sout);
    REQUIRE(src == 0);
    std::string pid_text;
    for (int i = 0; i < 50 && (pid_text = slurp(pid)).empty(); ++i) usleep(100000);
    struct Stop {
        std::string p;
        ~Stop() { if (!p.empty()) kill(std::stoi(p), SIGTERM); }
    } stop{pid_text};
    REQUIRE(!pid_text.empty());

    const LynisResult before = lynis_on(orig, tmp.path, "orig");
    const LynisResult after = lynis_on(hard, tmp.path, "hardened");
    INFO("before " << before.index << ", after " << after.index);
    std::printf("lynis hardening index %d -> %d; SSH-7408 suggestions %zu -> %zu\n", before.index, after.index,
                before.ssh_suggestions.size(), after.ssh_suggestions.size());
    REQUIRE(before.index > 0);
    CHECK(after.index > before.index);
    CHECK(before.ssh_suggestions.size() > after.ssh_suggestions.size());
    // Options the rules cover (the sshd rules' keys): none may be left among Lynis' suggestions.
    std::set<std::string> covered = {"AllowTcpForwarding", "ClientAliveCountMax", "Compression", "LogLevel", "MaxAuthTries",
                                     "MaxSessions", "TCPKeepAlive", "X11Forwarding", "AllowAgentForwarding", "PermitRootLogin"};
    for (const std::string& s : after.ssh_suggestions) {
        INFO("Lynis still suggests " << s);
        CHECK(!covered.count(s));
    }
    // What is left is only what the rules do not claim (Port: moving sshd off 22 is not hardening
    // the rules make, a firewall can lock the user out).
    for (const std::string& s : after.ssh_suggestions) CHECK(s == "Port");
    CHECK(slurp("/etc/ssh/sshd_config") == slurp(orig));  // /etc untouched
}

TEST_CASE("a hardened sshd keeps the user's key login working: a real login through it", "[config][sshd]") {
    if (!sshd_test::is_root()) {
        std::puts("skipped: needs root (starts sshd)");
        return;
    }
    // The fixture's permissive sshd_config (passwords, root login, MaxAuthTries 20, ...) and its keys.
    sshd_test::SshdFixture fx(false);
    TempDir tmp;
    const fs::path conf = tmp.path / "sshd_config";
    spit(conf, slurp(fx.dir + "/sshd_config"));
    auto set = load(Format::Sshd, conf.string(), local_files());
    REQUIRE(set);
    SshdFacts facts;
    facts.login_user = "root";  // the test logs in as root with a key: that must survive
    facts.login_method = "publickey";
    auto changes = sshd_hardening(*set, facts);
    // A second sshd on its own port and pid file, from the hardened file.
    const int port = sshd_test::free_port();
    Change p;
    p.key = "Port";
    p.value = std::to_string(port);
    p.rule_id = "test.port";
    changes.push_back(p);
    Change pid;
    pid.key = "PidFile";
    pid.value = (tmp.path / "sshd.pid").string();
    pid.rule_id = "test.pid";
    changes.push_back(pid);
    auto plan = plan_changes(*set, changes);
    REQUIRE(plan);
    auto files = apply_hunks(*set, plan->hunks);
    REQUIRE(files);
    REQUIRE(files->size() == 1);
    const fs::path hard = tmp.path / "sshd_config.hardened";
    spit(hard, files->front().second);
    INFO(files->front().second);
    REQUIRE(sh("/usr/sbin/sshd -t -f " + hard.string()).first == 0);
    pid_t sshd = fork();
    if (sshd == 0) {
        const int log = open((tmp.path / "sshd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(log, 1);
        dup2(log, 2);
        execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", hard.c_str(), (char*)nullptr);
        _exit(127);
    }
    struct Reap {
        pid_t p;
        ~Reap() { kill(p, SIGTERM); int st; waitpid(p, &st, 0); }
    } reap{sshd};
    REQUIRE(sshd_test::wait_for_port(port, std::chrono::milliseconds(5000)));
    const std::string ssh = "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=" + tmp.path.string() +
                            "/kh -o IdentitiesOnly=yes -p " + std::to_string(port) + " ";
    spit(tmp.path / "kh", "[127.0.0.1]:" + std::to_string(port) + " " + fx.host_pub + "\n");
    auto [rc, out] = sh(ssh + "-i " + fx.key + " root@127.0.0.1 echo logged-in");
    INFO(out);
    CHECK(rc == 0);
    CHECK(out.find("logged-in") != std::string::npos);
    // Passwords are off now: a password-only client is refused.
    auto [rc2, out2] = sh(ssh + "-o PreferredAuthentications=password,keyboard-interactive root@127.0.0.1 true");
    CHECK(rc2 == 255);
    CHECK(out2.find("Permission denied") != std::string::npos);
}
