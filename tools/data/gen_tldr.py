#!/usr/bin/env python3
"""tldr pages -> pretrain documents + SFT tasks "cmd" (request -> command) and "explain".

Input : ../shared/data/tldr/pages/{common,linux}/*.md (tldr-pages contributors, CC BY 4.0)
Output: .data/raw/tldr_docs.jsonl   {"src":"tldr","id":"tldr/<page>","unit":...,"text":...}
        .data/raw/sft_tldr.jsonl    {"task","id","unit","messages",("request","command")}

The split unit is the PAGE NAME ("cmd/<name>", shared with the man page of that name), so every example of a page, in any platform
folder, lands on the same side. Alias pages ("This command is an alias of") are skipped.
Placeholders are filled with realistic values from fixed pools with random.Random seeded per
example (SEED + stable hash of the example id), so reruns are byte-identical.
"""
import json, os, random, re, sys
sys.path.insert(0, os.path.dirname(__file__))
from common import RAW, SHARED, SEED, stable_hash, is_heldout, system_prompt, chat

PAGES = os.path.join(SHARED, "tldr", "pages")

USERS = ["alice", "bob", "deploy", "www-data", "postgres", "backup", "jenkins", "ops", "admin", "carol",
         "svc-monitor", "git", "dave", "mysql", "nginx"]
GROUPS = ["sudo", "adm", "docker", "www-data", "developers", "ops", "wheel", "backup", "ssl-cert"]
HOSTS = ["web01", "db1.example.com", "10.0.0.12", "server.example.org", "app02.internal", "192.168.1.50",
         "bastion.example.net", "nas01", "192.168.10.5", "mail.example.com", "k8s-node3", "203.0.113.7"]
DOMAINS = ["example.com", "example.org", "shop.example.net", "api.example.com", "mail.example.org",
           "intranet.example.com", "status.example.io"]
IPS = ["10.0.0.12", "192.168.1.50", "172.16.4.20", "10.20.30.40", "192.168.0.1", "203.0.113.7",
       "198.51.100.23", "10.1.2.3", "192.168.122.10"]
PORTS = ["22", "80", "443", "8080", "5432", "3306", "6379", "8443", "9090", "2222", "25", "53"]
PACKAGES = ["nginx", "htop", "curl", "postgresql", "git", "vim", "tmux", "rsync", "fail2ban",
            "docker.io", "redis-server", "jq", "net-tools", "openssh-server", "python3-pip", "unzip",
            "chrony", "mariadb-server", "certbot", "sysstat"]
UNITS = ["nginx.service", "sshd.service", "postgresql.service", "docker.service", "cron.service",
         "redis-server.service", "apache2.service", "php8.2-fpm.service", "systemd-journald.service",
         "fail2ban.service", "chrony.service", "backup.timer"]
SERVICES = ["nginx", "ssh", "postgresql", "docker", "cron", "redis-server", "apache2", "php8.2-fpm",
            "mariadb", "fail2ban", "rsyslog", "haproxy"]
IFACES = ["eth0", "eth1", "ens18", "enp3s0", "wlan0", "bond0", "br0", "ens192"]
DISKS = ["/dev/sdb", "/dev/sdc", "/dev/nvme1n1", "/dev/vdb", "/dev/sda"]
PROCS = ["nginx", "java", "postgres", "python3", "node", "php-fpm", "redis-server", "sshd", "mysqld"]
DIRS = ["/var/www/html", "/srv/backup", "/etc/nginx", "/var/log", "/home/alice/projects", "/opt/app",
        "/srv/data", "/tmp/build", "/var/lib/docker", "~/scripts", "/mnt/backup", "/etc/ssh",
        "/usr/local/bin", "/data/archive", "."]
