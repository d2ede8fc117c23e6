// payload.cpp - the commands a wrapper runs: sudo, env, nice, timeout, xargs, find -exec,
// sh -c, eval, ... peeled off a simple command so that the classifier sees the real program.
//
// Each wrapper's options are listed with whether they take a value, from its man page (sudo 1.9,
// GNU coreutils 9.1, findutils 4.9, util-linux 2.38, procps 4.0); an option not listed is taken
// as a switch. A payload whose words are computed (`sh -c "$x"`) is marked opaque, never guessed.
#include <shell/shell.h>

#include <cstring>
#include <set>

namespace sigmaops::shell {

namespace {

constexpr int k_max_unwrap = 16;   // sudo sudo sudo ...: deeper nesting is left as it is

bool in(const char* const* list, std::string_view s) {
    for (; *list; ++list) if (s == *list) return true;
    return false;
}

std::optional<std::string> lit(const Payload& p, size_t i) {
    if (i >= p.words.size()) return std::nullopt;
    return p.words[i].literal();
}

Payload rest(const Payload& p, size_t i, const std::string& wrapper) {
    Payload q;
    q.words.assign(p.words.begin() + long(std::min(i, p.words.size())), p.words.end());
    q.wrappers = p.wrappers;
    q.wrappers.push_back(wrapper);
    q.begin = q.words.empty() ? p.begin : q.words[0].begin;
    return q;
}

// Skips options: `with_value` take the next word (or an attached value: -uroot, --user=root).
// Returns the index of the first operand; stops at `--`.
size_t skip_options(const Payload& p, size_t i, const char* const* with_value, bool stop_at_assign = false) {
    while (i < p.words.size()) {
        std::optional<std::string> a = lit(p, i);
        if (!a) return i;
        if (*a == "--") return i + 1;
        if (a->size() < 2 || (*a)[0] != '-') {
            if (stop_at_assign) return i;
            return i;
        }
        if (a->rfind("--", 0) == 0) {
            if (a->find('=') == std::string::npos && in(with_value, *a)) i += 2;
            else ++i;
            continue;
        }
        // -abc: a value option among the letters takes the rest or the next word
        bool took = false;
        for (size_t k = 1; k < a->size(); ++k) {
            std::string opt = std::string("-") + (*a)[k];
            if (in(with_value, opt)) {
                i += (k + 1 == a->size()) ? 2 : 1;
                took = true;
                break;
            }
        }
        if (!took) ++i;
    }
    return i;
}

bool is_assignment(const std::string& s) {
    size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0) return false;
    for (size_t i = 0; i < eq; ++i) {
        char c = s[i];
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    }
    return !std::isdigit(static_cast<unsigned char>(s[0]));
}

// A shell command string (sh -c STRING, eval, su -c, watch): parsed as a script of its own.
Payload script_payload(const Payload& p, const Word& w, const std::string& text, const std::string& wrapper) {
    Payload q;
    q.wrappers = p.wrappers;
    q.wrappers.push_back(wrapper);
    q.begin = w.begin;
    Offset base = w.begin + ((w.parts.size() == 1 && w.parts[0].kind != PartKind::Literal) ? 1 : 0);
    ParseResult r = parse_at(text, base);
    if (r.ok()) q.script = r.script;
    else q.script_error = r.error;
    return q;
}

Payload opaque_payload(const Payload& p, Offset at, const std::string& wrapper) {
    Payload q;
    q.wrappers = p.wrappers;
    q.wrappers.push_back(wrapper);
    q.begin = at;
    q.opaque = true;
    return q;
}

void unwrap(const Payload& p, std::vector<Payload>& out, int depth);

// The words from i joined by spaces as a command string (eval, watch, ssh): literal words only.
void joined_script(const Payload& p, size_t i, const std::string& wrapper, std::vector<Payload>& out, int depth) {
    if (i >= p.words.size()) { out.push_back(p); return; }
    std::string text;
    for (size_t k = i; k < p.words.size(); ++k) {
        std::optional<std::string> a = lit(p, k);
        if (!a) { out.push_back(opaque_payload(p, p.words[k].begin, wrapper)); return; }
        if (k > i) text += ' ';
        text += *a;
    }
    Payload q = script_payload(p, p.words[i], text, wrapper);
    (void)depth;
    out.push_back(std::move(q));
}

void unwrap(const Payload& p, std::vector<Payload>& out, int depth) {
    std::optional<std::string> w0 = lit(p, 0);
    if (!w0 || depth >= k_max_unwrap) { out.push_back(p); return; }
    const std::string name = program_name(*w0);
    const size_t n = p.words.size();

    if (name == "sudo" || name == "doas") {
        static const char* const v[] = {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "-R", "--user", "--group",
                                        "--prompt", "--close-from", "--chdir", "--host", "--role", "--type", "--other-user",
                                        "--command-timeout", "--chroot", nullptr};
        size_t i = skip_options(p, 1, v);
        while (i < n && lit(p, i) && is_assignment(*lit(p, i))) ++i;   // sudo VAR=value cmd
        for (size_t k = 1; k < i; ++k) {
            auto a = lit(p, k);
            if (a && (*a == "-e" || *a == "--edit" || *a == "-l" || *a == "--list" || *a == "-v" || *a == "-k" || *a == "-K")) {
                out.push_back(p);
                return;
            }
        }
        if (i >= n) { out.push_back(p); return; }   // sudo -i / sudo -s: a root shell; sudo alone
        unwrap(rest(p, i, name), out, depth + 1);
        return;
    }
    if (name == "env") {
        static const char* const v[] = {"-u", "--unset", "-C", "--chdir", "-S", "--split-string", "-P", nullptr};
        // env -S 'cmd args': the string is split into words, like a small shell.
        for (size_t k = 1; k < n; ++k) {
            auto a = lit(p, k);
            if (!a) break;
            if ((*a == "-S" || *a == "--split-string") && k + 1 < n) {
                auto s = lit(p, k + 1);
                if (!s) { out.push_back(opaque_payload(p, p.words[k + 1].begin, name)); return; }
                out.push_back(script_payload(p, p.words[k + 1], *s, name));
                return;
            }
            if (a->size() < 2 || (*a)[0] != '-') break;
        }
        size_t i = skip_options(p, 1, v);
        while (i < n && lit(p, i) && is_assignment(*lit(p, i))) ++i;
        if (i >= n) { out.push_back(p); return; }   // env alone prints the environment
        unwrap(rest(p, i, name), out, depth + 1);
        return;
    }
    static const char* const nice_v[] = {"-n", "--adjustment", nullptr};
    static const char* const ionice_v[] = {"-c", "--class", "-n", "--classdata", nullptr};
    static const char* const none_v[] = {nullptr};
    static const char* const timeout_v[] = {"-s", "--signal", "-k", "--kill-after", nullptr};
    static const char* const stdbuf_v[] = {"-i", "-o", "-e", "--input", "--output", "--error", nullptr};
    static const char* const chroot_v[] = {"--userspec", "--groups", nullptr};
    static const char* const exec_v[] = {"-a", nullptr};
    static const char* const time_v[] = {"-o", "--output", "-f", "--format", nullptr};
    struct Simple { const char* name; const char* const* values; int operands; };   // operands before the command
    static const Simple simple[] = {
        {"nice", nice_v, 0}, {"ionice", ionice_v, 0}, {"nohup", none_v, 0}, {"timeout", timeout_v, 1},
        {"stdbuf", stdbuf_v, 0}, {"setsid", none_v, 0}, {"chroot", chroot_v, 1}, {"command", none_v, 0},
        {"builtin", none_v, 0}, {"exec", exec_v, 0}, {"time", time_v, 0}, {"unbuffer", none_v, 0},
        {"caffeinate", none_v, 0}, {"systemd-run", none_v, 0}, {"torsocks", none_v, 0}, {"proxychains", none_v, 0},
        {"proxychains4", none_v, 0}, {"catchsegv", none_v, 0}, {"chrt", none_v, 1}, {"taskset", none_v, 1},
        {"runuser", none_v, 0},
    };
    for (const Simple& s : simple) {
        if (name != s.name) continue;
        if (name == "command") {
            auto a = lit(p, 1);
            if (a && (*a == "-v" || *a == "-V")) { out.push_back(p); return; }   // a lookup, runs nothing
        }
        // nice -5 cmd (an old form of -n 5)
        size_t i = 1;
        if (name == "nice" && i < n && lit(p, i) && lit(p, i)->size() > 1 && (*lit(p, i))[0] == '-' &&
            std::isdigit(static_cast<unsigned char>((*lit(p, i))[1])))
            ++i;
        i = skip_options(p, i, s.values);
        i += size_t(s.operands);
        if (i >= n) { out.push_back(p); return; }
        unwrap(rest(p, i, name), out, depth + 1);
        return;
    }
    if (name == "sshpass") {
        static const char* const v[] = {"-p", "-f", "-d", "-P", nullptr};
        size_t i = skip_options(p, 1, v);
        if (i >= n) { out.push_back(p); return; }
        unwrap(rest(p, i, name), out, depth + 1);
        return;
    }
    if (name == "flock") {
        static const char* const v[] = {"-w", "--timeout", "-E", "--conflict-exit-code", "-c", "--command", nullptr};
        for (size_t k = 1; k + 1 < n; ++k) {
            auto a = lit(p, k);
            if (a && (*a == "-c" || *a == "--command")) {
                auto s = lit(p, k + 1);
                if (!s) { out.push_back(opaque_payload(p, p.words[k + 1].begin, name)); return; }
                out.push_back(script_payload(p, p.words[k + 1], *s, name));
                return;
            }
        }
        size_t i = skip_options(p, 1, v) + 1;   // the lock file
        if (i >= n) { out.push_back(p); return; }
        unwrap(rest(p, i, name), out, depth + 1);
        return;
    }
    if (name == "xargs") {
        static const char* const v[] = {"-I", "-n", "-P", "-L", "-l", "-d", "-E", "-e", "-s", "-a", "--arg-file", "--delimiter",
                                        "--max-args", "--max-procs", "--max-lines", "--replace", "--eof", "--max-chars",
                                        "--process-slot-var", nullptr};
        size_t i = skip_options(p, 1, v);
        if (i >= n) { out.push_back(p); return; }   // xargs alone runs echo
        unwrap(rest(p, i, name), out, depth + 1);
        return;
    }
    if (name == "find") {
        out.push_back(p);   // find itself (-delete, -fprint)
        for (size_t k = 1; k < n; ++k) {
            auto a = lit(p, k);
            if (!a || !(*a == "-exec" || *a == "-execdir" || *a == "-ok" || *a == "-okdir")) continue;
            size_t e = k + 1;
            while (e < n) {
                auto t = lit(p, e);
                if (t && (*t == ";" || *t == "+")) break;
                ++e;
            }
            Payload q;
            q.words.assign(p.words.begin() + long(k + 1), p.words.begin() + long(e));
            q.wrappers = p.wrappers;
            q.wrappers.push_back("find " + *a);
            q.begin = q.words.empty() ? p.words[k].begin : q.words[0].begin;
            if (!q.words.empty()) unwrap(q, out, depth + 1);
            k = e;
        }
        return;
    }
    static const char* const shells[] = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "rbash", "fish", nullptr};
    if (in(shells, name)) {
        size_t i = 1;
        if (name == "busybox") {
            auto a = lit(p, 1);
            if (!a || !(*a == "sh" || *a == "ash")) {
                if (a && n > 1) unwrap(rest(p, 1, name), out, depth + 1);   // busybox rm -rf ...
                else out.push_back(p);
                return;
            }
            i = 2;
        }
        bool dash_c = false;
        for (; i < n; ++i) {
            auto a = lit(p, i);
            if (!a) break;
            if (*a == "--") { ++i; break; }
            if (a->size() < 2 || ((*a)[0] != '-' && (*a)[0] != '+')) break;
            if ((*a == "-o" || *a == "+o" || *a == "-O" || *a == "+O" || *a == "--rcfile" || *a == "--init-file") && i + 1 < n) { ++i; continue; }
            if ((*a)[0] == '-' && (*a)[1] != '-' && a->find('c') != std::string::npos) dash_c = true;
        }
        if (dash_c) {
            if (i >= n) { out.push_back(p); return; }
            auto s = lit(p, i);
            if (!s) { out.push_back(opaque_payload(p, p.words[i].begin, name + " -c")); return; }
            out.push_back(script_payload(p, p.words[i], *s, name + " -c"));
            return;
        }
        out.push_back(p);   // a script file, or commands from stdin
        return;
    }
    if (name == "su") {
        for (size_t k = 1; k < n; ++k) {
            auto a = lit(p, k);
            if (!a) continue;
            std::string cmd;
            bool found = false;
            if ((*a == "-c" || *a == "--command") && k + 1 < n) {
                auto s = lit(p, k + 1);
                if (!s) { out.push_back(opaque_payload(p, p.words[k + 1].begin, name)); return; }
                out.push_back(script_payload(p, p.words[k + 1], *s, name));
                return;
            }
            if (a->rfind("--command=", 0) == 0) { cmd = a->substr(10); found = true; }
            if (found) { out.push_back(script_payload(p, p.words[k], cmd, name)); return; }
        }
        out.push_back(p);   // a login shell
        return;
    }
    if (name == "eval") { joined_script(p, 1, name, out, depth); return; }
    if (name == "watch") {
        static const char* const v[] = {"-n", "--interval", "-d", nullptr};
        size_t i = skip_options(p, 1, v);
        bool exec_form = false;
        for (size_t k = 1; k < i; ++k) if (lit(p, k) && (*lit(p, k) == "-x" || *lit(p, k) == "--exec")) exec_form = true;
        if (i >= n) { out.push_back(p); return; }
        if (exec_form) { unwrap(rest(p, i, name), out, depth + 1); return; }
        joined_script(p, i, name, out, depth);
        return;
    }
    if (name == "ssh") {
        static const char* const v[] = {"-p", "-i", "-l", "-o", "-F", "-J", "-L", "-R", "-D", "-b", "-c", "-E", "-e", "-m",
                                        "-O", "-Q", "-S", "-W", "-w", "-B", "-I", nullptr};
        size_t i = skip_options(p, 1, v) + 1;   // the host
        if (i >= n) { out.push_back(p); return; }
        out.push_back(p);                        // ssh itself: reaches another host
        joined_script(p, i, name, out, depth);
        return;
    }
    out.push_back(p);
}

} // namespace

std::vector<Payload> payloads(const Command& simple) {
    Payload p;
    p.words = simple.words;
    p.begin = simple.words.empty() ? simple.begin : simple.words[0].begin;
    std::vector<Payload> out;
    if (simple.kind != Kind::Simple || simple.words.empty()) { out.push_back(std::move(p)); return out; }
    unwrap(p, out, 0);
    return out;
}

} // namespace sigmaops::shell
