#!/usr/bin/env python3
"""Config snippet + host facts -> recommended change (SFT task "config").

Eight templated generators (nginx, postgresql, sshd_config, sysctl, systemd unit limits, redis,
php-fpm, mariadb). Each draws host facts (cores, RAM, role, traffic, storage) and a config
excerpt with one or more values that do not fit the host, computes the recommended values with
the usual rules, and answers with a unified diff (difflib, so it always applies to the excerpt),
the reason, and how to apply it. About 6 % of examples are already fine ("no change needed").
Rules used (also in README.md):
  nginx      worker_processes auto (= cores); worker_connections >= 2 x peak connections / cores
             for a reverse proxy (1 x for static), rounded up to a power of two, min 1024, and
             worker_rlimit_nofile = 2 x worker_connections; server_tokens off;
             client_max_body_size = largest upload.
  postgresql shared_buffers 25 % RAM (15 % when it shares the host with the application);
             effective_cache_size 75 % (50 % shared); maintenance_work_mem RAM/16 capped at 2GB;
             work_mem = (RAM - shared_buffers) / (3 x max_connections), min 4MB;
             random_page_cost 1.1 on SSD/NVMe, 4 on HDD; effective_io_concurrency 200 on SSD.
  sshd       PermitRootLogin no, PasswordAuthentication no (only when every admin has a key),
             MaxAuthTries 3, X11Forwarding no on servers.
  sysctl     vm.swappiness 10 on database hosts, vm.overcommit_memory 1 for Redis,
             net.ipv4.ip_local_port_range 1024 65535 and tcp_tw_reuse 1 for proxies with many
             upstream connections, net.ipv4.ip_forward 1 for routers/VPN gateways,
             fs.inotify.max_user_watches 524288 for file-sync/dev hosts.
  systemd    LimitNOFILE 65536 for services with many connections; Restart=on-failure and
             RestartSec=5s for crashing services; MemoryMax for leaking services.
  redis      maxmemory ~70 % of RAM on a dedicated cache host (or the stated budget), policy
             allkeys-lru for caches, noeviction + appendonly yes for queues/persistent data.
  php-fpm    pm.max_children = (RAM - reserved for other services) / average worker RSS.
  mariadb    innodb_buffer_pool_size ~70 % RAM on a dedicated DB host, ~40 % when shared.
Output: .data/raw/sft_config.jsonl
"""
import difflib, json, math, os, random, sys
sys.path.insert(0, os.path.dirname(__file__))
from common import RAW, SEED, stable_hash, is_heldout, system_prompt, chat

PER_GEN = 1250
RAMS = [1, 2, 4, 8, 16, 32, 64, 128]
CORES = [1, 2, 4, 8, 16, 32]


def mem(mb):
    """Human memory value in postgres style: 4GB / 512MB."""
    return f"{mb // 1024}GB" if mb % 1024 == 0 and mb >= 1024 else f"{mb}MB"


def pow2_at_least(n, lo=1024):
    v = lo
    while v < n:
        v *= 2
    return v


def facts_text(rng, f):
    parts = [f"{f['cores']} CPU cores", f"{f['ram']} GiB RAM"] + f.get("extra", [])
    style = rng.randrange(3)
    if style == 0:
        return "Host: " + ", ".join(parts) + f"; role: {f['role']}."
    if style == 1:
        return "Host facts:\n" + "\n".join(f"- {p}" for p in [f"role: {f['role']}"] + parts)
    art = "an" if f["role"][:1].lower() in "aeiou" else "a"
    return f"This is {art} {f['role']} with " + ", ".join(parts) + "."


ASK = ["{facts}\n\nHere is {path}:\n```\n{conf}\n```\nWhat should I change?",
       "{facts}\n```\n{conf}\n```\n(from {path}) Any tuning you'd recommend?",
       "Can you review this {path} for the host below?\n```\n{conf}\n```\n{facts}",
       "{facts} Current {path}:\n```\n{conf}\n```\nIs this configured right for the machine?",
       "Please suggest changes to {path}.\n\n{facts}\n\n```\n{conf}\n```"]


