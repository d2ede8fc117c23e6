#!/usr/bin/env python3
"""Multi-turn conversations and cautions for destructive requests (issue 21), from the tldr data.

Input : ../shared/data/tldr/pages/{common,linux}/*.md (tldr-pages contributors, CC BY 4.0), via
        gen_tldr's parser and placeholder filler (same pools, same request phrasings)
Output: .data/raw/sft_multiturn.jsonl  {"task":"multiturn"|"caution","id","unit","messages",...}

task "multiturn" (2-5 user turns, one assistant answer each):
  (a) tldr conversations: turn 1 is a cmd-task request for one example of a page; every later
      turn is a follow-up that only makes sense with the context: another example of the same
      tool without naming it ("And how do I ...?"), "and on web2?" (the previous command over
      ssh), a correction of one value ("Sorry, I meant bob, not alice"), long option names,
      sudo after "permission denied", paging, counting, filtering or saving the output.
  (b) log conversations: a journalctl / docker logs / kubectl logs command refined turn by turn
      ("now only the last hour", "only errors", "follow it", "last 50 lines", "on web2?");
      the command is rebuilt from the accumulated state each turn.
  Every answer depends on the current request and no assistant answer repeats an earlier one
  of the same conversation (checked; a conversation that would is cut before that turn).
task "caution": a request whose command is destructive or disruptive (tldr examples matched
  by gen_tldr.DESTRUCTIVE / POWER, and scenario templates: rm -rf, dd to a disk, mkfs, flushing
  the firewall, DROP DATABASE, chmod -R 777, force push, prune, kill -9, reboot ...). The answer
  keeps the cmd format (the command in a ```sh block, one line of explanation), then a clear
  warning and a safer alternative in a second ```sh block. Requests that would destroy the
  whole system (rm -rf /, dd over the root disk...) are refused with the reason and a safe
  alternative instead.
Split units: "cmd/<page>" for tldr-based records (the page's unit, so a held-out tool stays
held out everywhere), "multiturn-log/<i>" and "caution-scenario/<name>/<i>" for the others.
Seeded per record (SEED + stable hash of the id): reruns are byte-identical.
"""
import json, os, random, re, shlex, sys
sys.path.insert(0, os.path.dirname(__file__))
from common import RAW, SEED, stable_hash, is_heldout, system_prompt
import gen_tldr as T

OTHER_HOSTS = ["web2", "web02", "db2", "app03", "10.0.0.13", "backup01", "staging.example.com", "node4"]


def msgs(system, turns):
    out = [{"role": "system", "content": system}]
    for u, a in turns:
        out += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    return out


def sh(cmd, expl):
    return f"```sh\n{cmd}\n```\n{expl}"


def ssh_wrap(host, cmd):
    return f"ssh {host} {shlex.quote(cmd)}"


def lf(s):
    s = T.lower_first(s.rstrip("."))
    return s


# ---------------------------------------------------------------- (a) tldr conversations
FOLLOW_SAME_TOOL = ["And how do I {d}{V}?", "And to {d}{V}?", "Now {d}{V}.", "OK. Next: {d}{V}.",
                    "Thanks. And to {d}{V}?", "Same tool: how do I {d}{V}?", "And if I want to {d}{V}?"]
FOLLOW_HOST = ["And on {h}?", "Same on {h}, please.", "Can you run that on {h} instead?", "and on {h}?",
               "Now do it on {h}.", "I need the same on {h}."]
FOLLOW_SUDO = ["It says permission denied.", "Permission denied. What now?", "I get 'Operation not permitted'.",
               "That fails as a normal user."]
FOLLOW_LESS = ["The output is too long to read.", "Too much output, can I scroll through it?", "Make it pageable."]
FOLLOW_COUNT = ["How many lines does that print?", "Just give me the count of lines.", "Count the output lines instead."]
FOLLOW_SAVE = ["Save that output to {f}.", "Write the result into {f} instead.", "I want the output in {f}."]
FOLLOW_GREP = ["Only show the lines containing '{p}'.", "Filter that for {p}.", "Just the lines with {p}, please."]
FOLLOW_LONG = ["Use the long option names, it's for a script.", "Write it with long options.",
               "Can you spell out the options? It goes into a runbook."]
