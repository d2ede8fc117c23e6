#!/usr/bin/env python3
"""Log excerpt -> finding (SFT task "log"), plus loghub blocks as pretrain documents.

Sources
  * Loghub-2.0 2k samples (../shared/data/loghub, research/academic use, cite Loghub): each
    system's 2,000 raw lines are cut into blocks of 100 lines (split unit "loghub/<S>/<block>");
    excerpts of 6-14 consecutive lines are taken inside a block. The finding is picked by rules
    over the structured CSV (EventTemplate/Content/level).
  * Synthetic syslog / journald / nginx / sshd / kernel excerpts from templates (22 scenarios:
    OOM killer, disk full, failed unit, SSH brute force, segfault, NFS timeouts, TLS expiry,
    upstream refused/timeouts, I/O errors, read-only remount, fd limits, too many DB clients,
    clock drift, DNS failures, sudo denials, link down, port in use, hung tasks, degraded RAID,
    cron failures, healthy excerpts). Split unit "synthlog/<scenario>/<i>".
The answer always states Category, the Evidence line (an exact, whole line of the excerpt),
a Finding sentence and a Next step command in a ```sh block.
Output: .data/raw/sft_log.jsonl, .data/raw/loghub_docs.jsonl
"""
import csv, json, os, random, re, sys
sys.path.insert(0, os.path.dirname(__file__))
from common import RAW, SHARED, SEED, stable_hash, is_heldout, system_prompt, chat

LOGHUB = os.path.join(SHARED, "loghub")
SYSTEMS = ["Apache", "BGL", "HDFS", "Hadoop", "Linux", "OpenSSH", "Spark", "Zookeeper"]
BLOCK = 100

# (systems or None, regex on the raw line, severity, category, finding, next-step command)
RULES = [
    (("OpenSSH", "Linux"), r"Failed password|authentication failure|Invalid user|check pass; user unknown|"
     r"POSSIBLE BREAK-IN|Too many authentication failures|Kerberos authentication failed", 3,
     "security: SSH password guessing (brute force)",
     "Repeated failed SSH logins from outside hosts: someone is guessing passwords.",
     "grep -E 'Failed password|authentication failure' /var/log/auth.log | grep -oE 'rhost=[^ ]+|from [0-9.]+' | sort | uniq -c | sort -rn | head"),
    (("OpenSSH",), r"Accepted password for", 2, "security: successful password login",
     "A password login succeeded; check that it was expected, especially next to failed attempts.",
     "last -a | head -20"),
    (("OpenSSH",), r"Connection closed by .*\[preauth\]|Received disconnect from .*\[preauth\]|Did not receive identification", 1,
     "security: SSH scanning (pre-auth disconnects)",
     "Clients connect and drop before authenticating, typical of internet-wide SSH scanners.",
     "ss -tn state established '( dport = :22 or sport = :22 )'"),
    (("Linux",), r"ALERT exited abnormally", 2, "service: process exited abnormally",
     "A daemon reported an abnormal exit; find which one and why.",
     "journalctl -p err -b --no-pager | tail -50"),
    (("Linux",), r"Authentication failed from .*(Software caused connection abort|Permission denied)", 2,
     "security: failed remote authentication", "Remote authentication attempts are failing.",
     "grep 'Authentication failed' /var/log/messages | awk '{print $NF}' | sort | uniq -c | sort -rn"),
    (("Linux",), r"Transport endpoint is not connected|can't get client address", 1,
     "network: client connection reset", "Clients disconnected before the server could serve them.",
     "ss -s"),
    (("Apache",), r"mod_jk child workerEnv in error state", 3, "application: mod_jk worker in error state",
     "Apache's mod_jk cannot talk to its backend workers (Tomcat/AJP), so proxied requests fail.",
     "ss -ltnp | grep 8009; grep -c 'workerEnv in error state' /var/log/apache2/error.log"),
    (("Apache",), r"Directory index forbidden by rule", 2, "web: directory listing requests denied (403)",
     "Clients request directories without an index file; usually scanners or a missing index page.",
     "grep 'Directory index forbidden' /var/log/apache2/error.log | grep -oE 'client [0-9.]+' | sort | uniq -c | sort -rn | head"),
    (("Apache",), r"\[error\]", 2, "web: Apache error", "Apache logged an error.",
     "tail -n 100 /var/log/apache2/error.log"),
    (("HDFS",), r"[Ee]xception", 3, "storage: HDFS DataNode I/O exception",
     "A DataNode hit an exception while serving or writing a block.",
     "hdfs dfsadmin -report | head -40; hdfs fsck / | tail -20"),
    (("Hadoop",), r"ERROR IN CONTACTING RM|Retrying connect to server|Connection refused", 3,
     "network: cannot reach the YARN ResourceManager",
     "The job's application master cannot contact the ResourceManager.",
     "yarn node -list; nc -zv $(hdfs getconf -confKey yarn.resourcemanager.hostname) 8030"),
    (("Hadoop",), r"Failed to renew lease|Address change detected", 2, "network: HDFS client lost the NameNode",
     "The HDFS client cannot renew its lease; the NameNode is unreachable or its address changed.",
     "hdfs dfsadmin -report | head; ping -c 3 $(hdfs getconf -namenodes)"),
    (("Hadoop",), r" ERROR |FATAL|Exception", 2, "application: Hadoop job error", "The MapReduce job logged an error.",
     "yarn logs -applicationId <application_id> | grep -E 'ERROR|Exception' | head"),
    (("Spark",), r" ERROR |Exception|Lost executor|Failed", 3, "application: Spark task failure",
     "A Spark executor or task failed.", "yarn logs -applicationId <application_id> | grep -E 'ERROR|Exception' | head"),
    (("Zookeeper",), r"Interrupted while waiting for message on queue|Send worker leaving thread|Connection broken|"
     r"Cannot open channel|Interrupting SendWorker", 2, "cluster: ZooKeeper quorum connection lost",
     "Quorum peers are dropping their connections; a ZooKeeper server is down or unreachable.",
     "for h in zk1 zk2 zk3; do echo srvr | nc $h 2181 | grep Mode; done"),
    (("Zookeeper",), r" ERROR |Exception", 2, "cluster: ZooKeeper error", "ZooKeeper logged an error.",
     "echo mntr | nc localhost 2181"),
    (("BGL",), r"MACHINE CHECK|machine check|parity error detected|ddr error|Node card is not fully functional", 3,
     "hardware: memory/CPU machine check on a compute node",
     "The node reports hardware errors; it should be drained and checked.",
     "grep -E 'MACHINE CHECK|parity|ddr error' bgl.log | awk '{print $4}' | sort | uniq -c | sort -rn"),
    (("BGL",), r" FATAL ", 3, "kernel/application: fatal error on a compute node",
     "A compute node logged a FATAL event.", "grep ' FATAL ' bgl.log | awk '{print $4}' | sort | uniq -c | sort -rn | head"),
    (("BGL",), r"Lustre mount FAILED", 3, "storage: Lustre mount failed", "A node could not mount the Lustre filesystem.",
     "lctl ping <mgs_nid>; lfs check servers"),
    (("BGL",), r"generating core", 2, "application: program crashed (core dumps)",
     "Programs are crashing and writing core files.", "ls -lt /path/to/cores | head"),
    (("BGL",), r"parity error corrected|error\(s\) detected and corrected", 1,
     "hardware: corrected memory/cache errors",
     "Corrected errors are harmless one by one but a rising count predicts failure.",
     "grep -c 'parity error corrected' bgl.log"),
]
ROUTINE_STEP = {"HDFS": "hdfs dfsadmin -report | head -20", "Hadoop": "yarn application -list",
                "Spark": "yarn application -list", "Zookeeper": "echo ruok | nc localhost 2181",
                "Linux": "journalctl -p warning -b --no-pager | tail -20", "OpenSSH": "journalctl -u ssh --since today | tail",
                "Apache": "apachectl status", "BGL": "grep -v ' INFO ' bgl.log | tail"}

