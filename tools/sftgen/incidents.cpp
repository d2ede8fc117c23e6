// incidents.cpp - the incident generator of sigmaops-sftgen (incidents.h). Each scenario writes a
// root cause, the consequences it causes and routine noise into one or more sources; the messages
// are the phrasing the programs themselves use (kernel, systemd, nginx, PostgreSQL, MySQL, sshd,
// chrony...), with hosts, processes, pids, times, devices and paths drawn at random.
#include "incidents.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>

namespace sftgen {

namespace {

struct Ev {
    std::int64_t t = 0;
    std::string app, pid, msg;
    int prio = 6;
    bool kernel = false;
};

std::string two(int v) { char b[8]; std::snprintf(b, sizeof b, "%02d", v); return b; }

std::tm utc(std::int64_t ms) {
    std::time_t t = std::time_t(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return tm;
}

const char* const k_mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string syslog_time(std::int64_t ms) {
    std::tm tm = utc(ms);
    char b[32];
    std::snprintf(b, sizeof b, "%s %2d %02d:%02d:%02d", k_mon[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return b;
}
std::string iso_time(std::int64_t ms, bool micro) {
    std::tm tm = utc(ms);
    char b[48];
    if (micro)
        std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                      tm.tm_min, tm.tm_sec, int(ms % 1000) * 1000 + int((ms * 7) % 1000));
    else
        std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d+0000", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                      tm.tm_min, tm.tm_sec);
    return b;
}
std::string slash_time(std::int64_t ms) {
    std::tm tm = utc(ms);
    char b[32];
    std::snprintf(b, sizeof b, "%04d/%02d/%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return b;
}
std::string pg_time(std::int64_t ms) {
    std::tm tm = utc(ms);
    char b[40];
    std::snprintf(b, sizeof b, "%04d-%02d-%02d %02d:%02d:%02d.%03d UTC", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, int(ms % 1000));
    return b;
}
std::string mysql_time(std::int64_t ms) {
    std::tm tm = utc(ms);
    char b[40];
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, int(ms % 1000) * 1000 + 123);
    return b;
}

std::string hex(Rng& r, int digits) {
    static const char* k = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < digits; ++i) s += k[r.below(16)];
    return s;
}
std::string num(std::int64_t v) { return std::to_string(v); }

const std::vector<std::string> k_hosts = {"web01", "web-02", "db1", "app3", "api-prod-1", "worker7", "nas01", "mail", "ci-runner2",
                                          "k8s-node3", "edge-fra1", "backup01", "gitlab", "monitor", "pg-primary", "cache01", "shop",
                                          "vpn", "build", "files", "lb1", "stage-app", "erp", "wiki", "db-replica2", "ingest4"};
const std::vector<std::string> k_users = {"alice", "bob", "deploy", "ops", "carol", "jenkins", "admin", "dave", "svc-backup", "ansible"};
const std::vector<std::string> k_attack_users = {"admin", "root", "test", "oracle", "ubuntu", "user", "git", "postgres", "guest",
                                                 "ftpuser", "pi", "support", "deploy", "minecraft", "hadoop", "tomcat"};
const std::vector<std::string> k_sites = {"shop.example.com", "api.example.com", "www.example.org", "portal.example.net",
                                          "intranet.example.com", "status.example.io", "app.example.com", "cdn.example.org"};

std::string ip_internal(Rng& r) { return "10." + num(r.range(0, 40)) + "." + num(r.range(0, 9)) + "." + num(r.range(2, 250)); }
std::string ip_public(Rng& r) {
    static const std::vector<std::string> nets = {"203.0.113.", "198.51.100.", "192.0.2.", "185.220.101.", "45.155.205.",
                                                  "141.98.11.", "218.92.0.", "61.177.172."};
    return r.pick(nets) + num(r.range(2, 254));
}

struct Service {
    std::string proc, unit, desc;
};
const std::vector<Service> k_services = {
    {"mysqld", "mysql.service", "MySQL Community Server"},
    {"mariadbd", "mariadb.service", "MariaDB 10.11.6 database server"},
    {"java", "tomcat9.service", "Apache Tomcat 9 Web Application Server"},
    {"java", "elasticsearch.service", "Elasticsearch"},
    {"java", "jenkins.service", "Jenkins Continuous Integration Server"},
    {"postgres", "postgresql@15-main.service", "PostgreSQL Cluster 15-main"},
    {"node", "api.service", "API server (node)"},
    {"node", "shop-frontend.service", "Shop frontend"},
    {"python3", "worker.service", "Background job worker"},
    {"python3", "celery.service", "Celery task queue"},
    {"gunicorn", "webapp.service", "Gunicorn instance for the web app"},
    {"php-fpm8.2", "php8.2-fpm.service", "The PHP 8.2 FastCGI Process Manager"},
    {"redis-server", "redis-server.service", "Advanced key-value store"},
    {"clamd", "clamav-daemon.service", "Clam AntiVirus userspace daemon"},
    {"ruby", "sidekiq.service", "sidekiq"},
    {"dotnet", "kestrel-orders.service", "Orders API (.NET)"},
    {"influxd", "influxdb.service", "InfluxDB is an open-source, distributed, time series database"},
    {"prometheus", "prometheus.service", "Monitoring system and time series database"},
    {"grafana", "grafana-server.service", "Grafana instance"},
    {"mongod", "mongod.service", "MongoDB Database Server"},
};

// One incident under construction.
struct Ctx {
    Rng& r;
    std::string host;
    int fmt = 0;               // syslog source: 0 RFC 3164, 1 ISO (rsyslog/journalctl short-iso), 2 journald JSON
    std::int64_t t0 = 0;       // the incident starts here
    std::int64_t boot_s = 0;   // uptime at t0 (kernel timestamps)
    bool kernel_uptime = false;
    std::vector<Ev> sys, nginx, pg, mysql;
    std::vector<Ev> spring, jsonl;   // a Java (Spring Boot) application log with stack traces; a Go service's JSON lines
    std::string app_log;             // their file name
    Incident inc;

    explicit Ctx(Rng& rng) : r(rng) {}

    Ev& ev(std::vector<Ev>& to, std::int64_t t, std::string app, std::string pid, std::string msg, int prio = 6) {
        to.push_back({t, std::move(app), std::move(pid), std::move(msg), prio, false});
        return to.back();
    }
    void kern(std::int64_t t, std::string msg, int prio = 3) {
        Ev& e = ev(sys, t, "kernel", "", std::move(msg), prio);
        e.kernel = true;
    }
    void sysd(std::int64_t t, std::string msg, int prio = 6) { ev(sys, t, "systemd", "1", std::move(msg), prio); }
    std::string pid() { return num(r.range(300, 99999)); }
    void fact(const std::string& cat, const std::string& k, const std::string& v) { inc.facts[cat][k] = v; }
};

// ---- noise: routine lines and near misses ---------------------------------------------------

void noise(Ctx& c, std::int64_t from, std::int64_t to, int n, bool near_misses) {
    Rng& r = c.r;
    const std::string cron_pid = c.pid();
    for (int i = 0; i < n; ++i) {
        const std::int64_t t = from + std::int64_t(r.below(std::uint64_t(std::max<std::int64_t>(1, to - from))));
        const std::string u = r.pick(k_users);
        switch (r.below(near_misses ? 16 : 12)) {
        case 0: c.ev(c.sys, t, "CRON", c.pid(), r.pick(std::vector<std::string>{"(root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
                                                                               "(www-data) CMD (php /var/www/app/artisan schedule:run >> /dev/null 2>&1)",
                                                                               "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
                                                                               "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
                                                                               "pam_unix(cron:session): session closed for user root"})); break;
        case 1: {
            const std::string p = c.pid(), ip = ip_internal(r);
            c.ev(c.sys, t, "sshd", p, "Accepted publickey for " + u + " from " + ip + " port " + num(r.range(30000, 65000)) + " ssh2: ED25519 SHA256:" + hex(r, 20));
            c.ev(c.sys, t + 40, "sshd", p, "pam_unix(sshd:session): session opened for user " + u + "(uid=" + num(r.range(1000, 1010)) + ") by (uid=0)");
            break;
        }
        case 2: {
            const std::string s = num(r.range(2, 900));
            c.ev(c.sys, t, "systemd-logind", c.pid(), "New session " + s + " of user " + u + ".");
            c.sysd(t + 30, "Started session-" + s + ".scope - Session " + s + " of User " + u + ".");
            break;
        }
        case 3: c.ev(c.sys, t, "systemd-logind", c.pid(), "Removed session " + num(r.range(2, 900)) + "."); break;
        case 4: {
            const auto pr = r.pick(std::vector<std::pair<std::string, std::string>>{
                {"apt-daily.service", "Daily apt download activities"}, {"logrotate.service", "Rotate log files"},
                {"systemd-tmpfiles-clean.service", "Cleanup of Temporary Directories"}, {"man-db.service", "Daily man-db regeneration"},
                {"phpsessionclean.service", "Clean php session files"}, {"sysstat-collect.service", "system activity accounting tool"}});
            c.sysd(t, "Starting " + pr.second + "...");
            c.sysd(t + 900, pr.first + ": Deactivated successfully.");
            c.sysd(t + 910, "Finished " + pr.first + " - " + pr.second + ".");
            break;
        }
        case 5: c.kern(t, "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:" + hex(r, 2) + ":" + hex(r, 2) + ":" + hex(r, 2) + " SRC=" + ip_public(r) +
                              " DST=" + ip_internal(r) + " LEN=44 TOS=0x00 PREC=0x00 TTL=" + num(r.range(40, 250)) + " ID=" + num(r.range(1, 65000)) +
                              " PROTO=TCP SPT=" + num(r.range(1024, 65000)) + " DPT=" + r.pick(std::vector<std::string>{"23", "3389", "5900", "8088", "2375"}) +
                              " WINDOW=1024 RES=0x00 SYN URGP=0", 4); break;
        case 6: c.ev(c.sys, t, "systemd-networkd", c.pid(), "eth0: DHCPv4 address " + ip_internal(r) + "/24, gateway 10.0.0.1 acquired from 10.0.0.1"); break;
        case 7: c.ev(c.sys, t, "rsyslogd", c.pid(), "[origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"" + c.pid() + "\" x-info=\"https://www.rsyslog.com\"] rsyslogd was HUPed"); break;
        case 8: c.ev(c.sys, t, "postfix/qmgr", c.pid(), hex(r, 10) + ": from=<root@" + c.host + ".example.com>, size=" + num(r.range(400, 9000)) + ", nrcpt=1 (queue active)"); break;
        case 9: c.ev(c.sys, t, "sshd", c.pid(), "Received disconnect from " + ip_internal(r) + " port " + num(r.range(30000, 65000)) + ":11: disconnected by user"); break;
        case 10: c.ev(c.sys, t, "sudo", "", u + " : TTY=pts/" + num(r.range(0, 4)) + " ; PWD=/home/" + u + " ; USER=root ; COMMAND=/usr/bin/systemctl status " + r.pick(k_services).unit); break;
        case 11: c.ev(c.sys, t, "CRON", cron_pid, "(" + u + ") CMD (/home/" + u + "/bin/sync.sh >/dev/null 2>&1)"); break;
        // near misses: the words of trouble in routine lines
        case 12: c.ev(c.sys, t, "nginx", c.pid(), "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok");
                 c.ev(c.sys, t + 5, "nginx", c.pid(), "nginx: configuration file /etc/nginx/nginx.conf test is successful"); break;
        case 13: { const auto& s = r.pick(k_services);
                   c.sysd(t, s.unit + ": Main process exited, code=exited, status=0/SUCCESS");
                   c.sysd(t + 3, s.unit + ": Deactivated successfully."); break; }
        case 14: c.ev(c.sys, t, "systemd-fsck", c.pid(), "/dev/sda1: clean, " + num(r.range(10000, 90000)) + "/" + num(r.range(100000, 900000)) + " files, 0 errors"); break;
        default: c.ev(c.sys, t, "sshd", c.pid(), "Failed password for " + u + " from " + ip_internal(r) + " port " + num(r.range(30000, 65000)) + " ssh2"); break;
        }
    }
}

// A unit failing as the consequence of something: the lines systemd writes.
void unit_fails(Ctx& c, std::int64_t t, const Service& s, const std::string& how) {
    if (how == "killed") c.sysd(t, s.unit + ": Main process exited, code=killed, status=9/KILL", 4);
    else if (how == "exit") c.sysd(t, s.unit + ": Main process exited, code=exited, status=1/FAILURE", 4);
    c.sysd(t + 2, s.unit + ": Failed with result '" + std::string(how == "killed" ? "oom-kill" : how == "timeout" ? "timeout" : how == "core" ? "core-dump" : "exit-code") + "'.", 4);
    if (c.r.chance(0.5)) c.sysd(t + 4, "Failed to start " + s.unit + " - " + s.desc + ".", 3);
    c.fact("systemd-unit-failure", "unit", s.unit);
    c.inc.consequences.push_back("systemd-unit-failure");
}

// ---- scenarios ------------------------------------------------------------------------------

void sc_oom(Ctx& c) {
    Rng& r = c.r;
    const bool cgroup = r.chance(0.4);
    const int chain = int(r.below(4));   // 0 alone, 1 unit killed, 2 unit restart limit, 3 repeated kills
    c.inc.family = std::string(cgroup ? "cgroup" : "global") + "-" + std::vector<std::string>{"alone", "unit", "restart-limit", "repeat"}[chain];
    const Service s = r.pick(k_services);
    std::int64_t t = c.t0;
    const int kills = chain == 3 ? int(r.range(2, 4)) : 1;
    for (int k = 0; k < kills; ++k) {
        const std::string pid = c.pid(), uid = num(r.range(100, 1100));
        const std::string trigger = r.chance(0.6) ? s.proc : r.pick(std::vector<std::string>{"kworker/u8:2", "systemd-journal", "cron", "sshd", "apt-check"});
        c.kern(t, trigger + " invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0", 4);
        if (r.chance(0.5)) c.kern(t, "CPU: " + num(r.range(0, 7)) + " PID: " + num(r.range(100, 9000)) + " Comm: " + trigger + " Not tainted 6.1.0-" + num(r.range(10, 28)) + "-amd64 #1 Debian 6.1." + num(r.range(50, 120)) + "-1", 4);
        if (r.chance(0.5)) c.kern(t, "Mem-Info:", 4);
        const std::string vm = num(r.range(800000, 16000000)), rss = num(r.range(500000, 12000000));
        if (cgroup) {
            const std::string limit = num(r.pick(std::vector<int>{524288, 1048576, 2097152, 4194304}));
            c.kern(t, "memory: usage " + limit + "kB, limit " + limit + "kB, failcnt " + num(r.range(1, 5000)), 4);
            c.kern(t, "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/system.slice/" + s.unit +
                          ",task_memcg=/system.slice/" + s.unit + ",task=" + s.proc + ",pid=" + pid + ",uid=" + uid);
            c.kern(t + 1, "Memory cgroup out of memory: Killed process " + pid + " (" + s.proc + ") total-vm:" + vm + "kB, anon-rss:" + rss +
                              "kB, file-rss:" + num(r.range(0, 90000)) + "kB, shmem-rss:0kB, UID:" + uid + " pgtables:" + num(r.range(1000, 30000)) + "kB oom_score_adj:0", 3);
        } else {
            c.kern(t + 1, "Out of memory: Killed process " + pid + " (" + s.proc + ") total-vm:" + vm + "kB, anon-rss:" + rss + "kB, file-rss:" +
                              num(r.range(0, 90000)) + "kB, shmem-rss:" + num(r.range(0, 5000)) + "kB, UID:" + uid + " pgtables:" + num(r.range(1000, 30000)) + "kB oom_score_adj:0", 3);
        }
        if (r.chance(0.6)) c.kern(t + 120, "oom_reaper: reaped process " + pid + " (" + s.proc + "), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB", 6);
        if (k == 0) { c.fact("oom-killer", "proc", s.proc); c.fact("oom-killer", "pid", pid); }
        if (chain == 1 || chain == 2 || (chain == 3 && r.chance(0.5))) {
            if (r.chance(0.5)) c.sysd(t + 300, s.unit + ": A process of this unit has been killed by the OOM killer.", 4);
            unit_fails(c, t + 400, s, "killed");
            if (chain == 2) {
                for (int k2 = 1; k2 <= 5; ++k2) c.sysd(t + 400 + k2 * 10000, s.unit + ": Scheduled restart job, restart counter is at " + num(k2) + ".");
                c.sysd(t + 60000, s.unit + ": Start request repeated too quickly.", 3);
            } else if (r.chance(0.6)) {
                c.sysd(t + 10500, s.unit + ": Scheduled restart job, restart counter is at 1.");
                c.sysd(t + 11000, "Started " + s.unit + " - " + s.desc + ".");
            }
        }
        t += r.range(5, 50) * 60000;
    }
    c.fact("oom-killer", "unit", s.unit);
}

void sc_disk_full(Ctx& c) {
    Rng& r = c.r;
    const int victim = int(r.below(6));   // postgres, nginx, rsyslog, mysql, python app, backup tar
    const bool chain = r.chance(0.6);
    c.inc.family = std::vector<std::string>{"postgres", "nginx", "rsyslog", "mysql", "app", "backup"}[victim] + std::string(chain ? "-chain" : "-alone");
    std::int64_t t = c.t0;
    const int n = int(r.range(1, 8));
    const std::string mount = r.pick(std::vector<std::string>{"/", "/var", "/srv", "/var/lib", "/data"});
    c.fact("disk-full", "mount", mount);
    switch (victim) {
    case 0: {
        const std::string pid = c.pid();
        for (int i = 0; i < n; ++i)
            c.ev(c.pg, t + i * r.range(1000, 20000), "", pid, "ERROR:  could not extend file \"base/" + num(r.range(16000, 17000)) + "/" + num(r.range(1000, 40000)) + "\": No space left on device");
        c.ev(c.pg, t + n * 20000 + 500, "", pid, "PANIC:  could not write to file \"pg_wal/xlogtemp." + pid + "\": No space left on device");
        c.fact("disk-full", "proc", "PostgreSQL");
        if (chain) {
            c.ev(c.pg, t + n * 20000 + 2000, "", num(r.range(500, 900)), "LOG:  server process (PID " + pid + ") was terminated by signal 6: Aborted");
            c.ev(c.pg, t + n * 20000 + 2100, "", num(r.range(500, 900)), "LOG:  terminating any other active server processes");
            c.ev(c.pg, t + n * 20000 + 4000, "", c.pid(), "FATAL:  the database system is in recovery mode");
            const Service app = r.pick(std::vector<Service>{{"python3", "worker.service", ""}, {"gunicorn", "webapp.service", ""}, {"node", "api.service", ""}});
            const std::string ap = c.pid();
            for (int k = 0; k < int(r.range(1, 6)); ++k)
                c.ev(c.sys, t + n * 20000 + 5000 + k * r.range(500, 9000), app.proc, ap,
                     r.chance(0.5) ? "psycopg2.OperationalError: could not connect to server: Connection refused"
                                   : "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) FATAL:  the database system is in recovery mode", 3);
            c.fact("database-error", "db", "PostgreSQL");
            c.inc.consequences.push_back("database-error");
        }
        break;
    }
    case 1: {
        const std::string site = r.pick(k_sites);
        for (int i = 0; i < n; ++i)
            c.ev(c.nginx, t + i * r.range(500, 9000), "", "", "[crit] " + num(r.range(700, 3000)) + "#" + num(r.range(700, 3000)) + ": *" + num(r.range(100, 90000)) +
                 " pwrite() \"/var/lib/nginx/body/00000" + num(r.range(10000, 99999)) + "\" failed (28: No space left on device), client: " + ip_public(r) +
                 ", server: " + site + ", request: \"POST /upload HTTP/1.1\", host: \"" + site + "\"");
        c.fact("disk-full", "proc", "nginx");
        if (chain) {
            c.ev(c.nginx, t + n * 9000 + 100, "", "", "[alert] " + num(r.range(700, 3000)) + "#0: write() to \"/var/log/nginx/access.log\" failed (28: No space left on device) while logging request");
        }
        break;
    }
    case 2:
        for (int i = 0; i < n; ++i)
            c.ev(c.sys, t + i * r.range(1000, 60000), "rsyslogd", c.pid(), "file '/var/log/syslog'[7] write error - see https://www.rsyslog.com/solving-rsyslog-write-errors/ for help OS error: No space left on device", 3);
        c.fact("disk-full", "proc", "rsyslogd");
        if (chain) c.ev(c.sys, t + 100, "systemd-journald", c.pid(), "Failed to rotate /var/log/journal/" + hex(r, 32) + "/system.journal: No space left on device", 3);
        break;
    case 3: {
        for (int i = 0; i < n; ++i)
            c.ev(c.mysql, t + i * r.range(1000, 30000), "", "", num(r.range(10, 900)) + " [ERROR] [MY-000035] [Server] Disk full (./shop/#sql-" + hex(r, 4) + "_" + num(r.range(10, 99)) + ".MYD); waiting for someone to free some space... (errno: 28 \"No space left on device\")");
        c.fact("disk-full", "proc", "mysqld");
        if (chain) {
            c.ev(c.mysql, t + n * 30000 + 100, "", "", "0 [ERROR] [MY-012592] [InnoDB] Operating system error number 28 in a file operation.");
            c.ev(c.sys, t + n * 30000 + 2000, "php-fpm8.2", c.pid(), "PHP Warning:  PDOException: SQLSTATE[HY000]: General error: 1021 Disk full (/tmp/#sql_" + hex(r, 4) + "_0.MAI); waiting for someone to free some space in /var/www/shop/src/Db.php on line " + num(r.range(20, 300)));
            c.fact("database-error", "db", "MySQL");
        }
        break;
    }
    case 4: {
        const Service s = r.pick(std::vector<Service>{{"python3", "worker.service", "Background job worker"}, {"gunicorn", "webapp.service", "Gunicorn instance for the web app"}, {"python3", "celery.service", "Celery task queue"}});
        const std::string p = c.pid();
        for (int i = 0; i < n; ++i)
            c.ev(c.sys, t + i * r.range(1000, 30000), s.proc, p, "OSError: [Errno 28] No space left on device: '/srv/app/uploads/" + hex(r, 8) + ".bin'", 3);
        c.fact("disk-full", "proc", s.proc);
        if (chain) unit_fails(c, t + n * 30000 + 500, s, "exit");
        break;
    }
    default: {
        const std::string p = c.pid(), f = "/backup/" + c.host + "-" + num(r.range(1, 28)) + ".tar.gz";
        c.ev(c.sys, t, "CRON", c.pid(), "(root) CMD (/usr/local/sbin/nightly-backup.sh)");
        c.ev(c.sys, t + 600000, "nightly-backup.sh", p, "gzip: stdout: No space left on device", 3);
        c.ev(c.sys, t + 600010, "nightly-backup.sh", p, "tar: " + f + ": Cannot write: No space left on device", 3);
        c.fact("disk-full", "proc", "the nightly backup");
        c.fact("disk-full", "path", f);
        if (chain) unit_fails(c, t + 600100, {"nightly-backup.sh", "backup.service", "Nightly backup"}, "exit");
        break;
    }
    }
}

void sc_io(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(4));   // sata medium error, nvme, ext4 ro remount, xfs shutdown
    const bool chain = r.chance(0.5);
    c.inc.family = std::vector<std::string>{"sata", "nvme", "ext4-ro", "xfs"}[kind] + std::string(chain ? "-chain" : "-alone");
    const std::string dev = kind == 1 ? "nvme" + num(r.range(0, 2)) + "n1" : r.pick(std::vector<std::string>{"sda", "sdb", "sdc", "vdb"});
    const std::string part = kind == 1 ? dev + "p" + num(r.range(1, 3)) : dev + num(r.range(1, 3));
    std::int64_t t = c.t0;
    c.fact("io-filesystem-error", "dev", dev);
    const int n = int(r.range(1, 6));
    for (int i = 0; i < n; ++i, t += r.range(50, 20000)) {
        const std::string sector = num(r.range(100000, 900000000));
        if (kind == 0) {
            const std::string ata = num(r.range(1, 6));
            c.kern(t, "ata" + ata + ".00: exception Emask 0x0 SAct 0x" + hex(r, 4) + " SErr 0x0 action 0x0", 3);
            c.kern(t, "ata" + ata + ".00: failed command: READ FPDMA QUEUED", 3);
            c.kern(t + 5, "sd " + ata + ":0:0:0: [" + dev + "] tag#" + num(r.range(0, 31)) + " Sense Key : Medium Error [current]", 3);
        }
        c.kern(t + 10, "I/O error, dev " + dev + ", sector " + sector + " op 0x" + num(r.range(0, 1)) + ":(" + std::string(r.chance(0.5) ? "READ" : "WRITE") + ") flags 0x" + hex(r, 4) + " phys_seg 1 prio class 2", 3);
        if (r.chance(0.5)) c.kern(t + 12, "Buffer I/O error on dev " + part + ", logical block " + num(r.range(1000, 90000000)) + ", lost async page write", 3);
    }
    if (kind == 2) {
        c.kern(t + 100, "EXT4-fs error (device " + part + "): ext4_find_entry:1463: inode #" + num(r.range(2, 9000000)) + ": comm " + r.pick(std::vector<std::string>{"ls", "postgres", "nginx", "rsync", "tar"}) + ": reading directory lblock 0", 2);
        c.kern(t + 150, "EXT4-fs (" + part + "): Remounting filesystem read-only", 2);
        c.fact("io-filesystem-error", "what", "read-only remount");
    } else if (kind == 3) {
        c.kern(t + 100, "XFS (" + part + "): metadata I/O error in \"xfs_imap_to_bp+0x5d/0x1a0 [xfs]\" at daddr 0x" + hex(r, 7) + " len 32 error 5", 2);
        c.kern(t + 150, "XFS (" + part + "): Corruption of in-memory data (0x8) detected at xfs_trans_cancel+0x14a/0x190 [xfs]. Shutting down filesystem.", 2);
        c.fact("io-filesystem-error", "what", "XFS shutdown");
    }
    if (chain) {
        const Service s = r.pick(k_services);
        c.ev(c.sys, t + 3000, s.proc, c.pid(), "could not write /var/lib/" + s.proc + "/state: Read-only file system", 3);
        unit_fails(c, t + 5000, s, "exit");
    }
}

void sc_hung(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(4));   // jbd2 on a slow disk, nfs, soft lockup, rcu stall
    const bool chain = r.chance(0.5);
    c.inc.family = std::vector<std::string>{"jbd2", "nfs", "softlockup", "rcu"}[kind] + std::string(chain ? "-chain" : "-alone");
    std::int64_t t = c.t0;
    const std::string nas = r.pick(std::vector<std::string>{"nas01", "filer2", "storage.example.com", "10.0.0.20"});
    if (kind == 1) {
        c.kern(t - 240000, "nfs: server " + nas + " not responding, still trying", 5);
        c.fact("kernel-hung-task-soft-lockup", "nfs", nas);
    }
    const int n = int(r.range(1, 5));
    for (int i = 0; i < n; ++i, t += r.range(30000, 240000)) {
        const std::string pid = c.pid();
        if (kind == 0 || kind == 1) {
            const std::string proc = kind == 0 ? r.pick(std::vector<std::string>{"jbd2/sda1-8", "kworker/u16:3", "postgres", "mysqld", "rsync"})
                                               : r.pick(std::vector<std::string>{"rsync", "tar", "php-fpm8.2", "ls", "java"});
            const std::string secs = r.pick(std::vector<std::string>{"120", "241", "362", "483"});
            c.kern(t, "INFO: task " + proc + ":" + pid + " blocked for more than " + secs + " seconds.", 3);
            c.kern(t, "      Not tainted 6.1.0-" + num(r.range(10, 28)) + "-amd64 #1 Debian 6.1." + num(r.range(50, 120)) + "-1", 3);
            c.kern(t, "\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.", 3);
            if (i == 0) { c.fact("kernel-hung-task-soft-lockup", "proc", proc); c.fact("kernel-hung-task-soft-lockup", "secs", secs); }
        } else if (kind == 2) {
            const std::string cpu = num(r.range(0, 15)), proc = r.pick(std::vector<std::string>{"kworker/3:1", "swapper/2", "ksoftirqd/1", "java", "qemu-system-x86"});
            c.kern(t, "watchdog: BUG: soft lockup - CPU#" + cpu + " stuck for " + num(r.range(22, 90)) + "s! [" + proc + ":" + pid + "]", 0);
            if (i == 0) { c.fact("kernel-hung-task-soft-lockup", "cpu", cpu); c.fact("kernel-hung-task-soft-lockup", "proc", proc); }
        } else {
            c.kern(t, "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", 3);
            c.kern(t, "rcu: \t" + num(r.range(0, 15)) + "-...!: (1 GPs behind) idle=" + hex(r, 3) + "/1/0x4000000000000000 softirq=" + num(r.range(1000, 99999)) + " fqs=0", 3);
        }
    }
    if (kind == 1 && r.chance(0.6)) c.kern(t + 60000, "nfs: server " + nas + " OK", 5);
    if (chain) {
        const Service s = r.pick(k_services);
        c.sysd(t + 90000, s.unit + ": State 'stop-sigterm' timed out. Killing.", 4);
        unit_fails(c, t + 90500, s, "timeout");
    }
}

void sc_time(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(4));   // chrony wrong by, systemd time changed, ntpd reset, no sources
    const bool chain = r.chance(0.5);
    c.inc.family = std::vector<std::string>{"chrony", "systemd", "ntpd", "nosources"}[kind] + std::string(chain ? "-tls" : "-alone");
    std::int64_t t = c.t0;
    const std::string secs = num(r.range(30, 90000)) + "." + num(r.range(100000, 999999));
    if (kind == 0) {
        c.ev(c.sys, t, "chronyd", c.pid(), "Selected source " + ip_internal(r) + " (ntp" + num(r.range(1, 3)) + ".example.com)");
        c.ev(c.sys, t + 1000, "chronyd", c.pid(), "System clock wrong by " + secs + " seconds", 4);
        c.ev(c.sys, t + 1001, "chronyd", c.pid(), "System clock was stepped by " + secs + " seconds", 4);
        c.fact("time-jump-ntp", "secs", secs);
    } else if (kind == 1) {
        c.sysd(t, "Time has been changed", 5);
        c.ev(c.sys, t + 10, "systemd-timesyncd", c.pid(), "Contacted time server " + ip_internal(r) + ":123 (0.debian.pool.ntp.org).");
    } else if (kind == 2) {
        c.ev(c.sys, t, "ntpd", c.pid(), "time reset +" + secs + " s", 4);
        c.fact("time-jump-ntp", "secs", secs);
    } else {
        for (int i = 0; i < int(r.range(1, 4)); ++i) c.ev(c.sys, t + i * 3600000, "chronyd", c.pid(), "Can't synchronise: no selectable sources", 4);
    }
    if (chain) {
        const std::string site = r.pick(k_sites);
        const Service s = r.pick(std::vector<Service>{{"node", "api.service", ""}, {"python3", "worker.service", ""}, {"grafana", "grafana-server.service", ""}});
        c.ev(c.sys, t + 5000, s.proc, c.pid(), "request to https://" + site + "/v1/health failed: x509: certificate has expired or is not yet valid: current time " +
             iso_time(t + 5000, false).substr(0, 19) + "Z is before " + iso_time(t + 86400000LL * 3, false).substr(0, 19) + "Z", 3);
        c.fact("tls-certificate", "peer", site);
        c.inc.consequences.push_back("tls-certificate");
    }
}

