// cmd_tune.cpp - `sigmaops tune postgres --facts version=16,type=web,ram=8GB,cpus=4,connections=100,disk=ssd
// [--json]`: PostgreSQL settings for a machine described by its facts, with no host (issue 18),
// as PGTune computes them (agents/config). Output: one `name = value` line per setting PGTune
// prints, each with its source; --json prints
//   {"pgtune":"le0pard/pgtune@<commit>","facts":{..},"settings":{"shared_buffers":"2GB",..},
//    "sources":{"shared_buffers":"le0pard/pgtune@7caef27 src/... selectSharedBuffers",..},"warnings":[..]}
// A bad fact is a usage error (exit 2) that names the key and what it accepts.
#include "commands.h"
#include "tune_host.h"

#include <config/config.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <cstdlib>
#include <set>

namespace sigmaops::cli {

namespace {

constexpr const char* k_facts_help =
    "version=10..18, type=web|oltp|dw|desktop|mixed, ram=N{MB|GB|TB}, cpus=N (optional), "
    "connections=N (optional: the type's default), disk=ssd|hdd|san (default ssd)";

[[noreturn]] void bad_fact(const std::string& key, const std::string& accepts, const std::string& got) {
    throw UsageError("--facts: " + key + " must be " + accepts + ", not '" + got + "'");
}

// A whole decimal number of at most 6 digits (PGTune's form takes up to 999999); -1 when not.
long long whole_number(const std::string& s) {
    if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](unsigned char ch) { return std::isdigit(ch); }))
        return -1;
    return std::stoll(s);
}

// "8GB" -> kB. PGTune's memory input is a whole number of MB, GB or TB.
std::uint64_t parse_ram_kb(const std::string& s) {
    const std::string accepts = "a whole number with a unit MB, GB or TB, at least 512MB (e.g. ram=8GB)";
    size_t n_digits = 0;
    while (n_digits < s.size() && std::isdigit(static_cast<unsigned char>(s[n_digits]))) ++n_digits;
    const long long n = whole_number(s.substr(0, n_digits));
    std::string unit = s.substr(n_digits);
    std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char ch) { return std::toupper(ch); });
    const std::uint64_t kb_per_unit = unit == "MB" ? 1024ULL : unit == "GB" ? 1024ULL * 1024 : unit == "TB" ? 1024ULL * 1024 * 1024 : 0;
    if (n < 0 || kb_per_unit == 0) bad_fact("ram", accepts, s);
    const std::uint64_t kb = static_cast<std::uint64_t>(n) * kb_per_unit;
    if (kb < 512 * 1024) bad_fact("ram", accepts, s);
    return kb;
}

config::PgFacts parse_facts(const std::string& text) {
    config::PgFacts f;
    std::set<std::string> seen;
    size_t pos = 0;
    while (pos <= text.size()) {
        const size_t comma = std::min(text.find(',', pos), text.size());
        const std::string item = text.substr(pos, comma - pos);
        pos = comma + 1;
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        if (eq == std::string::npos) throw UsageError("--facts: '" + item + "' is not KEY=VALUE; facts are " + k_facts_help);
        const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
        if (!seen.insert(key).second) throw UsageError("--facts: " + key + " is given twice");
        if (key == "version") {
            const long long v = whole_number(value);
            if (v < 10 || v > 18) bad_fact("version", "a PostgreSQL major version from 10 to 18", value);
            f.version = static_cast<int>(v);
        } else if (key == "type") {
            auto t = config::parse_db_type(value);
            if (!t) bad_fact("type", "one of web, oltp, dw, desktop, mixed", value);
            f.type = *t;
        } else if (key == "ram") {
            f.ram_kb = parse_ram_kb(value);
        } else if (key == "cpus") {
            const long long v = whole_number(value);
            if (v < 1) bad_fact("cpus", "a whole number from 1 to 999999", value);
            f.cpus = static_cast<int>(v);
        } else if (key == "connections") {
            const long long v = whole_number(value);
            if (v < 20) bad_fact("connections", "a whole number from 20 to 999999 (leave it out for the type's default)", value);
            f.connections = static_cast<int>(v);
        } else if (key == "disk") {
            auto d = config::parse_disk(value);
            if (!d) bad_fact("disk", "one of ssd, hdd, san", value);
            f.disk = *d;
        } else {
            throw UsageError("--facts: unknown key '" + key + "'; facts are " + k_facts_help);
        }
    }
    for (const char* required : {"version", "type", "ram"})
        if (!seen.count(required)) throw UsageError(std::string("--facts: ") + required + " is missing; facts are " + k_facts_help);
    return f;
}