FMT = ["**Category:** {cat}\n**Evidence:**\n```\n{ev}\n```\n**Finding:** {finding}\n**Next step:**\n```sh\n{step}\n```",
       "Category: {cat}\n\nEvidence:\n```\n{ev}\n```\n\n{finding}\n\nNext step:\n```sh\n{step}\n```",
       "**{cat}**\n\nThe line that matters:\n```\n{ev}\n```\n{finding} Next, run:\n```sh\n{step}\n```"]
ASK = ["What is wrong here?\n```\n{x}\n```", "Can you look at these log lines?\n```\n{x}\n```",
       "```\n{x}\n```\nDiagnose this excerpt.", "I see this in {src}. Anything to worry about?\n```\n{x}\n```",
       "Here is an excerpt from {src}:\n```\n{x}\n```\nWhat is the problem and what should I do next?",
       "Log excerpt ({src}):\n```\n{x}\n```", "Why is this happening?\n```\n{x}\n```"]


def answer(rng, cat, ev, finding, step):
    return rng.choice(FMT).format(cat=cat, ev=ev, finding=finding, step=step)


def ask(rng, lines, src):
    return rng.choice(ASK).format(x="\n".join(lines), src=src)


def loghub():
    sft, docs = [], []
    for S in SYSTEMS:
        raw = [l.rstrip() for l in open(os.path.join(LOGHUB, S, f"{S}_2k.log"), encoding="utf-8", errors="replace")]
        for b in range(0, len(raw), BLOCK):
            unit = f"loghub/{S}/{b // BLOCK}"
            block = raw[b:b + BLOCK]
            docs.append({"src": "loghub", "id": unit, "unit": unit, "text": "\n".join(block) + "\n"})
            rng = random.Random(SEED + stable_hash(unit))
            starts = sorted(set(rng.randrange(0, BLOCK - 14) for _ in range(14)))
            for k, st in enumerate(starts):
                n = rng.randint(6, 14)
                ex = [l for l in block[st:st + n] if l.strip()]
                best = None
                for i, line in enumerate(ex):
                    for systems, rx, sev, cat, finding, step in RULES:
                        if S in systems and re.search(rx, line):
                            if best is None or sev > best[0]:
                                best = (sev, line, cat, finding, step)
                            break
                if best is None:
                    if rng.random() > 0.35:
                        continue
                    ev = ex[rng.randrange(len(ex))]
                    cat, finding, step = ("routine: no problem found",
                                          "These are normal operational messages; nothing needs action.",
                                          ROUTINE_STEP[S])
                else:
                    _, ev, cat, finding, step = best
                assert ev in ex
                eid = f"{unit}/{k}"
                srcname = {"OpenSSH": "/var/log/auth.log", "Linux": "/var/log/messages",
                           "Apache": "the Apache error log"}.get(S, f"our {S} logs")
                sft.append({"task": "log", "id": eid, "unit": unit, "evidence": ev,
                            "messages": chat(system_prompt(rng, "log"), ask(rng, ex, srcname),
                                             answer(rng, cat, ev, finding, step))})
    return sft, docs