void sc_segfault(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(4));   // kernel segfault line, php-fpm child, python fatal, general protection
    const bool chain = r.chance(0.6);
    c.inc.family = std::vector<std::string>{"kernel", "phpfpm", "python", "gpf"}[kind] + std::string(chain ? "-chain" : "-alone");
    const Service s = kind == 1 ? Service{"php-fpm8.2", "php8.2-fpm.service", "The PHP 8.2 FastCGI Process Manager"}
                    : kind == 2 ? Service{"python3", r.pick(std::vector<std::string>{"worker.service", "ingest.service", "celery.service"}), "Python service"}
                                : r.pick(k_services);
    std::int64_t t = c.t0;
    const int n = int(r.range(1, 4));
    const std::string lib = r.pick(std::vector<std::string>{"libc.so.6", "libphp.so", "libssl.so.3", "libjvm.so", "libpython3.11.so.1.0", s.proc});
    for (int i = 0; i < n; ++i, t += r.range(2000, 600000)) {
        const std::string pid = c.pid();
        if (i == 0) { c.fact("segfault-core-dump", "proc", s.proc); c.fact("segfault-core-dump", "pid", pid); }
        if (kind == 0)
            c.kern(t, s.proc + "[" + pid + "]: segfault at " + hex(r, 1 + r.below(12)) + " ip 00007f" + hex(r, 10) + " sp 00007ff" + hex(r, 9) + " error " + num(r.pick(std::vector<int>{4, 6, 14})) +
                          " in " + lib + "[7f" + hex(r, 10) + "+" + hex(r, 6) + "] likely on CPU " + num(r.range(0, 7)) + " (core " + num(r.range(0, 3)) + ", socket 0)", 6);
        else if (kind == 1)
            c.ev(c.sys, t, "php-fpm8.2", c.pid(), "WARNING: [pool www] child " + pid + " exited on signal 11 (SIGSEGV - core dumped) after " + num(r.range(1, 900)) + "." + num(r.range(100000, 999999)) + " seconds from start", 4);
        else if (kind == 2)
            c.ev(c.sys, t, s.proc, pid, "Fatal Python error: Segmentation fault", 2);
        else
            c.kern(t, "traps: " + s.proc + "[" + pid + "] general protection fault ip:7f" + hex(r, 10) + " sp:7ff" + hex(r, 9) + " error:0 in " + lib + "[7f" + hex(r, 10) + "+" + hex(r, 5) + "]", 6);
        if (r.chance(0.5)) c.ev(c.sys, t + 800, "systemd-coredump", c.pid(), "Process " + pid + " (" + s.proc + ") of user " + num(r.range(33, 1100)) + " dumped core.", 2);
    }
    if (chain && kind != 1) {
        c.sysd(t + 1000, s.unit + ": Main process exited, code=dumped, status=11/SEGV", 4);
        unit_fails(c, t + 1000, s, "core");
    }
}

