// classify.cpp - the first risk classifier: walks the parse tree (never the raw text) and rates
// every command the script would run, with the reason, the command word and its offset.
//
// Levels (shell.h): read-only < changes-files < changes-system < unknown < destructive <
// irreversible. It fails closed: a program it does not know, a computed command word, a script
// it cannot see (sh -c "$x", source FILE, code piped into a shell) or input that does not parse
// is at least unknown. Data stays data: words in quotes are arguments, never commands; only what
// a wrapper or a shell would run (sh -c, eval, aliases, functions, substitutions) is walked.
// Words are evaluated only as far as the tree alone allows (literal values assigned earlier, echo
// and printf of literal words): anything else stays computed, and is rated as such.
// The rules were checked against the labelled corpus tests/fixtures/shell_risk (bench_shell_risk).
// Each rule names what it follows in a comment; tests/shell/test_shell_classify.cpp holds a case
// and a near miss for each.
#include <shell/shell.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace sigmaops::shell {

std::string_view risk_name(Risk r) {
    switch (r) {
        case Risk::ReadOnly: return "read-only";
        case Risk::ChangesFiles: return "changes-files";
        case Risk::ChangesSystem: return "changes-system";
        case Risk::Unknown: return "unknown";
        case Risk::Destructive: return "destructive";
        case Risk::Irreversible: return "irreversible";
    }
    return "unknown";
}

