// remote/hosts.cpp - host profiles from ssh_config-syntax files: the app's hosts.conf (read first,
// the only one we write) and ~/.ssh/config. Supports Host blocks with patterns (* ? !neg) and the
// keys HostName (%h), User, Port, IdentityFile, ProxyJump; the first value found wins, IdentityFile
// accumulates, as in ssh_config(5). Match and Include blocks are skipped (libssh still sees the
// rest of ~/.ssh/config through ssh_options_parse_config when connecting).
#include "internal.h"

#include <fnmatch.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace sigmaops::remote {

std::string home_dir() {
    if (const char* h = std::getenv("HOME"); h && *h) return h;
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) return pw->pw_dir;
    return "/";
}

std::string xdg_config_dir() {
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/sigmaops";
    return home_dir() + "/.config/sigmaops";
}

std::string expand_tilde(const std::string& path) {
    if (path == "~") return home_dir();
    if (path.rfind("~/", 0) == 0) return home_dir() + path.substr(1);
    return path;
}

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'') q += "'\\''";
        else q += c;
    }
    return q + "'";
}

ConfigPaths ConfigPaths::resolved() const {
    ConfigPaths p = *this;
    if (p.ssh_config.empty()) p.ssh_config = home_dir() + "/.ssh/config";
    if (p.app_hosts.empty()) p.app_hosts = xdg_config_dir() + "/hosts.conf";
    if (p.known_hosts.empty()) p.known_hosts = home_dir() + "/.ssh/known_hosts";
    if (p.app_known_hosts.empty()) p.app_known_hosts = xdg_config_dir() + "/known_hosts";
    return p;
}

namespace {

struct Block {
    std::vector<std::string> patterns;  // {"*"} for the lines before the first Host
    bool skip = false;                  // a Match block: never applied here
    std::vector<std::pair<std::string, std::string>> entries;  // lower-case key, value
};

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::vector<std::string> split_ws(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string w;
    while (in >> w) {
        if (w.size() >= 2 && w.front() == '"' && w.back() == '"') w = w.substr(1, w.size() - 2);
        out.push_back(w);
    }
    return out;
}

// Splits "Key value", "Key=value", "Key = value"; false for blanks and comments.
bool split_line(const std::string& raw, std::string& key, std::string& value) {
    std::string line = raw;
    auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') return false;
    line = line.substr(b);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    auto e = line.find_first_of(" \t=");
    if (e == std::string::npos) { key = lower(line); value.clear(); return true; }
    key = lower(line.substr(0, e));
    auto v = line.find_first_not_of(" \t=", e);
    value = v == std::string::npos ? "" : line.substr(v);
    // "Key value # comment": a '#' starting a word outside quotes ends the line, as in OpenSSH.
    bool quoted = false;
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '"') quoted = !quoted;
        else if (value[i] == '#' && !quoted && (i == 0 || value[i - 1] == ' ' || value[i - 1] == '\t')) { value.erase(i); break; }
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return true;
}

std::vector<Block> parse_file(const std::string& path) {
    std::vector<Block> blocks;
    std::ifstream in(path);
    if (!in) return blocks;
    blocks.push_back(Block{{"*"}, false, {}});
    std::string line, key, value;
    while (std::getline(in, line)) {
        if (!split_line(line, key, value)) continue;
        if (key == "host") blocks.push_back(Block{split_ws(value), false, {}});
        else if (key == "match") blocks.push_back(Block{{}, true, {}});
        else blocks.back().entries.emplace_back(key, value);
    }
    return blocks;
}

// Host patterns match case-insensitively, as OpenSSH's (it lowercases the host name and the
// patterns before matching).
bool block_matches(const Block& b, const std::string& name) {
    if (b.skip) return false;
    bool any = false;
    for (const auto& p : b.patterns) {
        if (!p.empty() && p[0] == '!') {
            if (fnmatch(p.c_str() + 1, name.c_str(), FNM_CASEFOLD) == 0) return false;
        } else if (fnmatch(p.c_str(), name.c_str(), FNM_CASEFOLD) == 0) {
            any = true;
        }
    }
    return any;
}