void sc_tls(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(4));   // nginx upstream verify, nginx handshake, postfix, go x509
    const bool chain = r.chance(0.4);
    c.inc.family = std::vector<std::string>{"nginx-upstream", "nginx-handshake", "postfix", "x509"}[kind] + std::string(chain ? "-chain" : "-alone");
    const std::string site = r.pick(k_sites);
    std::int64_t t = c.t0;
    const int n = int(r.range(1, 12));
    c.fact("tls-certificate", "peer", site);
    for (int i = 0; i < n; ++i, t += r.range(1000, 120000)) {
        if (kind == 0)
            c.ev(c.nginx, t, "", "", "[error] " + num(r.range(700, 3000)) + "#" + num(r.range(700, 3000)) + ": *" + num(r.range(10, 99999)) +
                 " upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream, client: " + ip_public(r) +
                 ", server: " + site + ", request: \"GET /api/v1/orders HTTP/1.1\", upstream: \"https://10.0.0." + num(r.range(2, 60)) + ":8443/api/v1/orders\", host: \"" + site + "\"");
        else if (kind == 1)
            c.ev(c.nginx, t, "", "", "[crit] " + num(r.range(700, 3000)) + "#" + num(r.range(700, 3000)) + ": *" + num(r.range(10, 99999)) +
                 " SSL_do_handshake() failed (SSL: error:0A000102:SSL routines::unsupported protocol) while SSL handshaking, client: " + ip_public(r) + ", server: 0.0.0.0:443");
        else if (kind == 2)
            c.ev(c.sys, t, "postfix/smtp", c.pid(), "warning: TLS library problem: error:0A000086:SSL routines::certificate verify failed:../ssl/statem/statem_clnt.c:1889:", 4);
        else
            c.ev(c.sys, t, "grafana", c.pid(), "logger=datasources level=error msg=\"Post \\\"https://" + site + "/api/v1/query\\\": x509: certificate signed by unknown authority\"", 3);
    }
    if (chain) {
        const Service s = kind == 3 ? Service{"grafana", "grafana-server.service", "Grafana instance"} : r.pick(k_services);
        unit_fails(c, t + 2000, s, "exit");
    }
}