FOLLOW_FIX = ["Sorry, I meant {new}, not {old}.", "No, {new} instead of {old}.", "Wrong one: use {new}, not {old}.",
              "Correction: {new} rather than {old}."]
SAVE_FILES = ["/tmp/out.txt", "/root/report.txt", "~/result.log", "/tmp/check.txt"]
GREP_WORDS = ["error", "nginx", "fail", "warning", "root", "denied"]


def alt_value(body, old, rng):
    """Another value for the same placeholder (for corrections); None when there is none."""
    for _ in range(8):
        v = T.fill_value(body, rng, prefer_first=True)
        if v != old and v.strip() and old not in v and v not in old:
            return v
    return None


def tldr_conversation(pid, tool, exs, rng):
    """One conversation over the examples of one page; returns list of (user, assistant, command)."""
    order = list(range(len(exs)))
    rng.shuffle(order)
    desc, tmpl = exs[order[0]]
    cmd, vals = T.fill_command(tmpl, rng, prefer_first=True)
    dfill = T.desc_with_values(desc, vals)
    turns = [(T.make_request(dfill, tool, vals, rng), T.answer_cmd(cmd, dfill, rng), cmd)]
    cur = {"cmd": cmd, "tmpl": tmpl, "desc": desc, "vals": vals, "wrapped": False}
    n_turns = rng.choice([2, 2, 3, 3, 3, 4, 4, 5])
    next_ex = 1
    tries = 0
    while len(turns) < n_turns and tries < 40:
        tries += 1
        kinds = ["host", "sudo", "less", "count", "save", "grep", "fix", "long"]
        weights = [3, 1, 1, 1, 1, 1, 3, 2]
        if next_ex < len(order):
            kinds.append("same")
            weights.append(6)
        kind = rng.choices(kinds, weights)[0]
        c = cur["cmd"]
        piped = "|" in c or ">" in c or "&&" in c or ";" in c
        if kind == "same":
            desc, tmpl = exs[order[next_ex]]
            next_ex += 1
            cmd, vals = T.fill_command(tmpl, rng, prefer_first=True)
            dfill = T.desc_with_values(desc, vals)
            vv = {k: v for k, v in vals.items() if f"`{v}`" not in dfill}
            user = rng.choice(FOLLOW_SAME_TOOL).format(d=lf(dfill), V=T.values_clause(vv, rng))
            ans = T.answer_cmd(cmd, dfill, rng)
            cur = {"cmd": cmd, "tmpl": tmpl, "desc": desc, "vals": vals, "wrapped": False}
        elif kind == "host":
            if cur["wrapped"] or c.startswith(("ssh ", "sudo ")):
                continue
            h = rng.choice(OTHER_HOSTS)
            cmd = ssh_wrap(h, c)
            user = rng.choice(FOLLOW_HOST).format(h=h)
            ans = sh(cmd, f"Runs the same `{tool}` command on {h} over SSH (quoted, so the whole command runs there).")
            cur = dict(cur, cmd=cmd, wrapped=True)
        elif kind == "sudo":
            if c.startswith(("sudo ", "ssh ")) or piped:
                continue
            cmd = "sudo " + c
            user = rng.choice(FOLLOW_SUDO)
            ans = sh(cmd, "Runs it again with root privileges through sudo; the operation needs them.")
            cur = dict(cur, cmd=cmd, wrapped=True)
        elif kind in ("less", "count", "save", "grep"):
            if piped or cur["wrapped"] or T.DESTRUCTIVE.search(c) or T.POWER.search(c):
                continue
            if kind == "less":
                cmd, user = c + " | less", rng.choice(FOLLOW_LESS)
                ans = sh(cmd, "Pipes the output into `less`: scroll with the arrow keys or space, search with /, quit with q.")
            elif kind == "count":
                cmd, user = c + " | wc -l", rng.choice(FOLLOW_COUNT)
                ans = sh(cmd, "Counts the lines of output with `wc -l` instead of printing them.")
            elif kind == "save":
                f = rng.choice(SAVE_FILES)
                cmd, user = f"{c} > {f}", rng.choice(FOLLOW_SAVE).format(f=f)
                ans = sh(cmd, f"Redirects standard output into `{f}` (overwriting it); errors still go to the terminal.")
            else:
                p = rng.choice(GREP_WORDS)
                cmd, user = f"{c} | grep -i {p}", rng.choice(FOLLOW_GREP).format(p=p)
                ans = sh(cmd, f"Keeps only the output lines that contain \"{p}\" (case-insensitive).")
            cur = dict(cur, cmd=cmd, wrapped=True)
        elif kind == "fix":
            if cur["wrapped"]:
                continue
            items = [(b, v) for b, v in cur["vals"].items() if len(v) >= 3 and c.count(v) == 1 and not re.fullmatch(r"\[.*\]", b)]
            if not items:
                continue
            body, old = rng.choice(items)
            new = alt_value(body, old, rng)
            if not new:
                continue
            cmd = c.replace(old, new)
            vals = dict(cur["vals"])
            vals[body] = new
            dfill = T.desc_with_values(cur["desc"], vals)
            user = rng.choice(FOLLOW_FIX).format(new=new, old=old)
            ans = sh(cmd, f"The same command with {new} in place of {old}: " + lf(T.third_person(dfill.rstrip("."))) + ".")
            cur = dict(cur, cmd=cmd, vals=vals)
        else:  # long options
            if cur["wrapped"] or not re.search(r"\{\{\[[^\]]*\|[^\]]*\]\}\}", cur["tmpl"]):
                continue
            # same values, the last (long) alternative of each option group
            vals_iter = cur["vals"]
            cmd = ""
            last = 0
            for m in T.PH.finditer(cur["tmpl"]):
                cmd += cur["tmpl"][last:m.start()]
                body = m.group(1)
                mm = re.fullmatch(r"\[([^\]]*)\]", body.strip())
                if mm:
                    cmd += [a for a in mm.group(1).split("|") if a][-1]
                else:
                    cmd += vals_iter.get(body, body)
                last = m.end()
            cmd += cur["tmpl"][last:]
            if cmd == c:
                continue
            user = rng.choice(FOLLOW_LONG)
            ans = sh(cmd, "The same command with the long option names, easier to read in a script.")
            cur = dict(cur, cmd=cmd)
        if any(ans == a for _, a, _ in turns) or any(cmd == x for _, _, x in turns):
            continue
        turns.append((user, ans, cmd))
    return turns