FILES_BY_EXT = {
    "": ["/var/log/syslog", "/etc/hosts", "/etc/fstab", "notes.txt", "/var/log/auth.log",
         "/etc/nginx/nginx.conf", "/etc/ssh/sshd_config", "report.txt", "/var/log/nginx/access.log",
         "/etc/passwd", "config.yaml", "/tmp/output.log", "data.csv", "/etc/crontab"],
    "txt": ["notes", "report", "list", "todo", "hosts"], "log": ["/var/log/syslog", "app", "error", "access"],
    "conf": ["/etc/nginx/nginx", "app", "/etc/sysctl.d/99-tuning", "haproxy"],
    "sh": ["backup", "deploy", "cleanup", "healthcheck"], "py": ["script", "manage", "app", "check_disk"],
    "tar": ["backup", "site", "logs-2026-11"], "tar.gz": ["backup", "site", "release-1.4.2", "logs"],
    "gz": ["access.log", "dump.sql", "data"], "zip": ["archive", "photos", "release"],
    "json": ["config", "data", "response", "package"], "yaml": ["config", "docker-compose", "values"],
    "yml": ["docker-compose", "playbook", "config"], "csv": ["data", "users", "export"],
    "sql": ["dump", "schema", "backup"], "pem": ["cert", "/etc/ssl/certs/server", "fullchain"],
    "key": ["/etc/ssl/private/server", "private"], "crt": ["server", "/etc/ssl/certs/example.com"],
    "iso": ["debian-12.8.0-amd64-netinst", "ubuntu-24.04-live-server-amd64"], "img": ["disk", "backup"],
    "pub": ["~/.ssh/id_ed25519", "~/.ssh/id_rsa"], "deb": ["package", "./htop_3.2.2-2_amd64"],
}
WORDS = {
    "command": ["ls -l", "uptime", "df -h", "make", "./backup.sh", "systemctl status nginx", "sleep 30"],
    "pattern": ["error", "Failed password", "timeout", "ERROR", "404", "nginx"],
    "search_pattern": ["error", "timeout", "Failed"], "regex": ["^ERROR", "[0-9]+ms", "fail(ed|ure)"],
    "string": ["hello", "error", "DEBUG"], "text": ["Hello world", "backup done"],
    "message": ["Backup finished", "Fix typo in config", "Disk almost full"],
    "name": ["web", "backup", "myapp", "test"], "value": ["42", "true", "production"],
    "key": ["PATH", "timeout", "user.name"], "variable": ["PATH", "HOME", "EDITOR"],
    "version": ["1.4.2", "3.11", "2.0.0"], "tag": ["v1.4.2", "latest", "stable"],
    "image": ["nginx:1.25", "debian:bookworm", "postgres:15", "redis:7"],
    "image:tag": ["nginx:1.25", "debian:bookworm", "alpine:3.19"],
    "image_name": ["nginx", "debian", "myapp"], "container_name": ["web", "db", "redis-cache", "myapp"],
    "container": ["web", "db", "myapp"], "branch_name": ["main", "feature/login", "hotfix-123"],
    "remote_name": ["origin", "upstream"], "commit": ["a1b2c3d", "HEAD~1"],
    "database_name": ["appdb", "inventory", "postgres"], "db_name": ["appdb", "shop"],
    "table_name": ["users", "orders", "sessions"], "url": ["https://example.com", "https://example.com/file.tar.gz"],
    "https://example.com": ["https://example.com", "https://api.example.com/health", "https://example.org/index.html"],
    "n": ["5", "10", "20", "50", "100"], "number": ["3", "10", "25"], "count": ["3", "5", "10"],
    "seconds": ["5", "10", "30", "60"], "signal": ["SIGTERM", "SIGHUP", "SIGKILL"],
    "module_name": ["br_netfilter", "overlay", "nf_conntrack"], "interface": IFACES, "interface_name": IFACES,
    "session_name": ["work", "deploy", "monitor"], "project_name": ["myapp", "website", "infra"],
    "password": ["S3cure-Passw0rd"], "token": ["$API_TOKEN"], "target": ["all", "install", "web01"],
    "type": ["ext4", "A", "json"], "format": ["json", "yaml", "csv"], "filename": ["report.txt", "data.csv"],
    "file": ["report.txt", "/var/log/syslog"], "path": ["/var/www/html", "/srv/data"],
    "input_file": ["input.txt"], "output_file": ["output.txt"], "query": ["SELECT 1;", "nginx"],
    "search_term": ["nginx", "postgres"], "keyword": ["disk", "network"], "program": ["nginx", "htop"],
    "process_name": PROCS, "pid": ["1234", "4821", "27315", "912"], "process_id": ["1234", "4821"],
    "job_id": ["1", "2", "%1"], "id": ["42", "7"], "group_id": ["1001", "33"], "group": GROUPS,
    "group_name": GROUPS, "owner": USERS, "username": USERS, "user": USERS, "host": HOSTS,
    "hostname": HOSTS, "remote_host": HOSTS, "server": HOSTS, "address": IPS, "ip_address": IPS,
    "domain": DOMAINS, "example.com": DOMAINS, "port": PORTS, "local_port": ["8080", "5433", "9000"],
    "unit": UNITS, "service": SERVICES, "service_name": SERVICES, "package": PACKAGES,
    "package_name": PACKAGES, "package1 package2 ...": ["nginx", "curl jq", "htop tmux vim"],
    "/dev/sdX": DISKS, "/dev/sdXY": ["/dev/sdb1", "/dev/sdc1", "/dev/nvme1n1p1", "/dev/vdb1"],
    "/dev/sdXN": ["/dev/sdb1", "/dev/sdc2", "/dev/sda3"], "eth0": IFACES, "ethX": IFACES,
    "wlan0": ["wlan0"], "repository": ["myorg/myapp", "origin"], "repository_url": ["https://github.com/example/app.git"],
    "namespace": ["default", "kube-system", "monitoring"], "pod_name": ["web-5d8f7c9b6-x2kqz", "db-0"],
    "node_name": ["k8s-node3", "worker-1"], "cluster_name": ["prod", "staging"], "vm_name": ["web01", "testvm"],
    "pool_name": ["tank", "data"], "snapshot_name": ["before-upgrade", "daily-2026-11-24"],
    "region": ["eu-west-1", "us-east-1"], "arguments": ["--verbose"], "argument1 argument2 ...": ["--dry-run -v"],
    "command_arguments": ["--help"], "subcommand": ["status", "list"], "description": ["Nightly backup"],
    "title": ["Maintenance window"], "task_name": ["backup"], "app_name": ["myapp", "web"],
    "source": ["/srv/data/", "origin"], "mount_point": ["/mnt/data", "/mnt/backup"],
}
TIMEWORDS = {"YYYY-MM-DD": "2026-11-24", "HH:MM:SS": "14:30:00", "YYYY-MM-DD HH:MM:SS": "2026-11-24 14:30:00",
             "HH:MM": "03:15", "hh:mm": "03:15"}