# ---------------------------------------------------------------- synthetic
HOSTS = ["web01", "web02", "db1", "app-3", "proxy1", "nas01", "build7", "mail", "k8s-node2", "backup01"]
USERS = ["alice", "bob", "deploy", "ops", "carol", "jenkins"]
BAD_USERS = ["admin", "root", "test", "oracle", "ubuntu", "guest", "user", "postgres", "git", "pi", "support"]


def rip(rng):
    return rng.choice(["45.", "185.", "103.", "61.", "193.", "91.", "222."]) + ".".join(str(rng.randint(1, 254)) for _ in range(3))


def lip(rng):
    return f"10.0.{rng.randint(0, 9)}.{rng.randint(2, 250)}"


class Clock:
    def __init__(self, rng, style):
        self.rng, self.style = rng, style
        self.t = rng.randint(0, 86400 - 3600)
        self.day = rng.randint(1, 28)
        self.mon = rng.choice(["Oct", "Nov"])

    def tick(self, lo=0, hi=40):
        self.t += self.rng.randint(lo, hi)
        h, m, s = self.t // 3600 % 24, self.t // 60 % 60, self.t % 60
        if self.style == "iso":
            mm = "10" if self.mon == "Oct" else "11"
            return f"2026-{mm}-{self.day:02d}T{h:02d}:{m:02d}:{s:02d}+0000"
        return f"{self.mon} {self.day:2d} {h:02d}:{m:02d}:{s:02d}"


KSTATE = [0.0]


def kt(rng):
    """Monotonic kernel uptime stamp within one excerpt: "[ 1234.567890]"."""
    KSTATE[0] += rng.uniform(0.0005, 30.0)
    return "[%12.6f]" % KSTATE[0]


def nginx_noise(rng, clk):
    ip = rip(rng) if rng.random() < 0.5 else lip(rng)
    path = rng.choice(["/", "/index.html", "/api/health", "/static/app.js", "/login", "/api/orders?page=2", "/favicon.ico"])
    code = rng.choice([200, 200, 200, 304, 301, 404])
    clk.tick(0, 5)
    h, m, sec = clk.t // 3600 % 24, clk.t // 60 % 60, clk.t % 60
    return (f"{ip} - - [24/Nov/2026:{h:02d}:{m:02d}:{sec:02d} +0000] \"GET {path} HTTP/1.1\" {code} {rng.randint(0, 30000)} "
            f"\"-\" \"{rng.choice(['Mozilla/5.0 (X11; Linux x86_64)', 'curl/7.88.1', 'kube-probe/1.29', 'Googlebot/2.1'])}\"")


def noise(rng, host, clk):
    pid = rng.randint(300, 40000)
    u = rng.choice(USERS)
    opts = [
        f"{host} CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
        f"{host} CRON[{pid}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
        f"{host} systemd[1]: Started session-{rng.randint(10, 999)}.scope - Session {rng.randint(10, 999)} of User {u}.",
        f"{host} sshd[{pid}]: Accepted publickey for {u} from {lip(rng)} port {rng.randint(30000, 65000)} ssh2: ED25519 SHA256:{''.join(rng.choice('abcdefghijkLMNOPQRS0123456789+/') for _ in range(20))}",
        f"{host} systemd[1]: Starting logrotate.service - Rotate log files...",
        f"{host} systemd[1]: logrotate.service: Deactivated successfully.",
        f"{host} systemd[1]: Finished logrotate.service - Rotate log files.",
        f"{host} systemd-timesyncd[{pid}]: Initial synchronization to time server 162.159.200.1:123 (0.debian.pool.ntp.org).",
        f"{host} dhclient[{pid}]: DHCPACK of {lip(rng)} from 10.0.0.1",
        f"{host} systemd[1]: Starting apt-daily.service - Daily apt download activities...",
        f"{host} systemd[1]: apt-daily.service: Deactivated successfully.",
        f"{host} kernel: {kt(rng)} IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
        f"{host} systemd-logind[{rng.randint(300, 900)}]: New session {rng.randint(10, 999)} of user {u}.",
        f"{host} systemd-logind[{rng.randint(300, 900)}]: Session {rng.randint(10, 999)} logged out. Waiting for processes to exit.",
        f"{host} sudo[{pid}]:     {u} : TTY=pts/{rng.randint(0, 4)} ; PWD=/home/{u} ; USER=root ; COMMAND=/usr/bin/systemctl status nginx",
        f"{host} rsyslogd[{rng.randint(300, 900)}]: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\"] rsyslogd was HUPed",
    ]
    return f"{clk.tick()} {rng.choice(opts)}"