void sc_network(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(4));   // dns, upstream refused, upstream timed out, link down
    const bool chain = r.chance(0.5);
    const bool go = kind <= 1 && r.chance(0.4);
    if (go) c.app_log = "/var/log/" + r.pick(std::vector<std::string>{"gateway", "ingest", "notifier"}) + "/service.json";
    c.inc.family = std::vector<std::string>{"dns", "refused", "timeout", "linkdown"}[kind] + std::string(go ? "-json" : "") + std::string(chain ? "-chain" : "-alone");
    const std::string site = r.pick(k_sites);
    const std::string peer = (r.chance(0.5) ? std::string("127.0.0.1") : ip_internal(r)) + ":" + num(r.pick(std::vector<int>{3000, 8000, 8080, 9000, 5000, 8443, 9200}));
    std::int64_t t = c.t0;
    const int n = int(r.range(1, 20));
    const Service s = r.pick(std::vector<Service>{{"node", "api.service", "API server (node)"}, {"python3", "worker.service", "Background job worker"}, {"gunicorn", "webapp.service", "Gunicorn instance for the web app"}});
    if (kind == 3) {
        const std::string nic = r.pick(std::vector<std::string>{"eno1", "eth0", "enp3s0", "ens18"});
        c.kern(t, "e1000e 0000:00:1f.6 " + nic + ": NIC Link is Down", 3);
        c.fact("network-connection-dns", "nic", nic);
        if (r.chance(0.6)) c.kern(t + r.range(20000, 400000), "e1000e 0000:00:1f.6 " + nic + ": NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None", 6);
    }
    for (int i = 0; i < n; ++i, t += r.range(200, 30000)) {
        const std::string w = num(r.range(700, 3000));
        if (go) {
            const std::string target = kind == 0 ? site : peer;
            c.ev(c.jsonl, t, "", "", kind == 0 ? "dial tcp: lookup " + site + " on 127.0.0.53:53: no such host"
                                                : "upstream request failed: dial tcp " + peer + ": connect: connection refused", 3);
            c.fact("network-connection-dns", kind == 0 ? "name" : "peer", target);
        } else if (kind == 0) {
            if (r.chance(0.5)) c.ev(c.sys, t, s.proc, c.pid(), "socket.gaierror: [Errno -3] Temporary failure in name resolution", 3);
            else c.ev(c.sys, t, "curl", c.pid(), "curl: (6) Could not resolve host: " + site, 3);
            c.fact("network-connection-dns", "name", site);
        } else if (kind == 1) {
            c.ev(c.nginx, t, "", "", "[error] " + w + "#" + w + ": *" + num(r.range(10, 99999)) + " connect() failed (111: Connection refused) while connecting to upstream, client: " +
                 ip_public(r) + ", server: " + site + ", request: \"GET / HTTP/1.1\", upstream: \"http://" + peer + "/\", host: \"" + site + "\"");
            c.fact("network-connection-dns", "peer", peer);
        } else if (kind == 2) {
            c.ev(c.nginx, t, "", "", "[error] " + w + "#" + w + ": *" + num(r.range(10, 99999)) + " upstream timed out (110: Connection timed out) while reading response header from upstream, client: " +
                 ip_public(r) + ", server: " + site + ", request: \"POST /api/checkout HTTP/1.1\", upstream: \"http://" + peer + "/api/checkout\", host: \"" + site + "\"");
            c.fact("network-connection-dns", "peer", peer);
        } else {
            c.ev(c.sys, t + 1000, s.proc, c.pid(), "connect to " + ip_internal(r) + " port 443 failed: Network is unreachable", 3);
        }
    }
    if (chain) unit_fails(c, t + 3000, s, "exit");
}