def fill_path(ph, rng):
    """{{path/to/...}} placeholders -> realistic absolute or relative paths."""
    multi = "..." in ph
    parts = [p for p in ph.replace("...", "").split() if p]
    n = rng.choice([2, 2, 3]) if multi else 1
    proto = parts[0] if parts else ph
    vals = []
    for i in range(n):
        vals.append(fill_one_path(proto, rng, i))
    return " ".join(dict.fromkeys(vals))


def fill_one_path(proto, rng, i=0):
    last = proto.split("/")[-1]
    last = re.sub(r"\d+$", "", last)
    low = last.lower()
    if low in ("directory", "dir", "folder", "target_directory", "output_directory", "source_directory",
               "destination", "project", "data", "mount_point", "new_root", "directory_or_file") or \
            low.endswith("directory") or low.endswith("dir"):
        if low == "mount_point":
            return rng.choice(["/mnt/data", "/mnt/backup", "/media/usb", "/srv/nfs"])
        return rng.choice(DIRS[:-1]) if i == 0 else rng.choice(["/srv/data", "/opt/app/releases", "/var/tmp"])
    if low in ("file_or_directory",):
        return rng.choice(["/var/log/nginx", "/etc/nginx/nginx.conf", "report.txt", "/srv/data"])
    m = re.match(r"^[^.]*\.(.+)$", last)
    if m:
        ext = m.group(1)
        base = FILES_BY_EXT.get(ext)
        stem = rng.choice(base) if base else \
            re.sub(r"\d+$", "", re.sub(r"^(input|output|file|image|source|target)_?", "", last.split(".")[0]))
        if not stem:
            stem = rng.choice(["data", "report", "backup", "notes", "app", "archive"])
        if stem.startswith("/") or stem.startswith("~") or stem.startswith("./"):
            return stem + "." + ext
        d = rng.choice(["", "", "/srv/backup/", "/tmp/", "~/", "/var/tmp/"])
        if i:
            stem = stem + str(i + 1)
        return d + stem + "." + ext
    if low in ("binary", "executable", "program", "output_executable"):
        return rng.choice(["/usr/local/bin/app", "./myapp", "/usr/sbin/nginx", "/opt/app/bin/server"])
    if low in ("script",):
        return rng.choice(["./backup.sh", "/usr/local/bin/cleanup.sh"])
    if low in ("archive",):
        return rng.choice(["backup.tar.gz", "/srv/backup/site.tar"])
    if low not in ("file", "input", "output", "input_file", "output_file", "source", "target", "source_file",
                   "target_file", "local_file", "new_file", "", "filename", "path"):
        # a specific kind of file (pubkey, wordlist, keyfile...): name it after the placeholder
        return rng.choice(["", "~/", "/srv/", "/etc/app/", "/tmp/"]) + low + (str(i + 1) if i else "")
    f = rng.choice(FILES_BY_EXT[""])
    if i:
        f = rng.choice(["/etc/hostname", "/var/log/kern.log", "notes.txt", "/etc/resolv.conf", "data2.csv"])
    return f