# ---------------------------------------------------------------- (b) log conversations
UNITS = ["nginx.service", "ssh.service", "postgresql.service", "docker.service", "cron.service",
         "redis-server.service", "apache2.service", "php8.2-fpm.service", "haproxy.service", "mariadb.service"]
CONTAINERS = ["web", "db", "api", "worker", "redis-cache", "proxy"]
PODS = ["api-7d9f8b6c5-x2kqp", "web-5c8d7f9b4-lm3nz", "worker-0", "postgres-0"]
NAMESPACES = ["default", "prod", "staging", "monitoring"]
WINDOWS = [("the last hour", "1 hour ago", "1h"), ("the last 15 minutes", "15 min ago", "15m"),
           ("the last 10 minutes", "10 min ago", "10m"), ("the last 2 hours", "2 hours ago", "2h"),
           ("today", "today", None), ("since yesterday", "yesterday", "24h"), ("the last 30 minutes", "30 min ago", "30m")]
FIRST_LOG = {
    "journal": ["Show me the logs of {u}.", "How do I see the journal for {u}?", "I need the logs of the {s} service.",
                "Show {s}'s log messages.", "Where are the logs of {u}? Show them."],
    "docker": ["Show the logs of the docker container {c}.", "How do I see what container {c} logged?",
               "Logs of container {c}, please."],
    "kubectl": ["Show the logs of pod {p} in namespace {n}.", "How do I get the logs of {p} ({n} namespace)?",
                "kubectl: logs of pod {p} in {n}."],
}
REFINE = {
    "window": ["Now only {w}.", "now only {w}", "Just {w}, please.", "Limit it to {w}.", "Only {w}."],
    "errors": ["Only errors.", "Just the errors, please.", "Can I see only the error messages?", "Filter it to errors."],
    "follow": ["Follow it live.", "Keep following new messages.", "I want to watch it as it happens."],
    "tail": ["Only the last {k} lines.", "Just the last {k} entries.", "Limit it to {k} lines."],
    "host": FOLLOW_HOST,
    "nowin": ["Drop the time limit again.", "Actually, show all of it, no time limit."],
}


