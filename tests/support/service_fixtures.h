// tests/support/service_fixtures.h - real services for the config agent's tests, started from
// Debian's packages without systemd, each in its own temp dir on its own free loopback port with
// its own pid file, and stopped in the destructor: nginx (own prefix, a main file with comments
// and an included site file), PostgreSQL (initdb in a temp dir with /usr/lib/postgresql/*/bin,
// own port and socket dir, run as the postgres user), Redis (own port and dir), and a second
// sshd (its own config/port/pid file, managed as a service while the test's SshdFixture is the
// transport). Needs root; each constructor throws with the reason when it cannot start, and
// missing() says which binary is absent so a test can SKIP with a reason.
#pragma once

#include "sshd_fixture.h"

#include <glob.h>
#include <pwd.h>
#include <signal.h>

#include <fstream>
#include <string>

namespace service_test {

using sshd_test::read_text;
using sshd_test::run;
using sshd_test::write_text;

inline std::string make_dir(const char* name) {
    std::string tmpl = std::string("/tmp/sigmaops-") + name + "-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    chmod(tmpl.c_str(), 0755);
    return tmpl;
}

inline pid_t pid_from(const std::string& file) {
    std::string s = read_text(file);
    return s.empty() ? -1 : static_cast<pid_t>(std::atol(s.c_str()));
}

inline void kill_and_wait(pid_t pid, int sig = SIGTERM) {
    if (pid <= 0) return;
    kill(pid, sig);
    for (int i = 0; i < 200 && kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    if (kill(pid, 0) == 0) kill(pid, SIGKILL);
}

// The newest /usr/lib/postgresql/*/bin, "" when PostgreSQL is not installed.
inline std::string postgres_bin_dir() {
    glob_t g{};
    std::string best;
    if (glob("/usr/lib/postgresql/*/bin/postgres", 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) best = g.gl_pathv[i];
    globfree(&g);
    return best.empty() ? "" : best.substr(0, best.rfind('/'));
}

inline bool have(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// nginx with prefix `dir`: conf/nginx.conf (comments, events, http) includes conf.d/*.conf,
// where site.conf serves "ok" on `port`.
class NginxFixture {
public:
    NginxFixture() {
        dir = make_dir("nginx");
        for (const char* d : {"/conf", "/conf.d", "/logs", "/tmp"}) mkdir((dir + d).c_str(), 0755);
        main_conf = dir + "/conf/nginx.conf";
        site_conf = dir + "/conf.d/site.conf";
        pid_file = dir + "/nginx.pid";
        port = sshd_test::free_port();
        write_text(main_conf,
                   "# SigmaOps test nginx: its own prefix, port and pid file.\n"
                   "worker_processes 1;\n"
                   "pid " + pid_file + ";\n"
                   "error_log " + dir + "/logs/error.log;\n"
                   "\n"
                   "events {\n"
                   "    worker_connections 64;   # small on purpose\n"
                   "}\n"
                   "\n"
                   "http {\n"
                   "    access_log " + dir + "/logs/access.log;\n"
                   "    client_body_temp_path " + dir + "/tmp/body;\n"
                   "    proxy_temp_path " + dir + "/tmp/proxy;\n"
                   "    fastcgi_temp_path " + dir + "/tmp/fastcgi;\n"
                   "    uwsgi_temp_path " + dir + "/tmp/uwsgi;\n"
                   "    scgi_temp_path " + dir + "/tmp/scgi;\n"
                   "    include " + dir + "/conf.d/*.conf;\n"
                   "}\n");
        write_site(site_conf);
        if (run({"nginx", "-p", dir, "-c", main_conf}, dir + "/start.log") != 0 || !sshd_test::wait_for_port(port, std::chrono::seconds(5)))
            throw std::runtime_error("nginx did not start: " + read_text(dir + "/start.log") + read_text(dir + "/logs/error.log"));
    }
    void write_site(const std::string& path) const {
        write_text(path,
                   "# The test site (this comment must survive every change)\n"
                   "server {\n"
                   "    listen 127.0.0.1:" + std::to_string(port) + ";\n"
                   "\n"
                   "    keepalive_timeout 65;\n"
                   "    client_max_body_size 1m;\n"
                   "\n"
                   "    location / {\n"
                   "        return 200 \"ok\\n\";\n"
                   "    }\n"
                   "}\n");
    }
    ~NginxFixture() {
        kill_and_wait(pid_from(pid_file));
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string dir, main_conf, site_conf, pid_file;
    int port = 0;
};

// PostgreSQL: initdb in a temp dir (trust auth, no fsync), own port, own socket dir, as postgres.
class PostgresFixture {
public:
    PostgresFixture() {
        bin = postgres_bin_dir();
        if (bin.empty()) throw std::runtime_error("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)");
        const passwd* pw = getpwnam("postgres");
        if (!pw) throw std::runtime_error("no postgres account");
        dir = make_dir("postgres");
        chown(dir.c_str(), pw->pw_uid, pw->pw_gid);
        data = dir + "/data";
        port = sshd_test::free_port();
        if (run({"runuser", "-u", "postgres", "--", bin + "/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-N", "--no-instructions"},
                dir + "/initdb.log") != 0)
            throw std::runtime_error("initdb failed: " + read_text(dir + "/initdb.log"));
        conf = data + "/postgresql.conf";
        std::ofstream(conf, std::ios::app) << "\n# SigmaOps test server\nport = " << port << "\nunix_socket_directories = '" << dir
                                           << "'\nlisten_addresses = ''\nfsync = off\n";
        if (run({"runuser", "-u", "postgres", "--", bin + "/pg_ctl", "-D", data, "-l", dir + "/server.log", "-w", "-t", "30", "start"},
                dir + "/start.log") != 0)
            throw std::runtime_error("postgres did not start: " + read_text(dir + "/start.log") + read_text(dir + "/server.log"));
    }
    ~PostgresFixture() {
        run({"runuser", "-u", "postgres", "--", bin + "/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"});
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    // `psql -Atc sql` against this server.
    std::string query(const std::string& sql) const {
        const std::string out = dir + "/query.out";
        std::remove(out.c_str());
        run({"runuser", "-u", "postgres", "--", bin + "/psql", "-X", "-h", dir, "-p", std::to_string(port), "-d", "postgres", "-Atc", sql}, out);
        return read_text(out);
    }
    std::string bin, dir, data, conf;
    int port = 0;
};

// redis-server with its own port, dir, pid file and a commented config.
class RedisFixture {
public:
    RedisFixture() {
        dir = make_dir("redis");
        conf = dir + "/redis.conf";
        pid_file = dir + "/redis.pid";
        port = sshd_test::free_port();
        write_text(conf,
                   "# SigmaOps test redis (comments must survive)\n"
                   "bind 127.0.0.1\n"
                   "port " + std::to_string(port) + "\n"
                   "daemonize yes\n"
                   "pidfile " + pid_file + "\n"
                   "logfile " + dir + "/redis.log\n"
                   "dir " + dir + "\n"
                   "save \"\"\n"
                   "\n"
                   "# memory\n"
                   "maxmemory 64mb\n"
                   "maxmemory-policy noeviction\n");
        if (run({"redis-server", conf}, dir + "/start.log") != 0 || !sshd_test::wait_for_port(port, std::chrono::seconds(5)))
            throw std::runtime_error("redis did not start: " + read_text(dir + "/start.log") + read_text(dir + "/redis.log"));
    }
    ~RedisFixture() {
        kill_and_wait(pid_from(pid_file));
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string cli(const std::string& args) const {
        const std::string out = dir + "/cli.out";
        std::remove(out.c_str());
        std::vector<std::string> argv = {"sh", "-c", "redis-cli -p " + std::to_string(port) + " " + args};
        run(argv, out);
        return read_text(out);
    }
    std::string dir, conf, pid_file;
    int port = 0;
};

// A second sshd managed as a service: the transport fixture's config with its own port and pid
// file, started as a daemon (`sshd -f`), with the same host key (pinned for its port too).
class ManagedSshd {
public:
    explicit ManagedSshd(sshd_test::SshdFixture& f) : m_f(f) {
        conf = f.dir + "/managed_sshd_config";
        pid_file = f.dir + "/managed_sshd.pid";
        port = sshd_test::free_port();
        std::string c = read_text(f.dir + "/sshd_config");
        auto replace_line = [&](const std::string& key, const std::string& line) {
            auto at = c.find(key + " ");
            auto end = c.find('\n', at);
            c.replace(at, end - at, line);
        };
        replace_line("Port", "Port " + std::to_string(port));
        replace_line("PidFile", "PidFile " + pid_file);
        write_text(conf, "# a managed sshd (this comment must survive)\n" + c, 0600);
        if (run({"/usr/sbin/sshd", "-f", conf, "-E", f.dir + "/managed.log"}) != 0 || !sshd_test::wait_for_port(port, std::chrono::seconds(5)))
            throw std::runtime_error("the managed sshd did not start: " + read_text(f.dir + "/managed.log"));
        std::ofstream(f.known_hosts, std::ios::app) << "[127.0.0.1]:" << port << " " << f.host_pub << "\n";
    }
    ~ManagedSshd() { kill_and_wait(pid_from(pid_file)); }
    std::string conf, pid_file;
    int port = 0;

private:
    sshd_test::SshdFixture& m_f;
};

} // namespace service_test
