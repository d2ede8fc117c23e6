// config/services.cpp - each service's own tools, as shell commands for the change flow: the
// checker (sshd -t, nginx -t, postgres -C, a test start for redis, which has no config test; for
// sysctl a read-only check of each key, since `sysctl -p` has no dry run; systemd-analyze verify
// for unit drop-ins), reload through the host's service manager (systemctl when systemd runs, else
// the service's own: SIGHUP to sshd, nginx -s reload, pg_ctl reload, redis CONFIG SET, sysctl -p,
// systemctl daemon-reload), start (only to recover a service that died on a bad reload), and the
// probes the health check uses.
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

// redis: the password redis-cli needs, as REDISCLI_AUTH (redis-cli reads it from the environment,
// so it never reaches argv, a log or history). The command itself reads `requirepass` (the last
// one, quotes as redis.conf writes them, includes followed 4 deep) from each candidate file on the
// host and keeps the first password the server answers PONG to (or none when the file sets none).
// Candidates: `auth_file` (the backup of the original: the password the running server was started
// with, since the change flow never sets requirepass at run time), then the config file.
std::string redis_auth(const ServiceTarget& t, const std::string& auth_file) {
    static const std::string awk_prog = R"AWK(
function unq(v,   c, out, i, ch) {
  c = substr(v, 1, 1)
  if (c == "\"" || c == "'") {
    out = ""
    for (i = 2; i <= length(v); i++) {
      ch = substr(v, i, 1)
      if (ch == "\\") { i++; ch = substr(v, i, 1); if (c == "\"" && ch == "n") ch = "\n"; else if (c == "\"" && ch == "t") ch = "\t"; out = out ch; continue }
      if (ch == c) return out
      out = out ch
    }
    return out
  }
  sub(/[ \t].*$/, "", v)
  return v
}
function scan(f, depth,   line, k, v) {
  while ((getline line < f) > 0) {
    sub(/\r$/, "", line); sub(/^[ \t]+/, "", line)
    k = line; sub(/[ \t].*$/, "", k); k = tolower(k)
    v = substr(line, length(k) + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
    if (k == "requirepass") pw = unq(v)
    else if (k == "include" && depth < 4) scan(unq(v), depth + 1)
  }
  close(f)
}
BEGIN { pw = ""; scan(ARGV[1], 0); printf "%s", pw; exit }
)AWK";
    std::string files;
    if (!auth_file.empty()) files += q(auth_file) + " ";
    files += q(t.config_path);
    return "for f in " + files + "; do REDISCLI_AUTH=$(awk " + q(awk_prog) + " \"$f\" 2>/dev/null); export REDISCLI_AUTH; "
           "[ -n \"$REDISCLI_AUTH\" ] || unset REDISCLI_AUTH; case \"$(redis-cli -p " + std::to_string(t.port) +
           " ping 2>&1)\" in PONG*) break;; esac; done; ";
}

std::string systemd_running() { return "[ -d /run/systemd/system ]"; }

} // namespace

