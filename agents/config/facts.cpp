// config/facts.cpp - a host's facts (issue 18 item 1), read-only, in one SSH command: a POSIX sh
// script prints labelled sections ("@@name"), parse_facts() reads them defensively (a missing
// tool, a garbled line or an unknown distro becomes a note, never a failure), and gather_facts()
// caches the result per host in history with its time.
#include "config/config.h"

#include <history/history.h>
#include <remote/remote.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>
#include <sstream>

namespace sigmaops::config {

namespace {

// The sysctls the rules read (network and VM), as /proc/sys paths with dots.
const char* const k_sysctls[] = {"net.core.somaxconn",         "net.core.netdev_max_backlog", "net.ipv4.tcp_max_syn_backlog",
                                 "net.ipv4.ip_local_port_range", "net.ipv4.tcp_fin_timeout",   "net.ipv4.tcp_tw_reuse",
                                 "fs.file-max",                 "vm.swappiness",               "vm.overcommit_memory",
                                 "vm.dirty_ratio",              "vm.dirty_background_ratio"};

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
}

std::vector<std::string> lines_of(std::string_view text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        std::string line(text.substr(pos, nl - pos));
        if (!line.empty() && line.back() == '\r') line.pop_back();
        out.push_back(std::move(line));
        pos = nl + 1;
    }
    return out;
}

std::vector<std::string> words(std::string_view s) {
    std::vector<std::string> out;
    std::istringstream in{std::string(s)};
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}

// A whole non-negative decimal number, or nullopt.
std::optional<std::uint64_t> number(std::string_view s) {
    std::string t = trim(s);
    if (t.empty() || t.size() > 19 || !std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); }))
        return std::nullopt;
    return std::stoull(t);
}

// os-release values may be quoted ("..." or '...'), with backslash escapes inside double quotes.
std::string unquote(std::string v) {
    v = trim(v);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
        const char q = v.front();
        std::string out;
        for (size_t i = 1; i + 1 < v.size(); ++i) {
            if (q == '"' && v[i] == '\\' && i + 2 < v.size()) ++i;
            out += v[i];
        }
        return out;
    }
    return v;
}

// The first token of `text` that starts with a digit and runs over digits, dots and letters
// after `marker` ("nginx/1.22.1" -> "1.22.1"); empty when absent.
std::string version_after(std::string_view text, std::string_view marker) {
    size_t at = text.find(marker);
    if (at == std::string_view::npos) return {};
    size_t b = at + marker.size();
    size_t e = b;
    while (e < text.size() && (std::isalnum(static_cast<unsigned char>(text[e])) || text[e] == '.')) ++e;
    if (e == b || !std::isdigit(static_cast<unsigned char>(text[b]))) return {};
    return std::string(text.substr(b, e - b));
}

} // namespace

bool HostFacts::any_rotational() const {
    return std::any_of(disks.begin(), disks.end(), [](const DiskInfo& d) { return d.rotational; });
}