def make(rng, path, old, new, facts, reasons, apply_cmd):
    conf = "\n".join(old)
    user = rng.choice(ASK).format(facts=facts, path=path, conf=conf)
    if old == new:
        ans = "No change needed: " + " ".join(reasons) + f"\n\nTo double-check the running values:\n```sh\n{apply_cmd}\n```"
        return user, ans
    diff = "\n".join(l.rstrip("\n") for l in difflib.unified_diff(
        [l + "\n" for l in old], [l + "\n" for l in new], "a" + path, "b" + path, n=2))
    diff = diff.replace("\n\n", "\n")
    lead = rng.choice(["Recommended change:", "I would change this:", "Suggested diff:", ""])
    why = " ".join(reasons)
    ans = (lead + "\n" if lead else "") + f"```diff\n{diff}\n```\n" + \
        rng.choice(["Reason: ", "Why: ", ""]) + why + f"\n\nApply with:\n```sh\n{apply_cmd}\n```"
    return user, ans


def g_nginx(rng):
    cores, ram = rng.choice(CORES), rng.choice(RAMS[1:6])
    role = rng.choice(["reverse proxy in front of an API", "static website server", "reverse proxy for a PHP app",
                       "file upload service behind nginx"])
    conns = rng.choice([200, 500, 1000, 2000, 5000, 10000, 20000, 40000])
    upload = rng.choice([20, 50, 100, 200, 512]) if "upload" in role else None
    extra = [f"peak ~{conns} concurrent client connections"] + ([f"uploads up to {upload} MB"] if upload else [])
    wp = rng.choice(["1", "2", "4", str(cores * 2), "auto"])
    wc = rng.choice([512, 768, 1024, 4096])
    st = rng.choice(["on", "# server_tokens off;", "off"])
    old = ["user www-data;", f"worker_processes {wp};", "pid /run/nginx.pid;", "include /etc/nginx/modules-enabled/*.conf;",
           "", "events {", f"\tworker_connections {wc};", "}", "", "http {", "\tsendfile on;", "\ttcp_nopush on;",
           "\tkeepalive_timeout 65;", f"\tserver_tokens {st};" if not st.startswith("#") else f"\t{st}"]
    if upload:
        old.append(f"\tclient_max_body_size {rng.choice(['1m', '10m'])};")
    old += ["\tinclude /etc/nginx/conf.d/*.conf;", "\tinclude /etc/nginx/sites-enabled/*;", "}"]
    new = list(old)
    reasons = []
    if wp != "auto" and wp != str(cores):
        new[1] = "worker_processes auto;"
        reasons.append(f"worker_processes should match the {cores} core{'s' if cores > 1 else ''} ('auto' does that); "
                       f"{wp} worker{'s' if wp != '1' else ''} {'waste' if int(wp) > cores else 'leave'} CPU {'on context switches' if int(wp) > cores else 'idle'}.")
    per = 2 if "proxy" in role or "upload" in role else 1
    need = math.ceil(conns * per / cores)
    if wc < need:
        nwc = pow2_at_least(need)
        new[6] = f"\tworker_connections {nwc};"
        new.insert(2, f"worker_rlimit_nofile {2 * nwc};")
        reasons.append(f"With ~{conns} clients{' and one upstream connection each' if per == 2 else ''} over {cores} worker"
                       f"{'s' if cores > 1 else ''}, each worker needs about {need} connections, so worker_connections {wc} is too low; "
                       f"raise it to {nwc} and the per-worker file limit to match.")
    i = next(k for k, l in enumerate(new) if "server_tokens" in l)
    if "off;" not in new[i] or new[i].lstrip().startswith("#"):
        new[i] = "\tserver_tokens off;"
        reasons.append("server_tokens off hides the nginx version in error pages and headers.")
    if upload:
        i = next(k for k, l in enumerate(new) if "client_max_body_size" in l)
        new[i] = f"\tclient_max_body_size {upload}m;"
        reasons.append(f"client_max_body_size must allow the {upload} MB uploads, otherwise nginx answers 413.")
    if not reasons:
        reasons.append(f"worker_processes, worker_connections and server_tokens already suit {cores} cores and ~{conns} connections.")
    f = {"cores": cores, "ram": ram, "role": role, "extra": extra}
    return "/etc/nginx/nginx.conf", old, new, facts_text(rng, f), reasons, "nginx -t && systemctl reload nginx"