int run_postgres(const Invocation& c) {
    c.args.at_most(0);
    if (!c.args.has("--facts")) throw UsageError("tune postgres needs --facts (a host comes later); facts are " + std::string(k_facts_help));
    const config::PgFacts f = parse_facts(c.args.get("--facts"));
    auto r = config::pgtune(f);
    if (!r) throw UsageError("--facts: " + r.error().message);

    const std::string pgtune = std::string(config::k_pgtune_repo) + "@" + std::string(config::k_pgtune_commit);
    const std::string connections = f.connections ? std::to_string(f.connections)
                                                  : std::to_string(config::pgtune_default_connections(f.type)) + " (default)";
    if (c.args.has("--json")) {
        nlohmann::ordered_json j;
        j["pgtune"] = pgtune;
        j["facts"] = {{"version", f.version}, {"type", std::string(config::db_type_name(f.type))},
                      {"ram", config::pgtune_format_kb(f.ram_kb)}, {"cpus", f.cpus ? nlohmann::ordered_json(f.cpus) : nullptr},
                      {"connections", f.connections ? nlohmann::ordered_json(f.connections) : nullptr},
                      {"disk", std::string(config::disk_name(f.disk))}};
        nlohmann::ordered_json settings = nlohmann::ordered_json::object(), sources = nlohmann::ordered_json::object();
        for (const config::PgSetting& s : r->settings) {
            settings[s.name] = s.value;
            sources[s.name] = s.source;
        }
        j["settings"] = std::move(settings);
        j["sources"] = std::move(sources);
        j["warnings"] = r->warnings;
        c.io.out << j.dump(2) << "\n";
        return k_exit_ok;
    }
    c.io.out << "# PostgreSQL " << f.version << ", " << config::db_type_name(f.type) << ", "
             << config::pgtune_format_kb(f.ram_kb) << " RAM, " << (f.cpus ? std::to_string(f.cpus) : "unknown") << " CPUs, "
             << connections << " connections, " << config::disk_name(f.disk) << " (OS linux)\n"
             << "# rules: PGTune, " << pgtune << " (" << config::k_pgtune_url << ")\n";
    for (const std::string& w : r->warnings) c.io.out << "#" << (w.empty() ? "" : " " + w) << "\n";
    size_t width = 0;
    for (const config::PgSetting& s : r->settings) width = std::max(width, s.name.size() + 3 + s.value.size());
    for (const config::PgSetting& s : r->settings) {
        const std::string line = s.name + " = " + s.value;
        c.io.out << line << std::string(width - line.size() + 2, ' ') << "# " << s.source << "\n";
    }
    return k_exit_ok;
}

// ----- tune sshd --file PATH -------------------------------------------------------------------------

// Config text is untrusted: control characters (escape sequences) are shown as ^X, never sent raw.
std::string safe(std::string_view s) {
    std::string r;
    for (char ch : s) {
        const unsigned char u = static_cast<unsigned char>(ch);
        if ((u < 0x20 && ch != '\n' && ch != '\t') || u == 0x7f) {
            r += '^';
            r += u == 0x7f ? '?' : static_cast<char>(u + 64);
        } else {
            r += ch;
        }
    }
    return r;
}