std::string collapse_ws(std::string_view s) {
    std::string out;
    bool space = false;
    for (char c : s) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

std::vector<SysctlAssignment> sysctl_assignments(const std::string& text) {
    std::vector<SysctlAssignment> out;
    auto d = parse(Format::Sysctl, "sysctl.conf", text);
    if (!d) return out;
    for (const Item& it : d->items) {
        if (it.kind != ItemKind::Setting) continue;
        const auto b = d->text.find_first_not_of(" \t", it.begin);
        const bool optional = b != std::string::npos && d->text[b] == '-';
        const std::string value = it.args.empty() ? std::string() : it.args[0];
        auto same = std::find_if(out.begin(), out.end(), [&](const SysctlAssignment& a) { return a.key == it.key_norm; });
        if (same != out.end()) {
            same->value = value;
            same->optional = optional;
        } else {
            out.push_back({it.key_norm, value, optional});
        }
    }
    return out;
}

std::vector<SysctlAssignment> sysctl_changed(const std::string& before, const std::string& after) {
    const auto a = sysctl_assignments(before);
    std::vector<SysctlAssignment> out;
    for (const auto& x : sysctl_assignments(after)) {
        auto old = std::find_if(a.begin(), a.end(), [&](const SysctlAssignment& y) { return y.key == x.key; });
        if (old == a.end() || collapse_ws(old->value) != collapse_ws(x.value)) out.push_back(x);
    }
    return out;
}

std::string sysctl_proc_path(const std::string& key) {
    if (key.empty() || key.find("..") != std::string::npos || key.front() == '.' || key.front() == '/') return {};
    std::string p = "/proc/sys/";
    for (char c : key) {
        const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':' || c == '@' || c == '/';
        if (!ok) return {};
        p += c == '.' ? '/' : c == '/' ? '.' : c;  // key_norm: '.' separates, '/' stands for a '.' inside a name
    }
    return p;
}

std::string sysctl_read_command(const std::vector<std::string>& keys) {
    std::string cmd;
    for (const auto& k : keys) {
        const std::string path = sysctl_proc_path(k);
        if (path.empty()) continue;
        cmd += "if [ -r " + q(path) + " ]; then printf '%s=' " + q(k) + "; head -n 1 " + q(path) + "; fi; ";
    }
    return cmd + "true";
}

std::vector<std::pair<std::string, std::string>> parse_sysctl_read(const std::string& out) {
    std::vector<std::pair<std::string, std::string>> r;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        const auto eq = line.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        r.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
    return r;
}

std::string sysctl_write_command(const std::vector<std::pair<std::string, std::string>>& values) {
    std::string cmd = "rc=0; ";
    for (const auto& [k, v] : values) {
        const std::string path = sysctl_proc_path(k);
        if (path.empty()) continue;
        cmd += "printf '%s\\n' " + q(v) + " > " + q(path) + " || { echo " + q("could not write back " + k) + "; rc=1; }; ";
    }
    return cmd + "exit $rc";
}

std::string systemd_loaded_command(const ServiceTarget& t) {
    return "p=$(systemctl show -p DropInPaths --value " + q(t.unit) + ") && case \" $p \" in *\" \"" + q(t.config_path) +
           "\" \"*) ;; *) echo " + q(t.config_path + " is not among " + t.unit + "'s drop-ins after the daemon-reload") +
           "; exit 1;; esac && [ \"$(systemctl show -p NeedDaemonReload --value " + q(t.unit) + ")\" != yes ] || { echo " +
           q(t.unit + " still needs a daemon-reload") + "; exit 1; }";
}

std::string_view service_name(Service s) {
    switch (s) {
    case Service::Sshd: return "sshd";
    case Service::Nginx: return "nginx";
    case Service::Postgres: return "postgres";
    case Service::Redis: return "redis";
    case Service::Sysctl: return "sysctl";
    case Service::Systemd: return "systemd";
    }
    return "?";
}

std::optional<Service> parse_service(std::string_view s) {
    if (s == "sshd" || s == "ssh" || s == "openssh") return Service::Sshd;
    if (s == "nginx") return Service::Nginx;
    if (s == "postgres" || s == "postgresql" || s == "pg") return Service::Postgres;
    if (s == "redis" || s == "redis-server") return Service::Redis;
    if (s == "sysctl") return Service::Sysctl;
    if (s == "systemd" || s == "unit" || s == "dropin" || s == "drop-in") return Service::Systemd;
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
    case Service::Sysctl:
        t.config_path = "/etc/sysctl.conf";
        t.binary = "sysctl";
        break;
    case Service::Systemd:
        // The unit and its drop-in are the caller's (no default unit).
        t.binary = "systemctl";
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
    case Service::Sysctl: return "sysctl";
    case Service::Systemd: return "systemctl";
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
    case Service::Sysctl: {
        // `sysctl -p` on a copy is not a check: procps sysctl has no dry run, it writes every key it
        // reads. What stands in reads and never writes: each key must exist under /proc/sys (a
        // "-key" line may be missing, as sysctl.d(5) allows) and be writable here, and each value
        // must have the shape of the key's current value (integer keys get as many integers as
        // they hold now; string keys take any value). Ranges are the kernel's to check: a value it
        // refuses fails the reload, which then writes the saved values back.
        static const std::string awk_prog = R"AWK(
BEGIN { rc = 0; n = 0 }
{
  line = $0; sub(/\r$/, "", line); sub(/^[ \t]+/, "", line)
  if (line == "" || line ~ /^[#;]/) next
  opt = 0; if (substr(line, 1, 1) == "-") { opt = 1; line = substr(line, 2) }
  eq = index(line, "=")
  if (!eq) { printf "%s:%d: not key = value\n", FILENAME, FNR; rc = 1; next }
  key = substr(line, 1, eq - 1); val = substr(line, eq + 1)
  gsub(/^[ \t]+|[ \t]+$/, "", key); gsub(/^[ \t]+|[ \t]+$/, "", val)
  if (key ~ /[*?[]/) { printf "%s: a glob: not checked (systemd-sysctl expands it at boot)\n", key; next }
  if (key !~ /^[A-Za-z0-9_.:@\/-]+$/ || key ~ /\.\./) { printf "%s:%d: %s: not a sysctl key\n", FILENAME, FNR, key; rc = 1; next }
  path = key
  if (!(index(key, "/") && (index(key, ".") == 0 || index(key, "/") < index(key, ".")))) gsub(/\./, "/", path)
  path = "/proc/sys/" path
  n++
  if (system("test -e '" path "'") != 0) {
    if (opt) { printf "%s: not on this kernel (ignored: the line starts with '-')\n", key; next }
    printf "%s:%d: %s: no such key on this kernel (%s does not exist)\n", FILENAME, FNR, key, path; rc = 1; next
  }
  if (system("test -w '" path "'") != 0) {
    if (ro) printf "%s:%d: %s: cannot apply: /proc/sys is read-only in this container\n", FILENAME, FNR, key
    else printf "%s:%d: %s: not writable here (a read-only key, or one only the host's initial namespace may set)\n", FILENAME, FNR, key
    if (!opt) rc = 1
    next
  }
  cur = ""; if ((getline cur < path) < 0) cur = ""; close(path)
  if (cur ~ /^-?[0-9]+([ \t]+-?[0-9]+)*$/) {
    nc = split(cur, a, /[ \t]+/); nv = split(val, b, /[ \t]+/)
    if (val !~ /^-?[0-9]+([ \t]+-?[0-9]+)*$/ || nc != nv) {
      printf "%s:%d: %s: expects %d integer(s), like its current value \"%s\", not \"%s\"\n", FILENAME, FNR, key, nc, cur, val; rc = 1; next
    }
  }
  printf "%s: ok (now \"%s\", the file sets \"%s\")\n", key, cur, val
}
END {
  if (ro && rc) print "cannot apply: /proc/sys is read-only in this container (nothing can set these keys here)"
  if (rc == 0) printf "checked %d key(s) without applying (sysctl -p has no dry run: it would apply them)\n", n
  exit rc
}
)AWK";
        // /proc/sys read-only: the mount options of /proc/sys (a container's bind mount) or /proc.
        const std::string s =
            "o=$(awk '$5==\"/proc/sys\"{s=$6} $5==\"/proc\"{p=$6} END{print (s!=\"\" ? s : p)}' /proc/self/mountinfo 2>/dev/null); "
            "case \",$o,\" in *,ro,*) ro=1;; *) ro=0;; esac; exec awk -v ro=$ro " + q(awk_prog) + " " + q(t.config_path);
        return "sh -c " + q(s);
    }
    case Service::Systemd: {
        // The drop-in has parsed already (config::parse, in the flow). systemd-analyze verify loads
        // the unit with its drop-ins as systemd would and works without systemd running; it exits 0
        // on lines systemd ignores ("Unknown key ..., ignoring"), so any line naming the drop-in fails.
        const std::string unit = t.unit_file.empty() ? t.unit : t.unit_file;
        const std::string s =
            "if command -v systemd-analyze >/dev/null 2>&1; then out=$(systemd-analyze verify " + q(unit) + " 2>&1); rc=$?; "
            "[ -n \"$out\" ] && printf '%s\\n' \"$out\"; [ $rc -eq 0 ] || exit $rc; "
            "if printf '%s\\n' \"$out\" | grep -qF -- " + q(t.config_path) + "; then echo " +
            q("systemd-analyze names the drop-in: systemd would ignore those lines") + "; exit 1; fi; echo " +
            q("systemd-analyze verify " + unit + ": the unit loads with the drop-in") + "; "
            "else echo " + q("systemd-analyze is not installed: only SigmaOps' own parser checked the drop-in (sections and Key=Value lines, not what the keys mean)") + "; fi";
        return "sh -c " + q(s);
    }
    }
    return "false";
}

std::string reload_command(const ServiceTarget& t, const std::string& before, const std::string& after, const std::string& auth_file) {
    if (t.service == Service::Sysctl) {
        // Save every key's running value, apply, and when sysctl fails (a value the kernel refuses:
        // it goes on with the other keys) write the saved values back: never half-applied.
        std::vector<std::string> keys;
        for (const auto& a : sysctl_assignments(after)) keys.push_back(a.key);
        for (const auto& a : sysctl_assignments(before))
            if (std::find(keys.begin(), keys.end(), a.key) == keys.end()) keys.push_back(a.key);
        std::string save, back;
        int i = 0;
        for (const auto& k : keys) {
            const std::string path = sysctl_proc_path(k);
            if (path.empty()) continue;
            const std::string var = "s" + std::to_string(i++);
            save += var + "=$(head -n 1 " + q(path) + " 2>/dev/null) && " + var + "_ok=1; ";
            back += "[ -n \"$" + var + "_ok\" ] && { printf '%s\\n' \"$" + var + "\" > " + q(path) + " || echo " + q("could not write back " + k) + "; }; ";
        }
        const bool system = t.config_path.find("/sysctl.d/") != std::string::npos;
        const std::string apply = system ? "sysctl --system" : "sysctl -p " + q(t.config_path);
        const auto now = sysctl_assignments(after);
        for (const auto& a : sysctl_assignments(before))
            if (std::none_of(now.begin(), now.end(), [&](const SysctlAssignment& x) { return x.key == a.key; }))
                save += "echo " + q(a.key + " was removed from the file: its running value stays until the next boot") + "; ";
        return save + "if " + apply + "; then exit 0; fi; echo " + q(apply + " failed: writing back the running values saved before it") + "; " +
               back + "exit 1";
    }
    if (t.service == Service::Systemd) {
        // Only daemon-reload: never a blind restart. Without systemd nothing loads a drop-in.
        return systemd_running() + " || { echo \"systemd is not running on this host (PID 1 is $(cat /proc/1/comm 2>/dev/null)): "
               "nothing loads unit drop-ins here, so the change cannot take effect\"; exit 3; }; systemctl daemon-reload && echo " +
               q("systemctl daemon-reload: done; " + t.unit + " picks the change up at its next restart (SigmaOps never restarts it: "
                 "systemctl restart " + t.unit + " when convenient)");
    }
    if (t.service == Service::Redis) {
        // Redis reads its file only at start: the changed directives are set at run time.
        // Each directive as redis reads it (quotes resolved), its words joined by one space: one
        // CONFIG SET argument, shell-quoted, so nothing in the file reaches the shell as code.
        auto directives = [](const std::string& text) {
            std::map<std::string, std::string> m;
            auto d = parse(Format::Redis, "redis.conf", text);
            if (!d) return m;
            for (const Item& it : d->items) {
                if (it.kind != ItemKind::Setting) continue;
                const std::string& key = it.key_norm;
                if (key == "include" || key == "rename-command" || key == "user" || key == "loadmodule") continue;
                std::string value;
                for (std::size_t i = 0; i < it.args.size(); ++i) value += (i ? " " : "") + it.args[i];
                m[key] = value;  // the last one wins
            }
            return m;
        };
        auto a = directives(before), b = directives(after);
        std::string cmds;
        for (const auto& [k, v] : b) {
            auto it = a.find(k);
            if (it != a.end() && it->second == v) continue;
            if (k == "requirepass" || k == "masterauth") {
                // Never on a command line: the file is changed; the server reads it at its next start.
                cmds += "echo " + q(k + " changed in the file: takes effect at the next restart (a password is never set through a command line)") + "; ";
                continue;
            }
            cmds += "out=$(redis-cli -p " + std::to_string(t.port) + " CONFIG SET " + q(k) + " " + q(v) + " 2>&1); "
                    "case \"$out\" in OK) echo " + q("CONFIG SET " + k + ": OK") + ";; *) echo " +
                    q("CONFIG SET " + k + ": ") + "\"$out\" '(the file is changed; this takes effect at the next restart)';; esac; ";
        }
        for (const auto& [k, v] : a)
            if (!b.count(k)) cmds += "echo " + q(k + " was removed from the file: the running value stays until the next restart") + "; ";
        return cmds.empty() ? "true" : "sh -c " + q(redis_auth(t, auth_file) + cmds + "true");
    }
    if (t.service_manager == "systemd") return "systemctl reload " + q(t.unit);
    switch (t.service) {
    case Service::Sshd: return "kill -HUP \"$(cat " + q(t.pid_file) + ")\"";
    case Service::Nginx: return q(binary_of(t)) + " -s reload" + nginx_args(t);
    case Service::Postgres: return as_user(t, q(pg_ctl(t)) + " reload -D " + q(t.data_dir));
    case Service::Redis: case Service::Sysctl: case Service::Systemd: break;
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
    case Service::Sysctl: case Service::Systemd: return "true";  // nothing runs: nothing to start
    }
    return "false";
}

std::string alive_command(const ServiceTarget& t) {
    if (t.service == Service::Sysctl || t.service == Service::Systemd) return "true";
    if (t.service_manager == "systemd") return "systemctl is-active --quiet " + q(t.unit);
    if (t.service == Service::Postgres) return as_user(t, q(pg_ctl(t)) + " status -D " + q(t.data_dir)) + " >/dev/null";
    return "kill -0 \"$(cat " + q(t.pid_file) + " 2>/dev/null)\" 2>/dev/null";
}

std::string probe_command(const ServiceTarget& t, const std::string& auth_file) {
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
    case Service::Redis: return "sh -c " + q(redis_auth(t, auth_file) + "redis-cli -p " + port + " ping");
    case Service::Sysctl: case Service::Systemd: return "true";  // the flow reads the keys back / asks systemctl
    }
    return "false";
}

bool probe_ok(const ServiceTarget& t, const std::string& out) {
    switch (t.service) {
    case Service::Sshd: return out.rfind("SSH-", 0) == 0;
    case Service::Nginx: return out.rfind("HTTP/", 0) == 0;
    case Service::Postgres: return out.rfind("ok\n", 0) == 0 && out.find("file error: ") == std::string::npos;
    case Service::Redis: return out.rfind("PONG", 0) == 0;
    case Service::Sysctl: case Service::Systemd: return true;
    }
    return false;
}

std::string workers_command(const ServiceTarget& t) {
    if (t.service != Service::Nginx) return {};
    return "ps -o pid= --ppid \"$(cat " + q(t.pid_file) + " 2>/dev/null)\" 2>/dev/null | tr -d ' ' | sort";
}

} // namespace sigmaops::config