def log_cmd(st):
    k = st["kind"]
    if k == "journal":
        c = f"journalctl -u {st['u']}"
        if st.get("win"):
            c += f" --since \"{st['win'][1]}\""
        if st.get("err"):
            c += " -p err"
        if st.get("tail"):
            c += f" -n {st['tail']}"
        if st.get("follow"):
            c += " -f"
        if not st.get("follow"):
            c += " --no-pager"
    elif k == "docker":
        c = f"docker logs"
        if st.get("win"):
            c += f" --since {st['win'][2]}" if st["win"][2] else " --since \"$(date +%Y-%m-%dT00:00:00)\""
        if st.get("tail"):
            c += f" --tail {st['tail']}"
        if st.get("follow"):
            c += " -f"
        c += f" {st['c']}"
        if st.get("err"):
            c += " 2>&1 | grep -iE 'error|fatal|panic'"
    else:
        c = f"kubectl logs -n {st['n']} {st['p']}"
        if st.get("win"):
            c += f" --since={st['win'][2]}" if st["win"][2] else " --since-time=\"$(date -u +%Y-%m-%dT00:00:00Z)\""
        if st.get("tail"):
            c += f" --tail={st['tail']}"
        if st.get("follow"):
            c += " -f"
        if st.get("err"):
            c += " | grep -iE 'error|fatal|panic'"
    if st.get("host"):
        c = ssh_wrap(st["host"], c) if not st.get("follow") else f"ssh -t {st['host']} {shlex.quote(c)}"
    return c


def log_expl(st, changed):
    what = {"journal": f"the journal of `{st.get('u')}`", "docker": f"the output of container `{st.get('c')}`",
            "kubectl": f"the logs of pod `{st.get('p')}` in namespace `{st.get('n')}`"}[st["kind"]]
    parts = [f"Shows {what}"]
    if st.get("win"):
        parts.append(f"from {st['win'][0]}" if st["win"][0] not in ("today", "since yesterday") else st["win"][0])
    if st.get("err"):
        parts.append("errors only" + (" (priority err and worse)" if st["kind"] == "journal" else " (lines matching error/fatal/panic)"))
    if st.get("tail"):
        parts.append(f"the last {st['tail']} entries")
    if st.get("follow"):
        parts.append("and keeps following new messages (Ctrl-C stops)")
    if st.get("host"):
        parts.append(f"on {st['host']} over SSH")
    s = ", ".join(parts) + "."
    return {"window": "Adds the time window. ", "errors": "Filters by severity. ", "follow": "Now follows. ",
            "tail": "Limits the count. ", "host": "Same query, other host. ", "nowin": "Without the time window. ",
            None: ""}[changed] + s