bool is_concrete(const std::string& p) { return p.find_first_of("*?!") == std::string::npos; }

struct Partial {
    std::optional<std::string> hostname, user, proxy_jump;
    std::optional<int> port;
    std::vector<std::string> identities;
    std::string source;
};

void apply(const std::vector<Block>& blocks, const std::string& file, const std::string& name, Partial& p) {
    for (const auto& b : blocks) {
        if (!block_matches(b, name)) continue;
        bool concrete_hit = std::any_of(b.patterns.begin(), b.patterns.end(),
                                        [&](const std::string& s) { return lower(s) == name; });
        if (concrete_hit && p.source.empty()) p.source = file;
        for (const auto& [k, v] : b.entries) {
            if (k == "hostname" && !p.hostname) {
                std::string h = v;
                for (auto pos = h.find("%h"); pos != std::string::npos; pos = h.find("%h")) h.replace(pos, 2, name);
                p.hostname = h;
            } else if (k == "user" && !p.user) {
                p.user = v;
            } else if (k == "port" && !p.port) {
                try { p.port = std::stoi(v); } catch (...) {}
            } else if (k == "identityfile") {
                p.identities.push_back(expand_tilde(v));
            } else if (k == "proxyjump" && !p.proxy_jump) {
                p.proxy_jump = lower(v) == "none" ? "" : v;
            }
        }
    }
}

bool valid_token(const std::string& s) {
    return !s.empty() && s.find_first_of(" \t\r\n\"#") == std::string::npos;
}

}  // namespace

