// context.cpp - the target context (issue 17 item 4): OS, login shell, init system, package
// managers and which programs exist, read with one read-only POSIX sh probe (locally or over
// SSH) and cached in history's host_facts table under a key of its own (no schema change).
#include <commands/commands.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <set>
#include <sys/wait.h>

namespace sigmaops::commands {

namespace {

using nlohmann::json;

std::string quote(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

// Shell builtins and keywords: always there in the shell that runs the command (bash), so not
// probed (dash's `command -v` would not know bash's own, e.g. `shopt`).
bool builtin(const std::string& p) {
    static const std::set<std::string> k = {
        ".", ":", "[", "[[", "]]", "alias", "bg", "bind", "break", "builtin", "caller", "case", "cd", "command",
        "compgen", "complete", "compopt", "continue", "coproc", "declare", "dirs", "disown", "do", "done", "echo",
        "elif", "else", "enable", "esac", "eval", "exec", "exit", "export", "false", "fc", "fg", "fi", "for",
        "function", "getopts", "hash", "help", "history", "if", "in", "jobs", "kill", "let", "local", "logout",
        "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "select", "set",
        "shift", "shopt", "source", "suspend", "test", "then", "time", "times", "trap", "true", "type", "typeset",
        "ulimit", "umask", "unalias", "unset", "until", "wait", "while", "{", "}", "!"};
    return k.count(p) != 0;
}

// A name worth asking `command -v` about: a plain program name or path, no expansions.
bool probeable(const std::string& p) {
    if (p.empty() || p.size() > 255 || builtin(p)) return false;
    for (unsigned char c : p)
        if (!(std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '+' || c == '/' || c == '@' || c == ':'))
            return false;
    return true;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string unquote_os_value(std::string v) {
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        out += v[i];
    }
    return out;
}

bool printable_line(std::string_view s) {
    return std::none_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

json to_json(const TargetContext& c) {
    return {{"host", c.host},         {"probed_ms", c.probed_ms},   {"os_id", c.os_id},
            {"os_version_id", c.os_version_id}, {"os_pretty", c.os_pretty}, {"shell", c.shell},
            {"init", c.init},         {"package_managers", c.package_managers},
            {"programs", c.programs}, {"notes", c.notes},           {"kind", "commands.context/1"}};
}

std::optional<TargetContext> from_json(std::string_view text) {
    try {
        json j = json::parse(text);
        if (j.value("kind", "") != "commands.context/1") return std::nullopt;
        TargetContext c;
        c.host = j.at("host").get<std::string>();
        c.probed_ms = j.at("probed_ms").get<std::int64_t>();
        c.os_id = j.at("os_id").get<std::string>();
        c.os_version_id = j.at("os_version_id").get<std::string>();
        c.os_pretty = j.at("os_pretty").get<std::string>();
        c.shell = j.at("shell").get<std::string>();
        c.init = j.at("init").get<std::string>();
        c.package_managers = j.at("package_managers").get<std::vector<std::string>>();
        c.programs = j.at("programs").get<std::map<std::string, bool>>();
        c.notes = j.at("notes").get<std::vector<std::string>>();
        return c;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

} // namespace

std::optional<bool> TargetContext::has_program(const std::string& program) const {
    if (builtin(program)) return true;
    auto it = programs.find(program);
    if (it == programs.end()) return std::nullopt;
    return it->second;
}

std::string context_script(const std::vector<std::string>& programs, bool base) {
    std::string s;
    if (base) {
        s += "echo @@os; cat /etc/os-release 2>/dev/null\n";
        s += "echo @@shell; getent passwd \"$(id -un 2>/dev/null)\" 2>/dev/null | cut -d: -f7; "
             "echo \"env ${SHELL:-}\"\n";
        s += "echo @@init; if [ -d /run/systemd/system ]; then echo systemd; "
             "else cat /proc/1/comm 2>/dev/null || ps -p 1 -o comm= 2>/dev/null; fi\n";
        s += "echo @@pkg; for p in apt dnf yum apk pacman zypper; do command -v \"$p\" >/dev/null 2>&1 && echo \"$p\"; done\n";
    }
    s += "echo @@programs\n";
    std::set<std::string> seen;
    std::string names;
    for (const std::string& p : programs)
        if (probeable(p) && seen.insert(p).second) names += " " + quote(p);
    if (!names.empty())
        s += "for p in" + names + "; do if command -v \"$p\" >/dev/null 2>&1; then echo \"1 $p\"; else echo \"0 $p\"; fi; done\n";
    s += "echo @@end\n";
    return s;
}

TargetContext parse_context(std::string_view output) {
    TargetContext c;
    std::string section;
    std::set<std::string> sections;
    std::string login_shell, env_shell;
    size_t pos = 0, garbled = 0;
    while (pos <= output.size()) {
        size_t nl = output.find('\n', pos);
        if (nl == std::string_view::npos) nl = output.size();
        std::string_view line = output.substr(pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        if (line.substr(0, 2) == "@@") {
            section = std::string(line.substr(2));
            sections.insert(section);
            continue;
        }
        if (!printable_line(line) || line.size() > 4096) {
            ++garbled;
            continue;
        }
        const std::string l(line);
        if (section == "os") {
            const size_t eq = l.find('=');
            if (eq == std::string::npos) continue;
            const std::string k = l.substr(0, eq), v = unquote_os_value(l.substr(eq + 1));
            if (k == "ID") c.os_id = v;
            else if (k == "VERSION_ID") c.os_version_id = v;
            else if (k == "PRETTY_NAME") c.os_pretty = v;
        } else if (section == "shell") {
            if (l.rfind("env ", 0) == 0 || l == "env") env_shell = l.size() > 4 ? l.substr(4) : "";
            else if (login_shell.empty() && l.front() == '/') login_shell = l;
        } else if (section == "init") {
            if (c.init.empty()) c.init = l;
        } else if (section == "pkg") {
            static const std::set<std::string> known = {"apt", "dnf", "yum", "apk", "pacman", "zypper"};
            if (known.count(l)) c.package_managers.push_back(l);
            else ++garbled;
        } else if (section == "programs") {
            if (l.size() > 2 && (l[0] == '0' || l[0] == '1') && l[1] == ' ') c.programs[l.substr(2)] = l[0] == '1';
            else ++garbled;
        } else {
            ++garbled;
        }
    }
    c.shell = !login_shell.empty() ? login_shell : env_shell;
    if (sections.count("os") && c.os_id.empty()) c.notes.push_back("no /etc/os-release ID");
    if (sections.count("shell") && c.shell.empty()) c.notes.push_back("login shell unknown");
    if (sections.count("init") && c.init.empty()) c.notes.push_back("init system unknown");
    if (!sections.count("end")) c.notes.push_back("the probe's output ended early");
    if (garbled) c.notes.push_back(std::to_string(garbled) + " line(s) of the probe's output not understood");
    return c;
}

std::string context_cache_key(const std::string& host) {
    return "commands.context@" + (host.empty() ? "local:" + local_host_name() : host);
}

ProbeExec local_probe() {
    return [](const std::string& script) -> Expected<std::string> {
        FILE* f = ::popen(("sh -c " + quote(script) + " </dev/null 2>/dev/null").c_str(), "r");
        if (!f) return sigmaops::unexpected(ErrorCode::Io, "cannot start the target probe");
        std::string out;
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
            if (out.size() < (1u << 20)) out.append(buf, n);
        ::pclose(f);
        return out;
    };
}

ProbeExec ssh_probe(remote::SshSession& session) {
    return [&session](const std::string& script) -> Expected<std::string> {
        remote::ExecOptions eo;
        eo.timeout = std::chrono::seconds(20);
        eo.max_output_bytes = 1u << 20;
        auto r = session.exec("sh -c " + quote(script), eo);
        if (!r) return sigmaops::unexpected(r.error());
        if (r->timed_out) return sigmaops::unexpected(ErrorCode::Network, "probing the target timed out");
        if (r->cancelled) return sigmaops::unexpected(ErrorCode::Cancelled, "probing the target was cancelled");
        return r->out;
    };
}

knowledge::DocProvider ssh_docs(remote::SshSession& session) {
    auto failed = std::make_shared<bool>(false);
    return [&session, failed](const std::string& program) -> std::optional<std::string> {
        const std::string cmd = knowledge::doc_command(program);
        if (cmd.empty() || *failed) return std::nullopt;
        remote::ExecOptions eo;
        eo.timeout = std::chrono::seconds(10);
        eo.max_output_bytes = 4u << 20;
        auto r = session.exec(cmd, eo);
        if (!r) {
            *failed = true;   // the transport is gone: don't try once per program
            return std::nullopt;
        }
        if (!r->ok() || r->out.empty()) return std::nullopt;
        return std::move(r->out);
    };
}

Expected<TargetContext> target_context(const ProbeExec& exec, history::History* history, const std::string& host,
                                       const std::vector<std::string>& programs, const ContextOptions& options) {
    const std::string key = context_cache_key(host);
    std::optional<TargetContext> cached;
    if (history && !options.refresh) {
        if (auto rec = history->host_facts(key)) {
            const std::int64_t age = now_ms() - rec->collected_ms;
            if (age >= 0 && age < std::chrono::duration_cast<std::chrono::milliseconds>(options.ttl).count())
                cached = from_json(rec->facts_json);   // unreadable: probed again and replaced
        }
    }
    std::vector<std::string> unknown;
    for (const std::string& p : programs)
        if (probeable(p) && (!cached || !cached->programs.count(p))) unknown.push_back(p);
    if (cached && unknown.empty()) {
        cached->from_cache = true;
        cached->host = host;
        return *cached;
    }
    auto out = exec(context_script(unknown, !cached));
    if (!out) return sigmaops::unexpected(out.error());
    TargetContext fresh = parse_context(*out);
    TargetContext c;
    if (cached) {
        c = std::move(*cached);
        c.from_cache = true;
        for (auto& [k, v] : fresh.programs) c.programs[k] = v;
        for (auto& n : fresh.notes) c.notes.push_back(n);
    } else {
        c = std::move(fresh);
        c.probed_ms = now_ms();
    }
    c.host = host;
    if (c.programs.size() > 2000) c.programs.clear();   // bounded cache
    if (history) {
        TargetContext stored = c;
        stored.notes.clear();
        if (auto st = history->set_host_facts(key, to_json(stored).dump(-1, ' ', false, json::error_handler_t::replace)); !st)
            return sigmaops::unexpected(st.error());
    }
    return c;
}

std::vector<std::string> missing_programs(const shell::Assessment& assessment, const TargetContext& ctx) {
    std::vector<std::string> out;
    for (const std::string& p : assessment.programs) {
        auto has = ctx.has_program(p);
        if (has && !*has && std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
    return out;
}

std::vector<std::string> programs_of(const Proposals& all) {
    std::vector<std::string> out;
    for (const Candidate& k : all.candidates)
        for (const std::string& p : k.proposal.assessment.programs)
            if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    return out;
}

void mark_missing_programs(Proposals& all, const TargetContext& ctx) {
    for (Candidate& k : all.candidates) k.missing_programs = missing_programs(k.proposal.assessment, ctx);
    std::stable_partition(all.candidates.begin(), all.candidates.end(),
                          [](const Candidate& k) { return k.missing_programs.empty(); });
}

} // namespace sigmaops::commands