void sc_database(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(5));   // pg slots, pg deadlock, mysql crashed table, php too many connections, redis misconf
    const bool chain = r.chance(0.4);
    const bool java = kind <= 1 && r.chance(0.4);
    if (java) c.app_log = "/var/log/" + r.pick(std::vector<std::string>{"shop", "billing", "orders"}) + "/application.log";
    c.inc.family = std::vector<std::string>{"pg-slots", "pg-deadlock", "mysql-crashed", "php-toomany", "redis-misconf"}[kind] + std::string(java ? "-java" : "") + std::string(chain ? "-chain" : "-alone");
    std::int64_t t = c.t0;
    const int n = int(r.range(1, 15));
    const std::string db = r.pick(std::vector<std::string>{"shop", "app", "billing", "gitlab", "orders", "wiki"});
    for (int i = 0; i < n; ++i, t += r.range(200, 60000)) {
        const std::string pid = c.pid();
        if (kind <= 1 && java) {
            const std::string what = kind == 0 ? "FATAL: remaining connection slots are reserved for non-replication superuser connections" : "ERROR: deadlock detected";
            c.ev(c.spring, t, "", "", "ERROR 1 --- [nio-8080-exec-" + num(r.range(1, 10)) + "] o.h.engine.jdbc.spi.SqlExceptionHelper   : " + what +
                 "\norg.postgresql.util.PSQLException: " + what +
                 "\n\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2713)" +
                 "\n\tat org.postgresql.core.v3.QueryExecutorImpl.processResults(QueryExecutorImpl.java:2401)" +
                 "\n\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:" + num(r.range(100, 200)) + ")" +
                 "\n\t... " + num(r.range(20, 90)) + " common frames omitted");
            c.fact("database-error", "db", "PostgreSQL");
        } else if (kind == 0) { c.ev(c.pg, t, "", pid, "FATAL:  remaining connection slots are reserved for non-replication superuser connections"); c.fact("database-error", "db", "PostgreSQL"); }
        else if (kind == 1) {
            c.ev(c.pg, t, "", pid, "ERROR:  deadlock detected");
            c.ev(c.pg, t, "", pid, "DETAIL:  Process " + pid + " waits for ShareLock on transaction " + num(r.range(100000, 9999999)) + "; blocked by process " + c.pid() + ".");
            c.fact("database-error", "db", "PostgreSQL");
        } else if (kind == 2) { c.ev(c.mysql, t, "", "", num(r.range(10, 900)) + " [ERROR] [MY-013042] [Server] Table './" + db + "/orders' is marked as crashed and should be repaired"); c.fact("database-error", "db", "MySQL"); }
        else if (kind == 3) { c.ev(c.sys, t, "php-fpm8.2", c.pid(), "PHP Fatal error:  Uncaught PDOException: SQLSTATE[08004] [1040] Too many connections in /var/www/" + db + "/src/Db.php:" + num(r.range(10, 200)), 3); c.fact("database-error", "db", "MySQL"); }
        else { c.ev(c.sys, t, "python3", c.pid(), "redis.exceptions.ResponseError: MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.", 3); c.fact("database-error", "db", "Redis"); }
    }
    if (chain) unit_fails(c, t + 1000, r.pick(std::vector<Service>{{"node", "api.service", "API server (node)"}, {"python3", "worker.service", "Background job worker"}}), "exit");
}

