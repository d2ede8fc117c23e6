// config/services.cpp - each service's own tools, as shell commands for the change flow: the
// checker (sshd -t, nginx -t, postgres -C, a test start for redis, which has no config test),
// reload through the host's service manager (systemctl when systemd runs, else the service's
// own: SIGHUP to sshd, nginx -s reload, pg_ctl reload, redis CONFIG SET), start (only to recover
// a service that died on a bad reload), and the probes the health check uses.
#include "config_flow.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

namespace sigmaops::config {

namespace {

std::string dirname_of(const std::string& p) {
    auto slash = p.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return p.substr(0, slash);
}

std::string q(const std::string& s) { return shell_quote(s); }

std::string nginx_args(const ServiceTarget& t) {
    std::string a = " -c " + q(t.config_path);
    if (!t.prefix.empty()) a += " -p " + q(t.prefix);
    return a;
}

std::string as_user(const ServiceTarget& t, const std::string& cmd) {
    if (t.run_as.empty() || t.run_as == "root") return cmd;
    return "runuser -u " + q(t.run_as) + " -- " + cmd;
}

std::string pg_ctl(const ServiceTarget& t) { return dirname_of(binary_of(t)) + "/pg_ctl"; }

} // namespace

std::string_view service_name(Service s) {
    switch (s) {
    case Service::Sshd: return "sshd";
    case Service::Nginx: return "nginx";
    case Service::Postgres: return "postgres";
    case Service::Redis: return "redis";
    }
    return "?";
}

std::optional<Service> parse_service(std::string_view s) {
    if (s == "sshd" || s == "ssh" || s == "openssh") return Service::Sshd;
    if (s == "nginx") return Service::Nginx;
    if (s == "postgres" || s == "postgresql" || s == "pg") return Service::Postgres;
    if (s == "redis" || s == "redis-server") return Service::Redis;
    return std::nullopt;
}

ServiceTarget default_target(Service service, const HostFacts& facts) {
    ServiceTarget t;
    t.service = service;
    t.service_manager = facts.service_manager == "systemd" ? "systemd" : "none";
    std::string pg_major;
    if (auto it = facts.versions.find("postgresql"); it != facts.versions.end())
        pg_major = it->second.substr(0, it->second.find('.'));
    switch (service) {
    case Service::Sshd:
        t.config_path = "/etc/ssh/sshd_config";
        t.unit = "ssh";
        t.binary = "/usr/sbin/sshd";
        t.pid_file = "/run/sshd.pid";
        t.port = 22;
        break;
    case Service::Nginx:
        t.config_path = "/etc/nginx/nginx.conf";
        t.unit = "nginx";
        t.binary = "nginx";
        t.pid_file = "/run/nginx.pid";
        t.port = 80;
        break;
    case Service::Postgres:
        // Debian's layout: /etc/postgresql/<major>/main, data in /var/lib/postgresql/<major>/main.
        t.config_path = "/etc/postgresql/" + (pg_major.empty() ? std::string("15") : pg_major) + "/main/postgresql.conf";
        t.unit = "postgresql@" + (pg_major.empty() ? std::string("15") : pg_major) + "-main";
        t.binary = pg_major.empty() ? "" : "/usr/lib/postgresql/" + pg_major + "/bin/postgres";
        t.data_dir = "/var/lib/postgresql/" + (pg_major.empty() ? std::string("15") : pg_major) + "/main";
        t.socket_dir = "/var/run/postgresql";
        t.run_as = "postgres";
        t.port = 5432;
        break;
    case Service::Redis:
        t.config_path = "/etc/redis/redis.conf";
        t.unit = "redis-server";
        t.binary = "redis-server";
        t.pid_file = "/run/redis/redis-server.pid";
        t.port = 6379;
        break;
    }
    return t;
}

std::string binary_of(const ServiceTarget& t) {
    if (!t.binary.empty()) return t.binary;
    switch (t.service) {
    case Service::Sshd: return "/usr/sbin/sshd";
    case Service::Nginx: return "nginx";
    case Service::Postgres: return "/usr/lib/postgresql/15/bin/postgres";
    case Service::Redis: return "redis-server";
    }
    return "";
}

std::string validate_command(const ServiceTarget& t) {
    const std::string bin = q(binary_of(t));
    switch (t.service) {
    case Service::Sshd: return bin + " -t -f " + q(t.config_path);
    case Service::Nginx: return bin + " -t" + nginx_args(t);
    case Service::Postgres:
        // postgres -C reads the configuration files as a start would and fails on a syntax error
        // or a bad value; it does not disturb a running server. -D is the config directory.
        return as_user(t, bin + " -C data_directory -D " + q(dirname_of(t.config_path)));
    case Service::Redis: {
        // redis-server has no config test: start it on the file with no TCP port, no socket, no
        // persistence and a scratch dir; "Ready to accept connections" = the file was accepted.
        std::string s = "d=$(mktemp -d) || exit 1; " + bin + " " + q(t.config_path) +
                        " --port 0 --unixsocket \"$d/sock\" --daemonize no --pidfile '' --save '' --appendonly no"
                        " --logfile '' --dir \"$d\" >\"$d/out\" 2>&1 & p=$!; i=0; while [ $i -lt 100 ]; do "
                        "if grep -qi 'ready to accept' \"$d/out\" 2>/dev/null; then kill $p; wait $p 2>/dev/null; rm -rf \"$d\"; "
                        "echo 'redis-server accepted the file (a test start on a private socket with no port or persistence; redis has no config test)'; exit 0; fi; "
                        "if ! kill -0 $p 2>/dev/null; then cat \"$d/out\"; rm -rf \"$d\"; exit 1; fi; sleep 0.1; i=$((i+1)); done; "
                        "kill $p; cat \"$d/out\"; rm -rf \"$d\"; echo 'redis-server did not become ready in 10 s'; exit 1";
        return "sh -c " + q(s);
    }
    }
    return "false";
}

std::string reload_command(const ServiceTarget& t, const std::string& before, const std::string& after) {
    if (t.service == Service::Redis) {
        // Redis reads its file only at start: the changed directives are set at run time.
        auto directives = [](const std::string& text) {
            std::map<std::string, std::string> m;
            std::istringstream in(text);
            std::string line;
            while (std::getline(in, line)) {
                auto b = line.find_first_not_of(" \t");
                if (b == std::string::npos || line[b] == '#') continue;
                auto e = line.find_first_of(" \t", b);
                std::string key = line.substr(b, e == std::string::npos ? std::string::npos : e - b);
                for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                std::string value = e == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", e) == std::string::npos ? line.size() : line.find_first_not_of(" \t", e));
                while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
                if (key == "include" || key == "rename-command" || key == "user" || key == "loadmodule") continue;
                m[key] = value;  // the last one wins
            }
            return m;
        };
        auto a = directives(before), b = directives(after);
        std::string cmds;
        for (const auto& [k, v] : b) {
            auto it = a.find(k);
            if (it != a.end() && it->second == v) continue;
            cmds += "out=$(redis-cli -p " + std::to_string(t.port) + " CONFIG SET " + q(k) + " " + v + " 2>&1); "
                    "case \"$out\" in OK) echo " + q("CONFIG SET " + k + ": OK") + ";; *) echo " +
                    q("CONFIG SET " + k + ": ") + "\"$out\" '(the file is changed; this takes effect at the next restart)';; esac; ";
        }
        for (const auto& [k, v] : a)
            if (!b.count(k)) cmds += "echo " + q(k + " was removed from the file: the running value stays until the next restart") + "; ";
        return cmds.empty() ? "true" : cmds + "true";
    }
    if (t.service_manager == "systemd") return "systemctl reload " + q(t.unit);
    switch (t.service) {
    case Service::Sshd: return "kill -HUP \"$(cat " + q(t.pid_file) + ")\"";
    case Service::Nginx: return q(binary_of(t)) + " -s reload" + nginx_args(t);
    case Service::Postgres: return as_user(t, q(pg_ctl(t)) + " reload -D " + q(t.data_dir));
    case Service::Redis: break;
    }
    return "false";
}

std::string start_command(const ServiceTarget& t) {
    const std::string quiet = " </dev/null >/dev/null 2>&1";
    if (t.service_manager == "systemd") return "systemctl start " + q(t.unit);
    switch (t.service) {
    case Service::Sshd: return q(binary_of(t)) + " -f " + q(t.config_path) + quiet;
    case Service::Nginx: return q(binary_of(t)) + nginx_args(t) + quiet;
    case Service::Postgres: return as_user(t, q(pg_ctl(t)) + " start -w -D " + q(t.data_dir)) + quiet;
    case Service::Redis: return q(binary_of(t)) + " " + q(t.config_path) + " --daemonize yes" + quiet;
    }
    return "false";
}

std::string alive_command(const ServiceTarget& t) {
    if (t.service_manager == "systemd") return "systemctl is-active --quiet " + q(t.unit);
    if (t.service == Service::Postgres) return as_user(t, q(pg_ctl(t)) + " status -D " + q(t.data_dir)) + " >/dev/null";
    return "kill -0 \"$(cat " + q(t.pid_file) + " 2>/dev/null)\" 2>/dev/null";
}

std::string probe_command(const ServiceTarget& t) {
    const std::string port = std::to_string(t.port);
    switch (t.service) {
    case Service::Sshd:
        return "timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + port + " && head -c 8 <&3'";
    case Service::Nginx:
        return "timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + port +
               " && printf \"GET / HTTP/1.0\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && head -c 12 <&3'";
    case Service::Postgres:
        return as_user(t, q(dirname_of(binary_of(t)) + "/psql") + " -X -h " + q(t.socket_dir.empty() ? "/var/run/postgresql" : t.socket_dir) +
                              " -p " + port + " -d postgres -Atc " +
                              q("select 'ok'; select 'pending restart: ' || string_agg(name, ', ') from pg_settings where pending_restart having count(*) > 0; "
                                "select 'file error: ' || sourcefile || ':' || sourceline || ': ' || error from pg_file_settings where error is not null"));
    case Service::Redis: return "redis-cli -p " + port + " ping";
    }
    return "false";
}

bool probe_ok(const ServiceTarget& t, const std::string& out) {
    switch (t.service) {
    case Service::Sshd: return out.rfind("SSH-", 0) == 0;
    case Service::Nginx: return out.rfind("HTTP/", 0) == 0;
    case Service::Postgres: return out.rfind("ok\n", 0) == 0 && out.find("file error: ") == std::string::npos;
    case Service::Redis: return out.rfind("PONG", 0) == 0;
    }
    return false;
}

std::string workers_command(const ServiceTarget& t) {
    if (t.service != Service::Nginx) return {};
    return "ps -o pid= --ppid \"$(cat " + q(t.pid_file) + " 2>/dev/null)\" 2>/dev/null | tr -d ' ' | sort";
}

} // namespace sigmaops::config