def sc_oom(rng, host, clk):
    proc, pid = rng.choice([("java", 0), ("mysqld", 0), ("postgres", 0), ("node", 0), ("python3", 0), ("php-fpm8.2", 0)])
    pid = rng.randint(1000, 60000)
    vm, rss = rng.randint(4, 30) * 1048576 + rng.randint(0, 99999), rng.randint(2, 15) * 1048576 + rng.randint(0, 99999)
    k = f"kernel: {kt(rng)}"
    lines = [f"{host} {k} {proc} invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
             f"{host} {k} Out of memory: Killed process {pid} ({proc}) total-vm:{vm}kB, anon-rss:{rss}kB, file-rss:0kB, shmem-rss:0kB, UID:{rng.choice([0, 33, 106, 1000])} pgtables:{rng.randint(2000, 30000)}kB oom_score_adj:0",
             f"{host} systemd[1]: {proc.split('8')[0].replace('mysqld', 'mariadb').replace('postgres', 'postgresql@15-main').replace('python3', 'app').replace('java', 'tomcat10').replace('node', 'app')}.service: A process of this unit has been killed by the OOM killer."]
    return lines, 1, "memory: OOM killer", f"The kernel ran out of memory and killed {proc} (PID {pid}), which was using about {rss // 1048576} GiB resident.", \
        rng.choice(["free -h; ps aux --sort=-rss | head -n 10", "journalctl -k -b | grep -iE 'out of memory|killed process'", "systemctl show -p MemoryMax,MemoryCurrent " + "app.service"])


def sc_diskfull(rng, host, clk):
    opts = [f"{host} postgres[{rng.randint(1000, 9000)}]: [{rng.randint(1, 9)}] PANIC:  could not write to file \"pg_wal/xlogtemp.{rng.randint(1000, 9000)}\": No space left on device",
            f"{host} rsyslogd[{rng.randint(300, 900)}]: file '/var/log/syslog': write error: No space left on device [v8.2302.0 try https://www.rsyslog.com/e/2027 ]",
            f"{host} nginx[{rng.randint(1000, 9000)}]: {clk.tick(0,0)[:10].replace('-', '/') if clk.style=='iso' else '2026/11/24'} 10:12:01 [crit] 1234#1234: *88 pwrite() \"/var/lib/nginx/body/0000000042\" failed (28: No space left on device)",
            f"{host} dockerd[{rng.randint(500, 900)}]: time=\"2026-11-24T10:12:01Z\" level=error msg=\"write /var/lib/docker/tmp/GetImageBlob12345: no space left on device\""]
    j = rng.randrange(len(opts))
    mp = ["/var/lib/postgresql", "/var/log", "/var/lib/nginx", "/var/lib/docker"][j]
    return [opts[j]], 0, "disk: filesystem full", f"The filesystem holding {mp} has no free space left, so writes fail.", \
        rng.choice([f"df -h {mp}; du -xh {mp} --max-depth=2 2>/dev/null | sort -h | tail -n 15", "df -h; df -i", f"journalctl --disk-usage; du -sh /var/log/* | sort -h | tail"])


def sc_unit(rng, host, clk):
    svc, why = rng.choice([("nginx", "status=1/FAILURE"), ("postgresql@15-main", "status=1/FAILURE"),
                           ("php8.2-fpm", "status=78/CONFIG"), ("redis-server", "status=1/FAILURE"),
                           ("myapp", "status=203/EXEC"), ("haproxy", "status=1/FAILURE"), ("mariadb", "status=1/FAILURE")])
    lines = [f"{host} systemd[1]: Starting {svc}.service - {svc} service...",
             f"{host} systemd[1]: {svc}.service: Main process exited, code=exited, {why}",
             f"{host} systemd[1]: {svc}.service: Failed with result 'exit-code'.",
             f"{host} systemd[1]: Failed to start {svc}.service - {svc} service."]
    ev = rng.choice([1, 3])
    extra = " Exit status 203/EXEC means the ExecStart binary could not be executed (wrong path or permissions)." if "203" in why else \
        (" Status 78 means a configuration error." if "78" in why else "")
    return lines, ev, f"service: {svc}.service failed to start", f"systemd could not start {svc}.service.{extra}", \
        rng.choice([f"systemctl status {svc}.service --no-pager -l", f"journalctl -u {svc}.service -b --no-pager | tail -n 50"])