void sc_permission(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(4));   // nginx open, apparmor, python app, exec permission
    const bool chain = kind == 3 || r.chance(0.4);
    c.inc.family = std::vector<std::string>{"nginx-open", "apparmor", "python", "exec"}[kind] + std::string(chain ? "-chain" : "-alone");
    std::int64_t t = c.t0;
    const int n = kind == 3 ? 1 : int(r.range(1, 10));
    const std::string site = r.pick(k_sites);
    Service s = r.pick(std::vector<Service>{{"python3", "worker.service", "Background job worker"}, {"node", "api.service", "API server (node)"}});
    for (int i = 0; i < n; ++i, t += r.range(300, 30000)) {
        if (kind == 0) {
            const std::string path = "/srv/www/" + site + "/" + r.pick(std::vector<std::string>{"index.html", "assets/app.js", "uploads/logo.png"});
            c.ev(c.nginx, t, "", "", "[error] " + num(r.range(700, 3000)) + "#" + num(r.range(700, 3000)) + ": *" + num(r.range(10, 99999)) + " open() \"" + path +
                 "\" failed (13: Permission denied), client: " + ip_public(r) + ", server: " + site + ", request: \"GET / HTTP/1.1\", host: \"" + site + "\"");
            c.fact("permission-denied", "path", path); c.fact("permission-denied", "proc", "nginx");
        } else if (kind == 1) {
            const std::string path = "/data/mysql/" + r.pick(std::vector<std::string>{"ibdata1", "binlog.000042", "auto.cnf"});
            c.kern(t, "audit: type=1400 audit(" + num(t / 1000) + ".123:" + num(r.range(100, 900)) + "): apparmor=\"DENIED\" operation=\"open\" class=\"file\" profile=\"/usr/sbin/mysqld\" name=\"" + path +
                          "\" pid=" + c.pid() + " comm=\"mysqld\" requested_mask=\"r\" denied_mask=\"r\" fsuid=112 ouid=112", 5);
            c.fact("permission-denied", "path", path); c.fact("permission-denied", "proc", "mysqld");
            s = {"mysqld", "mysql.service", "MySQL Community Server"};
        } else if (kind == 2) {
            const std::string path = "/var/lib/" + r.pick(std::vector<std::string>{"app/state.json", "worker/queue.db", "app/cache/index"});
            c.ev(c.sys, t, s.proc, c.pid(), "PermissionError: [Errno 13] Permission denied: '" + path + "'", 3);
            c.fact("permission-denied", "path", path); c.fact("permission-denied", "proc", s.proc);
        } else {
            const std::string path = "/usr/local/bin/" + r.pick(std::vector<std::string>{"backup.sh", "sync-reports", "rotate-exports.sh"});
            s = {"backup.sh", r.pick(std::vector<std::string>{"backup.service", "reports-sync.service", "exports.service"}), "Scheduled job"};
            c.sysd(t, s.unit + ": Failed to execute " + path + ": Permission denied", 3);
            c.sysd(t + 1, s.unit + ": Failed at step EXEC spawning " + path + ": Permission denied", 3);
            c.sysd(t + 2, s.unit + ": Main process exited, code=exited, status=203/EXEC", 4);
            c.fact("permission-denied", "path", path);
        }
    }
    if (chain) unit_fails(c, t + 1000, s, "exit");
}

void sc_webconfig(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(4));   // nginx unknown directive, nginx bind, apache syntax, apache bind
    const bool chain = r.chance(0.6);
    c.inc.family = std::vector<std::string>{"nginx-directive", "nginx-bind", "apache-syntax", "apache-bind"}[kind] + std::string(chain ? "-chain" : "-alone");
    std::int64_t t = c.t0;
    const std::string site = r.pick(k_sites);
    const std::string port = r.pick(std::vector<std::string>{"80", "443", "8080"});
    Service s = {"nginx", "nginx.service", "A high performance web server and a reverse proxy server"};
    if (kind == 0) {
        const std::string d = r.pick(std::vector<std::string>{"proxy_passs", "server_nmae", "ssl_certficate", "listen_ssl", "add_heder", "client_max_body"});
        const std::string f = "/etc/nginx/sites-enabled/" + site;
        const std::string ln = num(r.range(3, 80));
        if (r.chance(0.5)) {
            c.ev(c.sys, t, "nginx", c.pid(), "nginx: [emerg] unknown directive \"" + d + "\" in " + f + ":" + ln, 3);
            c.ev(c.sys, t + 1, "nginx", c.pid(), "nginx: configuration file /etc/nginx/nginx.conf test failed", 3);
        } else {
            c.ev(c.nginx, t, "", "", "[emerg] " + num(r.range(700, 3000)) + "#" + num(r.range(700, 3000)) + ": unknown directive \"" + d + "\" in " + f + ":" + ln);
        }
        c.fact("webserver-config-error", "directive", d); c.fact("webserver-config-error", "file", f + ":" + ln); c.fact("webserver-config-error", "server", "nginx");
    } else if (kind == 1) {
        const std::string w = num(r.range(700, 3000));
        for (int i = 0; i < int(r.range(1, 5)); ++i)
            c.ev(c.nginx, t + i * 500, "", "", "[emerg] " + w + "#" + w + ": bind() to 0.0.0.0:" + port + " failed (98: Address already in use)");
        c.ev(c.nginx, t + 3000, "", "", "[emerg] " + w + "#" + w + ": still could not bind()");
        c.fact("webserver-config-error", "port", port); c.fact("webserver-config-error", "server", "nginx");
    } else if (kind == 2) {
        s = {"apache2", "apache2.service", "The Apache HTTP Server"};
        const std::string f = "/etc/apache2/sites-enabled/" + site + ".conf", ln = num(r.range(3, 80));
        const std::string cmd = r.pick(std::vector<std::string>{"RewriteEngine", "ProxyPass", "SSLEngine", "Header", "ExpiresActive"});
        c.ev(c.sys, t, "apachectl", c.pid(), "AH00526: Syntax error on line " + ln + " of " + f + ":", 3);
        c.ev(c.sys, t + 1, "apachectl", c.pid(), "Invalid command '" + cmd + "', perhaps misspelled or defined by a module not included in the server configuration", 3);
        c.fact("webserver-config-error", "file", f + " line " + ln); c.fact("webserver-config-error", "directive", cmd); c.fact("webserver-config-error", "server", "Apache");
    } else {
        s = {"apache2", "apache2.service", "The Apache HTTP Server"};
        c.ev(c.sys, t, "apachectl", c.pid(), "(98)Address already in use: AH00072: make_sock: could not bind to address [::]:" + port, 3);
        c.ev(c.sys, t + 1, "apachectl", c.pid(), "(98)Address already in use: AH00072: make_sock: could not bind to address 0.0.0.0:" + port, 3);
        c.ev(c.sys, t + 2, "apachectl", c.pid(), "no listening sockets available, shutting down", 3);
        c.ev(c.sys, t + 3, "apachectl", c.pid(), "AH00015: Unable to open logs", 3);
        c.fact("webserver-config-error", "port", port); c.fact("webserver-config-error", "server", "Apache");
    }
    if (chain) {
        c.sysd(t + 100, s.unit + ": Control process exited, code=exited, status=1/FAILURE", 4);
        unit_fails(c, t + 100, s, "exit-nomain");
    }
}