def fill_value(ph, rng, prefer_first):
    """Return the concrete text for one placeholder body."""
    p = ph.strip()
    m = re.fullmatch(r"\[([^\]]*)\]", p)
    if m:  # option / subcommand alternatives [-n|--lines]
        alts = [a for a in m.group(1).split("|") if a]
        return alts[0] if prefer_first or len(alts) == 1 else rng.choice(alts)
    if p in TIMEWORDS:
        return TIMEWORDS[p]
    if p.startswith("path/to") or p.startswith("~/path/to") or p.startswith("/path/to") or p == "path/to":
        return fill_path(p.replace("~/", "").lstrip("/"), rng)
    if "|" in p:
        alts = [a for a in p.split("|") if a and a != "..."]
        if not alts:
            return p
        return fill_value(rng.choice(alts), rng, prefer_first)  # the request names the choice
    if p in WORDS:
        return rng.choice(WORDS[p])
    key = re.sub(r"\d+$", "", p)
    if key in WORDS:
        return rng.choice(WORDS[key])
    if "..." in p:
        items = [x for x in p.replace("...", "").split() if x]
        return " ".join(fill_value(x, rng, prefer_first) for x in items[:2])
    if re.fullmatch(r"-?[0-9.]+[a-zA-Z%]*", p) or p.startswith("/") or p.startswith("-") or "." in p \
            or ":" in p or "=" in p:
        return p  # already a concrete example value (100, /dev/sda1, example.com, 1.2.3.4 ...)
    for suffix, pool in (("user", USERS), ("name", ["myapp", "web", "backup"]), ("host", HOSTS),
                         ("port", PORTS), ("file", ["report.txt"]), ("ip", IPS), ("url", ["https://example.com"]),
                         ("id", ["42"]), ("number", ["3"]), ("password", ["S3cure-Passw0rd"])):
        if key.lower().endswith(suffix):
            return rng.choice(pool)
    return p.replace(" ", "_")


PH = re.compile(r"\{\{(.*?)\}\}(?!\})")


def fill_command(tmpl, rng, prefer_first):
    vals = {}
    def sub(m):
        body = m.group(1)
        v = fill_value(body, rng, prefer_first)
        if not re.fullmatch(r"\[.*\]", body.strip()):
            vals.setdefault(body, v)
        return v
    return PH.sub(sub, tmpl), vals


def parse_page(path):
    txt = open(path, encoding="utf-8").read()
    lines = txt.splitlines()
    name = lines[0].lstrip("# ").strip() if lines else ""
    desc = [l[1:].strip() for l in lines if l.startswith(">")]
    ex, cur = [], None
    for l in lines:
        if l.startswith("- "):
            cur = l[2:].strip().rstrip(":")
        elif l.startswith("`") and l.endswith("`") and cur is not None:
            ex.append((cur, l[1:-1]))
            cur = None
    return txt, name, desc, ex


def unmnemonic(s):
    # "[c]reate a g[z]ipped archive" -> "create a gzipped archive"
    return re.sub(r"\[([^\]\s]{1,3})\]", r"\1", s)


def desc_with_values(desc, vals):
    """Put concrete values into the description: `n` -> `20`, "a specific unit" stays."""
    d = unmnemonic(desc)
    for body, v in vals.items():
        d = d.replace("`" + body + "`", "`" + v + "`")
    d = PH.sub(lambda m: m.group(1), d)
    return d


def lower_first(s):
    w = s.split(" ", 1)[0]
    if len(w) > 1 and w[1:] == w[1:].lower() and w[:1].isupper():
        return s[:1].lower() + s[1:]
    return s