def sc_brute(rng, host, clk):
    ip = rip(rng)
    lines = []
    for _ in range(rng.randint(3, 6)):
        u = rng.choice(BAD_USERS)
        pid = rng.randint(2000, 60000)
        port = rng.randint(30000, 65000)
        lines.append(rng.choice([f"{host} sshd[{pid}]: Failed password for invalid user {u} from {ip} port {port} ssh2",
                                 f"{host} sshd[{pid}]: Invalid user {u} from {ip} port {port}",
                                 f"{host} sshd[{pid}]: Failed password for root from {ip} port {port} ssh2"]))
    return lines, rng.randrange(len(lines)), "security: SSH brute force", \
        f"{ip} is trying many user names and passwords over SSH.", \
        rng.choice([f"fail2ban-client status sshd", f"grep -c '{ip}' /var/log/auth.log; sudo ufw deny from {ip} to any port 22",
                    f"journalctl -u ssh --since '1 hour ago' | grep -c 'Failed password'"])


def sc_segv(rng, host, clk):
    proc = rng.choice(["php-fpm8.2", "nginx", "python3", "myapp", "node", "postgres"])
    pid = rng.randint(1000, 60000)
    lib = rng.choice(["libc.so.6", "libphp8.2.so", "libssl.so.3", "myapp", "libpython3.11.so.1.0"])
    line = f"{host} kernel: {kt(rng)} {proc}[{pid}]: segfault at {rng.choice(['0', '8', '18', '7f3a2c000010'])} ip 00007f{rng.randint(0x100000000, 0xfffffffff):09x} sp 00007ffd{rng.randint(0x10000000, 0xffffffff):08x} error {rng.choice([4, 6, 14])} in {lib}[7f3a{rng.randint(0x10000000, 0xffffffff):08x}+{rng.randint(0x1000, 0x1fffff):x}]"
    return [line], 0, "crash: segmentation fault", f"{proc} (PID {pid}) crashed with a segmentation fault in {lib}.", \
        rng.choice([f"coredumpctl list {proc.split('[')[0]}", f"coredumpctl info {pid}"])


def sc_nfs(rng, host, clk):
    srv = rng.choice(["nas01", "filer2", "10.0.5.20", "storage.example.com"])
    lines = [f"{host} kernel: {kt(rng)} nfs: server {srv} not responding, still trying",
             f"{host} kernel: {kt(rng)} nfs: server {srv} not responding, timed out"]
    lines = lines[:rng.randint(1, 2)]
    return lines, 0, "storage: NFS server not responding", f"The NFS server {srv} stopped answering; processes touching the mount will hang.", \
        rng.choice([f"ping -c 3 {srv}; rpcinfo -p {srv}", f"showmount -e {srv}", "mount -t nfs,nfs4; nfsstat -c"])


def sc_tls(rng, host, clk):
    dom = rng.choice(["example.com", "shop.example.net", "api.example.org", "mail.example.com"])
    opts = [f"{host} nginx[{rng.randint(1000, 9000)}]: 2026/11/24 10:00:01 [error] 1234#1234: *5 SSL_do_handshake() failed (SSL: error:0A000086:SSL routines::certificate verify failed) while SSL handshaking to upstream, upstream: \"https://10.0.0.8:443/\", host: \"{dom}\"",
            f"{host} certbot[{rng.randint(1000, 9000)}]: Failed to renew certificate {dom} with error: Some challenges have failed.",
            f"{host} postfix/smtp[{rng.randint(1000, 9000)}]: Untrusted TLS connection established to mx.{dom}[203.0.113.5]:25: certificate has expired",
            f"{host} curl-healthcheck[{rng.randint(1000, 9000)}]: curl: (60) SSL certificate problem: certificate has expired"]
    return [rng.choice(opts)], 0, "tls: certificate expired or renewal failed", f"The TLS certificate for {dom} is expired or could not be renewed.", \
        rng.choice([f"echo | openssl s_client -connect {dom}:443 -servername {dom} 2>/dev/null | openssl x509 -noout -enddate",
                    f"openssl x509 -noout -enddate -in /etc/letsencrypt/live/{dom}/fullchain.pem", "certbot renew --dry-run"])


def sc_upstream(rng, host, clk):
    up = rng.choice(["unix:/run/php/php8.2-fpm.sock", "http://127.0.0.1:8080/", "http://10.0.0.21:3000/"])
    ip = lip(rng)
    refused = rng.random() < 0.5
    err = "connect() failed (111: Connection refused) while connecting to upstream" if refused else \
        "upstream timed out (110: Connection timed out) while reading response header from upstream"
    line = f"2026/11/24 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} [error] {rng.randint(1000, 9000)}#{rng.randint(1000, 9000)}: *{rng.randint(1, 99999)} {err}, client: {ip}, server: example.com, request: \"GET /api/orders HTTP/1.1\", upstream: \"{up}\", host: \"example.com\""
    acc = f"{ip} - - [24/Nov/2026:10:00:01 +0000] \"GET /api/orders HTTP/1.1\" {502 if refused else 504} 157 \"-\" \"Mozilla/5.0\""
    svc = "php8.2-fpm" if "php" in up else "myapp"
    return [acc, line], 1, ("web: upstream down (502 Bad Gateway)" if refused else "web: upstream timeout (504 Gateway Timeout)"), \
        ("nginx cannot connect to its backend; the application server is not running or not listening." if refused
         else "The backend accepts connections but answers too slowly for nginx's proxy timeout."), \
        (f"systemctl status {svc} --no-pager; ss -ltnp" if refused else f"journalctl -u {svc} --since '10 min ago' --no-pager | tail")