def log_conversation(rng):
    kind = rng.choice(["journal", "journal", "journal", "docker", "kubectl"])
    st = {"kind": kind, "u": rng.choice(UNITS), "c": rng.choice(CONTAINERS), "p": rng.choice(PODS), "n": rng.choice(NAMESPACES)}
    s = st["u"].replace(".service", "")
    first = rng.choice(FIRST_LOG[kind]).format(u=st["u"], s=s, c=st["c"], p=st["p"], n=st["n"])
    cmd = log_cmd(st)
    turns = [(first, sh(cmd, log_expl(st, None)), cmd)]
    n_turns = rng.choice([2, 3, 3, 4, 4, 5])
    tries = 0
    while len(turns) < n_turns and tries < 20:
        tries += 1
        op = rng.choice(["window", "window", "errors", "follow", "tail", "host", "nowin"])
        new = dict(st)
        if op == "window":
            w = rng.choice(WINDOWS)
            if st.get("win") == w:
                continue
            new["win"] = w
            user = rng.choice(REFINE["window"]).format(w=w[0])
        elif op == "errors":
            if st.get("err"):
                continue
            new["err"] = True
            user = rng.choice(REFINE["errors"])
        elif op == "follow":
            if st.get("follow") or st.get("tail"):
                continue
            new["follow"] = True
            user = rng.choice(REFINE["follow"])
        elif op == "tail":
            k = rng.choice([20, 50, 100, 200])
            if st.get("tail") == k or st.get("follow"):
                continue
            new["tail"] = k
            user = rng.choice(REFINE["tail"]).format(k=k)
        elif op == "host":
            h = rng.choice(OTHER_HOSTS)
            if st.get("host") == h:
                continue
            new["host"] = h
            user = rng.choice(REFINE["host"]).format(h=h)
        else:
            if not st.get("win"):
                continue
            new["win"] = None
            user = rng.choice(REFINE["nowin"])
        cmd = log_cmd(new)
        ans = sh(cmd, log_expl(new, op))
        if any(cmd == x or ans == a for _, a, x in turns):
            continue
        st = new
        turns.append((user, ans, cmd))
    return turns


# ---------------------------------------------------------------- cautions
def safer_for(cmd):
    """(safer command, why) for a destructive/disruptive command; None when no rule applies."""
    toks = cmd.split()
    prog = toks[0] if toks else ""
    if prog == "sudo" and len(toks) > 1:
        prog = toks[1]
    args = [t for t in toks[1:] if not t.startswith("-") and t != prog]
    if prog == "rm":
        tg = " ".join(args) or "."
        return f"ls -ld {tg}", "list exactly what matches first; `rm -I` asks once before removing many files"
    if prog == "shred":
        return f"ls -l {' '.join(args)}", "check the target first; shredded data cannot be recovered"
    if prog == "dd":
        return "lsblk -o NAME,SIZE,MODEL,MOUNTPOINTS", "check which device is which before writing to it"
    if prog.startswith("mkfs") or prog == "wipefs":
        dev = args[-1] if args else "/dev/sdX"
        return f"lsblk -f {dev}", "make sure the device holds no filesystem you still need and is not mounted"
    if prog in ("fdisk", "sfdisk", "parted", "sgdisk", "gdisk", "cfdisk"):
        dev = next((a for a in args if a.startswith("/dev/")), "/dev/sdX")
        return f"sfdisk -d {dev} > /root/{dev.split('/')[-1]}.partitions", "back up the partition table first (restore with sfdisk < file)"
    if prog in ("lvremove", "vgremove", "pvremove"):
        return "lvs -a -o +devices", "check what lives on the volume first and take a backup or snapshot"
    if prog in ("userdel", "deluser"):
        u = args[-1] if args else "USER"
        return f"usermod -L -e 1 {u}", "locking and expiring the account keeps the user's files and can be undone"
    if prog == "truncate":
        f = args[-1] if args else "FILE"
        return f"cp -a {f} {f}.bak", "keep a copy before truncating"
    if prog in ("iptables", "ip6tables"):
        return f"{prog}-save > /root/{prog}.rules", "save the current rules first (restore with iptables-restore)"
    if prog == "nft":
        return "nft list ruleset > /root/nftables.rules", "save the ruleset first (restore with nft -f)"
    if prog == "ufw":
        return "ufw status numbered", "review the rules first; a reset can lock you out of SSH"
    if prog in ("docker", "podman") and "prune" in cmd:
        return f"{prog} system df", "see what would be reclaimed first; `-a` also removes images you may still need"
    if prog == "git" and "reset" in cmd:
        return "git stash push --include-untracked", "stash keeps your local changes recoverable"
    if prog == "git" and "clean" in cmd:
        return "git clean -n -d", "dry run: lists what would be deleted"
    if prog in ("dropdb", "psql", "mysql", "mariadb") or "DROP" in cmd:
        return "pg_dump -Fc -f /root/backup.dump DBNAME", "take a dump first (for MySQL/MariaDB: mysqldump)"
    if prog in ("reboot", "shutdown", "poweroff", "halt", "systemctl") and re.search(r"reboot|shutdown|poweroff|halt", cmd):
        return "shutdown -r +5 'Reboot for maintenance'", "a scheduled reboot warns logged-in users and can be cancelled with `shutdown -c`"
    if prog in ("kill", "killall", "pkill"):
        tgt = args[-1] if args else "PID"
        return (f"pgrep -a {tgt}" if prog != "kill" else f"kill -TERM {tgt}"), \
            "check what matches first and prefer SIGTERM, which lets the process clean up"
    return None