IRREG = {"do": "does", "go": "goes", "undo": "undoes", "be": "is", "have": "has"}


VERBS = set()  # imperative first words of all tldr example descriptions (filled in main)


def conj(lw):
    if lw in IRREG:
        return IRREG[lw]
    if re.search(r"(s|sh|ch|x|z)$", lw):
        return lw + "es"
    if re.search(r"[^aeiou]y$", lw):
        return lw[:-1] + "ies"
    return lw + "s"


def third_person(s):
    s = re.sub(r"\b(and|or) ([a-z]+)\b", lambda m: m.group(1) + " " + (conj(m.group(2)) if m.group(2) in VERBS else m.group(2)), s)
    return _third_person(s)


def _third_person(s):
    w, _, rest = s.partition(" ")
    lw = w.lower()
    if lw in IRREG:
        v = IRREG[lw]
    elif re.search(r"(s|sh|ch|x|z)$", lw):
        v = lw + "es"
    elif re.search(r"[^aeiou]y$", lw):
        v = lw[:-1] + "ies"
    else:
        v = lw + "s"
    return (v[:1].upper() + v[1:]) + (" " + rest if rest else "")


DESTRUCTIVE = re.compile(r"(^|\s)(rm|shred|wipefs|mkfs[.\w]*|dd|fdisk|sfdisk|parted|sgdisk|lvremove|vgremove|"
                         r"pvremove|mdadm --zero|userdel|deluser|truncate|iptables -F|"
                         r"nft flush|ufw reset|docker system prune|git reset --hard|"
                         r"git clean|dropdb|DROP)\b")
POWER = re.compile(r"(^|\s)(reboot|shutdown|poweroff|halt|kill -9|killall|pkill)\b")

# requests name the tool (exact-match eval needs it); phrasing without the tool only when the
# description already names it
REQ_TEMPLATES = [
    "{D} with {tool}{V}", "How do I {d} with {tool}{V}?", "{D} using {tool}{V}. What's the command?",
    "I need to {d} with {tool}{V}.", "Give me the {tool} command to {d}{V}.",
    "What {tool} command can I use to {d}{V}?", "Using {tool}: {d}{V}.", "How can I {d} with {tool}{V}?",
    "{tool}: {d}{V}", "Quick one: {d} with {tool}{V}?", "Please {d} using {tool}{V}.",
    "{tool} command to {d}{V}", "Show me how to {d} using {tool}{V}.", "With {tool}, how do I {d}{V}?",
]
REQ_NOTOOL = ["{D}{V}", "How do I {d}{V}?", "I need to {d}{V}.", "Give me the command to {d}{V}.",
              "What command can I use to {d}{V}?", "Please {d}{V}."]
EXP_TEMPLATES = [
    "What does this command do?\n```sh\n{c}\n```", "Explain: `{c}`", "Explain this command:\n{c}",
    "What happens if I run `{c}`?", "Can you explain `{c}` briefly?", "I found this in a script: `{c}` - what does it do?",
    "{c}\n\nWhat does that do?", "Break down this command for me: `{c}`",
]


def values_clause(vals, rng):
    items = [(k, v) for k, v in vals.items() if v and v != k.replace(" ", "_")]
    if not items:
        return ""
    style = rng.randrange(3)
    parts = []
    for k, v in items:
        first = k.split()[0]
        if "|" in k:
            label = "choice"
        else:
            label = re.sub(r"^~?/?(path/to/)?", "", first)
            label = re.sub(r"\.[A-Za-z0-9.]+$", "", label) if k.startswith(("path/to", "~/path/to", "/path/to")) else label
            label = re.sub(r"\d+$", "", label).replace("_", " ").strip() or "value"
            if "..." in k:
                label += "s"
        parts.append((label, v))
    if style == 0:
        return " (" + ", ".join(f"{l}: {v}" for l, v in parts) + ")"
    if style == 1:
        return "; use " + ", ".join(f"`{v}`" for _, v in parts)
    return " - " + ", ".join(f"{l} `{v}`" for l, v in parts)


def make_request(desc_filled, tool, vals, rng):
    t = rng.choice(REQ_NOTOOL if tool.lower() in desc_filled.lower() else REQ_TEMPLATES)
    d = lower_first(desc_filled.rstrip("."))
    # values already present in the description need not be repeated
    vals = {k: v for k, v in vals.items() if f"`{v}`" not in desc_filled}
    V = values_clause(vals, rng)
    return t.format(D=d[:1].upper() + d[1:], d=d, V=V, tool=tool)