def sc_ioerr(rng, host, clk):
    dev = rng.choice(["sda", "sdb", "nvme0n1", "sdc"])
    k = lambda: f"{host} kernel: {kt(rng)}"
    lines = [f"{k()} blk_update_request: I/O error, dev {dev}, sector {rng.randint(10**6, 10**9)} op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0",
             f"{k()} Buffer I/O error on dev {dev}1, logical block {rng.randint(10**5, 10**8)}, async page read"]
    return lines, 0, "hardware: disk I/O errors", f"The kernel cannot read from /dev/{dev}; the disk or its cable/controller is failing.", \
        rng.choice([f"smartctl -a /dev/{dev}", f"smartctl -H /dev/{dev}; dmesg -T | grep -i {dev} | tail"])


def sc_ro(rng, host, clk):
    dev = rng.choice(["sda1", "vda1", "nvme0n1p2", "dm-0"])
    k = f"{host} kernel: {kt(rng)}"
    lines = [f"{k} EXT4-fs error (device {dev}): ext4_find_entry:1582: inode #{rng.randint(1000, 900000)}: comm {rng.choice(['nginx', 'rsync', 'postgres'])}: reading directory lblock 0",
             f"{k} EXT4-fs (device {dev}): Remounting filesystem read-only"]
    return lines, 1, "storage: filesystem remounted read-only", f"ext4 found an error on /dev/{dev} and remounted it read-only; writes will fail.", \
        rng.choice([f"dmesg -T | grep -iE 'ext4|I/O error'; findmnt -o TARGET,SOURCE,OPTIONS | grep ro,",
                    f"smartctl -H /dev/{re.sub(r'[0-9]+$|p[0-9]+$', '', dev)}"])


def sc_nofile(rng, host, clk):
    j = rng.randrange(3)
    svc = ["nginx", "myapp", "haproxy"][j]
    pid = rng.randint(1000, 9000)
    line = [f"2026/11/24 10:00:01 [crit] {pid}#{pid}: accept4() failed (24: Too many open files)",
            f"{host} {svc}[{pid}]: Error: EMFILE: too many open files, open '/srv/app/uploads/tmp'",
            f"{host} {svc}[{pid}]: socket: too many open files"][j]
    return [line], 0, "limits: file descriptor limit reached", f"{svc} hit its open-files limit (RLIMIT_NOFILE) and cannot accept new connections.", \
        rng.choice([f"cat /proc/$(pgrep -o {svc})/limits | grep 'open files'; ls /proc/$(pgrep -o {svc})/fd | wc -l",
                    f"systemctl show {svc} -p LimitNOFILE"])


def sc_pgconn(rng, host, clk):
    db = rng.choice(["postgres", "mariadb"])
    if db == "postgres":
        line = f"{host} postgres[{rng.randint(1000, 9000)}]: 2026-11-24 10:00:01.123 UTC [{rng.randint(1000, 9000)}] app@appdb FATAL:  sorry, too many clients already"
        step = "sudo -u postgres psql -c 'SELECT usename, state, count(*) FROM pg_stat_activity GROUP BY 1,2 ORDER BY 3 DESC;'"
    else:
        line = f"{host} mariadbd[{rng.randint(1000, 9000)}]: 2026-11-24 10:00:01 {rng.randint(10, 9999)} [Warning] Aborted connection {rng.randint(10, 9999)} to db: 'shop' user: 'app' host: '10.0.0.21' (Too many connections)"
        step = "mysql -e \"SHOW STATUS LIKE 'Threads_connected'; SHOW VARIABLES LIKE 'max_connections';\""
    return [line], 0, "database: connection limit reached", "The database refused new clients because max_connections is exhausted (often a connection leak or missing pooler).", step


def sc_clock(rng, host, clk):
    line = rng.choice([f"{host} chronyd[{rng.randint(300, 900)}]: System clock wrong by {rng.randint(2, 400)}.{rng.randint(0, 999999):06d} seconds",
                       f"{host} chronyd[{rng.randint(300, 900)}]: Can't synchronise: no selectable sources",
                       f"{host} systemd-timesyncd[{rng.randint(300, 900)}]: Timed out waiting for reply from 162.159.200.1:123 (0.debian.pool.ntp.org)."])
    return [line], 0, "time: clock not synchronised", "The system clock is drifting or cannot reach any NTP source; TLS, Kerberos and logs depend on correct time.", \
        rng.choice(["chronyc tracking; chronyc sources -v", "timedatectl timesync-status"])