std::string facts_command() {
    std::string s;
    s += "export LC_ALL=C PATH=\"$PATH:/usr/sbin:/sbin:/usr/local/sbin\"\n";
    s += "echo @@nproc; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null\n";
    s += "echo @@meminfo; grep -E '^(MemTotal|SwapTotal):' /proc/meminfo 2>/dev/null\n";
    s += "echo @@disks; for d in /sys/block/*; do [ -r \"$d/queue/rotational\" ] || continue; "
         "echo \"${d##*/} $(cat \"$d/queue/rotational\" 2>/dev/null) $(cat \"$d/size\" 2>/dev/null)\"; done\n";
    s += "echo @@kernel; uname -sr 2>/dev/null\n";
    s += "echo @@os-release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null\n";
    s += "echo @@sshd; sshd -V 2>&1 | head -n 2\n";  // OpenSSH >= 9: -V prints the version; older: usage + version
    s += "echo @@nginx; command -v nginx >/dev/null 2>&1 && nginx -v 2>&1 | head -n 1\n";
    s += "echo @@postgres; for p in $(command -v postgres 2>/dev/null) /usr/lib/postgresql/*/bin/postgres; do "
         "[ -x \"$p\" ] && \"$p\" --version 2>/dev/null; done | sort -u -V | tail -n 1\n";
    s += "echo @@redis; command -v redis-server >/dev/null 2>&1 && redis-server --version 2>/dev/null | head -n 1\n";
    s += "echo @@ulimit; echo \"$(ulimit -Sn) $(ulimit -Hn)\"\n";
    s += "echo @@sysctl; for k in";
    for (const char* k : k_sysctls) s += std::string(" ") + k;
    s += "; do f=/proc/sys/$(echo \"$k\" | tr . /); [ -r \"$f\" ] && echo \"$k = $(tr '\\t' ' ' < \"$f\")\"; done\n";
    s += "echo @@ports; if command -v ss >/dev/null 2>&1; then ss -Hltn 2>/dev/null; "
         "else echo @proc; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; fi\n";
    s += "echo @@manager; if [ -d /run/systemd/system ]; then echo systemd; else echo none; fi\n";
    s += "echo @@end\n";
    return s;
}