void sc_unit(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(4));   // exit code, restart limit, timeout, missing executable
    c.inc.family = std::vector<std::string>{"exit", "restart-limit", "timeout", "exec"}[kind];
    const Service s = r.pick(k_services);
    std::int64_t t = c.t0;
    c.fact("systemd-unit-failure", "unit", s.unit);
    if (r.chance(0.5)) c.ev(c.sys, t - 500, s.proc, c.pid(), r.pick(std::vector<std::string>{"Error: listen EADDRINUSE: address already in use :::3000",
                                                                                                  "ModuleNotFoundError: No module named 'flask'",
                                                                                                  "invalid value for 'workers' in /etc/app/config.toml",
                                                                                                  "Exception in thread \"main\" java.lang.IllegalStateException: missing property app.datasource.url"}), 3);
    if (kind == 0) {
        c.sysd(t, s.unit + ": Main process exited, code=exited, status=" + r.pick(std::vector<std::string>{"1/FAILURE", "2/INVALIDARGUMENT", "78/CONFIG"}), 4);
        c.sysd(t + 2, s.unit + ": Failed with result 'exit-code'.", 4);
        if (r.chance(0.6)) c.sysd(t + 4, "Failed to start " + s.unit + " - " + s.desc + ".", 3);
    } else if (kind == 1) {
        for (int k = 1; k <= 5; ++k) {
            c.sysd(t + k * 5000, s.unit + ": Main process exited, code=exited, status=1/FAILURE", 4);
            c.sysd(t + k * 5000 + 2, s.unit + ": Failed with result 'exit-code'.", 4);
            if (k < 5) c.sysd(t + k * 5000 + 100, s.unit + ": Scheduled restart job, restart counter is at " + num(k) + ".");
        }
        c.sysd(t + 26000, s.unit + ": Start request repeated too quickly.", 3);
        c.sysd(t + 26001, "Failed to start " + s.unit + " - " + s.desc + ".", 3);
    } else if (kind == 2) {
        c.sysd(t, s.unit + ": start operation timed out. Terminating.", 4);
        c.sysd(t + 2, s.unit + ": Failed with result 'timeout'.", 4);
        c.sysd(t + 4, "Failed to start " + s.unit + " - " + s.desc + ".", 3);
    } else {
        const std::string exe = "/opt/" + s.proc + "/bin/" + s.proc;
        c.sysd(t, s.unit + ": Failed to locate executable " + exe + ": No such file or directory", 3);
        c.sysd(t + 1, s.unit + ": Main process exited, code=exited, status=203/EXEC", 4);
        c.sysd(t + 2, s.unit + ": Failed with result 'exit-code'.", 4);
    }
}

void sc_ssh(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(4));   // passwords, invalid users, preauth mix, with a success afterwards
    c.inc.family = std::vector<std::string>{"password", "invalid-user", "preauth", "success"}[kind];
    std::int64_t t = c.t0;
    const int n = int(r.range(12, 120));
    const std::string ip = ip_public(r);
    const std::vector<std::string> ips = {ip, ip_public(r), ip_public(r)};
    c.fact("ssh-brute-force", "ip", ip);
    for (int i = 0; i < n; ++i, t += r.range(300, 20000)) {
        const std::string from = r.chance(0.7) ? ip : r.pick(ips), u = r.pick(k_attack_users), pid = c.pid(), port = num(r.range(1024, 65535));
        if (kind == 0 || (kind >= 2 && r.chance(0.5))) c.ev(c.sys, t, "sshd", pid, "Failed password for " + std::string(u == "root" ? "" : "invalid user ") + u + " from " + from + " port " + port + " ssh2", 5);
        else c.ev(c.sys, t, "sshd", pid, "Invalid user " + u + " from " + from + " port " + port, 5);
        if (kind == 2 && r.chance(0.5)) c.ev(c.sys, t + 200, "sshd", pid, "Connection closed by invalid user " + u + " " + from + " port " + port + " [preauth]");
        if (kind == 2 && r.chance(0.2)) c.ev(c.sys, t + 100, "sshd", pid, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" + from, 5);
    }
    if (kind == 3) {
        const std::string u = r.pick(k_users);
        c.ev(c.sys, t + 1000, "sshd", c.pid(), "Accepted password for " + u + " from " + ip + " port " + num(r.range(1024, 65535)) + " ssh2");
        c.fact("ssh-brute-force", "accepted", u);
    }
}

// Only routine lines, with a burst of one message: an info-level finding and nothing else.
void sc_burst(Ctx& c) {
    Rng& r = c.r;
    const int kind = int(r.below(3));
    c.inc.family = std::vector<std::string>{"sessions", "healthcheck", "cron"}[kind];
    std::int64_t t = c.t0;
    const int n = int(r.range(25, 80));
    for (int i = 0; i < n; ++i) {
        const std::int64_t ti = t + std::int64_t(r.below(50000));
        if (kind == 0) { const std::string s = num(r.range(100, 9000)); c.ev(c.sys, ti, "systemd-logind", c.pid(), "New session " + s + " of user ansible."); }
        else if (kind == 1) c.ev(c.sys, ti, "haproxy", c.pid(), "Health check for server web/web" + num(r.range(1, 4)) + " succeeded, reason: Layer7 check passed, code: 200, check duration: " + num(r.range(1, 30)) + "ms.");
        else c.ev(c.sys, ti, "CRON", c.pid(), "(www-data) CMD (php /var/www/app/artisan queue:work --once)");
    }
}

// An unrelated problem logged during the incident, of a category that ranks below the scenario's
// root cause (later, and never of a lower tier): the answer's "Then:" lines must not name it.
void distractor(Ctx& c) {
    Rng& r = c.r;
    const std::int64_t t = c.t0 + r.range(1, 20) * 60000 + r.range(0, 59999);
    switch (r.below(3)) {
    case 0:
        c.sysd(t, "fwupd-refresh.service: Main process exited, code=exited, status=1/FAILURE", 4);
        c.sysd(t + 2, "fwupd-refresh.service: Failed with result 'exit-code'.", 4);
        c.sysd(t + 3, "Failed to start fwupd-refresh.service - Refresh fwupd metadata and update motd.", 3);
        break;
    case 1:
        c.ev(c.sys, t, "postfix/smtp", c.pid(), hex(r, 10) + ": to=<alerts@example.net>, relay=none, delay=" + num(r.range(30, 900)) +
             ", status=deferred (connect to mx.example.net[" + ip_public(r) + "]:25: Connection timed out)", 4);
        break;
    default:
        c.ev(c.sys, t, "rsync", c.pid(), "rsync: [sender] opendir \"/home/" + r.pick(k_users) + "/.cache/private\" failed: Permission denied (13)", 3);
        break;
    }
    c.inc.family += "+d";
}