def g_postgres(rng):
    ram, cores = rng.choice(RAMS[1:]), rng.choice(CORES[1:])
    shared = rng.random() < 0.3
    role = "application server that also runs PostgreSQL 15" if shared else "dedicated PostgreSQL 15 server"
    disk = rng.choice(["SSD", "NVMe", "HDD (RAID 10)"])
    maxc = rng.choice([100, 100, 200, 300])
    ram_mb = ram * 1024
    sb = ram_mb * (15 if shared else 25) // 100
    sb = sb // 128 * 128 if sb < 1024 else sb // 1024 * 1024
    ecs = ram_mb * (50 if shared else 75) // 100
    ecs = ecs // 1024 * 1024 if ecs >= 1024 else ecs // 128 * 128
    mwm = min(ram_mb // 16, 2048)
    mwm = mwm // 64 * 64
    wm = max(4, (ram_mb - sb) // (3 * maxc))
    rpc = "1.1" if disk != "HDD (RAID 10)" else "4"
    old_vals = {"max_connections": str(maxc), "shared_buffers": rng.choice(["128MB", mem(sb * 2) if sb * 2 < ram_mb else "128MB", mem(sb)]),
                "effective_cache_size": rng.choice(["4GB", mem(ecs)]), "maintenance_work_mem": rng.choice(["64MB", mem(mwm)]),
                "work_mem": rng.choice(["4MB", "64MB", f"{wm}MB"]), "random_page_cost": rng.choice(["4", "4", rpc])}
    new_vals = {"max_connections": str(maxc), "shared_buffers": mem(sb), "effective_cache_size": mem(ecs),
                "maintenance_work_mem": mem(mwm), "work_mem": f"{wm}MB", "random_page_cost": rpc}
    keys = list(old_vals)
    old = ["listen_addresses = 'localhost'", "port = 5432"] + [f"{k} = {old_vals[k]}" for k in keys] + ["wal_level = replica"]
    new = ["listen_addresses = 'localhost'", "port = 5432"] + [f"{k} = {new_vals[k]}" for k in keys] + ["wal_level = replica"]
    # keep the excerpt honest: only values that differ are changed; 64MB work_mem can stay if not too big
    reasons = []
    if old_vals["shared_buffers"] != new_vals["shared_buffers"]:
        reasons.append(f"shared_buffers ~{15 if shared else 25}% of {ram} GiB RAM{' (the application needs the rest)' if shared else ''} = {new_vals['shared_buffers']}.")
    if old_vals["effective_cache_size"] != new_vals["effective_cache_size"]:
        reasons.append(f"effective_cache_size tells the planner how much the OS can cache: ~{50 if shared else 75}% of RAM = {new_vals['effective_cache_size']}.")
    if old_vals["maintenance_work_mem"] != new_vals["maintenance_work_mem"]:
        reasons.append(f"maintenance_work_mem = RAM/16 (at most 2GB) = {new_vals['maintenance_work_mem']} speeds up VACUUM and index builds.")
    if old_vals["work_mem"] != new_vals["work_mem"]:
        reasons.append(f"work_mem is per sort/hash per connection: (RAM - shared_buffers) / (3 x {maxc} connections) = {new_vals['work_mem']}.")
    if old_vals["random_page_cost"] != new_vals["random_page_cost"]:
        reasons.append(f"random_page_cost {rpc} fits {disk} storage" + (" (random reads cost almost the same as sequential ones)." if rpc == "1.1" else "."))
    if not reasons:
        reasons.append(f"the memory settings already follow the usual sizing for {ram} GiB RAM and {maxc} connections.")
    f = {"cores": cores, "ram": ram, "role": role, "extra": [f"{disk} storage", f"up to {maxc} connections"]}
    needs_restart = old_vals["shared_buffers"] != new_vals["shared_buffers"]
    return "/etc/postgresql/15/main/postgresql.conf", old, new, facts_text(rng, f), reasons, \
        ("systemctl restart postgresql@15-main  # shared_buffers needs a restart" if needs_restart
         else "sudo -u postgres psql -c 'SELECT pg_reload_conf();'")


def g_sshd(rng):
    role = rng.choice(["internet-facing web server", "bastion host reachable from the internet", "internal database server",
                       "build server in the office LAN"])
    keys = rng.random() < 0.75
    vals = {"PermitRootLogin": rng.choice(["yes", "yes", "prohibit-password", "no"]),
            "PasswordAuthentication": rng.choice(["yes", "yes", "no"]),
            "MaxAuthTries": rng.choice(["6", "10", "3"]), "X11Forwarding": rng.choice(["yes", "no"])}
    old = ["Include /etc/ssh/sshd_config.d/*.conf", "Port 22"] + [f"{k} {v}" for k, v in vals.items()] + \
        ["KbdInteractiveAuthentication no", "UsePAM yes", "PrintMotd no", "Subsystem sftp /usr/lib/openssh/sftp-server"]
    new = list(old)
    reasons = []
    for i, l in enumerate(old):
        k, v = l.split(" ", 1)
        if k == "PermitRootLogin" and v != "no":
            new[i] = "PermitRootLogin no"
            reasons.append("Log in as a named user and use sudo; root logins are the first target of brute-force attempts" +
                           (" and leave no trace of who did what." if v == "yes" else "; prohibit-password still allows root with a key."))
        if k == "PasswordAuthentication" and v == "yes" and keys:
            new[i] = "PasswordAuthentication no"
            reasons.append("Every admin already uses SSH keys, so password logins only give attackers something to guess.")
        if k == "MaxAuthTries" and v != "3":
            new[i] = "MaxAuthTries 3"
            reasons.append("MaxAuthTries 3 cuts each connection's guesses.")
        if k == "X11Forwarding" and v == "yes":
            new[i] = "X11Forwarding no"
            reasons.append("A server does not need X11 forwarding; it only widens the attack surface.")
    if vals["PasswordAuthentication"] == "yes" and not keys:
        reasons.append("Keep PasswordAuthentication for now because not every admin has a key; deploy keys (ssh-copy-id) first, then disable it.")
    if not reasons:
        reasons.append("root login, password authentication and forwarding are already locked down.")
    f = {"cores": rng.choice(CORES[:4]), "ram": rng.choice(RAMS[1:5]), "role": role,
         "extra": ["all admins log in with SSH keys" if keys else "two admins still log in with passwords"]}
    return "/etc/ssh/sshd_config", old, new, facts_text(rng, f), reasons, \
        "sshd -t && systemctl reload ssh   # keep your current session open until a new login works"


def g_sysctl(rng):
    role = rng.choice(["PostgreSQL database server", "Redis cache server", "nginx reverse proxy with many upstream connections",
                       "WireGuard VPN gateway", "CI build host with file watchers"])
    base = ["# local tuning", "kernel.panic = 10"]
    cur = {}
    for k, v in (("vm.swappiness", "60"), ("net.core.somaxconn", "4096"), ("vm.overcommit_memory", "0")):
        if rng.random() < 0.5:
            cur[k] = v
    old = base + [f"{k} = {v}" for k, v in cur.items()]
    want = {}
    if "PostgreSQL" in role:
        want = {"vm.swappiness": ("10", "A database should keep its working set in RAM; swappiness 10 makes the kernel swap only under real pressure.")}
    elif "Redis" in role:
        want = {"vm.overcommit_memory": ("1", "Redis forks for background saves; overcommit_memory 1 keeps BGSAVE from failing with 'Cannot allocate memory' (Redis warns about this at start)."),
                "vm.swappiness": ("1", "A cache that swaps is slower than no cache.")}
    elif "proxy" in role:
        want = {"net.ipv4.ip_local_port_range": ("1024 65535", "Many short upstream connections can exhaust the default ephemeral port range (32768-60999)."),
                "net.ipv4.tcp_tw_reuse": ("1", "tcp_tw_reuse lets outgoing connections reuse ports in TIME_WAIT.")}
    elif "VPN" in role:
        want = {"net.ipv4.ip_forward": ("1", "A gateway must forward packets between the tunnel and the LAN; IPv4 forwarding is off by default.")}
    else:
        want = {"fs.inotify.max_user_watches": ("524288", "Build tools and file watchers hit the default inotify watch limit and fail with 'ENOSPC: System limit for number of file watchers reached'.")}
    new = list(old)
    reasons = []
    for k, (v, why) in want.items():
        line = f"{k} = {v}"
        idx = next((i for i, l in enumerate(new) if l.startswith(k + " ")), None)
        if idx is None:
            new.append(line)
        elif new[idx] != line:
            new[idx] = line
        else:
            continue
        reasons.append(why)
    if not reasons:
        reasons.append("the settings this role needs are already there.")
    f = {"cores": rng.choice(CORES[1:]), "ram": rng.choice(RAMS[2:]), "role": role}
    return "/etc/sysctl.d/99-local.conf", old, new, facts_text(rng, f), reasons, "sysctl --system"


def g_systemd(rng):
    svc = rng.choice(["myapp", "api", "worker", "ws-gateway", "ingest"])
    problem = rng.choice(["connections", "crash", "leak"])
    extra = {"connections": [f"{svc} holds ~{rng.choice([5000, 10000, 30000])} open sockets at peak and logs 'too many open files'"],
             "crash": [f"{svc} crashes a few times a week and stays down until someone restarts it"],
             "leak": [f"{svc} leaks memory and has pushed the host into the OOM killer twice"]}[problem]
    ram = rng.choice(RAMS[2:6])
    old = ["[Unit]", f"Description={svc} service", "After=network-online.target", "Wants=network-online.target", "",
           "[Service]", f"User={svc}", f"ExecStart=/opt/{svc}/bin/{svc} --config /etc/{svc}/config.yaml", "Restart=no", "",
           "[Install]", "WantedBy=multi-user.target"]
    new = list(old)
    reasons = []
    if problem == "connections":
        new.insert(9, "LimitNOFILE=65536")
        reasons.append("The default soft limit of 1024 open files is far below the sockets the service needs; LimitNOFILE=65536 raises it for this unit only.")
    elif problem == "crash":
        new[8] = "Restart=on-failure"
        new.insert(9, "RestartSec=5s")
        reasons.append("Restart=on-failure makes systemd bring the service back after a crash, RestartSec=5s avoids a tight restart loop; still find the cause in the journal.")
    else:
        cap = max(1, ram // 4)
        new.insert(9, f"MemoryMax={cap}G")
        new[8] = "Restart=on-failure"
        reasons.append(f"MemoryMax={cap}G confines the leak to the service's cgroup (the kernel kills {svc}, not the rest of the host), "
                       "and Restart=on-failure brings it back; fix the leak itself later.")
    f = {"cores": rng.choice(CORES[1:]), "ram": ram, "role": "application server", "extra": extra}
    return f"/etc/systemd/system/{svc}.service", old, new, facts_text(rng, f), reasons, \
        f"systemctl daemon-reload && systemctl restart {svc}"


def g_redis(rng):
    ram = rng.choice(RAMS[1:])
    use = rng.choice(["cache", "cache", "queue"])
    dedicated = rng.random() < 0.6
    role = f"{'dedicated ' if dedicated else ''}Redis {'cache' if use == 'cache' else 'server for a job queue'}" + ("" if dedicated else " on the application host")
    budget = ram * 70 // 100 if dedicated else max(1, ram // 4)
    mm = f"{budget}gb" if budget >= 1 else "512mb"
    if ram == 1:
        mm = "700mb" if dedicated else "256mb"
    policy = "allkeys-lru" if use == "cache" else "noeviction"
    old = ["bind 127.0.0.1 -::1", "port 6379", f"# maxmemory <bytes>", f"maxmemory-policy {rng.choice(['noeviction', 'volatile-lru', policy])}",
           "save 3600 1 300 100 60 10000", f"appendonly {rng.choice(['no', 'yes'])}"]
    new = list(old)
    new[2] = f"maxmemory {mm}"
    reasons = [f"Without maxmemory Redis grows until the OOM killer stops it; cap it at {mm} "
               f"({'about 70% of RAM, leaving room for fork copy-on-write and the OS' if dedicated else 'a quarter of RAM, because the application shares the host'})."]
    if old[3] != f"maxmemory-policy {policy}":
        new[3] = f"maxmemory-policy {policy}"
        reasons.append("A cache should evict the least recently used keys when full (allkeys-lru)." if use == "cache"
                       else "Queue data must not be evicted silently; noeviction makes writes fail loudly instead.")
    if use == "queue" and old[5] == "appendonly no":
        new[5] = "appendonly yes"
        reasons.append("appendonly yes keeps queued jobs across a restart (RDB snapshots alone can lose minutes of jobs).")
    f = {"cores": rng.choice(CORES[:4]), "ram": ram, "role": role}
    return "/etc/redis/redis.conf", old, new, facts_text(rng, f), reasons, \
        "systemctl restart redis-server && redis-cli INFO memory | grep maxmemory"


def g_phpfpm(rng):
    ram = rng.choice(RAMS[1:6])
    reserved = {2: 1, 4: 1, 8: 2, 16: 4, 32: 6}[ram]
    rss = rng.choice([40, 50, 60, 80, 100, 128])
    cores = rng.choice(CORES[1:5])
    mem_mc = (ram - reserved) * 1024 // rss
    mc = min(mem_mc, cores * 8)
    start, mins = max(2, mc // 4), max(1, mc // 8)
    maxs = max(start, mc // 2)
    old = ["[www]", "user = www-data", "group = www-data", "listen = /run/php/php8.2-fpm.sock", "pm = dynamic",
           f"pm.max_children = {rng.choice([5, 5, 10, mem_mc * 3])}", "pm.start_servers = 2", "pm.min_spare_servers = 1",
           "pm.max_spare_servers = 3", ";pm.max_requests = 500"]
    new = old[:5] + [f"pm.max_children = {mc}", f"pm.start_servers = {start}", f"pm.min_spare_servers = {mins}",
                     f"pm.max_spare_servers = {maxs}", "pm.max_requests = 500"]
    reasons = [f"Size the pool by memory: ({ram} GiB RAM - {reserved} GiB for nginx, the database and the OS) / {rss} MB per worker = {mem_mc} children"
               + (f"; with {cores} cores more than ~8 workers per core only queue on the CPU, so cap it at {mc}." if mc < mem_mc else ".")
               + (" The current value would swap or trigger the OOM killer under load." if int(old[5].split('=')[1]) > mc
                  else " With the current value requests queue while RAM sits idle."),
               f"Spare servers scale with it (start {start}, min {mins}, max {maxs}); pm.max_requests 500 recycles workers to contain slow leaks."]
    f = {"cores": cores, "ram": ram, "role": "WordPress/PHP web server (nginx + php8.2-fpm)",
         "extra": [f"average php-fpm worker RSS {rss} MB", f"{reserved} GiB needed by nginx, MariaDB and the OS"]}
    return "/etc/php/8.2/fpm/pool.d/www.conf", old, new, facts_text(rng, f), reasons, \
        "php-fpm8.2 -t && systemctl reload php8.2-fpm"


def g_mariadb(rng):
    ram = rng.choice(RAMS[1:])
    dedicated = rng.random() < 0.65
    pct = 70 if dedicated else 40
    bp = max(1, ram * pct // 100) if ram >= 2 else 0
    bps = f"{bp}G" if bp else "512M"
    slow = rng.random() < 0.5
    old = ["[mysqld]", "bind-address = 127.0.0.1", f"innodb_buffer_pool_size = {rng.choice(['128M', '256M', '1G'])}",
           f"max_connections = {rng.choice([151, 300])}", "#slow_query_log = 1", "#long_query_time = 2"]
    new = list(old)
    new[2] = f"innodb_buffer_pool_size = {bps}"
    reasons = [f"The InnoDB buffer pool is MariaDB's main cache; on a {'dedicated' if dedicated else 'shared'} host use about {pct}% of {ram} GiB = {bps}."]
    if slow:
        new[4], new[5] = "slow_query_log = 1", "long_query_time = 1"
        reasons.append("Turn on the slow query log (queries over 1 s) to find what makes the site slow.")
    f = {"cores": rng.choice(CORES[1:]), "ram": ram, "role": ("dedicated MariaDB server" if dedicated else "web server that also runs MariaDB"),
         "extra": ["users report slow page loads"] if slow else []}
    return "/etc/mysql/mariadb.conf.d/50-server.cnf", old, new, facts_text(rng, f), reasons, \
        "systemctl restart mariadb && mysql -e \"SELECT @@innodb_buffer_pool_size/1024/1024/1024 AS gib\""


GENS = [("nginx", g_nginx), ("postgres", g_postgres), ("sshd", g_sshd), ("sysctl", g_sysctl), ("systemd", g_systemd),
        ("redis", g_redis), ("phpfpm", g_phpfpm), ("mariadb", g_mariadb)]


def main():
    out, seen, nochange = [], set(), 0
    for name, g in GENS:
        for i in range(PER_GEN):
            unit = f"config/{name}/{i}"
            rng = random.Random(SEED + stable_hash(unit))
            path, old, new, facts, reasons, apply_cmd = g(rng)
            user, ans = make(rng, path, old, new, facts, reasons, apply_cmd)
            key = user
            if key in seen:
                continue
            seen.add(key)
            nochange += old == new
            out.append({"task": "config", "id": unit, "unit": unit,
                        "messages": chat(system_prompt(rng, "config"), user, ans)})
    with open(os.path.join(RAW, "sft_config.jsonl"), "w") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"config: {len(out)} examples ({nochange} no-change)", file=sys.stderr)


if __name__ == "__main__":
    main()