HostFacts parse_facts(std::string_view output) {
    HostFacts f;
    std::map<std::string, std::vector<std::string>> sections;
    std::string current;
    for (std::string& line : lines_of(output)) {
        if (line.rfind("@@", 0) == 0) {
            current = trim(line.substr(2));
            sections[current];
            continue;
        }
        if (!current.empty()) sections[current].push_back(std::move(line));
    }
    auto section = [&](const char* name) -> const std::vector<std::string>* {
        auto it = sections.find(name);
        if (it == sections.end()) {
            f.notes.push_back(std::string("no '") + name + "' section in the facts output");
            return nullptr;
        }
        return &it->second;
    };
    if (!sections.count("end")) f.notes.push_back("the facts output was cut short (no end marker)");

    if (auto* s = section("nproc")) {
        auto n = s->empty() ? std::nullopt : number(s->front());
        if (n && *n > 0 && *n < 1u << 20) f.cpus = static_cast<int>(*n);
        else f.notes.push_back("CPU count not readable");
    }
    if (auto* s = section("meminfo")) {
        for (const std::string& l : *s) {
            auto w = words(l);
            if (w.size() >= 2 && w[0] == "MemTotal:")
                if (auto n = number(w[1])) f.mem_kb = *n;
        }
        if (!f.mem_kb) f.notes.push_back("memory size not readable (/proc/meminfo)");
    }
    if (auto* s = section("disks")) {
        for (const std::string& l : *s) {
            auto w = words(l);
            if (w.size() < 2) continue;
            // Loop, RAM and device-mapper devices are not disks the database sits on directly.
            if (w[0].rfind("loop", 0) == 0 || w[0].rfind("ram", 0) == 0 || w[0].rfind("zram", 0) == 0) continue;
            DiskInfo d;
            d.name = w[0];
            auto rot = number(w[1]);
            if (!rot || *rot > 1) {
                f.notes.push_back("disk " + w[0] + ": rotational flag '" + w[1] + "' not understood");
                continue;
            }
            d.rotational = *rot == 1;
            if (w.size() >= 3)
                if (auto sectors = number(w[2])) d.size_bytes = *sectors * 512;  // /sys/block/*/size counts 512-byte sectors
            f.disks.push_back(d);
        }
    }
    if (auto* s = section("kernel"); s && !s->empty()) f.kernel = trim(s->front());
    if (auto* s = section("os-release")) {
        for (const std::string& l : *s) {
            size_t eq = l.find('=');
            if (eq == std::string::npos) continue;
            std::string k = trim(l.substr(0, eq)), v = unquote(l.substr(eq + 1));
            if (k == "ID") f.os_id = v;
            else if (k == "VERSION_ID") f.os_version_id = v;
            else if (k == "PRETTY_NAME") f.os_pretty = v;
        }
        if (f.os_id.empty()) f.notes.push_back("distribution unknown (no ID in /etc/os-release)");
    }
    auto joined = [&](const char* name) {
        std::string all;
        if (auto it = sections.find(name); it != sections.end())
            for (const std::string& l : it->second) all += l + "\n";
        return all;
    };
    if (std::string v = version_after(joined("sshd"), "OpenSSH_"); !v.empty()) f.versions["openssh"] = v;
    if (std::string v = version_after(joined("nginx"), "nginx/"); !v.empty()) f.versions["nginx"] = v;
    if (std::string v = version_after(joined("postgres"), "(PostgreSQL) "); !v.empty()) f.versions["postgresql"] = v;
    if (std::string v = version_after(joined("redis"), "v="); !v.empty()) f.versions["redis"] = v;
    if (auto* s = section("ulimit"); s && !s->empty()) {
        auto w = words(s->front());
        auto limit = [](const std::string& t) -> std::uint64_t {
            if (t == "unlimited") return UINT64_MAX;
            return number(t).value_or(0);
        };
        if (w.size() >= 1) f.nofile_soft = limit(w[0]);
        if (w.size() >= 2) f.nofile_hard = limit(w[1]);
    }
    if (auto* s = section("sysctl")) {
        for (const std::string& l : *s) {
            size_t eq = l.find(" = ");
            if (eq == std::string::npos) continue;
            std::string k = trim(l.substr(0, eq));
            if (std::find(std::begin(k_sysctls), std::end(k_sysctls), k) == std::end(k_sysctls)) continue;
            // Multi-value sysctls (ip_local_port_range) keep single spaces between values.
            f.sysctl[k] = [&] {
                auto w = words(l.substr(eq + 3));
                std::string v;
                for (const auto& x : w) v += (v.empty() ? "" : " ") + x;
                return v;
            }();
        }
    }
    if (auto* s = section("ports")) {
        std::set<int> ports;
        bool proc = !s->empty() && s->front() == "@proc";
        for (const std::string& l : *s) {
            auto w = words(l);
            if (proc) {
                // /proc/net/tcp: "sl local_address rem_address st ..."; st 0A = LISTEN; port in hex.
                if (w.size() < 4 || w[3] != "0A") continue;
                size_t colon = w[1].rfind(':');
                if (colon == std::string::npos) continue;
                try {
                    ports.insert(std::stoi(w[1].substr(colon + 1), nullptr, 16));
                } catch (...) {}
                continue;
            }
            // ss -Hltn: "LISTEN 0 128 0.0.0.0:22 0.0.0.0:*" (the State column may be absent).
            for (size_t i = 0; i < w.size(); ++i) {
                size_t colon = w[i].rfind(':');
                if (colon == std::string::npos || colon + 1 >= w[i].size() || w[i].back() == '*') continue;
                if (auto p = number(w[i].substr(colon + 1)); p && *p > 0 && *p < 65536) {
                    ports.insert(static_cast<int>(*p));
                    break;  // the first address:port column is the local one
                }
            }
        }
        f.listening_ports.assign(ports.begin(), ports.end());
    }
    if (auto* s = section("manager"); s && !s->empty()) {
        std::string m = trim(s->front());
        f.service_manager = m == "systemd" ? "systemd" : "none";
    } else {
        f.service_manager = "none";
    }
    return f;
}