def sc_dns(rng, host, clk):
    name = rng.choice(["deb.debian.org", "api.example.com", "db1.internal", "registry-1.docker.io"])
    line = rng.choice([f"{host} myapp[{rng.randint(1000, 9000)}]: getaddrinfo ENOTFOUND {name}",
                       f"{host} apt-helper[{rng.randint(1000, 9000)}]: Temporary failure resolving '{name}'",
                       f"{host} systemd-resolved[{rng.randint(300, 900)}]: Using degraded feature set UDP instead of UDP+EDNS0 for DNS server 10.0.0.2.",
                       f"{host} curl-healthcheck[{rng.randint(1000, 9000)}]: curl: (6) Could not resolve host: {name}"])
    return [line], 0, "network: DNS resolution failing", f"Name resolution for {name} fails, so connections by name break.", \
        rng.choice([f"resolvectl status; resolvectl query {name}", f"dig {name}; cat /etc/resolv.conf"])


def sc_sudo(rng, host, clk):
    u = rng.choice(USERS + ["www-data", "intern"])
    line = f"{host} sudo[{rng.randint(1000, 60000)}]:   {u} : user NOT in sudoers ; TTY=pts/{rng.randint(0, 5)} ; PWD=/home/{u} ; USER=root ; COMMAND=/bin/{rng.choice(['bash', 'su', 'cat /etc/shadow'])}"
    return [line], 0, "security: unauthorized sudo attempt", f"User {u} tried to run a root command without sudo rights.", \
        rng.choice([f"id {u}; grep '{u}' /var/log/auth.log | tail", f"last {u} | head"])


def sc_link(rng, host, clk):
    i = rng.choice(["eth0", "eno1", "enp3s0", "ens18"])
    k = f"{host} kernel: {kt(rng)}"
    lines = [f"{k} {rng.choice(['e1000e', 'igb', 'ixgbe', 'tg3'])} 0000:00:1f.6 {i}: NIC Link is Down", f"{k} bond0: (slave {i}): link status definitely down, disabling slave"]
    return lines[:rng.randint(1, 2)], 0, "network: link down", f"The physical link on {i} dropped (cable, switch port or NIC).", \
        rng.choice([f"ip -s link show {i}; ethtool {i}", f"ethtool {i} | grep -E 'Speed|Link detected'"])


def sc_port(rng, host, clk):
    svc, port = rng.choice([("nginx", 80), ("nginx", 443), ("haproxy", 443), ("apache2", 80), ("myapp", 8080)])
    line = rng.choice([f"{host} {svc}[{rng.randint(1000, 9000)}]: nginx: [emerg] bind() to 0.0.0.0:{port} failed (98: Address already in use)",
                       f"{host} {svc}[{rng.randint(1000, 9000)}]: Error: listen EADDRINUSE: address already in use :::{port}",
                       f"{host} {svc}[{rng.randint(1000, 9000)}]: (98)Address already in use: AH00072: make_sock: could not bind to address [::]:{port}"])
    return [line, f"{host} systemd[1]: {svc}.service: Failed with result 'exit-code'."], 0, "service: port already in use", \
        f"{svc} cannot bind port {port} because another process already listens there.", f"ss -ltnp 'sport = :{port}'"


def sc_hung(rng, host, clk):
    t = rng.choice(["jbd2/sda1-8", "kworker/u16:2", "postgres", "rsync", "mysqld"])
    k = f"{host} kernel: {kt(rng)}"
    lines = [f"{k} INFO: task {t}:{rng.randint(100, 50000)} blocked for more than {rng.choice([120, 241, 362])} seconds.",
             f"{k}       Not tainted 6.1.0-{rng.randint(10, 28)}-amd64 #1 Debian 6.1.{rng.randint(100, 130)}-1",
             f"{k} \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message."]
    return lines, 0, "storage/kernel: hung task (blocked I/O)", f"{t} is stuck in uninterruptible I/O wait; the underlying storage is stalling.", \
        rng.choice(["iostat -x 1 5", "cat /proc/pressure/io; dmesg -T | tail -n 50"])


def sc_raid(rng, host, clk):
    md = rng.choice(["md0", "md1", "md127"])
    lines = [f"{host} mdadm[{rng.randint(300, 900)}]: DegradedArray event detected on md device /dev/{md}",
             f"{host} kernel: {kt(rng)} md/raid1:{md}: Disk failure on sdb1, disabling device."]
    if rng.random() < 0.5:
        lines = lines[::-1]
    return lines, rng.randrange(2), "storage: RAID array degraded", f"/dev/{md} lost a member disk and runs without redundancy.", \
        rng.choice([f"cat /proc/mdstat; mdadm --detail /dev/{md}", f"mdadm --detail /dev/{md}"])