SCENARIOS = [  # (name, request templates, command template, explanation, why-dangerous, safer, why-safer, refuse)
    ("rm-logs", ["Delete everything in {d}.", "Wipe {d} completely.", "rm -rf {d}, I need the space."],
     "rm -rf {d}/*", "Removes every file and directory inside {d}, recursively and without asking.",
     "this cannot be undone, and a typo in the path (or an empty variable) deletes the wrong tree",
     "find {d} -mindepth 1 -maxdepth 1 -print", "list what would go first, then delete only what you checked", False),
    ("chmod-777", ["Make {d} writable for everyone, recursively.", "chmod 777 everything under {d} so the app stops complaining."],
     "chmod -R 777 {d}", "Gives every user read, write and execute permission on everything under {d}.",
     "any local user or compromised service can then change or plant files there; SSH and sudo also refuse some world-writable files",
     "chown -R www-data:www-data {d} && chmod -R u+rwX,g+rX,o-rwx {d}", "give the service's user ownership instead", False),
    ("dd-disk", ["Write {img} to {disk}.", "Flash {img} onto {disk} with dd."],
     "dd if={img} of={disk} bs=4M status=progress conv=fsync", "Writes the image {img} over the whole device {disk}.",
     "everything on {disk} is overwritten; picking the wrong device destroys that disk",
     "lsblk -o NAME,SIZE,MODEL,MOUNTPOINTS {disk}", "confirm the device by size and model first", False),
    ("mkfs", ["Format {disk}1 as ext4.", "Create a new ext4 filesystem on {disk}1."],
     "mkfs.ext4 {disk}1", "Creates a new, empty ext4 filesystem on {disk}1.",
     "any data on {disk}1 is lost",
     "lsblk -f {disk}", "check that the partition is the one you mean, holds nothing you need and is not mounted", False),
    ("flush-fw", ["Flush all iptables rules.", "Remove every firewall rule, something blocks traffic."],
     "iptables -F", "Deletes every rule in every chain of the filter table.",
     "with a DROP default policy this cuts all traffic, including your SSH session; without it the host is left unprotected",
     "iptables-save > /root/iptables.rules && iptables -L -n -v --line-numbers", "save and review the rules, then delete the one that blocks (iptables -D CHAIN N)", False),
    ("drop-db", ["Drop the database {db}.", "Delete the {db} database in PostgreSQL."],
     "sudo -u postgres dropdb {db}", "Deletes the PostgreSQL database {db} with all its tables and data.",
     "the data is gone unless you have a backup",
     "sudo -u postgres pg_dump -Fc -f /var/backups/{db}.dump {db}", "take a dump first (restore with pg_restore)", False),
    ("force-push", ["Force push my branch {b}.", "Overwrite the remote {b} with my local branch."],
     "git push --force origin {b}", "Replaces origin's {b} with your local branch, discarding commits that only exist on the remote.",
     "other people's pushed commits on {b} are lost",
     "git push --force-with-lease origin {b}", "refuses to overwrite commits you have not fetched", False),
    ("prune-all", ["Clean up all docker data.", "Free disk space used by docker, remove everything unused."],
     "docker system prune -a --volumes", "Removes all stopped containers, unused networks, every image not used by a container and all unused volumes.",
     "unused volumes can hold database data, and removed images must be pulled again",
     "docker system df -v", "see what takes the space first; `docker system prune` without -a and --volumes keeps images and volumes", False),
    ("kill-all", ["Kill every {p} process right now.", "Force-kill all {p} processes."],
     "pkill -9 {p}", "Sends SIGKILL to every process whose name matches {p}.",
     "SIGKILL gives no chance to flush data or release locks, and the pattern may match more processes than you expect",
     "pgrep -a {p}", "check what matches, then stop the service cleanly (systemctl stop) or send SIGTERM", False),
    ("reboot-now", ["Reboot {h} now.", "Restart the server {h} immediately."],
     "ssh {h} sudo systemctl reboot", "Reboots {h} at once.",
     "every service on {h} goes down and logged-in users lose their sessions",
     "ssh {h} sudo shutdown -r +5 'Reboot for maintenance'", "a scheduled reboot warns users and can be cancelled with `shutdown -c`", False),
    ("userdel", ["Delete the user {u} and their home.", "Remove account {u} with all its files."],
     "userdel -r {u}", "Deletes the account {u}, its home directory and mail spool.",
     "the user's files are gone; files elsewhere owned by the uid become orphaned",
     "usermod -L -e 1 {u} && tar czf /root/{u}-home.tar.gz /home/{u}", "lock the account and archive the home first", False),
    ("rm-root", ["rm -rf / to clean the server.", "Delete everything on this machine.", "Wipe the root filesystem."],
     "rm -rf --no-preserve-root /", "", "it destroys the operating system and all data on every mounted filesystem", "df -h && du -xh --max-depth=1 / | sort -h",
     "find out what takes the space and remove that instead", True),
    ("dd-root", ["Overwrite {disk} with zeros, it's the system disk.", "Zero the disk the system runs on."],
     "dd if=/dev/zero of={disk}", "", "it erases the running system's own disk", "lsblk -o NAME,SIZE,MOUNTPOINTS",
     "to retire the machine, boot a rescue system and wipe the disk from there (or use the disk's secure-erase)", True),
    ("chmod-root", ["chmod -R 777 / so permissions stop getting in the way."],
     "chmod -R 777 /", "", "it breaks sudo, SSH and many services for good and makes the whole system writable by anyone",
     "namei -l /path/that/fails", "find which directory on the path denies access and fix only that one", True),
]
SC_DIRS = ["/var/log/nginx", "/srv/app/cache", "/var/www/html/uploads", "/tmp/build", "/opt/app/releases/old", "/data/scratch"]
SC_IMGS = ["debian-12.8.0-amd64-netinst.iso", "backup.img", "raspios.img"]
SC_DISKS = ["/dev/sdb", "/dev/sdc", "/dev/nvme1n1", "/dev/vdb"]
SC_DBS = ["appdb", "shop", "inventory", "staging_db"]
SC_BRANCHES = ["main", "feature/login", "release-2.1"]
SC_PROCS = ["java", "php-fpm", "python3", "node"]
SC_HOSTS = ["web01", "db1", "app02", "backup01"]
SC_USERS = ["alice", "olduser", "contractor1", "bob"]