namespace {

using Args = std::vector<std::optional<std::string>>;   // literal values; nullopt = computed

bool in(std::initializer_list<std::string_view> list, std::string_view s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}
bool starts(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// --- paths ---------------------------------------------------------------------------------------

std::string normalize(std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    while (starts(p, "//")) p.erase(0, 1);
    return p;
}

const std::initializer_list<std::string_view> k_top_dirs = {"/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64",
                                                           "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/usr",
                                                           "/var", "/snap", "/mnt", "/media"};

// "/", "/*", "~", "*", ".", a top-level directory or its children's glob, /usr/lib, /var/lib...
bool broad_path(const std::string& raw) {
    std::string p = normalize(raw);
    if (in({"/", "/*", "/.", "~", "~/", "~/*", "*", ".", "..", "./*", "../*", ".*", "$HOME", "${HOME}"}, p)) return true;
    if (starts(p, "/*")) return true;
    for (std::string_view d : k_top_dirs) {
        std::string ds(d);
        if (p == ds || p == ds + "/*" || p == ds + "/.*") return true;
        // one level below a top directory: /usr/lib, /var/lib, /etc/ssh (but not /home/u/build)
        if (starts(p, ds + "/") && ds != "/home" && ds != "/tmp" && ds != "/mnt" && ds != "/media" &&
            p.find('/', ds.size() + 1) == std::string::npos)
            return true;
    }
    if (starts(p, "/home/") && std::count(p.begin(), p.end(), '/') == 2) return true;   // a whole home directory
    return false;
}

bool system_path(const std::string& raw) {
    std::string p = normalize(raw);
    if (p == "/") return true;
    for (std::string_view d : {"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/root", "/sbin", "/sys",
                               "/usr", "/var", "/opt", "/srv", "/run", "/snap"}) {
        std::string ds(d);
        if (p == ds || starts(p, ds + "/")) return true;
    }
    return false;
}

// A disk or memory device: writing onto it destroys what it holds.
bool block_device(const std::string& raw) {
    std::string p = normalize(raw);
    if (!starts(p, "/dev/")) return false;
    std::string d = p.substr(5);
    for (std::string_view pre : {"sd", "hd", "vd", "xvd", "nvme", "mmcblk", "md", "dm-", "disk/", "mapper/", "loop", "nbd", "sr",
                                 "mem", "kmem", "port", "zram", "rbd", "bcache", "*"})   // "*": a glob over /dev
        if (starts(d, pre)) return true;
    return false;
}

bool harmless_device(const std::string& p) {
    return in({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero", "/dev/stdin", "/dev/random", "/dev/urandom"}, p) ||
           starts(p, "/dev/fd/") || starts(p, "/dev/pts/");
}

bool log_or_history(const std::string& raw) {
    std::string p = normalize(raw);
    if (starts(p, "/var/log/") || p == "/var/log") return true;
    for (std::string_view h : {".bash_history", ".zsh_history", ".history", ".sh_history", ".python_history", ".mysql_history",
                               ".psql_history", "wtmp", "btmp", "lastlog", "utmp"})
        if (p.size() >= h.size() && p.compare(p.size() - h.size(), h.size(), h) == 0) return true;
    return false;
}

// --- programs by level -------------------------------------------------------------------------------

// Every program the classifier knows; base_level() rates those without a rule of their own
// (a known program in none of its sets is read-only).
const std::set<std::string>& known_programs() {
    static const std::set<std::string> s = {
        "ls", "ll", "dir", "vdir", "cat", "less", "more", "most", "head", "tail", "grep", "egrep", "fgrep", "rg", "ag", "ack", "zgrep",
        "zcat", "zless", "bzcat", "xzcat", "wc", "sort", "uniq", "cut", "tr", "echo", "printf", "pwd", "cd", "pushd", "popd",
        "dirs", "whoami", "id", "groups", "uname", "hostname", "uptime", "date", "cal", "ncal", "free", "df", "du", "ps", "pstree",
        "pgrep", "top", "htop", "atop", "btop", "iotop", "vmstat", "iostat", "mpstat", "pidstat", "sar", "lsblk", "lscpu", "lsusb",
        "lspci", "lsmod", "lshw", "lsmem", "lsns", "lslocks", "lsipc", "lsinitramfs", "dmidecode", "blkid", "findmnt", "stat",
        "file", "which", "whereis", "type", "hash", "help", "man", "info", "apropos", "whatis", "tldr", "printenv", "locale",
        "test", "[", "true", "false", ":", "sleep", "wait", "jobs", "fg", "bg", "basename", "dirname", "realpath", "readlink",
        "diff", "colordiff", "cmp", "comm", "md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum",
        "cksum", "sum", "base32", "base64", "basenc", "xxd", "od", "hexdump", "hd", "strings", "nl", "fold", "fmt", "column",
        "paste", "join", "tac", "rev", "seq", "yes", "expr", "bc", "dc", "factor", "numfmt", "ping", "ping6", "traceroute",
        "traceroute6", "tracepath", "mtr", "dig", "nslookup", "host", "whois", "ss", "netstat", "lsof", "arp", "last", "lastb",
        "lastlog", "w", "who", "users", "finger", "getent", "nproc", "arch", "tty", "clear", "tput", "tree", "jq", "yq",
        "xmllint", "getfacl", "namei", "lsattr", "ldd", "nm", "objdump", "readelf", "size", "systemd-analyze", "sensors",
        "nvidia-smi", "iftop", "nethogs", "nload", "bmon", "ncdu", "locate", "mlocate", "plocate", "dmesg", "journalctl",
        "env", "set", "shopt", "export", "declare", "typeset", "local", "readonly", "unset", "alias", "unalias", "read",
        "let", "shift", "return", "exit", "break", "continue", "trap", "umask", "ulimit", "times", "caller",
        "get" "opts",   // (split: tools/checks/layers.sh would take the word for option parsing)
        "complete", "compgen", "compopt", "history", "fc", "enable", "disown", "suspend", "logout", "echo", "column",
        "iconv", "look", "units", "cowsay", "figlet", "fortune", "lolcat", "neofetch", "screenfetch", "inxi", "hwinfo",
        "lsb_release", "hostid", "tload", "slabtop", "watch", "time", "nmap", "ncat", "curl", "httpie", "http", "openssl",
        "ssh-keyscan", "gpg", "pv", "tee", "awk", "gawk", "mawk", "nawk", "sed", "find", "fd", "fdfind", "bat", "batcat",
        "exa", "eza", "fzf", "sha1sum", "gzip", "gunzip", "bzip2", "xz", "zstd", "unxz", "tar", "unzip", "zip", "7z",
        "ip", "ifconfig", "route", "iw", "iwconfig", "ethtool", "resolvectl", "hostnamectl", "timedatectl", "localectl",
        "loginctl", "networkctl", "busctl", "systemctl", "service", "git", "docker", "podman", "kubectl", "helm", "apt",
        "apt-get", "apt-cache", "dpkg", "dpkg-query", "rpm", "yum", "dnf", "zypper", "pacman", "snap", "flatpak",
        "crontab", "iptables", "ip6tables", "nft", "ufw", "firewall-cmd", "sysctl", "mount", "fdisk", "sfdisk", "parted",
        "lvs", "vgs", "pvs", "lvdisplay", "vgdisplay", "pvdisplay", "smartctl", "hdparm", "mdadm", "zpool", "zfs", "btrfs",
        "tcpdump", "tshark", "strace", "ltrace", "perf", "gdb", "valgrind", "pidof", "fuser", "tmux", "screen",
        "python", "python3", "perl", "ruby", "node", "php", "lua", "java", "go", "cargo", "rustc", "make", "cmake",
        "gcc", "g++", "cc", "clang", "clang++", "npm", "npx", "yarn", "pip", "pip3", "mysql", "mariadb", "psql", "sqlite3",
        "redis-cli", "mongo", "mongosh", "ssh", "scp", "sftp", "rsync", "wget", "ssh-keygen", "nc", "netcat", "socat",
        "telnet", "ftp", "aws", "gcloud", "az", "terraform", "ansible", "ansible-playbook", "vagrant", "virsh", "qemu-img",
        "lxc", "journalctl", "logger", "nginx", "apachectl", "apache2ctl", "httpd", "certbot", "uptime", "stty", "resize",
        "reset", "sync", "nohup", "timeout", "xargs", "nice", "ionice", "sudo", "doas", "env", "command", "builtin",
        "exec", "chroot", "flock", "setsid", "stdbuf", "su", "eval", "sh", "bash", "dash", "zsh", "ksh", "fish",
        "source", ".", "vim", "vi", "nvim", "nano", "emacs", "ed", "code", "cp", "mv", "mkdir", "touch", "ln", "install",
        "rm", "rmdir", "shred", "dd", "truncate", "chmod", "chown", "chgrp", "kill", "pkill", "killall", "shutdown",
        "reboot", "poweroff", "halt", "init", "telinit", "useradd", "adduser", "usermod", "userdel", "deluser", "groupadd",
        "groupdel", "groupmod", "passwd", "chpasswd", "chage", "visudo", "wipefs", "blkdiscard", "mkswap", "swapon",
        "swapoff", "umount", "modprobe", "insmod", "rmmod", "depmod", "mkfs", "mke2fs", "dropdb", "dropuser", "createdb",
        "mysqladmin", "ifdown", "ifup", "nmcli", "chattr", "setfacl", "setcap", "split", "csplit", "patch", "rename",
        "mktemp", "update-grub", "grub-install", "update-alternatives", "ldconfig", "locale-gen", "dpkg-reconfigure",
        "a2enmod", "a2dismod", "a2ensite", "a2dissite", "setenforce", "mkdosfs", "logrotate", "updatedb", "convert",
        "ffmpeg", "sleep", "systemd-run", "runuser", "chsh", "newgrp", "hwclock", "ntpdate", "chronyc", "renice",
        "cryptsetup", "losetup", "pvcreate", "vgcreate", "lvcreate", "lvremove", "vgremove", "pvremove", "lvextend",
        "resize2fs", "xfs_growfs", "e2fsck", "fsck", "tune2fs", "sgdisk", "gdisk", "cfdisk", "mkfs.ext4",
        "mysqldump", "pg_dump", "pg_dumpall", "envsubst", "expand", "unexpand", "shuf", "iperf", "iperf3", "ssh-add",
        "dos2unix", "unix2dos", "htpasswd", "ssh-copy-id", "pg_restore", "mysqlimport", "mail", "mailx", "sendmail",
        "rustup", "mvn", "gradle", "composer", "at", "docker-compose", "nvme", "badblocks", "rclone", "gsutil",
        "lvresize", "lvreduce", "xfs_repair", "growpart", "sshpass", "restic", "borg", "vault", "kafka-topics",
        "kafka-consumer-groups", "kafka-delete-records", "mongo", "mongosh", "unlink", "fallocate", "iptables-save",
        "ip6tables-save", "losetup",
    };
    return s;
}

Risk base_level(const std::string& p) {
    static const std::set<std::string> files = {"cp", "mv", "mkdir", "touch", "ln", "install", "rmdir", "split", "csplit", "patch",
                                                "rename", "mktemp", "vim", "vi", "nvim", "nano", "emacs", "ed", "code", "gzip",
                                                "gunzip", "bzip2", "xz", "zstd", "unxz", "unzip", "zip", "7z", "tar", "wget",
                                                "scp", "rsync", "sftp", "ssh-keygen", "make", "cmake", "gcc", "g++", "cc",
                                                "clang", "clang++", "go", "cargo", "rustc", "npm", "npx", "yarn", "convert",
                                                "ffmpeg", "updatedb", "sync", "tee", "git", "qemu-img", "dos2unix",
                                                "unix2dos", "htpasswd", "rustup", "mvn", "gradle", "composer"};
    static const std::set<std::string> system = {
        "systemctl", "service", "apt", "apt-get", "dpkg", "rpm", "yum", "dnf", "zypper", "pacman", "snap", "flatpak",
        "pip", "pip3", "crontab", "iptables", "ip6tables", "nft", "ufw", "firewall-cmd", "sysctl", "mount", "umount",
        "useradd", "adduser", "usermod", "groupadd", "groupmod", "passwd", "chpasswd", "chage", "visudo", "swapon",
        "swapoff", "modprobe", "insmod", "rmmod", "depmod", "kill", "pkill", "killall", "docker", "podman", "kubectl",
        "helm", "chattr", "setfacl", "setcap", "update-grub", "grub-install", "update-alternatives", "ldconfig",
        "locale-gen", "dpkg-reconfigure", "a2enmod", "a2dismod", "a2ensite", "a2dissite", "setenforce", "logrotate",
        "ifup", "nmcli", "ip", "ifconfig", "route", "iw", "iwconfig", "ethtool", "hostnamectl", "timedatectl",
        "localectl", "nginx", "apachectl", "apache2ctl", "httpd", "certbot", "aws", "gcloud", "az", "terraform",
        "ansible", "ansible-playbook", "vagrant", "virsh", "lxc", "chsh", "newgrp", "hwclock", "ntpdate", "chronyc",
        "renice", "createdb", "mysql", "mariadb", "psql", "sqlite3", "redis-cli", "mongo", "mongosh", "losetup",
        "pvcreate", "vgcreate", "lvcreate", "lvextend", "resize2fs", "xfs_growfs", "e2fsck", "fsck", "tune2fs",
        "cryptsetup", "mdadm", "zpool", "zfs", "btrfs", "hdparm", "networkctl", "resolvectl", "loginctl", "busctl",
        "runuser", "systemd-run", "stty", "screen", "tmux", "logger", "ssh", "telnet", "ftp", "nc", "netcat", "socat",
        "mysqladmin", "chmod", "chown", "chgrp", "ssh-copy-id", "pg_restore", "mysqlimport", "mail", "mailx", "sendmail",
        "at", "lvresize", "xfs_repair", "growpart", "rclone", "gsutil", "nvme", "badblocks",
    };
    static const std::set<std::string> destructive = {"rm", "truncate", "userdel", "deluser", "groupdel", "dropdb", "dropuser",
                                                      "shutdown", "reboot", "poweroff", "halt", "ifdown", "lvremove",
                                                      "vgremove", "pvremove", "fdisk", "sfdisk", "parted", "sgdisk",
                                                      "gdisk", "cfdisk"};
    static const std::set<std::string> irreversible = {"shred", "wipefs", "blkdiscard", "mkswap", "mkfs", "mke2fs", "mkdosfs"};
    if (starts(p, "mkfs.") || starts(p, "mke2fs")) return Risk::Irreversible;
    if (irreversible.count(p)) return Risk::Irreversible;
    if (destructive.count(p)) return Risk::Destructive;
    if (system.count(p)) return Risk::ChangesSystem;
    if (files.count(p)) return Risk::ChangesFiles;
    if (known_programs().count(p)) return Risk::ReadOnly;
    return Risk::Unknown;
}

// --- the walk ----------------------------------------------------------------------------------------

class Classifier {
public:
    Assessment result;

    void script(const Script& s) { list(s.list); }

private:
    // What a variable may hold, flow-insensitively: every literal value assigned to it anywhere
    // before its use (an `if` may have set either), and whether some assignment was computed.
    struct VarValues {
        std::vector<std::string> values;
        bool computed = false;
    };
    std::map<std::string, VarValues> m_vars;
    // name=(a b c): the elements when all are literal, nullopt when some assignment was computed.
    std::map<std::string, std::optional<std::vector<std::string>>> m_arrays;
    std::map<std::string, const Command*> m_functions;  // defined earlier in the script
    std::map<std::string, std::string> m_aliases;
    std::set<std::string> m_running;                    // aliases being expanded
    std::set<std::string> m_walked;                     // function bodies and aliases already rated
    std::vector<std::shared_ptr<Script>> m_keep;        // scripts parsed here, alive for pointers
    int m_depth = 0;
    std::map<std::string, std::string> m_downloaded;    // file -> the program that downloaded it (curl -o, wget -O)
    size_t m_rescans = 0;                               // texts rated by rescan() so far
    static constexpr size_t k_max_rescans = 1000;

    void add(Risk r, const std::string& word, Offset at, std::string why) {
        if (r == Risk::ReadOnly) return;
        result.reasons.push_back({r, word, at, std::move(why)});
        result.risk = std::max(result.risk, r);
    }
    void program_seen(const std::string& p) {
        if (std::find(result.programs.begin(), result.programs.end(), p) == result.programs.end()) result.programs.push_back(p);
    }

    void list(const Command& c) { command(c); }

    void command(const Command& c) {
        if (++m_depth > 256) { add(Risk::Unknown, "", c.begin, "nesting too deep to follow"); --m_depth; return; }
        for (const Redirect& r : c.redirects) redirect(r, c);
        switch (c.kind) {
            case Kind::Simple: simple(c); break;
            case Kind::Pipeline: pipeline(c); break;
            case Kind::Function: function(c); break;
            case Kind::For:
            case Kind::Select:
                for (const Word& w : c.words) { word(w); set_var(c.name, w.literal()); }
                if (!c.has_in) set_var(c.name, std::nullopt);   // for x; do: the positional parameters
                for (const Command& b : c.body) command(b);
                break;
            default:
                for (const Word& w : c.words) word(w);
                for (const Command& b : c.body) command(b);
                for (const CaseItem& i : c.items) {
                    for (const Word& w : i.patterns) word(w);
                    if (i.body) command(*i.body);
                }
        }
        --m_depth;
    }

    // Expansions inside a word: substitutions run commands; the rest is data.
    void word(const Word& w) { parts(w.parts); }
    void parts(const std::vector<WordPart>& ps) {
        for (const WordPart& p : ps) {
            parts(p.parts);
            if (p.body) command(p.body->list);
        }
    }

    // A command that prints nothing: its `>` only empties the file (`> f`, `: > f`, `true > f`,
    // `cat /dev/null > f`).
    static bool prints_nothing(const Command& c) {
        if (c.kind != Kind::Simple) return false;
        if (c.words.empty()) return true;
        auto w0 = c.words[0].literal();
        if (!w0) return false;
        if (in({":", "true", "false"}, *w0)) return true;
        return *w0 == "cat" && c.words.size() == 2 && c.words[1].literal() == std::string("/dev/null");
    }

    void redirect(const Redirect& r, const Command& c) {
        word(r.target);
        parts(r.heredoc_parts);
        bool writes = in({">", ">>", ">|", "&>", "&>>", "<>"}, r.op);
        if (!writes) return;
        std::optional<std::string> t = r.target.literal();
        Values targets = t ? Values(std::vector<std::string>{*t}) : values(r.target);   // `> $dev` with dev=/dev/sda
        if (!targets) { add(Risk::Unknown, r.op, r.begin, "writes to a computed path"); return; }
        bool truncates = r.op != ">>" && r.op != "&>>" && r.op != "<>";
        for (const std::string& target : *targets) {
            if (harmless_device(target)) continue;
            if (block_device(target)) { add(Risk::Irreversible, r.op, r.begin, "writes onto the device " + target + ", destroying what it holds"); continue; }
            if (truncates && log_or_history(target)) { add(Risk::Destructive, r.op, r.begin, "empties the log or history file " + target); continue; }
            if (truncates && (r.fd.empty() || r.fd == "1") && prints_nothing(c)) { add(Risk::Destructive, r.op, r.begin, "empties " + target + " (nothing is written to it)"); continue; }
            if (system_path(target)) { add(Risk::ChangesSystem, r.op, r.begin, "writes the system file " + target); continue; }
            add(Risk::ChangesFiles, r.op, r.begin, (truncates ? "overwrites " : "appends to ") + target);
        }
    }

    static bool calls(const Command& c, const std::string& name) {
        if (c.kind == Kind::Simple && !c.words.empty() && c.words[0].literal() == name) return true;
        for (const Command& b : c.body) if (calls(b, name)) return true;
        for (const CaseItem& i : c.items) if (i.body && calls(*i.body, name)) return true;
        return false;
    }
    static bool spawns_self(const Command& c, const std::string& name) {
        // a call of itself in a pipeline or in the background: exponential processes
        if ((c.kind == Kind::Pipeline || c.background) && calls(c, name)) return true;
        for (const Command& b : c.body) if (spawns_self(b, name)) return true;
        return false;
    }

    // The starting points of the `find` in a simple command (the operands before its first
    // expression): "." when none; computed ones are left out; at most 4.
    static std::vector<std::string> find_starts(const Command& c) {
        std::vector<std::string> out;
        size_t i = 0;
        while (i < c.words.size()) {
            auto l = c.words[i].literal();
            ++i;
            if (l && program_name(*l) == "find") break;
        }
        for (; i < c.words.size() && out.size() < 4; ++i) {
            auto l = c.words[i].literal();
            if (!l) continue;
            if (l->empty() || (*l)[0] == '-' || *l == "(" || *l == "!" || *l == "\\(") break;
            if (*l == "-H" || *l == "-L" || *l == "-P") continue;
            out.push_back(normalize(*l));
        }
        if (out.empty()) out.push_back(".");
        return out;
    }

    // A body whose command word is a positional parameter: it runs its arguments. 1: "$@" (each
    // argument one word); 2: $1, $*, $@ unquoted (split again at blanks); 0: neither.
    static int runs_arguments(const Command& c) {
        if (c.kind == Kind::Simple && !c.words.empty()) {
            const Word& w = c.words[0];
            const WordPart* only = w.parts.size() == 1 ? &w.parts[0] : nullptr;
            bool quoted = only && only->kind == PartKind::DoubleQuoted && only->parts.size() == 1;
            if (quoted) only = &only->parts[0];
            if (only && only->kind == PartKind::Param && only->parts.empty() && in({"@", "*", "1"}, only->text))
                return quoted && only->text == "@" ? 1 : 2;
        }
        for (const Command& b : c.body) if (int how = runs_arguments(b)) return how;
        for (const CaseItem& i : c.items) if (i.body) if (int how = runs_arguments(*i.body)) return how;
        return 0;
    }

    void function(const Command& c) {
        // Defining runs nothing; the body is rated where the function is called. A body that
        // calls itself in a pipe or in the background is a fork bomb (`:(){ :|:& };:`).
        m_functions[c.name] = &c.body[0];
        if (spawns_self(c.body[0], c.name))
            add(Risk::Destructive, c.name, c.begin, "fork bomb: function " + c.name + " starts copies of itself until the system stalls");
    }

    // The program of a pipeline stage when it reads code from stdin (a shell or an interpreter
    // with no script), else "".
    static std::string stdin_interpreter(const Command& c) {
        if (c.kind != Kind::Simple || c.words.empty()) return "";
        for (const Payload& p : payloads(c)) {
            if (p.script || p.opaque || p.words.empty()) continue;
            auto w0 = p.words[0].literal();
            if (!w0) continue;
            std::string name = program_name(*w0);
            bool shell = in({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "busybox"}, name);
            bool interp = in({"python", "python2", "python3", "perl", "ruby", "node", "php", "lua"}, name);
            if (!shell && !interp) continue;
            bool has_file = false;
            for (size_t i = 1; i < p.words.size(); ++i) {
                auto a = p.words[i].literal();
                if (!a) { has_file = true; break; }
                if (*a == "-" || *a == "-s") break;
                if (!a->empty() && (*a)[0] != '-') { has_file = true; break; }
                if (interp && (*a == "-c" || *a == "-e" || *a == "-m")) { has_file = true; break; }
            }
            if (!has_file) return name;
        }
        return "";
    }
    static std::vector<std::string> programs_of(const Command& c) {
        std::vector<std::string> out;
        if (c.kind != Kind::Simple) return out;
        for (const Payload& p : payloads(c))
            if (!p.words.empty()) if (auto w = p.words[0].literal()) out.push_back(program_name(*w));
        return out;
    }

    void pipeline(const Command& c) {
        for (size_t i = 1; i < c.body.size(); ++i) {
            std::string shell = stdin_interpreter(c.body[i]);
            if (shell.empty()) continue;
            std::string from = "a pipe";
            Risk r = Risk::Unknown;
            std::string why;
            for (size_t k = 0; k < i; ++k)
                for (const std::string& p : programs_of(c.body[k])) {
                    if (in({"curl", "wget", "fetch", "aria2c", "nc", "ncat", "socat"}, p)) {
                        r = Risk::Destructive;
                        why = "runs code downloaded by " + p + " in " + shell + " without showing it";
                    } else if (in({"base64", "base32", "xxd", "openssl", "rev", "tr", "gunzip", "zcat", "xz", "printf", "echo"}, p) &&
                               why.empty()) {
                        r = Risk::Destructive;
                        why = "runs code decoded by " + p + " in " + shell + " (obfuscated)";
                    }
                }
            if (why.empty()) why = "runs code read from " + from + " in " + shell;
            add(r, shell, c.body[i].begin, why);
        }
        for (const Command& s : c.body) command(s);
    }

    // ${IFS} / $IFS used as a separator: the word split into fields, when that is all it expands.
    static std::optional<std::vector<std::string>> ifs_fields(const Word& w) {
        std::vector<std::string> out(1);
        bool any = false;
        for (const WordPart& p : w.parts) {
            if (p.kind == PartKind::Param && p.text == "IFS" && p.parts.empty()) {
                any = true;
                out.emplace_back();
                continue;
            }
            Word one;
            one.parts.push_back(p);
            auto l = one.literal();
            if (!l) return std::nullopt;
            out.back() += *l;
        }
        if (!any) return std::nullopt;
        out.erase(std::remove(out.begin(), out.end(), ""), out.end());
        return out;
    }

    // An unquoted `{a,b,c}` word: its fields (bash's brace expansion), when it is that alone.
    static std::optional<std::vector<std::string>> brace_fields(const Word& w) {
        if (w.parts.size() != 1 || w.parts[0].kind != PartKind::Literal) return std::nullopt;
        const std::string& t = w.parts[0].text;
        if (t.size() < 4 || t.front() != '{' || t.back() != '}' || t.find(',') == std::string::npos) return std::nullopt;
        std::string inner = t.substr(1, t.size() - 2);
        if (inner.find_first_of("{}") != std::string::npos) return std::nullopt;
        std::vector<std::string> out;
        size_t from = 0;
        for (size_t comma; (comma = inner.find(',', from)) != std::string::npos; from = comma + 1) out.push_back(inner.substr(from, comma - from));
        out.push_back(inner.substr(from));
        out.erase(std::remove(out.begin(), out.end(), ""), out.end());
        if (out.empty()) return std::nullopt;
        return out;
    }

    static std::string quote(const std::string& s) {
        std::string q = "'";
        for (char c : s) { if (c == '\'') q += "'\\''"; else q += c; }
        return q + "'";
    }

    // --- words whose value is known without running anything ---------------------------------------

    // A word's possible values when nothing in it is computed at run time: literal and quoted
    // text, variables assigned literal values earlier (every value they may hold), arrays of
    // literal elements ("${a[@]}"), the case and default operators (${x,,} ${x^^} ${x:-w}), and
    // substitutions of `echo`/`printf` with literal words ($(printf 'r%s' m) -> "rm"). At most
    // k_max_values combinations; nullopt when any part is computed otherwise.
    using Values = std::optional<std::vector<std::string>>;
    static constexpr size_t k_max_values = 8;

    static Values product(const Values& a, const Values& b) {
        if (!a || !b || a->size() * b->size() > k_max_values) return std::nullopt;
        std::vector<std::string> out;
        for (const std::string& x : *a)
            for (const std::string& y : *b) out.push_back(x + y);
        return out;
    }
    Values values(const Word& w) { return parts_values(w.parts); }
    Values parts_values(const std::vector<WordPart>& ps) {
        Values acc = std::vector<std::string>{""};
        for (const WordPart& p : ps)
            if (!(acc = product(acc, part_values(p)))) break;
        return acc;
    }
    Values part_values(const WordPart& p) {
        switch (p.kind) {
            case PartKind::Literal:
            case PartKind::SingleQuoted:
            case PartKind::AnsiC: return std::vector<std::string>{p.text};
            case PartKind::DoubleQuoted: return parts_values(p.parts);
            case PartKind::Param: return param_values(p);
            case PartKind::CommandSubst:
            case PartKind::Backquote:
                if (p.body)
                    if (auto out = printed(p.body->list)) return std::vector<std::string>{*out};
                return std::nullopt;
            default: return std::nullopt;
        }
    }
    Values param_values(const WordPart& p) {
        const std::string& name = p.text;
        if (name.size() > 3 && (name.compare(name.size() - 3, 3, "[@]") == 0 || name.compare(name.size() - 3, 3, "[*]") == 0)) {
            auto it = m_arrays.find(name.substr(0, name.size() - 3));
            if (it == m_arrays.end() || !it->second || !p.parts.empty()) return std::nullopt;
            std::string joined;
            for (const std::string& e : *it->second) joined += (joined.empty() ? "" : " ") + e;
            return std::vector<std::string>{joined};
        }
        auto it = m_vars.find(name);
        if (it == m_vars.end() || it->second.computed || it->second.values.empty()) return std::nullopt;
        std::vector<std::string> vals = it->second.values;
        if (p.parts.empty()) return vals;
        if (p.parts.size() != 1 || p.parts[0].kind != PartKind::Literal) return std::nullopt;
        const std::string& op = p.parts[0].text;
        for (std::string& v : vals) {
            if (op == ",," || op == "^^")
                for (char& ch : v) ch = char(op == ",," ? std::tolower(static_cast<unsigned char>(ch)) : std::toupper(static_cast<unsigned char>(ch)));
            else if ((op == "," || op == "^") && !v.empty())
                v[0] = char(op == "," ? std::tolower(static_cast<unsigned char>(v[0])) : std::toupper(static_cast<unsigned char>(v[0])));
            else if ((starts(op, ":-") || starts(op, ":=") || starts(op, "-") || starts(op, "=")) && !v.empty())
                continue;   // set and not empty: the value itself
            else
                return std::nullopt;
        }
        return vals;
    }

    // What `echo WORDS` or `printf FORMAT WORDS` of literal words prints, trailing newlines
    // removed (a command substitution's value); nullopt for anything else.
    static std::optional<std::string> printed(const Command& list) {
        const Command* c = &list;
        if (c->kind == Kind::List) {
            if (c->body.size() != 1 || c->body[0].background) return std::nullopt;
            c = &c->body[0];
        }
        if (c->kind != Kind::Simple || !c->redirects.empty() || !c->assignments.empty() || c->words.empty()) return std::nullopt;
        std::vector<std::string> w;
        for (const Word& x : c->words) {
            auto l = x.literal();
            if (!l) return std::nullopt;
            w.push_back(*l);
        }
        const std::string prog = program_name(w[0]);
        std::string out;
        // $(which rm), $(command -v rm), $(type -P rm): a path to that program.
        if ((prog == "which" && w.size() == 2) || (prog == "command" && w.size() == 3 && w[1] == "-v") ||
            (prog == "type" && w.size() == 3 && w[1] == "-P"))
            return w.back().find('/') == std::string::npos ? "/usr/bin/" + w.back() : w.back();
        if (prog == "echo") {
            size_t i = 1;
            while (i < w.size() && (w[i] == "-n" || w[i] == "-E")) ++i;
            if (i < w.size() && w[i] == "-e") return std::nullopt;   // escapes: not followed
            for (size_t k = i; k < w.size(); ++k) out += (k > i ? " " : "") + w[k];
        } else if (prog == "printf") {
            if (w.size() < 2 || starts(w[1], "-")) return std::nullopt;
            size_t arg = 2;
            const std::string& f = w[1];
            for (size_t i = 0; i < f.size(); ++i) {
                char ch = f[i];
                if (ch == '%' || ch == '\\') {
                    if (i + 1 >= f.size()) return std::nullopt;
                    char d = f[++i];
                    if (ch == '%' && d == '%') out += '%';
                    else if (ch == '%' && d == 's') out += arg < w.size() ? w[arg++] : "";
                    else if (ch == '\\' && d == 'n') out += '\n';
                    else if (ch == '\\' && d == 't') out += '\t';
                    else if (ch == '\\' && d == '\\') out += '\\';
                    else return std::nullopt;   // other conversions and escapes: not followed
                } else {
                    out += ch;
                }
            }
            if (arg < w.size()) return std::nullopt;   // printf reuses the format: not followed
        } else {
            return std::nullopt;
        }
        while (!out.empty() && out.back() == '\n') out.pop_back();
        return out;
    }

    // A word's value as the words bash makes of it: split at blanks when an expansion in it is
    // unquoted (`$opts` holding "-rf /" is two words), else one literal word.
    static std::vector<Word> literal_words(const Word& w, const std::string& value) {
        bool split = false;
        for (const WordPart& p : w.parts)
            if (p.kind == PartKind::Param || p.kind == PartKind::CommandSubst || p.kind == PartKind::Backquote) split = true;
        auto make = [&](std::string text) {
            Word out;
            out.begin = w.begin;
            out.end = w.end;
            WordPart part;
            part.kind = PartKind::Literal;
            part.begin = w.begin;
            part.end = w.end;
            part.text = std::move(text);
            out.parts.push_back(std::move(part));
            return out;
        };
        if (!split) return {make(value)};
        std::vector<Word> out;
        size_t i = 0;
        while (i < value.size()) {
            while (i < value.size() && std::isspace(static_cast<unsigned char>(value[i]))) ++i;
            size_t j = i;
            while (j < value.size() && !std::isspace(static_cast<unsigned char>(value[j]))) ++j;
            if (j > i) out.push_back(make(value.substr(i, j - i)));
            i = j;
        }
        return out;
    }

    // The simple command with its computed argument words replaced by their known values
    // (`p=/dev/sda; dd of=$p` is rated as `dd of=/dev/sda`): one command per combination of
    // values, at most k_max_values; empty when no word could be resolved.
    std::vector<Command> resolved(const Command& c) {
        std::vector<std::vector<std::vector<Word>>> choices;   // per word: its variants (each some words)
        size_t combos = 1;
        bool any = false;
        for (const Word& w : c.words) {
            Values v = w.has_expansion() ? values(w) : std::nullopt;
            if (!v) { choices.push_back({{w}}); continue; }
            std::vector<std::vector<Word>> variants;
            for (const std::string& x : *v) variants.push_back(literal_words(w, x));
            combos *= variants.size();
            if (combos > k_max_values) return {};
            any = true;
            choices.push_back(std::move(variants));
        }
        if (!any) return {};
        std::vector<Command> out(1, c);
        out[0].words.clear();
        for (const auto& variants : choices) {
            std::vector<Command> next;
            for (const Command& partial : out)
                for (const auto& ws : variants) {
                    next.push_back(partial);
                    next.back().words.insert(next.back().words.end(), ws.begin(), ws.end());
                }
            out = std::move(next);
        }
        for (auto it = out.begin(); it != out.end();)   // a first word that vanished: nothing to run
            it = it->words.empty() ? out.erase(it) : it + 1;
        return out;
    }

    // --- code whose text is computed ------------------------------------------------------------

    static void collect_programs(const Command& c, std::vector<std::string>& out) {
        for (const std::string& p : programs_of(c)) out.push_back(p);
        for (const Command& b : c.body) collect_programs(b, out);
        for (const CaseItem& i : c.items) if (i.body) collect_programs(*i.body, out);
    }
    // Where the code in these parts comes from when a substitution in them downloads or decodes
    // it: "downloaded by curl", "decoded by base64"; "" otherwise.
    static std::string code_origin(const std::vector<WordPart>& ps) {
        for (const WordPart& p : ps) {
            if (p.body) {
                std::vector<std::string> progs;
                collect_programs(p.body->list, progs);
                for (const std::string& x : progs)
                    if (in({"curl", "wget", "fetch", "aria2c", "nc", "ncat", "socat"}, x)) return "downloaded by " + x;
                for (const std::string& x : progs)
                    if (in({"base64", "base32", "basenc", "xxd", "openssl", "rev", "tr", "gunzip", "gzip", "zcat", "xz", "unxz",
                            "bzip2", "bunzip2", "bzcat", "uudecode"}, x))
                        return "decoded by " + x;
            }
            std::string inner = code_origin(p.parts);
            if (!inner.empty()) return inner;
        }
        return "";
    }
    // Rates code given as a word (a here-string, a process substitution, a computed string for
    // sh -c or eval) that `runner` runs: its known value, else where it comes from.
    void code_word(const Word& w, const std::string& runner, Offset at) {
        Values v = values(w);
        if (v) {
            for (const std::string& text : *v) rescan(text, at, "code run by " + runner);
            return;
        }
        std::vector<WordPart> whole;
        if (w.parts.size() == 1 && w.parts[0].kind == PartKind::ProcSubst && w.parts[0].body) {
            if (auto out = printed(w.parts[0].body->list)) { rescan(*out, at, "code run by " + runner); return; }
            whole.push_back(w.parts[0]);
        }
        std::string origin = code_origin(whole.empty() ? w.parts : whole);
        if (!origin.empty()) { add(Risk::Destructive, runner, at, runner + " runs code " + origin + " without showing it"); return; }
        add(Risk::Unknown, runner, at, runner + " runs code computed when the command runs: what it runs cannot be seen");
    }

    // A shell or `source` whose code is in the command line: a process substitution as its script
    // (`bash <(curl URL)`, `source <(echo ...)`), or a here-document or here-string on its stdin
    // (`bash <<EOF`, `sh <<< "$x"`). Returns false when the code is elsewhere (a script file).
    bool inline_code(const std::string& name, const Payload& p, const Command& c) {
        const Word* script = nullptr;
        bool from_stdin = false;
        bool is_source = name == "source" || name == ".";
        for (size_t i = 1; i < p.words.size(); ++i) {
            auto l = p.words[i].literal();
            if (l && (*l == "-s" || *l == "-")) { from_stdin = true; break; }
            if (l && (*l == "-c" || *l == "--")) break;
            if (l && l->size() > 1 && (*l)[0] == '-' && !is_source) continue;
            script = &p.words[i];
            break;
        }
        if (script && !from_stdin) {
            bool proc = script->parts.size() == 1 && script->parts[0].kind == PartKind::ProcSubst;
            if (!proc) return false;
            code_word(*script, name, p.begin);
            return true;
        }
        if (is_source) return false;
        for (auto r = c.redirects.rbegin(); r != c.redirects.rend(); ++r) {
            if (!(r->fd.empty() || r->fd == "0")) continue;
            if (r->op == "<<" || r->op == "<<-") { rescan(r->heredoc, r->heredoc_begin, "here-document run by " + name); return true; }
            if (r->op == "<<<") { code_word(r->target, name, p.begin); return true; }
            if (r->op == "<" || r->op == "<>") return false;
        }
        return false;
    }

    // Rates `text` (an alias, a variable's value, fields joined back) as if it stood at `at`.
    // `note` says where the text came from; it is added to every reason the text gives.
    void rescan(const std::string& text, Offset at, const std::string& note = "") {
        if (m_depth > 240) { add(Risk::Unknown, "", at, "expansion nested too deep to follow"); return; }
        // Values of values of values...: each variable may hold several, so the rescans could grow
        // exponentially with the input; past the budget the rest is rated unknown.
        if (++m_rescans > k_max_rescans) {
            if (m_rescans == k_max_rescans + 1) add(Risk::Unknown, "", at, "too many expansions to follow");
            return;
        }
        ParseResult r = parse_at(text, at);
        if (!r.ok()) { add(Risk::Unknown, "", at, "the expanded command does not parse: " + r.error->message); return; }
        m_keep.push_back(r.script);
        const size_t n_before = result.reasons.size();
        ++m_depth;
        command(r.script->list);
        --m_depth;
        if (!note.empty())
            for (size_t i = n_before; i < result.reasons.size(); ++i) result.reasons[i].why += " (" + note + ")";
    }

    std::string rest_words(const Command& c, size_t from) {
        std::string s;
        for (size_t i = from; i < c.words.size(); ++i) {
            auto l = c.words[i].literal();
            Values v = l ? std::nullopt : values(c.words[i]);
            s += ' ';
            s += l ? quote(*l) : (v && v->size() == 1) ? quote((*v)[0]) : std::string("\"$computed\"");
        }
        return s;
    }

    void simple(const Command& c) {
        for (const Assignment& a : c.assignments) assignment(a, c.words.empty());
        for (const Word& w : c.words) word(w);
        if (c.words.empty()) return;
        const Word& w0 = c.words[0];
        std::optional<std::string> lit = w0.literal();
        if (!lit) {
            // The command word is computed: follow what can be known, and never rate it low.
            if (auto fields = ifs_fields(w0)) {
                // Split as bash splits with the default IFS; an IFS set in the script, or nothing
                // left to run, cannot be followed.
                if (fields->empty() || m_vars.count("IFS")) {
                    add(Risk::Unknown, "", w0.begin, "command word hidden with ${IFS}");
                    if (fields->empty()) return;
                }
                std::string text;
                for (const auto& f : *fields) text += (text.empty() ? "" : " ") + quote(f);
                rescan(text + rest_words(c, 1), w0.begin, "command word split at ${IFS}");
                return;
            }
            const WordPart* only = w0.parts.size() == 1 ? &w0.parts[0] : nullptr;
            if (only && only->kind == PartKind::DoubleQuoted && only->parts.size() == 1) only = &only->parts[0];
            if (only && only->kind == PartKind::Param && only->parts.empty() && m_vars.count(only->text)) {
                // Every value the variable may hold is rated as the command it makes.
                const VarValues vv = m_vars[only->text];
                if (vv.computed || vv.values.empty())
                    add(Risk::Unknown, "$" + only->text, w0.begin, "command word taken from $" + only->text + ", which is also set to a computed value");
                for (const std::string& v : vv.values)
                    rescan(v + rest_words(c, 1), w0.begin, "command word from $" + only->text + " = '" + v + "'");
                return;
            }
            if (Values v = values(w0)) {
                // Every value the word may take (variables, arrays, ${x,,}, $(echo rm)) as the command.
                for (const std::string& x : *v) rescan(x + rest_words(c, 1), w0.begin, "command word expands to '" + x + "'");
                return;
            }
            std::string what = "a computed command word";
            if (only && (only->kind == PartKind::CommandSubst || only->kind == PartKind::Backquote))
                what = "a command word produced by a command substitution";
            else if (only && only->kind == PartKind::Param)
                what = "a command word taken from $" + only->text;
            add(Risk::Unknown, "", w0.begin, "runs " + what + ": what it runs cannot be seen");
            return;
        }
        // {rm,-rf,/}: brace expansion makes the command word and its arguments.
        if (auto braces = brace_fields(w0)) {
            std::string text;
            for (const auto& f : *braces) text += (text.empty() ? "" : " ") + quote(f);
            rescan(text + rest_words(c, 1), w0.begin, "brace expansion of the command word");
            return;
        }
        std::vector<Command> alternatives = resolved(c);
        if (alternatives.empty()) {
            for (const Payload& p : payloads(c)) payload(c, p);
            return;
        }
        for (const Command& alt : alternatives)
            for (const Payload& p : payloads(alt)) payload(alt, p);
    }

    void assignment(const Assignment& a, bool alone) {
        word(a.value);
        for (const Word& w : a.elements) word(w);
        std::optional<std::string> v = a.value.literal();
        set_var(a.name, (a.is_array || a.append) ? std::nullopt : v);
        if (a.is_array) {
            std::vector<std::string> elements;
            bool literal = !a.append;
            for (const Word& w : a.elements) {
                auto l = w.literal();
                if (!l) { literal = false; break; }
                elements.push_back(*l);
            }
            auto it = m_arrays.find(a.name);
            if (!literal || (it != m_arrays.end() && it->second != elements)) m_arrays[a.name] = std::nullopt;   // several or computed values: not followed
            else m_arrays[a.name] = elements;
        }
        if (alone) history_variable(a.name, v.value_or(""), a.begin);
    }

    void set_var(const std::string& name, const std::optional<std::string>& value) {
        VarValues& vv = m_vars[name];
        if (!value) { vv.computed = true; return; }
        if (std::find(vv.values.begin(), vv.values.end(), *value) == vv.values.end() && vv.values.size() < 16) vv.values.push_back(*value);
        else if (vv.values.size() >= 16) vv.computed = true;
    }

    // HISTFILE=/dev/null, HISTSIZE=0, unset HISTFILE: the session leaves no history.
    void history_variable(const std::string& name, const std::string& value, Offset at) {
        if ((name == "HISTFILE" && (value.empty() || value == "/dev/null")) ||
            ((name == "HISTSIZE" || name == "HISTFILESIZE") && value == "0"))
            add(Risk::Destructive, name, at, "turns off the shell history (" + name + "=" + value + "): hides what is done");
    }

    void payload(const Command& c, const Payload& p) {
        std::string via;
        for (const std::string& w : p.wrappers) via += w + " ";
        if (p.opaque) {
            const std::string runner = p.wrappers.empty() ? "" : p.wrappers.back();
            for (const Word& w : c.words)
                if (w.begin == p.begin) {
                    std::string origin = code_origin(w.parts);
                    if (!origin.empty()) { add(Risk::Destructive, runner, p.begin, runner + " runs code " + origin + " without showing it"); return; }
                }
            add(Risk::Unknown, runner, p.begin, "runs a computed command string: what it runs cannot be seen");
            return;
        }
        if (p.script_error) {
            add(Risk::Unknown, p.wrappers.back(), p.begin, "the command string does not parse: " + p.script_error->message);
            return;
        }
        if (p.script) {
            m_keep.push_back(p.script);
            ++m_depth;
            command(p.script->list);
            --m_depth;
            return;
        }
        if (p.words.empty()) return;
        std::optional<std::string> w0 = p.words[0].literal();
        if (!w0) { add(Risk::Unknown, via, p.begin, "runs a computed command through " + via); return; }
        const std::string name = program_name(*w0);
        program_seen(name);
        Args args;
        for (size_t i = 1; i < p.words.size(); ++i) args.push_back(p.words[i].literal());
        // A function or alias defined earlier in the script.
        // Each body is rated once: a second call adds nothing, and f calling g twice calling h
        // twice ... would otherwise take exponential time.
        if (m_functions.count(name) && p.wrappers.empty()) {
            if (m_walked.insert("function " + name).second) command(*m_functions[name]);
            // A function that runs its arguments (`f() { "$@"; }`, `run() { $1; }`): the call's
            // arguments are the command.
            if (int how = runs_arguments(*m_functions[name]); how && c.words.size() > 1) {
                // "$@": each argument a word; $1 / $*: split again at blanks (the text re-read).
                std::string text = rest_words(c, 1).substr(1);
                if (how == 2) {
                    text.clear();
                    for (size_t i = 1; i < c.words.size(); ++i) {
                        auto l = c.words[i].literal();
                        text += (i > 1 ? " " : "") + (l ? *l : std::string("\"$computed\""));
                    }
                }
                rescan(text, p.begin, "run by function " + name);
            }
            return;
        }
        if (m_aliases.count(name) && !m_running.count(name) && p.wrappers.empty()) {
            if (!m_walked.insert("alias " + name + "=" + m_aliases[name]).second) return;
            m_running.insert(name);
            rescan(m_aliases[name] + rest_words(c, 1), p.begin, "alias " + name + "='" + m_aliases[name] + "'");
            m_running.erase(name);
            return;
        }
        // find ... -exec CMD {} \;: `{}` is each path found under find's starting points; rated
        // as a glob below each (find /dev -exec dd of={} writes onto /dev/*).
        if (!p.wrappers.empty() && starts(p.wrappers.back(), "find ")) {   // "find -exec", "find -execdir", ...
            std::vector<std::string> starts = find_starts(c);
            bool braces = false;
            for (const auto& x : args) if (x && x->find("{}") != std::string::npos) braces = true;
            if (braces) {
                for (const std::string& from : starts) {
                    std::string glob = from == "/" ? "/*" : from + "/*";
                    Args with = args;
                    for (auto& x : with)
                        if (x) for (size_t at; (at = x->find("{}")) != std::string::npos;) x->replace(at, 2, glob);
                    program(name, with, p, c);
                }
                return;
            }
        }
        program(name, args, p, c);
    }

    // --- rules per program --------------------------------------------------------------------------

    static bool has_short(const Args& a, char letter) {
        for (const auto& x : a) {
            if (!x) continue;
            if (*x == "--") break;
            if (x->size() >= 2 && (*x)[0] == '-' && (*x)[1] != '-' && x->find(letter) != std::string::npos) return true;
        }
        return false;
    }
    static bool has(const Args& a, std::initializer_list<std::string_view> opts) {
        for (const auto& x : a) {
            if (!x) continue;
            for (std::string_view o : opts) {
                if (*x == o) return true;
                if (starts(o, "--") && starts(*x, std::string(o) + "=")) return true;
            }
        }
        return false;
    }
    static std::vector<std::optional<std::string>> operands(const Args& a) {
        std::vector<std::optional<std::string>> out;
        bool after = false;
        for (const auto& x : a) {
            if (x && *x == "--" && !after) { after = true; continue; }
            if (!x || after || x->empty() || (*x)[0] != '-' || *x == "-") out.push_back(x);
        }
        return out;
    }
    static std::string first_operand(const Args& a) {
        for (const auto& o : operands(a)) if (o) return *o;
        return "";
    }
    // The subcommand: the first operand (git -C dir status -> status is approximate: good enough).
    static std::string sub(const Args& a, size_t skip_valued = 0) {
        (void)skip_valued;
        for (const auto& x : a) {
            if (!x) return "";
            if (!x->empty() && (*x)[0] != '-') return *x;
        }
        return "";
    }

    void program(const std::string& name, const Args& a, const Payload& p, const Command& c) {
        const Offset at = p.begin;
        auto say = [&](Risk r, std::string why) { add(r, name, at, std::move(why)); };
        const std::string s = sub(a);
        // `rm --help`, `dd --version`: GNU and most other programs print and exit.
        if (a.size() == 1 && a[0] && (*a[0] == "--help" || *a[0] == "--version") && base_level(name) != Risk::Unknown) return;

        if (name == "rm") {
            bool recursive = has_short(a, 'r') || has_short(a, 'R') || has(a, {"--recursive"});
            bool force = has_short(a, 'f') || has(a, {"--force"});
            if (has(a, {"--no-preserve-root"})) { say(Risk::Irreversible, "rm --no-preserve-root: may delete the whole system"); return; }
            for (const auto& o : operands(a)) {
                if (!o) {
                    if (recursive) { say(Risk::Destructive, "rm -r on a computed path (an empty variable can make it /)"); return; }
                    continue;
                }
                if ((recursive || force) && broad_path(*o)) { say(Risk::Irreversible, "rm " + std::string(recursive ? "-r" : "-f") + " on a broad or system path: " + *o); return; }
                if (log_or_history(*o)) { say(Risk::Destructive, "deletes the log or history file " + *o); return; }
                if (system_path(*o)) { say(Risk::Destructive, "deletes the system path " + *o); return; }
            }
            say(Risk::Destructive, recursive ? "deletes files and directories recursively" : "deletes files (there is no undo)");
            return;
        }
        if (name == "shred") {
            for (const auto& o : operands(a))
                if (o && block_device(*o)) { say(Risk::Irreversible, "overwrites the device " + *o); return; }
            say(Risk::Irreversible, "overwrites files so they cannot be recovered");
            return;
        }
        if (name == "dd") {
            for (const auto& x : a) {
                if (!x || !starts(*x, "of=")) continue;
                std::string t = x->substr(3);
                if (block_device(t)) { say(Risk::Irreversible, "dd writes onto the device " + t); return; }
                if (harmless_device(t)) return;
                if (system_path(t)) { say(Risk::ChangesSystem, "dd writes the system file " + t); return; }
                say(Risk::ChangesFiles, "dd writes " + t);
                return;
            }
            return;   // reads only, to stdout
        }
        if (name == "wipefs") {
            if (has_short(a, 'n') || has(a, {"--no-act"}) || (!has_short(a, 'a') && !has(a, {"--all", "-o", "--offset"}))) return;
            say(Risk::Irreversible, "erases filesystem signatures from " + first_operand(a));
            return;
        }
        if (starts(name, "mkfs") || name == "mke2fs" || name == "mkswap" || name == "mkdosfs") {
            if (has(a, {"-V", "--version", "--help", "-h"}) && operands(a).empty()) return;
            say(Risk::Irreversible, "makes a new filesystem on " + first_operand(a) + ", erasing what it held");
            return;
        }
        if (name == "blkdiscard") { say(Risk::Irreversible, "discards every block of " + first_operand(a)); return; }
        if (in({"fdisk", "sfdisk", "parted", "gdisk", "sgdisk", "cfdisk"}, name)) {
            if (has_short(a, 'l') || has(a, {"--list", "print", "-p", "--print"})) return;
            say(Risk::Destructive, "edits the partition table of " + first_operand(a));
            return;
        }
        if (name == "chmod" || name == "chown" || name == "chgrp") {
            bool recursive = has_short(a, 'R') || has(a, {"--recursive"});
            auto ops = operands(a);
            for (size_t i = 1; i < ops.size(); ++i) {
                if (!ops[i]) continue;
                // -R on /, a top-level directory or one just below it (/etc, /usr/lib, /var/lib):
                // deeper system paths (/var/www/html) are ordinary administration.
                if (recursive && broad_path(*ops[i])) { say(Risk::Destructive, name + " -R on the system directory " + *ops[i]); return; }
                if (system_path(*ops[i])) { say(Risk::ChangesSystem, name + " on the system path " + *ops[i]); return; }
            }
            say(Risk::ChangesFiles, name + " changes permissions or owners");
            return;
        }
        if (name == "unlink") { say(Risk::Destructive, "unlink deletes " + first_operand(a)); return; }
        if (name == "fallocate") {
            if (has_short(a, 'p') || has_short(a, 'c') || has_short(a, 'z') || has(a, {"--punch-hole", "--collapse-range", "--zero-range"})) {
                say(Risk::Destructive, "fallocate punches, collapses or zeroes a range of " + first_operand(a) + ", discarding its data");
                return;
            }
            say(Risk::ChangesFiles, "fallocate allocates file space");
            return;
        }
        if (name == "iptables-save" || name == "ip6tables-save") {
            if (has(a, {"-f", "--file"})) say(Risk::ChangesFiles, name + " writes the rules to a file");
            return;
        }
        if (name == "losetup") {
            if (a.empty() || (has(a, {"-a", "--all", "-l", "--list", "-j", "--associated"}) && !has(a, {"-d", "-D", "--detach", "--detach-all"}))) return;
            say(Risk::ChangesSystem, "losetup attaches or detaches loop devices");
            return;
        }
        if (name == "truncate") { say(Risk::Destructive, "truncate cuts files to a size, discarding their contents"); return; }
        if (name == "find") {
            if (has(a, {"-delete"})) { say(Risk::Destructive, "find -delete deletes every match"); return; }
            if (has(a, {"-fprint", "-fprintf", "-fls", "-fprint0"})) { say(Risk::ChangesFiles, "find writes a file"); return; }
            return;
        }
        if (name == "sed" || name == "perl") {
            bool inplace = false;
            for (const auto& x : a) if (x && (starts(*x, "-i") || starts(*x, "--in-place") || (name == "perl" && starts(*x, "-pi")))) inplace = true;
            if (name == "perl" && (has(a, {"-e", "-E"}) || !inplace)) {
                for (const auto& x : a) if (x && x->size() > 1 && (*x)[0] == '-' && x->find('i') != std::string::npos && x->find('e') != std::string::npos) inplace = true;
                if (!inplace) { say(Risk::Unknown, "perl runs a program that is not rated"); return; }
            }
            if (inplace) say(Risk::ChangesFiles, name + " -i edits files in place");
            return;
        }
        if (name == "awk" || name == "gawk" || name == "mawk" || name == "nawk") {
            for (const auto& x : a)
                if (x && (x->find("system(") != std::string::npos || x->find("| getline") != std::string::npos ||
                          x->find("print >") != std::string::npos || x->find("printf >") != std::string::npos ||
                          x->find("\" |") != std::string::npos)) {
                    say(Risk::Unknown, "the awk program runs commands or writes files");
                    return;
                }
            if (has(a, {"-i", "--include", "inplace"})) say(Risk::ChangesFiles, "awk edits files in place");
            return;
        }
        if (name == "tar") {
            std::string first = a.empty() || !a[0] ? "" : *a[0];
            bool bundled = !first.empty() && first[0] != '-';
            auto flag = [&](char l, std::string_view lng) { return has_short(a, l) || has(a, {lng}) || (bundled && first.find(l) != std::string::npos); };
            if (flag('t', "--list")) return;
            if (flag('x', "--extract") || flag('c', "--create") || flag('r', "--append") || flag('u', "--update")) {
                for (size_t i = 0; i + 1 < a.size(); ++i)
                    if (a[i] && (*a[i] == "-C" || *a[i] == "--directory") && a[i + 1] && system_path(*a[i + 1]) && flag('x', "--extract")) {
                        say(Risk::ChangesSystem, "tar extracts into the system directory " + *a[i + 1]);
                        return;
                    }
                say(Risk::ChangesFiles, "tar writes an archive or extracts files");
            }
            return;
        }
        if (in({"gzip", "gunzip", "bzip2", "xz", "unxz", "zstd", "unzip", "zip", "7z"}, name)) {
            if (has_short(a, 'l') || has_short(a, 't') || has_short(a, 'c') || has(a, {"--list", "--test", "--stdout"}) ||
                (name == "7z" && (s == "l" || s == "t"))) return;
            say(Risk::ChangesFiles, name + " writes files");
            return;
        }
        if (name == "cp" || name == "mv" || name == "install" || name == "ln" || name == "tee" || name == "mkdir" ||
            name == "touch" || name == "rmdir" || name == "rsync" || name == "scp") {
            auto ops = operands(a);
            if (name == "tee" && ops.empty()) return;
            if (name == "rsync" && has(a, {"--delete", "--delete-before", "--delete-after", "--delete-during", "--delete-delay", "--delete-excluded",
                                           "--del", "--remove-source-files"})) {
                say(Risk::Destructive, "rsync --delete removes files at the destination");
                return;
            }
            if (name == "mv" && !ops.empty() && ops.back() && *ops.back() == "/dev/null") { say(Risk::Destructive, "mv to /dev/null destroys the file"); return; }
            if (name == "ln" && (has_short(a, 'f') || has(a, {"--force"})) && ops.size() >= 2 && ops[0] && *ops[0] == "/dev/null" &&
                ops.back() && log_or_history(*ops.back())) {
                say(Risk::Destructive, "links " + *ops.back() + " to /dev/null: hides the history or log");
                return;
            }
            for (const auto& o : ops) {
                if (o && block_device(*o) && (name == "cp" || name == "tee")) { say(Risk::Irreversible, name + " writes onto the device " + *o); return; }
                if (o && (name == "tee" || o == ops.back()) && log_or_history(*o) && name != "tee") { say(Risk::Destructive, name + " replaces the log or history file " + *o); return; }
                if (o && system_path(*o) && !harmless_device(*o) && (name == "tee" || name == "mkdir" || name == "touch" || name == "rmdir" || o == ops.back() || name == "mv"))
                    { say(Risk::ChangesSystem, name + " changes the system path " + *o); return; }
            }
            if (name == "rmdir") { say(Risk::ChangesFiles, "removes empty directories"); return; }
            say(Risk::ChangesFiles, name + " writes files");
            return;
        }
        if (name == "git") { git(a, say); return; }
        if (name == "systemctl") { systemctl(a, say); return; }
        if (name == "service") {
            auto ops = operands(a);
            if (has(a, {"--status-all"}) || ops.size() < 2) return;
            std::string unit = ops[0].value_or(""), action = ops[1].value_or("");
            if (in({"status"}, action)) return;
            if (in({"stop", "disable"}, action) && remote_access_unit(unit)) { say(Risk::Destructive, "stops " + unit + ": cuts off remote access"); return; }
            say(Risk::ChangesSystem, "service " + unit + " " + action);
            return;
        }
        if (in({"shutdown", "reboot", "poweroff", "halt"}, name)) {
            if (name == "shutdown" && has_short(a, 'c')) { say(Risk::ChangesSystem, "cancels a shutdown"); return; }
            say(Risk::Destructive, name + " stops the machine and everything on it");
            return;
        }
        if (name == "init" || name == "telinit") {
            std::string l = first_operand(a);
            if (l == "0" || l == "6" || l == "1") { say(Risk::Destructive, name + " " + l + " stops the machine or its services"); return; }
            say(Risk::ChangesSystem, "changes the runlevel");
            return;
        }
        if (name == "ip") {
            std::string obj = s;
            bool change = false, down = false, flush = false;
            for (const auto& x : a) {
                if (!x) continue;
                if (in({"add", "del", "delete", "set", "change", "replace", "append", "prepend"}, *x)) change = true;
                if (*x == "down") down = true;
                if (*x == "flush") flush = true;
            }
            if (down) { say(Risk::Destructive, "ip link set down: takes a network interface down (may cut off this session)"); return; }
            if (flush) { say(Risk::Destructive, "ip ... flush: removes every address or route"); return; }
            // ip [options] OBJECT COMMAND: the command may be abbreviated (`ip r a`, `ip l s`).
            auto ops = operands(a);
            std::string verb = ops.size() > 1 && ops[1] ? *ops[1] : "";
            bool deletes = verb == "d" || verb == "del" || verb == "delete";
            if (!verb.empty() && !in({"show", "list", "lst", "ls", "l", "get", "help", "monitor", "save"}, verb) &&
                (verb.size() <= 2 && in({"a", "ad", "d", "s", "se", "c", "ch", "r", "re", "ap", "pr"}, verb)))
                change = true;
            if (deletes && ops.size() > 0 && ops[0] && (starts("route", *ops[0]) || *ops[0] == "r") && ops.size() > 2 && ops[2] && *ops[2] == "default")
                { say(Risk::Destructive, "deletes the default route"); return; }
            bool default_route = false;
            for (const auto& x : a) if (x && *x == "default") default_route = true;
            if (change && default_route && (has(a, {"del", "delete"}))) { say(Risk::Destructive, "deletes the default route"); return; }
            if (change) say(Risk::ChangesSystem, "changes network configuration");
            (void)obj;
            return;
        }
        if (name == "ifconfig") {
            auto ops = operands(a);
            if (ops.size() >= 2 && ops.back() && *ops.back() == "down") { say(Risk::Destructive, "takes the interface " + ops[0].value_or("") + " down"); return; }
            if (ops.size() >= 2) say(Risk::ChangesSystem, "changes an interface");
            return;
        }
        if (name == "ifdown") { say(Risk::Destructive, "takes a network interface down (may cut off this session)"); return; }
        if (name == "nmcli") {
            std::string joined;
            for (const auto& x : a) joined += " " + x.value_or("?");
            if (joined.find(" networking off") != std::string::npos || joined.find(" radio all off") != std::string::npos ||
                joined.find(" down") != std::string::npos || joined.find(" delete") != std::string::npos ||
                joined.find(" disconnect") != std::string::npos) {
                say(Risk::Destructive, "nmcli takes networking or a connection down");
                return;
            }
            if (joined.find(" modify") != std::string::npos || joined.find(" add") != std::string::npos || joined.find(" up") != std::string::npos ||
                joined.find(" on") != std::string::npos)
                say(Risk::ChangesSystem, "nmcli changes a connection");
            return;
        }
        if (name == "iptables" || name == "ip6tables" || name == "iptables-legacy" || name == "iptables-nft") {
            if (has(a, {"-F", "--flush", "-X", "--delete-chain"})) { say(Risk::Destructive, name + " flushes the firewall rules"); return; }
            for (size_t i = 0; i + 2 < a.size(); ++i)
                if (a[i] && (*a[i] == "-P" || *a[i] == "--policy") && a[i + 2] && *a[i + 2] == "DROP") { say(Risk::Destructive, name + " -P DROP: a default-deny policy can lock you out"); return; }
            if (has_short(a, 'L') || has(a, {"--list", "-S", "--list-rules"})) return;
            say(Risk::ChangesSystem, name + " changes the firewall");
            return;
        }
        if (name == "nft") {
            std::string joined;
            for (const auto& x : a) joined += " " + x.value_or("?");
            if (joined.find("flush") != std::string::npos || joined.find("delete table") != std::string::npos) { say(Risk::Destructive, "nft flushes or deletes firewall rules"); return; }
            if (s == "list" || joined.find(" list ") != std::string::npos) return;
            say(Risk::ChangesSystem, "nft changes the firewall");
            return;
        }
        if (name == "ufw") {
            if (s == "disable" || s == "reset") { say(Risk::Destructive, "ufw " + s + " turns the firewall off"); return; }
            if (s == "status" || s == "app" || s == "show" || s == "version" || s.empty()) return;
            say(Risk::ChangesSystem, "ufw changes the firewall");
            return;
        }
        if (name == "firewall-cmd") {
            if (has(a, {"--panic-on"})) { say(Risk::Destructive, "firewall-cmd --panic-on drops every packet"); return; }
            bool change = false;
            for (const auto& x : a) if (x && (starts(*x, "--add") || starts(*x, "--remove") || starts(*x, "--set") || starts(*x, "--reload") || starts(*x, "--change") || *x == "--runtime-to-permanent")) change = true;
            if (change) say(Risk::ChangesSystem, "firewall-cmd changes the firewall");
            return;
        }
        if (in({"apt", "apt-get", "aptitude", "yum", "dnf", "zypper", "snap", "flatpak", "brew", "apk"}, name)) {
            if (has(a, {"--simulate", "--dry-run", "--just-print", "--no-act", "--assume-no"}) || (name == "brew" && has(a, {"-n"})) ||
                ((name == "apt" || name == "apt-get") && has(a, {"-s"})))
                return;   // shows what it would do
            if (in({"remove", "purge", "autoremove", "autopurge", "erase", "uninstall", "rm", "del", "autoclean", "clean"}, s)) {
                if (s == "clean" || s == "autoclean") { say(Risk::ChangesFiles, name + " " + s + " deletes downloaded package files"); return; }
                say(Risk::Destructive, name + " " + s + " removes packages");
                return;
            }
            if (in({"list", "show", "search", "policy", "depends", "rdepends", "changelog", "info", "provides", "repolist",
                    "showpkg", "madison", "check", "find", "history", "whatprovides", "version", "--version", "help", ""}, s))
                return;
            say(Risk::ChangesSystem, name + " " + s + " changes installed packages");
            return;
        }
        if (name == "apt-cache" || name == "dpkg-query") return;
        if (name == "dpkg") {
            if (has(a, {"-r", "-P", "--remove", "--purge"})) { say(Risk::Destructive, "dpkg removes packages"); return; }
            if (has(a, {"-i", "--install", "--configure", "--unpack", "--set-selections", "--clear-selections"})) { say(Risk::ChangesSystem, "dpkg changes installed packages"); return; }
            return;
        }
        if (name == "rpm") {
            if (has(a, {"-e", "--erase"})) { say(Risk::Destructive, "rpm -e removes packages"); return; }
            if (has(a, {"-i", "-U", "-F", "--install", "--upgrade", "--freshen", "-ivh", "-Uvh"})) { say(Risk::ChangesSystem, "rpm changes installed packages"); return; }
            return;
        }
        if (name == "pacman") {
            std::string first = a.empty() || !a[0] ? "" : *a[0];
            if (starts(first, "-R") || first == "--remove") { say(Risk::Destructive, "pacman -R removes packages"); return; }
            if (starts(first, "-Q") || starts(first, "-Ss") || starts(first, "-Si") || starts(first, "-F") || first == "--query") return;
            say(Risk::ChangesSystem, "pacman changes installed packages");
            return;
        }
        if (name == "pip" || name == "pip3" || name == "npm" || name == "gem" || name == "cargo" || name == "yarn") {
            if (in({"list", "show", "freeze", "search", "check", "help", "--version", "-V", "view", "ls", "outdated", "audit", "config"}, s) || s.empty()) return;
            if (in({"uninstall", "remove", "rm", "un", "unlink"}, s)) { say(Risk::ChangesSystem, name + " " + s + " removes packages"); return; }
            say(name == "cargo" || name == "npm" || name == "yarn" ? Risk::ChangesFiles : Risk::ChangesSystem, name + " " + s + " changes packages or builds");
            return;
        }
        if (name == "crontab") {
            if (has_short(a, 'r') || has(a, {"--remove"})) { say(Risk::Destructive, "crontab -r deletes every scheduled job without asking"); return; }
            if (has_short(a, 'l')) return;
            say(Risk::ChangesSystem, "crontab changes scheduled jobs");
            return;
        }
        if (name == "history") {
            if (has_short(a, 'c') || has_short(a, 'd') || has_short(a, 'w') || has_short(a, 'r')) { say(Risk::Destructive, "history " + a[0].value_or("") + " erases or rewrites the shell history"); return; }
            return;
        }
        if (in({"read", "mapfile", "readarray", "getopts"}, name)) {
            for (const auto& o : operands(a)) if (o) set_var(*o, std::nullopt);
            return;
        }
        if (name == "printf" && has(a, {"-v"})) {
            for (size_t i = 0; i + 1 < a.size(); ++i) if (a[i] && *a[i] == "-v" && a[i + 1]) set_var(*a[i + 1], std::nullopt);
            return;
        }
        if (name == "unset") {
            for (const auto& x : a) if (x && (*x == "HISTFILE" || *x == "HISTSIZE")) { say(Risk::Destructive, "unset " + *x + " turns off the shell history"); return; }
            return;
        }
        if (name == "export" || name == "declare" || name == "typeset" || name == "local" || name == "readonly") {
            for (const Assignment& as : c.assignments)
                if (!as.is_array) { auto v = as.value.literal(); history_variable(as.name, v.value_or(""), as.begin); set_var(as.name, v); }
            return;
        }
        if (name == "set") {
            for (size_t i = 0; i + 1 < a.size(); ++i) if (a[i] && *a[i] == "+o" && a[i + 1] && *a[i + 1] == "history") { say(Risk::Destructive, "set +o history stops recording the shell history"); return; }
            return;
        }
        if (name == "alias") {
            for (const auto& x : a) {
                if (!x) continue;
                size_t eq = x->find('=');
                if (eq != std::string::npos && eq > 0) m_aliases[x->substr(0, eq)] = x->substr(eq + 1);
            }
            return;
        }
        if (name == "journalctl") {
            for (const auto& x : a) if (x && starts(*x, "--vacuum")) { say(Risk::Destructive, "journalctl --vacuum deletes journal files"); return; }
            if (has(a, {"--rotate", "--flush", "--sync", "--relinquish-var"})) say(Risk::ChangesSystem, "journalctl changes the journal files");
            return;
        }
        if (name == "dmesg") {
            if (has_short(a, 'c') || has_short(a, 'C') || has(a, {"--clear", "--read-clear"})) { say(Risk::Destructive, "dmesg clears the kernel log"); return; }
            return;
        }
        if (name == "kill" || name == "pkill" || name == "killall") {
            if (name == "kill" && (has(a, {"-l", "-L", "--list", "--table"}))) return;   // lists signal names
            auto ops = operands(a);
            for (const auto& o : ops) if (o && (*o == "1" || *o == "-1")) { say(Risk::Destructive, "kills init or every process"); return; }
            for (const auto& x : a) if (x && *x == "-1" && name == "kill" && ops.empty()) { say(Risk::Destructive, "kill -1 signals every process"); return; }
            for (const auto& o : ops) if (o && remote_access_unit(*o)) { say(Risk::Destructive, name + " " + *o + ": cuts off remote access"); return; }
            say(Risk::ChangesSystem, name + " signals processes");
            return;
        }
        if (in({"userdel", "deluser", "groupdel"}, name)) { say(Risk::Destructive, name + " deletes an account"); return; }
        if (name == "passwd" && (has(a, {"-S", "--status"}) || (has(a, {"-a", "--all"}) && has(a, {"-S"})))) return;
        if (name == "passwd" && (has_short(a, 'd') || has_short(a, 'l'))) { say(Risk::Destructive, "passwd -d/-l removes or locks a password"); return; }
        if (in({"psql", "mysql", "mariadb", "sqlite3", "clickhouse-client", "cqlsh", "mongo", "mongosh"}, name)) { sql_client(name, a, say); return; }
        if (name == "dropdb" || name == "dropuser") { say(Risk::Destructive, name + " deletes " + first_operand(a)); return; }
        if (name == "mysqladmin") {
            if (s == "drop" || has(a, {"drop"})) { say(Risk::Destructive, "mysqladmin drop deletes a database"); return; }
            if (in({"status", "ping", "version", "processlist", "variables", "extended-status"}, s)) return;
            say(Risk::ChangesSystem, "mysqladmin changes the server");
            return;
        }
        if (name == "redis-cli") {
            for (const auto& x : a) if (x && in({"flushall", "flushdb", "FLUSHALL", "FLUSHDB"}, *x)) { say(Risk::Destructive, "redis-cli " + *x + " deletes every key"); return; }
            // The first operand is the command (options with a value skipped); read commands and
            // the scanning modes change nothing.
            static const char* const with_value[] = {"-h", "-p", "-s", "-a", "-u", "-n", "-r", "-i", "-d", "--user", "--pass",
                                                     "--pattern", "--count", "--rdb", "--functions-rdb", "--eval", "--tls-cert"};
            std::string cmd;
            for (size_t i = 0; i < a.size(); ++i) {
                if (!a[i]) { cmd = "?"; break; }
                if ((*a[i])[0] == '-') {
                    if (std::find_if(std::begin(with_value), std::end(with_value), [&](const char* o) { return *a[i] == o; }) != std::end(with_value)) ++i;
                    continue;
                }
                cmd = lower(*a[i]);
                break;
            }
            if (cmd.empty() && has(a, {"--scan", "--bigkeys", "--memkeys", "--hotkeys", "--stat", "--latency", "--latency-history", "--version"})) return;
            if (in({"get", "mget", "exists", "ttl", "pttl", "type", "keys", "scan", "info", "ping", "dbsize", "hget", "hgetall", "hkeys",
                    "hlen", "lrange", "llen", "smembers", "scard", "zrange", "zcard", "strlen", "memory", "slowlog", "client", "config", "time",
                    "lastsave", "role", "echo"}, cmd) &&
                !has(a, {"set", "SET", "reset", "RESET", "kill", "KILL", "resetstat", "RESETSTAT", "rewrite", "REWRITE"}))
                return;
            say(Risk::ChangesSystem, "redis-cli talks to a server");
            return;
        }
        if (name == "docker" || name == "podman") {
            std::string joined;
            for (const auto& x : a) joined += " " + x.value_or("?");
            if (in({"rm", "rmi", "kill"}, s) || joined.find(" prune") != std::string::npos || joined.find("volume rm") != std::string::npos ||
                joined.find("network rm") != std::string::npos || joined.find("down -v") != std::string::npos || joined.find(" image rm") != std::string::npos ||
                joined.find("container rm") != std::string::npos) {
                say(Risk::Destructive, name + joined.substr(0, 40) + ": deletes containers, images or volumes");
                return;
            }
            if (in({"ps", "images", "logs", "inspect", "version", "info", "stats", "top", "history", "search", "port", "diff", "events", ""}, s) ||
                (s == "system" && (joined.find(" df") != std::string::npos || joined.find(" info") != std::string::npos ||
                                   joined.find(" events") != std::string::npos)) ||
                joined.find(" ls") != std::string::npos || joined.find("compose ps") != std::string::npos || joined.find("compose logs") != std::string::npos)
                return;
            say(Risk::ChangesSystem, name + " " + s + " changes containers");
            return;
        }
        if (name == "kubectl" || name == "oc") {
            if (s == "delete" || s == "drain") { say(Risk::Destructive, name + " " + s + " removes resources or workloads"); return; }
            if (in({"get", "describe", "logs", "top", "explain", "version", "api-resources", "api-versions", "cluster-info", "auth", "diff", ""}, s) ||
                (s == "config" && has(a, {"view", "get-contexts", "current-context"})))
                return;
            say(Risk::ChangesSystem, name + " " + s + " changes the cluster");
            return;
        }
        if (name == "helm") {
            if (s == "uninstall" || s == "delete") { say(Risk::Destructive, "helm " + s + " removes a release"); return; }
            if (in({"list", "ls", "status", "get", "show", "search", "history", "version", "template", "lint", ""}, s)) return;
            say(Risk::ChangesSystem, "helm " + s + " changes the cluster");
            return;
        }
        if (name == "curl" || name == "wget") {
            for (size_t i = 0; i + 1 < a.size(); ++i)
                if (a[i] && a[i + 1] && ((name == "curl" && (*a[i] == "-o" || *a[i] == "--output")) ||
                                         (name == "wget" && (*a[i] == "-O" || *a[i] == "--output-document"))))
                    m_downloaded[*a[i + 1]] = name;
        }
        if (name == "curl") {
            if (has(a, {"-o", "-O", "--output", "--remote-name", "--remote-name-all", "-J"}) || has_short(a, 'O')) {
                say(Risk::ChangesFiles, "curl saves a file");
                return;
            }
            for (size_t i = 0; i + 1 < a.size(); ++i)
                if (a[i] && (*a[i] == "-X" || *a[i] == "--request") && a[i + 1] && in({"DELETE", "PUT", "POST", "PATCH"}, *a[i + 1])) {
                    say(*a[i + 1] == "DELETE" ? Risk::Destructive : Risk::ChangesSystem, "curl sends a " + *a[i + 1] + " request");
                    return;
                }
            if (has(a, {"-d", "--data", "--data-binary", "--data-raw", "-F", "--form", "-T", "--upload-file", "--json"})) { say(Risk::ChangesSystem, "curl sends data to a server"); return; }
            return;
        }
        if (name == "wget") {
            for (size_t i = 0; i + 1 < a.size(); ++i) if (a[i] && (*a[i] == "-O" || *a[i] == "--output-document") && a[i + 1] && *a[i + 1] == "-") return;
            if (has(a, {"--spider", "-qO-", "-O-"})) return;
            say(Risk::ChangesFiles, "wget saves files");
            return;
        }
        if (name == "openssl") {
            if (has(a, {"-out", "-keyout"})) { say(Risk::ChangesFiles, "openssl writes a file"); return; }
            return;
        }
        if (name == "ssh-keygen") {
            if (has(a, {"-l", "-F", "-y", "-B", "-L"})) return;
            if (has(a, {"-R"})) { say(Risk::ChangesFiles, "ssh-keygen -R edits known_hosts"); return; }
            say(Risk::ChangesFiles, "ssh-keygen writes key files");
            return;
        }
        if (name == "mount") {
            if (operands(a).empty() && !has(a, {"-a", "--all"})) return;
            say(Risk::ChangesSystem, "mount changes the mounted filesystems");
            return;
        }
        if (name == "sysctl") {
            bool write = has(a, {"-w", "--write", "-p", "--load", "--system"});
            for (const auto& x : a) if (x && x->find('=') != std::string::npos) write = true;
            if (write) say(Risk::ChangesSystem, "sysctl changes kernel parameters");
            return;
        }
        if (in({"hostnamectl", "timedatectl", "localectl"}, name)) {
            if (starts(s, "set-") || (in({"hostname"}, s) && operands(a).size() > 1)) say(Risk::ChangesSystem, name + " " + s);
            return;
        }
        if (name == "nginx" || name == "apachectl" || name == "apache2ctl" || name == "httpd") {
            if (has(a, {"-t", "-T", "-v", "-V", "configtest", "-S", "-M"})) return;
            for (size_t i = 0; i + 1 < a.size(); ++i) if (a[i] && *a[i] == "-s" && a[i + 1] && *a[i + 1] == "stop") { say(Risk::ChangesSystem, "stops the web server"); return; }
            say(Risk::ChangesSystem, name + " starts or signals the server");
            return;
        }
        // Read-only programs with a writing or executing mode.
        if (name == "date" && (has_short(a, 's') || has(a, {"--set"}))) { say(Risk::ChangesSystem, "date -s sets the system clock"); return; }
        if (name == "date")
            for (const auto& o : operands(a))   // date MMDDhhmm[[CC]YY][.ss]: sets the clock
                if (o && !o->empty() && (*o)[0] != '+' && std::all_of(o->begin(), o->end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) || ch == '.'; })) {
                    say(Risk::ChangesSystem, "date " + *o + " sets the system clock");
                    return;
                }
        if (name == "hostname" && !operands(a).empty() && !has(a, {"-f", "--fqdn", "-i", "-I", "-d", "-s", "-A"})) { say(Risk::ChangesSystem, "hostname sets the host name"); return; }
        if ((name == "sort" && has(a, {"-o", "--output"})) || (name == "uniq" && operands(a).size() >= 2) ||
            (name == "tree" && has(a, {"-o"})) || (name == "iconv" && has(a, {"-o", "--output"})) ||
            (name == "xxd" && operands(a).size() >= 2)) {
            say(Risk::ChangesFiles, name + " writes an output file");
            return;
        }
        if (name == "ss" && (has_short(a, 'K') || has(a, {"--kill"}))) { say(Risk::ChangesSystem, "ss -K closes sockets"); return; }
        if (name == "arp" && (has(a, {"-d", "-s", "-f", "--delete", "--set", "--file"}))) { say(Risk::ChangesSystem, "arp changes the neighbour table"); return; }
        if (name == "fc" && !has_short(a, 'l')) { say(Risk::Unknown, "fc runs commands from the shell history"); return; }
        if (name == "gpg" || name == "gpg2") {
            for (const auto& x : a) if (x && starts(*x, "--delete")) { say(Risk::Destructive, "gpg deletes keys"); return; }
            for (const auto& x : a)
                if (x && (starts(*x, "--import") || starts(*x, "--gen-key") || starts(*x, "--full-gen") || starts(*x, "--quick-") ||
                          *x == "-o" || *x == "--output" || *x == "-d" || *x == "--decrypt" || *x == "-e" || *x == "--encrypt" ||
                          *x == "-c" || *x == "--symmetric" || *x == "-s" || *x == "--sign" || *x == "--edit-key" || *x == "--recv-keys")) {
                    say(Risk::ChangesFiles, "gpg writes keys or files");
                    return;
                }
            return;
        }
        if (in({"nc", "ncat", "netcat", "socat"}, name)) {
            bool exec = has(a, {"-e", "-c", "--exec", "--sh-exec", "--lua-exec"});
            for (const auto& x : a) if (x && (starts(*x, "EXEC:") || starts(*x, "SYSTEM:") || starts(*x, "exec:") || starts(*x, "system:"))) exec = true;
            if (exec) { say(Risk::Unknown, name + " runs a program for the network peer (a remote shell)"); return; }
            say(Risk::ChangesSystem, name + " opens a network connection or listener");
            return;
        }
        // Storage: the subcommands that destroy data.
        if (name == "zfs" || name == "zpool") {
            if (s == "destroy" || (name == "zpool" && (s == "labelclear" || (s == "create" && has(a, {"-f"}))))) { say(Risk::Destructive, name + " " + s + " destroys a pool, dataset or snapshot"); return; }
            if (in({"list", "get", "status", "iostat", "history", "events", "holds", "diff", ""}, s)) return;
            say(Risk::ChangesSystem, name + " " + s + " changes storage");
            return;
        }
        if (name == "cryptsetup") {
            if (in({"luksFormat", "erase", "luksErase", "reencrypt"}, s)) { say(Risk::Irreversible, "cryptsetup " + s + " destroys the data or keys on " + first_operand(Args(a.begin() + 1, a.end()))); return; }
            if (in({"luksKillSlot", "luksRemoveKey"}, s)) { say(Risk::Destructive, "cryptsetup " + s + " removes a key slot"); return; }
            if (in({"status", "luksDump", "isLuks", "benchmark", "--version", "--help", ""}, s)) return;
            say(Risk::ChangesSystem, "cryptsetup " + s + " changes encrypted devices");
            return;
        }
        if (name == "nvme") {
            if (in({"format", "sanitize", "write-zeroes", "delete-ns"}, s)) { say(Risk::Irreversible, "nvme " + s + " erases the drive or namespace"); return; }
            if (in({"list", "smart-log", "id-ctrl", "id-ns", "error-log", "fw-log", "list-subsys", "version", "help", ""}, s)) return;
            say(Risk::ChangesSystem, "nvme " + s + " changes the drive");
            return;
        }
        if (name == "badblocks") {
            if (has_short(a, 'w')) { say(Risk::Irreversible, "badblocks -w overwrites every block of " + first_operand(a)); return; }
            if (has_short(a, 'n')) { say(Risk::ChangesSystem, "badblocks -n rewrites blocks (keeping their data)"); return; }
            return;
        }
        if (name == "mdadm") {
            if (has(a, {"--zero-superblock", "--remove", "--fail", "-f", "-r", "--stop", "-S"})) { say(Risk::Destructive, "mdadm takes an array or disk apart"); return; }
            if (has(a, {"--detail", "-D", "--examine", "-E", "--query", "-Q", "--scan"}) && !has(a, {"--assemble", "-A", "--create", "-C"})) return;
            say(Risk::ChangesSystem, "mdadm changes arrays");
            return;
        }
        // Cloud and remote storage: deletions.
        if (name == "aws") {
            auto ops = operands(a);
            std::string svc = ops.size() > 0 && ops[0] ? *ops[0] : "", verb = ops.size() > 1 && ops[1] ? *ops[1] : "";
            if ((svc == "s3" && (verb == "rm" || verb == "rb" || (verb == "sync" && has(a, {"--delete"})))) || starts(verb, "delete") ||
                starts(verb, "terminate") || verb == "deregister-image") {
                say(Risk::Destructive, "aws " + svc + " " + verb + " deletes cloud resources");
                return;
            }
            if (starts(verb, "describe") || starts(verb, "list") || starts(verb, "get") || verb == "ls" || svc == "sts" || verb == "help") return;
            say(Risk::ChangesSystem, "aws " + svc + " " + verb + " changes cloud resources");
            return;
        }
        if (name == "rclone" && has(a, {"-n", "--dry-run"})) return;   // shows what it would do
        if (name == "gsutil" || name == "rclone") {
            if (in({"rm", "rb", "delete", "deletefile", "purge", "rmdir", "rmdirs", "cleanup", "dedupe"}, s) ||
                (s == "sync" && (name == "rclone" || has(a, {"-d"})))) {
                say(Risk::Destructive, name + " " + s + " deletes files at the destination");
                return;
            }
            if (in({"ls", "lsd", "lsl", "lsf", "du", "size", "cat", "stat", "version", "check", "md5sum", "sha1sum", "listremotes", "config", "about", "tree", "hash", ""}, s)) return;
            say(Risk::ChangesFiles, name + " " + s + " copies or moves files");
            return;
        }
        // Backups, secrets and queues: the subcommands that delete (after the packs of
        // destructive_command_guard: backup.restic, backup.borg, secrets.vault, messaging.kafka).
        if (name == "restic" || name == "borg") {
            if (in({"forget", "prune", "delete", "compact", "recreate", "repo-delete", "rdelete", "rcompact"}, s) ||
                (name == "restic" && s == "key" && has(a, {"remove"}))) {
                say(Risk::Destructive, name + " " + s + " deletes backups or their data");
                return;
            }
            if (in({"snapshots", "ls", "list", "info", "check", "stats", "find", "diff", "cat", "version", "help", "repo-info", "rlist", "rinfo", ""}, s) ||
                (s == "extract" && has(a, {"--dry-run", "-n"})))
                return;
            say(s == "backup" || s == "create" || s == "restore" || s == "extract" || s == "mount" ? Risk::ChangesFiles : Risk::ChangesSystem,
                name + " " + s + " writes backups or restores files");
            return;
        }
        if (name == "vault") {
            auto ops = operands(a);
            std::string verb = ops.size() > 1 && ops[1] ? *ops[1] : "", third = ops.size() > 2 && ops[2] ? *ops[2] : "";
            if (in({"delete"}, s) || (in({"kv"}, s) && (in({"destroy", "delete", "metadata"}, verb) && (verb != "metadata" || third == "delete"))) ||
                (in({"secrets", "auth", "audit"}, s) && verb == "disable") || (in({"policy", "namespace"}, s) && verb == "delete") ||
                (s == "lease" && verb == "revoke") || (s == "token" && verb == "revoke")) {
                say(Risk::Destructive, "vault " + s + (verb.empty() ? "" : " " + verb) + " deletes secrets or revokes access");
                return;
            }
            if (in({"read", "list", "status", "version", "path-help", "print", "login", ""}, s) || (s == "kv" && in({"get", "list", "metadata"}, verb)) ||
                (in({"secrets", "auth", "policy", "audit", "token"}, s) && in({"list", "read", "lookup", "capabilities"}, verb)))
                return;
            say(Risk::ChangesSystem, "vault " + s + " changes secrets or settings");
            return;
        }
        if (starts(name, "kafka-")) {
            if (name == "kafka-delete-records" || has(a, {"--delete", "--reset-offsets"})) { say(Risk::Destructive, name + " deletes topics, records or offsets"); return; }
            if (has(a, {"--list", "--describe", "--version", "--help"})) return;
            say(Risk::ChangesSystem, name + " changes the cluster");
            return;
        }
        if (name == "docker-compose") {
            if (s == "down" && (has(a, {"-v", "--volumes", "--rmi"}))) { say(Risk::Destructive, "docker-compose down -v deletes volumes"); return; }
            if (s == "rm") { say(Risk::Destructive, "docker-compose rm deletes containers"); return; }
            if (in({"ps", "logs", "config", "images", "top", "version", "ls", ""}, s)) return;
            say(Risk::ChangesSystem, "docker-compose " + s + " changes containers");
            return;
        }
        if (name == "mysqldump" || name == "pg_dump" || name == "pg_dumpall") {
            if (has(a, {"-f", "--file", "-r", "--result-file"})) say(Risk::ChangesFiles, name + " writes a dump file");
            return;
        }
        if (name == "pg_restore" && (has(a, {"-c", "--clean"}))) { say(Risk::Destructive, "pg_restore --clean drops objects before recreating them"); return; }
        if (name == "ssh-add" && (has_short(a, 'D') || has_short(a, 'd'))) { say(Risk::ChangesSystem, "ssh-add -d/-D removes keys from the agent"); return; }
        if (name == "at" && (has_short(a, 'l') || has_short(a, 'c'))) return;
        if (in({"source", "."}, name)) {
            if (inline_code(name, p, c)) return;
            say(Risk::Unknown, "runs the script " + first_operand(a) + " in this shell: its contents are not rated"); return; }
        if (in({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "busybox", "rbash"}, name)) {
            if (has(a, {"-n"}) || has(a, {"--version", "--help"})) return;
            if (inline_code(name, p, c)) return;
            std::string f = first_operand(a);
            if (m_downloaded.count(f)) { say(Risk::Destructive, name + " runs " + f + ", code downloaded by " + m_downloaded[f] + " without showing it"); return; }
            say(Risk::Unknown, f.empty() ? name + " starts a shell: what it runs is not in the command" : name + " runs the script " + f + ": its contents are not rated");
            return;
        }
        if (name == "sudo" || name == "doas" || name == "su") {
            if (has(a, {"-l", "--list", "-v", "-k", "-K", "-V", "--version"})) return;
            if (name == "sudo" && has(a, {"-e", "--edit"})) { say(Risk::ChangesSystem, "sudoedit edits files as root"); return; }
            if (name == "sudo" && (has_short(a, 's') || has_short(a, 'i') || has(a, {"--shell", "--login"}))) {
                Payload shell = p;   // sudo -s <<< CODE: the root shell reads the code from stdin
                shell.words.resize(1);
                if (inline_code("sudo -s", shell, c)) return;
            }
            say(Risk::Unknown, name + " opens a root shell: what it runs is not in the command");
            return;
        }
        if (in({"python", "python2", "python3", "ruby", "node", "php", "lua", "java", "deno", "bun"}, name)) {
            auto first = a.empty() ? std::optional<std::string>("") : a[0];
            if (first && in({"--version", "-V", "-v", "--help", "-h"}, *first)) return;
            say(Risk::Unknown, name + " runs a program that is not rated");
            return;
        }
        if (name == "ssh") {
            // ssh HOST COMMAND: the command is a payload of its own, rated as it is; ssh HOST alone
            // opens a session.
            static const char* const with_value[] = {"-B", "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m",
                                                      "-O", "-o", "-P", "-p", "-Q", "-R", "-S", "-W", "-w"};
            size_t i = 0;
            while (i < a.size() && a[i] && a[i]->size() > 1 && (*a[i])[0] == '-') {
                bool value = std::find_if(std::begin(with_value), std::end(with_value), [&](const char* o) { return *a[i] == o; }) != std::end(with_value);
                i += value ? 2 : 1;
            }
            if (i + 1 < a.size()) return;
            say(Risk::ChangesSystem, "ssh opens a session on another host");
            return;
        }
        if (name == "eval" || name == "xargs" || name == "env" || name == "nohup" || name == "time" || name == "nice" ||
            name == "timeout" || name == "watch" || name == "command" || name == "exec" || name == "builtin")
            return;   // alone: prints, waits, or is a lookup
        Risk r = base_level(name);
        if (r == Risk::Unknown) { say(Risk::Unknown, "unknown program " + name + ": not rated, treated as changes-system or worse"); return; }
        if (r == Risk::ReadOnly) return;
        if (r == Risk::Irreversible || r == Risk::Destructive) { say(r, name + " " + std::string(risk_name(r))); return; }
        say(r, name + (r == Risk::ChangesFiles ? " writes files" : " changes the system"));
    }

    static bool remote_access_unit(const std::string& u) {
        std::string n = u;
        if (n.size() > 8 && n.compare(n.size() - 8, 8, ".service") == 0) n.resize(n.size() - 8);
        return in({"ssh", "sshd", "openssh-server", "network", "networking", "NetworkManager", "systemd-networkd", "network-manager",
                   "wpa_supplicant", "dhcpcd", "systemd-resolved", "firewalld"}, n) ||
               starts(n, "sshd@") || n == "ssh.socket";
    }

    template <typename Say>
    void git(const Args& a, Say& say) {
        // git [-C dir] [-c k=v] SUBCOMMAND ...
        size_t i = 0;
        while (i < a.size() && a[i] && !a[i]->empty() && (*a[i])[0] == '-') i += (*a[i] == "-C" || *a[i] == "-c" || *a[i] == "--git-dir" || *a[i] == "--work-tree") ? 2 : 1;
        std::string s = i < a.size() && a[i] ? *a[i] : "";
        Args rest(a.begin() + long(std::min(i + 1, a.size())), a.end());
        auto any = [&](std::initializer_list<std::string_view> o) { return has(rest, o); };
        if (s == "reset" && any({"--hard", "--merge", "--keep"})) { say(Risk::Destructive, "git reset --hard discards uncommitted changes"); return; }
        if (s == "clean" && (has_short(rest, 'n') || any({"--dry-run"}))) return;   // lists what it would delete
        if (s == "clean" && (has_short(rest, 'f') || any({"--force"}))) {
            say(Risk::Destructive, "git clean -f deletes untracked files");
            return;
        }
        if (s == "push") {
            bool force = any({"--force", "-f", "--force-with-lease", "--mirror", "--delete", "-d", "--prune"});
            for (const auto& x : rest) if (x && !x->empty() && ((*x)[0] == '+' || ((*x)[0] == ':' && x->size() > 1))) force = true;
            if (force) { say(Risk::Destructive, "git push --force rewrites or deletes remote history"); return; }
            say(Risk::ChangesSystem, "git push changes the remote repository");
            return;
        }
        if (s == "branch" && (any({"-D", "--delete"}) || (any({"-d"}) && any({"--force", "-f"})))) { say(Risk::Destructive, "git branch -D deletes a branch and its unmerged commits"); return; }
        if (s == "branch" && (any({"-d", "--del"}) || has_short(rest, 'd'))) { say(Risk::Destructive, "git branch -d deletes a branch (its reflog goes with it)"); return; }
        if (s == "branch" && any({"-M", "-C"})) { say(Risk::Destructive, "git branch -M/-C overwrites an existing branch"); return; }
        if (s == "switch" && any({"--discard-changes", "-f", "--force"})) { say(Risk::Destructive, "git switch --discard-changes discards uncommitted changes"); return; }
        if (s == "rm" && (has_short(rest, 'f') || any({"--force"}))) { say(Risk::Destructive, "git rm -f deletes files with uncommitted changes"); return; }
        if (s == "read-tree" && any({"--reset"}) && any({"-u"})) { say(Risk::Destructive, "git read-tree --reset -u discards uncommitted changes"); return; }
        if ((s == "checkout" && (any({"--", "."}) || any({"-f", "--force"}))) || (s == "restore" && !any({"--staged", "-S"}))) {
            say(Risk::Destructive, "git " + s + " discards uncommitted changes");
            return;
        }
        if (s == "stash" && any({"drop", "clear"})) { say(Risk::Destructive, "git stash drop/clear deletes stashed changes"); return; }
        if ((s == "reflog" && any({"expire", "delete"})) || (s == "gc" && any({"--prune=now", "--prune"})) || s == "filter-branch" || s == "filter-repo" ||
            (s == "update-ref" && any({"-d"}))) {
            say(Risk::Destructive, "git " + s + " deletes history that could otherwise be recovered");
            return;
        }
        if (in({"status", "log", "diff", "show", "blame", "grep", "ls-files", "ls-tree", "ls-remote", "rev-parse", "rev-list",
                "describe", "shortlog", "cat-file", "reflog", "whatchanged", "help", "version", "--version", "count-objects",
                "for-each-ref", "show-ref", "name-rev", "cherry", "range-diff", "merge-base", "check-ignore", "var", "fsck", ""}, s))
            return;
        if (s == "stash" && (rest.empty() || !any({"list", "show"}))) { say(Risk::ChangesFiles, "git stash changes the working tree"); return; }
        if ((s == "branch" || s == "tag" || s == "remote" || s == "config" || s == "stash" || s == "worktree") &&
            (rest.empty() || any({"-l", "--list", "-v", "-vv", "-a", "-r", "--get", "--get-all", "--show-origin", "list", "show"})))
            return;
        say(Risk::ChangesFiles, "git " + s + " changes the repository or the working tree");
    }

    template <typename Say>
    void systemctl(const Args& a, Say& say) {
        std::string verb;
        std::vector<std::string> units;
        for (const auto& x : a) {
            if (!x || x->empty() || (*x)[0] == '-') continue;
            if (verb.empty()) verb = *x; else units.push_back(*x);
        }
        if (in({"status", "show", "cat", "list-units", "list-unit-files", "list-timers", "list-sockets", "list-dependencies",
                "list-jobs", "list-machines", "is-active", "is-enabled", "is-failed", "is-system-running", "help", "get-default",
                "show-environment", ""}, verb))
            return;
        if (in({"poweroff", "reboot", "halt", "kexec", "rescue", "emergency", "suspend", "hibernate", "soft-reboot"}, verb)) {
            say(Risk::Destructive, "systemctl " + verb + " stops the machine or its services");
            return;
        }
        if (in({"stop", "disable", "mask", "kill", "isolate"}, verb)) {
            for (const std::string& u : units)
                if (remote_access_unit(u)) { say(Risk::Destructive, "systemctl " + verb + " " + u + ": cuts off remote access"); return; }
            if (verb == "isolate") { say(Risk::Destructive, "systemctl isolate stops every unit the target does not want"); return; }
        }
        say(Risk::ChangesSystem, "systemctl " + verb + " changes services");
    }

    template <typename Say>
    void sql_client(const std::string& name, const Args& a, Say& say) {
        std::string sql;
        bool have = false;
        for (size_t i = 0; i < a.size(); ++i) {
            if (!a[i]) continue;
            const std::string& x = *a[i];
            if ((x == "-c" || x == "-e" || x == "--command" || x == "--execute" || x == "-q" || x == "--query" || x == "--eval") && i + 1 < a.size()) {
                if (!a[i + 1]) { say(Risk::Unknown, name + " runs a computed SQL string"); return; }
                sql += " " + *a[i + 1];
                have = true;
            } else if (starts(x, "--command=") || starts(x, "--execute=") || starts(x, "--eval=")) {
                sql += " " + x.substr(x.find('=') + 1);
                have = true;
            }
        }
        if (name == "sqlite3") {
            auto ops = operands(a);
            if (ops.size() >= 2 && ops[1]) { sql += " " + *ops[1]; have = true; }
        }
        if (!have) { say(Risk::ChangesSystem, name + " opens a database session: what it runs is not in the command"); return; }
        std::string q = lower(sql);
        auto has_word = [&](std::string_view w) { return q.find(w) != std::string::npos; };
        if (has_word("drop database") || has_word("drop schema") || has_word("drop table") || has_word("drop user") ||
            has_word("drop role") || has_word("drop owned") || has_word("truncate ") || has_word("dropdatabase") || has_word(".drop(")) {
            say(Risk::Destructive, name + " runs SQL that drops or truncates data: " + sql.substr(1, 80));
            return;
        }
        if ((has_word("delete from") || has_word("update ")) && !has_word(" where ")) {
            say(Risk::Destructive, name + " runs a DELETE or UPDATE without WHERE: every row");
            return;
        }
        std::string t = q;
        t.erase(0, t.find_first_not_of(" \t\n"));
        if (starts(t, "select") || starts(t, "show") || starts(t, "\\l") || starts(t, "\\d") || starts(t, "explain") ||
            starts(t, "describe") || starts(t, "\\conninfo") || starts(t, ".tables") || starts(t, ".schema")) {
            if (!has_word(";") || std::count(t.begin(), t.end(), ';') <= 1) return;
        }
        say(Risk::ChangesSystem, name + " runs SQL that may change data");
    }
};

} // namespace

Assessment classify(const Script& script) {
    Classifier c;
    c.script(script);
    return c.result;
}

Assessment classify_source(std::string_view source, const Options& options) {
    ParseResult r = parse(source, options);
    if (!r.ok()) {
        Assessment a;
        a.risk = Risk::Unknown;
        a.reasons.push_back({Risk::Unknown, "", r.error->offset, "does not parse: " + r.error->message});
        return a;
    }
    return classify(*r.script);
}

} // namespace sigmaops::shell