int run_sshd(const Invocation& c) {
    c.args.at_most(0);
    if (!c.args.has("--file")) throw UsageError("tune sshd needs --file PATH (an sshd_config to review)");
    config::SshdFacts facts;
    facts.login_method = c.args.get("--login-method", "publickey");
    if (facts.login_method != "publickey" && facts.login_method != "password" && facts.login_method != "keyboard-interactive")
        throw UsageError("--login-method must be publickey, password or keyboard-interactive, not '" + facts.login_method + "'");
    const char* user = std::getenv("SUDO_USER");
    if (!user || !*user) user = std::getenv("USER");
    facts.login_user = c.args.get("--login-user", user ? user : "");
    const std::string ver = c.args.get("--openssh", "9.2");
    const size_t dot = ver.find('.');
    if (dot == std::string::npos || whole_number(ver.substr(0, dot)) < 1 || whole_number(ver.substr(dot + 1)) < 0)
        throw UsageError("--openssh must be MAJOR.MINOR (e.g. 9.2), not '" + ver + "'");
    facts.openssh_major = static_cast<int>(whole_number(ver.substr(0, dot)));
    facts.openssh_minor = static_cast<int>(whole_number(ver.substr(dot + 1)));

    const std::string path = c.args.get("--file");
    config::LoadOptions opts;
    if (c.args.has("--include-root")) opts.include_root = c.args.get("--include-root");
    auto set = config::load(config::Format::Sshd, path, config::local_files(), opts);
    if (!set) {
        c.io.err << "sigmaops: " << safe(set.error().message) << "\n";
        return k_exit_failure;
    }
    const auto changes = config::sshd_hardening(*set, facts);
    auto plan = config::plan_changes(*set, changes);
    if (!plan) {
        c.io.err << "sigmaops: " << safe(plan.error().message) << "\n";
        return k_exit_failure;
    }
    // Each hunk's own diff (it alone applied), so the rule and source sit next to its lines.
    auto hunk_diff = [&](const config::Hunk& h) {
        auto one = config::apply_hunks(*set, {h});
        const config::Document& d = set->files[h.file];
        return one && !one->empty() ? config::unified_diff(d.path, d.text, one->front().second, 2) : std::string();
    };
    if (c.args.has("--json")) {
        nlohmann::ordered_json j;
        j["file"] = path;
        j["facts"] = {{"openssh", ver}, {"distro", facts.distro + " " + facts.distro_version},
                      {"login_method", facts.login_method}, {"login_user", facts.login_user}};
        j["files_read"] = nlohmann::ordered_json::array();
        for (const auto& d : set->files) j["files_read"].push_back(d.path);
        j["hunks"] = nlohmann::ordered_json::array();
        for (const config::Hunk& h : plan->hunks) {
            nlohmann::ordered_json o;
            o["id"] = h.id;
            o["rule"] = h.change.rule_id;
            o["key"] = h.change.key;
            o["value"] = h.change.value ? nlohmann::ordered_json(*h.change.value) : nullptr;
            auto eff = config::effective(*set, h.change.key, h.change.context);
            std::string cur;
            if (eff)
                for (const auto& a : eff->args) cur += (cur.empty() ? "" : " ") + a;
            o["current"] = eff ? nlohmann::ordered_json(cur) : nullptr;
            o["file"] = set->files[h.file].path;
            o["line"] = h.line;
            o["reason"] = h.change.reason;
            o["source"] = h.change.source;
            o["disagreement"] = h.change.disagreement;
            o["notes"] = h.notes;
            o["diff"] = hunk_diff(h);
            j["hunks"].push_back(std::move(o));
        }
        std::string all;
        if (auto files = config::apply_hunks(*set, plan->hunks))
            for (const auto& [fi, text] : *files) all += config::unified_diff(set->files[fi].path, set->files[fi].text, text);
        j["diff"] = all;
        j["notes"] = set->notes;
        c.io.out << j.dump(2) << "\n";
        return k_exit_ok;
    }
    c.io.out << "# review of " << safe(path) << " for OpenSSH " << ver << " on " << facts.distro << " " << facts.distro_version
             << "; you log in with " << facts.login_method << (facts.login_user.empty() ? "" : " as " + safe(facts.login_user))
             << " (kept)\n";
    if (plan->hunks.empty()) {
        c.io.out << "nothing to change: every hardening rule's value is already in effect\n";
        return k_exit_ok;
    }
    for (const config::Hunk& h : plan->hunks) {
        c.io.out << "\n## " << h.change.rule_id << ": " << h.change.key << " " << (h.change.value ? safe(*h.change.value) : "(default)")
                 << "\n# why: " << h.change.reason << "\n# source: " << h.change.source << "\n";
        if (!h.change.disagreement.empty()) c.io.out << "# sources differ: " << h.change.disagreement << "\n";
        for (const std::string& n : h.notes) c.io.out << "# note: " << safe(n) << "\n";
        c.io.out << safe(hunk_diff(h));
    }
    c.io.out << "\n" << plan->hunks.size() << " change(s) proposed; nothing was written (review only)\n";
    return k_exit_ok;
}

} // namespace

Command tune_command() {
    Command c;
    c.name = "tune";
    c.summary = "recommend service settings, each with its source";
    c.subcommands = {
        {"postgres", "PostgreSQL settings from a machine's facts, as PGTune computes them",
         "--facts version=V,type=T,ram=R[,cpus=N][,connections=N][,disk=D] [--json]",
         {{"--facts", "", "FACTS", "the machine, comma-separated KEY=VALUE: " + std::string(k_facts_help)},
          {"--json", "", "", "print one JSON object: facts, settings (name -> value as PGTune prints it), sources, warnings"}},
         "The rules are PGTune's (le0pard/pgtune) for a Linux host whose database is larger than RAM\n"
         "and smaller than disk (PGTune's defaults). Settings PGTune leaves at PostgreSQL's default\n"
         "are not printed.\n"
         "exit status: 0 ok, 2 usage error (a bad fact names the key and what it accepts)",
         run_postgres, {}},
        {"sshd", "review an sshd_config: hardening changes as a diff, each with its rule and source",
         "--file PATH [--login-method M] [--login-user U] [--openssh X.Y] [--include-root DIR] [--json]",
         {{"--file", "", "PATH", "the sshd_config to review (read only; its Include files are read too)"},
          {"--login-method", "", "M", "how you log in: publickey (default), password or keyboard-interactive; it is never turned off"},
          {"--login-user", "", "USER", "who logs in (default $SUDO_USER or $USER); root keeps key login"},
          {"--openssh", "", "X.Y", "the sshd version the rules are for (default 9.2, Debian 12)"},
          {"--include-root", "", "DIR", "where relative Include paths resolve (default /etc/ssh)"},
          {"--json", "", "", "print one JSON object: facts, files read, hunks (rule, key, value, current, file, line, reason, source, diff)"}},
         "Rules: the ssh-audit hardening guide for Debian 12 / OpenSSH 9.2, Mozilla's OpenSSH guideline and\n"
         "Lynis' SSH-7408 list; where they differ the hunk says which was followed. A value already in\n"
         "effect (sshd: the first one outside Match blocks) is never proposed again. Nothing is written.\n"
         "exit status: 0 ok, 1 the file (or an include) cannot be read or parsed (FILE:LINE: why), 2 usage error",
         run_sshd, {}},
    };
    c.notes = "exit status: 0 ok, 1 error, 2 usage error";
    add_host_mode(c);  // --host/--apply (cmd_change.cpp)
    return c;
}

} // namespace sigmaops::cli