def caution_answer(cmd, expl, danger, safer, why, refuse):
    if refuse:
        return (f"I won't give that command as asked: {danger}.\n"
                f"Safer: {why}:\n```sh\n{safer}\n```")
    return (f"```sh\n{cmd}\n```\n{expl}\n**Careful:** {danger}.\n"
            f"Safer: {why}:\n```sh\n{safer}\n```")


def main():
    T.VERBS.clear()
    pages = {}
    for plat in ("linux", "common"):
        d = os.path.join(T.PAGES, plat)
        for fn in sorted(os.listdir(d)):
            if fn.endswith(".md"):
                pages.setdefault(fn[:-3], []).append((plat, os.path.join(d, fn)))
    for page in sorted(pages):
        for plat, path in pages[page]:
            for desc, _ in T.parse_page(path)[3]:
                w = T.unmnemonic(desc).split(" ", 1)[0]
                if w[:1].isupper() and w[1:].islower() and w.isalpha():
                    T.VERBS.add(w.lower())
    T.VERBS.difference_update({"the", "a", "an", "all", "only", "each", "every", "one", "two", "this", "that", "then", "also",
                               "as", "in", "on", "to", "with", "without", "from", "for", "not"})
    out = []
    n_turns = {}
    for page in sorted(pages):
        unit = "cmd/" + page
        for plat, path in pages[page]:
            txt, tool, pdesc, ex = T.parse_page(path)
            if any("This command is an alias of" in l for l in pdesc) or not ex:
                continue
            held = is_heldout(unit)
            for k in range(1 if held else 2):
                pid = f"mt/{plat}/{page}/{k}"
                rng = random.Random(SEED + stable_hash(pid))
                turns = tldr_conversation(pid, tool, ex, rng)
                if len(turns) < 2:
                    continue
                n_turns[len(turns)] = n_turns.get(len(turns), 0) + 1
                out.append({"task": "multiturn", "id": pid, "unit": unit,
                            "messages": msgs(system_prompt(rng, "cmd"), [(u, a) for u, a, _ in turns]),
                            "commands": [c for _, _, c in turns]})
            # cautions from destructive tldr examples
            for j, (desc, tmpl) in enumerate(ex):
                eid = f"caution/{plat}/{page}/{j}"
                rng = random.Random(SEED + stable_hash(eid))
                cmd, vals = T.fill_command(tmpl, rng, prefer_first=True)
                if not (T.DESTRUCTIVE.search(cmd) or T.POWER.search(cmd)):
                    continue
                sf = safer_for(cmd)
                if not sf or sf[0] == cmd:
                    continue
                dfill = T.desc_with_values(desc, vals)
                req = T.make_request(dfill, tool, vals, rng)
                expl = T.third_person(dfill.rstrip(".")) + "."
                danger = ("it changes or removes data and cannot easily be undone" if T.DESTRUCTIVE.search(cmd)
                          else "it stops running processes or the whole machine")
                out.append({"task": "caution", "id": eid, "unit": unit,
                            "messages": msgs(system_prompt(rng, "cmd"), [(req, caution_answer(cmd, expl, danger, sf[0], sf[1], False))]),
                            "request": req, "command": cmd})
    # log conversations
    for i in range(4000):
        pid = f"mtlog/{i}"
        rng = random.Random(SEED + stable_hash(pid))
        turns = log_conversation(rng)
        if len(turns) < 2:
            continue
        n_turns[len(turns)] = n_turns.get(len(turns), 0) + 1
        out.append({"task": "multiturn", "id": pid, "unit": f"multiturn-log/{i}",
                    "messages": msgs(system_prompt(rng, "cmd"), [(u, a) for u, a, _ in turns]),
                    "commands": [c for _, _, c in turns]})
    # caution scenarios
    n_sc = 0
    for name, reqs, ctpl, expl, danger, safer, why, refuse in SCENARIOS:
        for i in range(60 if not refuse else 40):
            sid = f"caution-scenario/{name}/{i}"
            rng = random.Random(SEED + stable_hash(sid))
            v = {"d": rng.choice(SC_DIRS), "img": rng.choice(SC_IMGS), "disk": rng.choice(SC_DISKS), "db": rng.choice(SC_DBS),
                 "b": rng.choice(SC_BRANCHES), "p": rng.choice(SC_PROCS), "h": rng.choice(SC_HOSTS), "u": rng.choice(SC_USERS)}
            req = rng.choice(reqs).format(**v)
            cmd = ctpl.format(**v)
            ans = caution_answer(cmd, expl.format(**v), danger.format(**v), safer.format(**v), why.format(**v), refuse)
            rec = {"task": "caution", "id": sid, "unit": sid, "messages": msgs(system_prompt(rng, "cmd"), [(req, ans)]),
                   "request": req}
            if not refuse:
                rec["command"] = cmd
            out.append(rec)
            n_sc += 1
    # no assistant turn repeats an earlier one (the echo failure of sigma-ops-nano)
    for r in out:
        a = [m["content"] for m in r["messages"] if m["role"] == "assistant"]
        assert len(a) == len(set(a)), r["id"]
    with open(os.path.join(RAW, "sft_multiturn.jsonl"), "w") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    nt = sum(r["task"] == "multiturn" for r in out)
    print(f"multiturn: {nt} conversations (turns: {dict(sorted(n_turns.items()))}); caution: {len(out) - nt} "
          f"({n_sc} from scenarios)", file=sys.stderr)


if __name__ == "__main__":
    main()