std::string facts_json(const HostFacts& f) {
    nlohmann::ordered_json j;
    j["host"] = f.host;
    j["collected_ms"] = f.collected_ms;
    j["cpus"] = f.cpus;
    j["mem_kb"] = f.mem_kb;
    nlohmann::ordered_json disks = nlohmann::ordered_json::array();
    for (const DiskInfo& d : f.disks) disks.push_back({{"name", d.name}, {"rotational", d.rotational}, {"size_bytes", d.size_bytes}});
    j["disks"] = disks;
    j["kernel"] = f.kernel;
    j["os"] = {{"id", f.os_id}, {"version_id", f.os_version_id}, {"pretty_name", f.os_pretty}};
    j["versions"] = f.versions;
    j["nofile"] = {{"soft", f.nofile_soft}, {"hard", f.nofile_hard}};
    j["sysctl"] = f.sysctl;
    j["listening_ports"] = f.listening_ports;
    j["service_manager"] = f.service_manager;
    j["notes"] = f.notes;
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);  // host text may hold invalid UTF-8
}

Expected<HostFacts> facts_from_json(std::string_view text) {
    try {
        auto j = nlohmann::json::parse(text);
        HostFacts f;
        f.host = j.at("host").get<std::string>();
        f.collected_ms = j.at("collected_ms").get<std::int64_t>();
        f.cpus = j.at("cpus").get<int>();
        f.mem_kb = j.at("mem_kb").get<std::uint64_t>();
        for (const auto& d : j.at("disks"))
            f.disks.push_back(DiskInfo{d.at("name").get<std::string>(), d.at("rotational").get<bool>(), d.at("size_bytes").get<std::uint64_t>()});
        f.kernel = j.at("kernel").get<std::string>();
        f.os_id = j.at("os").at("id").get<std::string>();
        f.os_version_id = j.at("os").at("version_id").get<std::string>();
        f.os_pretty = j.at("os").at("pretty_name").get<std::string>();
        f.versions = j.at("versions").get<std::map<std::string, std::string>>();
        f.nofile_soft = j.at("nofile").at("soft").get<std::uint64_t>();
        f.nofile_hard = j.at("nofile").at("hard").get<std::uint64_t>();
        f.sysctl = j.at("sysctl").get<std::map<std::string, std::string>>();
        f.listening_ports = j.at("listening_ports").get<std::vector<int>>();
        f.service_manager = j.at("service_manager").get<std::string>();
        f.notes = j.at("notes").get<std::vector<std::string>>();
        return f;
    } catch (const std::exception& e) {
        return unexpected(ErrorCode::BadFile, std::string("stored host facts are not readable: ") + e.what());
    }
}

Expected<HostFacts> gather_facts(remote::SshSession& session, history::History* history, const std::string& host,
                                 const FactsOptions& options) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
    if (history && !options.refresh) {
        if (auto cached = history->host_facts(host)) {
            const std::int64_t age_ms = now - cached->collected_ms;
            if (age_ms >= 0 && age_ms < std::chrono::duration_cast<std::chrono::milliseconds>(options.ttl).count()) {
                if (auto f = facts_from_json(cached->facts_json)) {
                    f->from_cache = true;
                    f->collected_ms = cached->collected_ms;
                    return f;
                }
                // A record this build cannot read is collected again and replaced.
            }
        }
    }
    remote::ExecOptions eo;
    eo.timeout = options.timeout;
    eo.cancel = options.cancel;
    eo.max_output_bytes = 1u << 20;
    auto r = session.exec("sh -c " + shell_quote(facts_command()), eo);
    if (!r) return unexpected(r.error());
    if (r->cancelled) return unexpected(ErrorCode::Cancelled, "collecting host facts was cancelled");
    if (r->timed_out) return unexpected(ErrorCode::Network, "collecting host facts on " + host + " timed out");
    HostFacts f = parse_facts(r->out);
    f.host = host;
    f.collected_ms = now;
    if (history) {
        if (auto st = history->set_host_facts(host, facts_json(f)); !st) return unexpected(st.error());
        if (auto stored = history->host_facts(host)) f.collected_ms = stored->collected_ms;  // the record's own time
    }
    return f;
}

std::string shell_quote(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

} // namespace sigmaops::config