def answer_cmd(cmd, desc_filled, rng):
    expl = third_person(desc_filled.rstrip(".")) + "."
    out = f"```sh\n{cmd}\n```\n{expl}"
    if DESTRUCTIVE.search(cmd):
        out += " Careful: this changes or removes data and cannot easily be undone."
    elif POWER.search(cmd):
        out += " Careful: this stops running processes or the whole machine."
    return out


def answer_explain(cmd, tool, page_desc, desc_filled, rng):
    what = third_person(desc_filled.rstrip(".")) + "."
    first = page_desc[0] if page_desc else ""
    first = re.sub(r"`", "", first)
    s = f"`{tool}`: {lower_first(first)}" if first else f"`{tool}`"
    style = rng.randrange(3)
    if style == 0:
        out = f"{what}\n\n{s}"
    elif style == 1:
        out = f"This runs {s.rstrip('.')}. {what.replace('.', '', 0)}"
    else:
        out = f"{what} ({s.rstrip('.')}.)"
    if DESTRUCTIVE.search(cmd):
        out += " It modifies or deletes data, so double-check the arguments before running it."
    return out


def main():
    docs, sft = [], []
    pages = {}
    for plat in ("linux", "common"):
        d = os.path.join(PAGES, plat)
        for fn in sorted(os.listdir(d)):
            if fn.endswith(".md"):
                pages.setdefault(fn[:-3], []).append((plat, os.path.join(d, fn)))
    n_alias = 0
    for page in sorted(pages):
        for plat, path in pages[page]:
            for desc, _ in parse_page(path)[3]:
                w = unmnemonic(desc).split(" ", 1)[0]
                if w[:1].isupper() and w[1:].islower() and w.isalpha():
                    VERBS.add(w.lower())
    VERBS.difference_update({"the", "a", "an", "all", "only", "each", "every", "one", "two", "this", "that", "then", "also",
                             "as", "in", "on", "to", "with", "without", "from", "for", "not"})
    for page in sorted(pages):
        unit = "cmd/" + page  # shared with the man page of the same name
        for plat, path in pages[page]:
            txt, tool, pdesc, ex = parse_page(path)
            if any("This command is an alias of" in l for l in pdesc):
                n_alias += 1
                continue
            docs.append({"src": "tldr", "id": f"tldr/{plat}/{page}", "unit": unit, "text": txt.strip() + "\n"})
            held = is_heldout(unit)
            for j, (desc, tmpl) in enumerate(ex):
                eid = f"tldr/{plat}/{page}/{j}"
                # request -> command: 2 phrasings (different values) in train, 1 in held-out
                for k in range(1 if held else 2):
                    rng = random.Random(SEED + stable_hash(eid + f"/cmd{k}"))
                    cmd, vals = fill_command(tmpl, rng, prefer_first=True)
                    dfill = desc_with_values(desc, vals)
                    req = make_request(dfill, tool, vals, rng)
                    sft.append({"task": "cmd", "id": eid + f"/cmd{k}", "unit": unit,
                                "template": tmpl, "desc": desc,
                                "messages": chat(system_prompt(rng, "cmd"), req, answer_cmd(cmd, dfill, rng)),
                                "request": req, "command": cmd})
                rng = random.Random(SEED + stable_hash(eid + "/explain"))
                cmd, vals = fill_command(tmpl, rng, prefer_first=rng.random() < 0.6)
                dfill = desc_with_values(desc, vals)
                user = rng.choice(EXP_TEMPLATES).format(c=cmd)
                sft.append({"task": "explain", "id": eid + "/explain", "unit": unit, "cmd_raw": cmd,
                            "messages": chat(system_prompt(rng, "explain"), user,
                                             answer_explain(cmd, tool, pdesc, dfill, rng))})
    with open(os.path.join(RAW, "tldr_docs.jsonl"), "w") as f:
        for r in docs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(RAW, "sft_tldr.jsonl"), "w") as f:
        for r in sft:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"tldr: {len(pages)} page names, {n_alias} alias pages skipped, {len(docs)} docs, "
          f"{len(sft)} sft examples", file=sys.stderr)


if __name__ == "__main__":
    main()