using Gen = std::function<void(Ctx&)>;
struct Scen { std::string id, category; Gen fn; };
const std::vector<Scen>& scens() {
    static const std::vector<Scen> s = {
        {"oom", "oom-killer", sc_oom},
        {"disk-full", "disk-full", sc_disk_full},
        {"io", "io-filesystem-error", sc_io},
        {"hung", "kernel-hung-task-soft-lockup", sc_hung},
        {"time", "time-jump-ntp", sc_time},
        {"segfault", "segfault-core-dump", sc_segfault},
        {"tls", "tls-certificate", sc_tls},
        {"network", "network-connection-dns", sc_network},
        {"database", "database-error", sc_database},
        {"permission", "permission-denied", sc_permission},
        {"webconfig", "webserver-config-error", sc_webconfig},
        {"unit", "systemd-unit-failure", sc_unit},
        {"ssh", "ssh-brute-force", sc_ssh},
        {"burst", "template-burst", sc_burst},
    };
    return s;
}

std::string render_sys(const Ctx& c, const Ev& e) {
    if (c.fmt == 2) {
        nlohmann::ordered_json j;
        j["__REALTIME_TIMESTAMP"] = std::to_string(e.t * 1000 + (e.t % 997));
        j["_HOSTNAME"] = c.host;
        j["PRIORITY"] = std::to_string(e.prio);
        j["SYSLOG_IDENTIFIER"] = e.app;
        if (e.kernel) j["_TRANSPORT"] = "kernel";
        else if (!e.pid.empty()) j["_PID"] = e.pid;
        j["MESSAGE"] = e.msg;
        return j.dump();
    }
    std::string head = c.fmt == 0 ? syslog_time(e.t) : iso_time(e.t, (c.t0 / 1000) % 2 == 0);
    head += " " + c.host + " " + e.app;
    if (!e.pid.empty() && !e.kernel) head += "[" + e.pid + "]";
    head += ": ";
    if (e.kernel && c.kernel_uptime) {
        char b[32];
        const double up = double(c.boot_s) + double(e.t - c.t0) / 1000.0;
        std::snprintf(b, sizeof b, "[%12.6f] ", up);
        head += b;
    }
    return head + e.msg;
}

} // namespace

std::string hms(std::int64_t ms) {
    std::tm tm = utc(ms);
    return two(tm.tm_hour) + ":" + two(tm.tm_min) + ":" + two(tm.tm_sec);
}

const std::vector<std::string>& scenario_ids() {
    static const std::vector<std::string> ids = [] {
        std::vector<std::string> v;
        for (const auto& s : scens()) v.push_back(s.id);
        return v;
    }();
    return ids;
}

Incident make_incident(const std::string& scenario, Rng& r) {
    Ctx c(r);
    const Scen* sc = nullptr;
    for (const auto& s : scens())
        if (s.id == scenario) sc = &s;
    if (!sc) return {};
    c.inc.scenario = sc->id;
    c.inc.expected = sc->category;
    c.host = r.pick(k_hosts);
    if (r.chance(0.3)) c.host += "." + r.pick(std::vector<std::string>{"example.com", "int.example.net", "prod"});
    c.fmt = int(r.below(3));
    // 2024-01-01 .. 2026-10-31, at any second
    c.t0 = (1704067200LL + std::int64_t(r.below(86400ULL * 1030))) * 1000 + std::int64_t(r.below(1000));
    c.boot_s = r.range(60, 4000000);
    c.kernel_uptime = r.chance(0.4);
    c.inc.now_ms = c.t0 + r.range(1, 72) * 3600000LL;
    sc->fn(c);
    if (sc->id != "unit" && sc->id != "burst" && r.chance(0.25)) distractor(c);
    // Noise around the incident: before (the baseline the statistical signals need) and after.
    const std::int64_t span_before = r.range(2, 45) * 60000, span_after = r.range(1, 20) * 60000;
    std::int64_t last = c.t0;
    for (auto* v : {&c.sys, &c.nginx, &c.pg, &c.mysql, &c.spring, &c.jsonl})
        for (const Ev& e : *v) last = std::max(last, e.t);
    const int n_noise = int(r.range(3, 70));
    noise(c, c.t0 - span_before, last + span_after, n_noise, r.chance(0.6));
    // Sometimes the kernel's lines come as `dmesg` output (seconds since boot) instead of inside
    // the system log: a source of its own, times relative to boot.
    std::vector<Ev> dmesg;
    if (r.chance(0.15) && std::any_of(c.sys.begin(), c.sys.end(), [](const Ev& e) { return e.kernel; })) {
        std::vector<Ev> rest;
        for (Ev& e : c.sys) (e.kernel ? dmesg : rest).push_back(std::move(e));
        c.sys = std::move(rest);
        c.inc.family += "-dmesg";
    }
    // Sources: the system log always (unless empty), then the service logs the scenario wrote.
    auto sorted = [](std::vector<Ev>& v) { std::stable_sort(v.begin(), v.end(), [](const Ev& a, const Ev& b) { return a.t < b.t; }); };
    for (auto* v : {&c.sys, &c.nginx, &c.pg, &c.mysql, &c.spring, &c.jsonl}) sorted(*v);
    if (!c.sys.empty()) {
        SourceText s;
        s.name = c.fmt == 2 ? "journal" : r.pick(std::vector<std::string>{"/var/log/syslog", "/var/log/messages", "syslog"});
        for (const Ev& e : c.sys) s.text += render_sys(c, e) + "\n";
        c.inc.sources.push_back(std::move(s));
    }
    if (!dmesg.empty()) {
        sorted(dmesg);
        SourceText s;
        s.name = r.pick(std::vector<std::string>{"dmesg.txt", "/tmp/dmesg.log", "kernel.log"});
        for (const Ev& e : dmesg) {
            char b[40];
            std::snprintf(b, sizeof b, "[%12.6f] ", double(c.boot_s) + double(e.t - c.t0) / 1000.0);
            s.text += b + e.msg + "\n";
        }
        c.inc.sources.push_back(std::move(s));
    }
    if (!c.nginx.empty()) {
        SourceText s;
        s.name = r.pick(std::vector<std::string>{"/var/log/nginx/error.log", "/var/log/nginx/" + r.pick(k_sites) + ".error.log"});
        for (const Ev& e : c.nginx) s.text += slash_time(e.t) + " " + e.msg + "\n";
        c.inc.sources.push_back(std::move(s));
    }
    if (!c.pg.empty()) {
        SourceText s;
        s.name = "/var/log/postgresql/postgresql-15-main.log";
        const std::string who = r.pick(std::vector<std::string>{"app@shop ", "postgres@postgres ", "", "billing@billing "});
        for (const Ev& e : c.pg) s.text += pg_time(e.t) + " [" + e.pid + "] " + (e.msg.starts_with("LOG:") ? "" : who) + e.msg + "\n";
        c.inc.sources.push_back(std::move(s));
    }
    if (!c.mysql.empty()) {
        SourceText s;
        s.name = "/var/log/mysql/error.log";
        for (const Ev& e : c.mysql) s.text += mysql_time(e.t) + " " + e.msg + "\n";
        c.inc.sources.push_back(std::move(s));
    }
    if (!c.spring.empty()) {
        SourceText s;
        s.name = c.app_log;
        for (const Ev& e : c.spring) {
            std::tm tm = utc(e.t);
            char b[40];
            std::snprintf(b, sizeof b, "%04d-%02d-%02d %02d:%02d:%02d.%03d ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(e.t % 1000));
            s.text += b + e.msg + "\n";
        }
        c.inc.sources.push_back(std::move(s));
    }
    if (!c.jsonl.empty()) {
        SourceText s;
        s.name = c.app_log;
        for (const Ev& e : c.jsonl) {
            nlohmann::ordered_json j;
            j["level"] = "error";
            j["ts"] = iso_time(e.t, false).substr(0, 19) + "." + two(int(e.t % 100)) + "Z";
            j["caller"] = "client/http.go:" + num(40 + e.t % 90);
            j["msg"] = e.msg;
            s.text += j.dump() + "\n";
        }
        c.inc.sources.push_back(std::move(s));
    }
    // The family also names the system log's format, so a held-out family is unseen text.
    c.inc.family += std::string("/") + (c.fmt == 0 ? "syslog" : c.fmt == 1 ? "iso" : "journald");
    return std::move(c.inc);
}

} // namespace sftgen