def sc_cron(rng, host, clk):
    pid = rng.randint(1000, 60000)
    job = rng.choice(["/usr/local/bin/backup.sh", "/opt/scripts/rotate-dumps.sh", "/usr/local/sbin/sync-s3.sh"])
    lines = [f"{host} CRON[{pid}]: (root) CMD ({job})",
             f"{host} CRON[{pid}]: (CRON) info (No MTA installed, discarding output)",
             f"{host} {job.rsplit('/', 1)[1]}[{pid + 1}]: rsync: [sender] change_dir \"/srv/data\" failed: No such file or directory (2)"]
    return lines, 2, "cron: job failing silently", f"The cron job {job} fails and its output is discarded because no MTA is installed.", \
        rng.choice([f"bash -x {job}", f"grep CRON /var/log/syslog | grep '{job}' | tail"])


def sc_ok(rng, host, clk):
    return [], None, "routine: no problem found", "These are normal housekeeping messages (sessions, timers, log rotation); nothing needs action.", \
        rng.choice(["journalctl -p warning -b --no-pager | tail -n 20", "systemctl --failed"])


SCENARIOS = [("oom", sc_oom), ("diskfull", sc_diskfull), ("unit", sc_unit), ("brute", sc_brute), ("segv", sc_segv),
             ("nfs", sc_nfs), ("tls", sc_tls), ("upstream", sc_upstream), ("ioerr", sc_ioerr), ("ro", sc_ro),
             ("nofile", sc_nofile), ("dbconn", sc_pgconn), ("clock", sc_clock), ("dns", sc_dns), ("sudo", sc_sudo),
             ("link", sc_link), ("port", sc_port), ("hung", sc_hung), ("raid", sc_raid), ("cron", sc_cron), ("ok", sc_ok)]
PER_SCENARIO = 420
SRC = {"iso": "journalctl output", "syslog": "/var/log/syslog"}


def synthetic():
    sft = []
    for name, fn in SCENARIOS:
        for i in range(PER_SCENARIO):
            unit = f"synthlog/{name}/{i}"
            rng = random.Random(SEED + stable_hash(unit))
            host = rng.choice(HOSTS)
            clk = Clock(rng, rng.choice(["iso", "syslog"]))
            KSTATE[0] = rng.uniform(50, 900000)
            sig, evi, cat, finding, step = fn(rng, host, clk)
            KSTATE[0] = rng.uniform(50, 900000)
            native = [bool(re.match(r"^(\d{4}/|\d+\.\d+\.\d+\.\d+ )", s)) for s in sig]
            mk = (lambda: nginx_noise(rng, clk)) if any(native) else (lambda: noise(rng, host, clk))
            if any(native) and not all(native):
                sig = [s for s, nat in zip(sig, native) if nat]
                evi = 0
            pre = [mk() for _ in range(rng.randint(1, 5))]
            sigl = []
            for s in sig:
                if native and any(native):
                    clk.tick(0, 3)
                    h, m, sec = clk.t // 3600 % 24, clk.t // 60 % 60, clk.t % 60
                    s = re.sub(r"^2026/11/24 \d\d:\d\d:\d\d", f"2026/11/24 {h:02d}:{m:02d}:{sec:02d}", s)
                    s = re.sub(r"\[24/Nov/2026:\d\d:\d\d:\d\d", f"[24/Nov/2026:{h:02d}:{m:02d}:{sec:02d}", s)
                # nginx error/access log lines carry their own timestamp
                sigl.append(s if re.match(r"^(\d{4}/|\d+\.\d+\.\d+\.\d+ )", s) else f"{clk.tick(0, 3)} {s}")
            post = [mk() for _ in range(rng.randint(0, 4))]
            ex = pre + sigl + post
            if name == "ok":
                ex = [noise(rng, host, clk) for _ in range(rng.randint(5, 10))]
                ev = ex[rng.randrange(len(ex))]
            else:
                ev = sigl[evi]
            if len(set(ex)) != len(ex):
                ex = list(dict.fromkeys(ex))
            assert ev in ex
            src = "the nginx error log" if any(re.match(r"^\d{4}/", s) for s in sigl) else SRC[clk.style]
            sft.append({"task": "log", "id": unit, "unit": unit, "evidence": ev,
                        "messages": chat(system_prompt(rng, "log"), ask(rng, ex, src), answer(rng, cat, ev, finding, step))})
    return sft


def main():
    # NO_LOGHUB=1 leaves Loghub out (its samples are licensed for research and academic work
    # only): the log task then has only the synthetic excerpts and there are no log documents.
    s1, docs = ([], []) if os.environ.get("NO_LOGHUB") == "1" else loghub()
    s2 = synthetic()
    with open(os.path.join(RAW, "sft_log.jsonl"), "w") as f:
        for r in s1 + s2:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(RAW, "loghub_docs.jsonl"), "w") as f:
        for r in docs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"log: {len(s1)} loghub excerpts, {len(s2)} synthetic, {len(docs)} loghub blocks", file=sys.stderr)


if __name__ == "__main__":
    main()