// The two host files may be missing, but a directory (or device) in their place is an error,
// not an empty list.
static Expected<void> check_host_files(const ConfigPaths& paths) {
    for (const std::string& f : {paths.app_hosts, paths.ssh_config}) {
        struct stat st{};
        if (::stat(f.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
            return sigmaops::unexpected(ErrorCode::BadFile, f + " is not a regular file (a directory?); expected an ssh_config-style host list");
    }
    return {};
}

Expected<std::vector<JumpHop>> parse_proxy_jump(const std::string& spec) {
    const std::string usage = "invalid ProxyJump '" + spec + "' (expected [user@]host[:port], hops separated by commas)";
    std::vector<JumpHop> hops;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = spec.find(',', start);
        std::string hop = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        JumpHop j;
        std::string port;
        if (auto at = hop.find('@'); at != std::string::npos) {
            j.user = hop.substr(0, at);
            hop = hop.substr(at + 1);
            if (!valid_token(j.user) || j.user.find('@') != std::string::npos) return sigmaops::unexpected(ErrorCode::InvalidArgument, usage);
        }
        if (!hop.empty() && hop.front() == '[') {  // [v6 address]:port
            const auto close = hop.find(']');
            if (close == std::string::npos)
                return sigmaops::unexpected(ErrorCode::InvalidArgument, "invalid ProxyJump '" + spec + "' (unclosed '[')");
            if (close + 1 < hop.size()) {
                if (hop[close + 1] != ':') return sigmaops::unexpected(ErrorCode::InvalidArgument, usage);
                port = hop.substr(close + 2);
                if (port.empty()) return sigmaops::unexpected(ErrorCode::InvalidArgument, usage);
            }
            j.host = hop.substr(1, close - 1);
        } else if (auto colon = hop.rfind(':'); colon != std::string::npos && hop.find(':') == colon) {
            port = hop.substr(colon + 1);
            j.host = hop.substr(0, colon);
            if (port.empty()) return sigmaops::unexpected(ErrorCode::InvalidArgument, usage);
        } else {
            j.host = hop;
        }
        if (!valid_token(j.host) || j.host.find_first_of("@[],") != std::string::npos)
            return sigmaops::unexpected(ErrorCode::InvalidArgument, usage);
        if (!port.empty()) {
            if (port.find_first_not_of("0123456789") != std::string::npos) return sigmaops::unexpected(ErrorCode::InvalidArgument, usage);
            const long n = port.size() <= 5 ? std::stol(port) : 0;
            if (n <= 0 || n > 65535)
                return sigmaops::unexpected(ErrorCode::InvalidArgument, "invalid ProxyJump port '" + port + "' in '" + spec + "'");
            j.port = static_cast<int>(n);
        }
        hops.push_back(j);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return hops;
}

Expected<HostProfile> resolve_host(const std::string& name, const ConfigPaths& paths_in) {
    if (!valid_token(name)) return sigmaops::unexpected(ErrorCode::InvalidArgument, "invalid host name '" + name + "'");
    ConfigPaths paths = paths_in.resolved();
    if (auto ok = check_host_files(paths); !ok) return sigmaops::unexpected(ok.error());
    // Matched, and substituted for %h, in lower case like OpenSSH ("ssh Web1" reads "Host web1").
    const std::string key = lower(name);
    Partial p;
    apply(parse_file(paths.app_hosts), paths.app_hosts, key, p);
    apply(parse_file(paths.ssh_config), paths.ssh_config, key, p);
    HostProfile h;
    h.name = name;
    h.hostname = p.hostname.value_or(key);
    h.user = p.user.value_or("");
    h.port = p.port.value_or(22);
    if (h.port <= 0 || h.port > 65535)
        return sigmaops::unexpected(ErrorCode::InvalidArgument, "host " + name + ": invalid Port " + std::to_string(h.port));
    h.identity_files = p.identities;
    h.proxy_jump = p.proxy_jump.value_or("");
    h.source = p.source;
    return h;
}

Expected<std::vector<HostProfile>> list_hosts(const ConfigPaths& paths_in) {
    ConfigPaths paths = paths_in.resolved();
    if (auto ok = check_host_files(paths); !ok) return sigmaops::unexpected(ok.error());
    std::vector<HostProfile> out;
    std::set<std::string> seen;
    for (const auto& file : {paths.app_hosts, paths.ssh_config}) {
        for (const auto& b : parse_file(file)) {
            if (b.skip) continue;
            for (const auto& pat : b.patterns) {
                if (!is_concrete(pat) || !seen.insert(pat).second) continue;
                auto h = resolve_host(pat, paths);
                if (!h) return sigmaops::unexpected(h.error());
                out.push_back(std::move(*h));
            }
        }
    }
    return out;
}

namespace {

Expected<void> write_atomically(const std::string& path, const std::string& content) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec) return sigmaops::unexpected(ErrorCode::Io, "cannot create " + fs::path(path).parent_path().string() + ": " + ec.message());
    chmod(fs::path(path).parent_path().c_str(), 0700);
    std::string tmp = path + ".tmp." + std::to_string(getpid());
    {
        std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
        o << content;
        o.flush();
        if (!o) { fs::remove(tmp, ec); return sigmaops::unexpected(ErrorCode::Io, "cannot write " + tmp); }
    }
    chmod(tmp.c_str(), 0600);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        fs::remove(tmp, ec);
        return sigmaops::unexpected(ErrorCode::Io, "cannot replace " + path + ": " + std::strerror(e));
    }
    return {};
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

Expected<void> add_host(const HostProfile& h, const ConfigPaths& paths_in) {
    ConfigPaths paths = paths_in.resolved();
    if (auto ok = check_host_files(paths); !ok) return sigmaops::unexpected(ok.error());
    if (!valid_token(h.name) || !is_concrete(h.name))
        return sigmaops::unexpected(ErrorCode::InvalidArgument, "invalid host name '" + h.name + "' (no spaces or wildcards)");
    if (!valid_token(h.hostname)) return sigmaops::unexpected(ErrorCode::InvalidArgument, "invalid --host '" + h.hostname + "'");
    if (!h.user.empty() && !valid_token(h.user)) return sigmaops::unexpected(ErrorCode::InvalidArgument, "invalid --user '" + h.user + "'");
    if (h.port <= 0 || h.port > 65535)
        return sigmaops::unexpected(ErrorCode::InvalidArgument, "invalid --port " + std::to_string(h.port) + " (1 to 65535)");
    for (const auto& f : h.identity_files)
        if (!valid_token(f)) return sigmaops::unexpected(ErrorCode::InvalidArgument, "invalid --identity '" + f + "'");
    if (!h.proxy_jump.empty()) {
        if (!valid_token(h.proxy_jump)) return sigmaops::unexpected(ErrorCode::InvalidArgument, "invalid --proxy-jump '" + h.proxy_jump + "'");
        if (auto hops = parse_proxy_jump(h.proxy_jump); !hops)
            return sigmaops::unexpected(ErrorCode::InvalidArgument, "--proxy-jump: " + hops.error().message);
    }
    for (const auto& b : parse_file(paths.app_hosts))
        if (std::find(b.patterns.begin(), b.patterns.end(), h.name) != b.patterns.end() && b.patterns.size() == 1 && !b.skip)
            return sigmaops::unexpected(ErrorCode::Generic, "host '" + h.name + "' already exists in " + paths.app_hosts);
    std::string block = "Host " + h.name + "\n    HostName " + h.hostname + "\n";
    if (!h.user.empty()) block += "    User " + h.user + "\n";
    if (h.port != 22) block += "    Port " + std::to_string(h.port) + "\n";
    for (const auto& f : h.identity_files) block += "    IdentityFile " + f + "\n";
    if (!h.proxy_jump.empty()) block += "    ProxyJump " + h.proxy_jump + "\n";
    std::string content = read_all(paths.app_hosts);
    // The first value found wins, so the new block goes before the first wildcard Host (or Match)
    // block; appended after "Host *" its values would never be used.
    std::size_t insert_at = std::string::npos;
    for (std::size_t pos = 0; pos < content.size() && insert_at == std::string::npos;) {
        std::size_t nl = content.find('\n', pos);
        std::size_t end = nl == std::string::npos ? content.size() : nl + 1;
        std::string key, value;
        if (split_line(content.substr(pos, end - pos), key, value)) {
            auto pats = split_ws(value);
            if (key == "match" || (key == "host" && !std::all_of(pats.begin(), pats.end(), is_concrete))) insert_at = pos;
        }
        pos = end;
    }
    if (insert_at != std::string::npos) {
        content.insert(insert_at, block + "\n");
    } else {
        if (!content.empty() && content.back() != '\n') content += '\n';
        if (!content.empty()) content += '\n';
        content += block;
    }
    return write_atomically(paths.app_hosts, content);
}

Expected<void> remove_host(const std::string& name, const ConfigPaths& paths_in) {
    ConfigPaths paths = paths_in.resolved();
    if (auto ok = check_host_files(paths); !ok) return sigmaops::unexpected(ok.error());
    std::ifstream in(paths.app_hosts);
    if (!in) return sigmaops::unexpected(ErrorCode::NotFound, "host '" + name + "' not found (" + paths.app_hosts + " does not exist)");
    std::string out, line, key, value;
    bool skipping = false, found = false;
    while (std::getline(in, line)) {
        if (split_line(line, key, value) && (key == "host" || key == "match")) {
            auto pats = split_ws(value);
            skipping = key == "host" && pats.size() == 1 && pats[0] == name;
            found = found || skipping;
        }
        if (!skipping) out += line + "\n";
    }
    if (!found)
        return sigmaops::unexpected(ErrorCode::NotFound, "host '" + name + "' not found in " + paths.app_hosts +
                                                          " (entries of ~/.ssh/config are never edited)");
    while (out.size() >= 2 && out.substr(out.size() - 2) == "\n\n") out.pop_back();
    return write_atomically(paths.app_hosts, out);
}

}  // namespace sigmaops::remote
