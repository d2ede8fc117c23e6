// load.cpp - a config file and its includes as the service reads them (config.h: load,
// load_sysctl, load_unit), and the effective value of a setting with where it comes from.
// Files come through a FileSource, so the same code reads local files and (through
// agents/remote's SFTP) a host's. Includes are depth-limited and cycles fail naming the chain.
#include "config_internal.h"

#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>

namespace sigmaops::config {

std::string normalize_key(Format format, std::string_view key) {
    switch (format) {
    case Format::Sshd:
    case Format::Postgres:
    case Format::Redis: return lower_ascii(key);
    case Format::Sysctl: {
        std::string norm(key);
        const size_t sep = norm.find_first_of("./");
        if (sep != std::string::npos && norm[sep] == '/')
            for (char& c : norm) c = c == '/' ? '.' : c == '.' ? '/' : c;
        return norm;
    }
    case Format::Nginx:
    case Format::Systemd: return std::string(key);
    }
    return std::string(key);
}

std::string joined(const std::vector<std::string>& args) {
    std::string r;
    for (size_t i = 0; i < args.size(); ++i) r += (i ? " " : "") + args[i];
    return r;
}

FileSource local_files() {
    FileSource fs;
    fs.read = [](const std::string& path) -> Expected<std::string> {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            const int err = errno;
            if (err == ENOENT || err == ENOTDIR) return unexpected(ErrorCode::NotFound, path + ": no such file");
            return unexpected(ErrorCode::Io, path + ": " + std::strerror(err));
        }
        if (S_ISDIR(st.st_mode)) return unexpected(ErrorCode::BadFile, path + ": is a directory");
        std::ifstream in(path, std::ios::binary);
        if (!in) return unexpected(ErrorCode::Io, path + ": cannot open: " + std::strerror(errno));
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    };
    fs.glob = [](const std::string& pattern) -> Expected<std::vector<std::string>> {
        glob_t g{};
        const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
        std::vector<std::string> out;
        if (rc == 0)
            for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
        globfree(&g);
        if (rc != 0 && rc != GLOB_NOMATCH) return unexpected(ErrorCode::Io, pattern + ": glob failed");
        return out;
    };
    return fs;
}

namespace {

bool has_wildcard(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

std::string dir_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string join_path(const std::string& dir, const std::string& p) {
    if (!p.empty() && p[0] == '/') return p;
    if (dir.empty() || dir.back() == '/') return dir + p;
    return dir + "/" + p;
}

struct Loader {
    Format format;
    const FileSource& fs;
    const LoadOptions& opts;
    ConfigSet set;
    std::string main_dir;
    std::vector<std::string> chain;                          // the include chain being read
    std::map<std::string, std::map<std::string, int>> counts; // nginx: context -> block name -> seen

    Expected<size_t> read_file(const std::string& path, int line_for_error, const std::string& from) {
        if (set.files.size() >= opts.max_files)
            return unexpected(ErrorCode::BadFile, from + ":" + std::to_string(line_for_error) + ": more than " +
                                                      std::to_string(opts.max_files) + " files included");
        auto text = fs.read(path);
        if (!text) return unexpected(text.error());
        if (text->size() > opts.max_file_bytes)
            return unexpected(ErrorCode::BadFile, path + ": larger than " + std::to_string(opts.max_file_bytes) + " bytes");
        auto doc = parse(format, path, std::move(*text));
        if (!doc) return unexpected(doc.error());
        set.files.push_back(std::move(*doc));
        return set.files.size() - 1;
    }

    // The files an include item names, in the order the service reads them.
    Expected<std::vector<std::string>> resolve(const Document& d, const Item& it, bool& if_exists) {
        const std::string where = d.path + ":" + std::to_string(it.line);
        std::vector<std::string> out;
        if_exists = false;
        auto expand = [&](const std::string& pattern, bool must_exist) -> Expected<void> {
            if (has_wildcard(pattern)) {
                auto g = fs.glob(pattern);
                if (!g) return unexpected(g.error().code, where + ": " + g.error().message);
                out.insert(out.end(), g->begin(), g->end());
            } else {
                (void)must_exist;
                out.push_back(pattern);
            }
            return {};
        };
        switch (format) {
        case Format::Sshd: {
            const std::string root = opts.include_root.empty() ? "/etc/ssh" : opts.include_root;
            for (const auto& a : it.args) {
                // sshd: a pattern that matches nothing is fine; a plain name that is missing is skipped too.
                const std::string pat = join_path(root, a);
                auto g = fs.glob(pat);
                if (!g) return unexpected(g.error().code, where + ": " + g.error().message);
                out.insert(out.end(), g->begin(), g->end());
            }
            if_exists = true;
            break;
        }
        case Format::Nginx: {
            const std::string root = opts.include_root.empty() ? main_dir : opts.include_root;
            auto r = expand(join_path(root, it.args.at(0)), true);
            if (!r) return unexpected(r.error());
            break;
        }
        case Format::Redis: {
            const std::string root = opts.include_root.empty() ? main_dir : opts.include_root;
            auto r = expand(join_path(root, it.args.at(0)), true);
            if (!r) return unexpected(r.error());
            break;
        }
        case Format::Postgres: {
            const std::string dir = dir_of(d.path);
            const std::string target = join_path(dir, it.args.at(0));
            if (it.key_norm == "include_dir") {
                // ParseConfigDirectory: the dir's *.conf files (not hidden) in file-name order.
                auto g = fs.glob(join_path(target, "*.conf"));
                if (!g) return unexpected(g.error().code, where + ": " + g.error().message);
                out = *g;
                if_exists = true;
            } else {
                out.push_back(target);
                if_exists = it.key_norm == "include_if_exists";
            }
            break;
        }
        case Format::Sysctl:
        case Format::Systemd: break;
        }
        return out;
    }

    Expected<void> walk(size_t fi, std::string ctx, int depth) {
        // The items are read by index: set.files grows (and moves) while includes are read.
        for (size_t ii = 0; ii < set.files[fi].items.size(); ++ii) {
            const Item it = set.files[fi].items[ii];
            const ItemRef ref{fi, ii};
            switch (it.kind) {
            case ItemKind::Setting:
                set.order.push_back(ref);
                set.contexts.push_back(format == Format::Systemd ? it.context : ctx);
                break;
            case ItemKind::BlockOpen:
                if (format == Format::Sshd) {
                    ctx = "Match " + joined(it.args);
                } else {
                    const int n = counts[ctx][it.key]++;
                    ctx = (ctx.empty() ? "" : ctx + "/") + it.key + "[" + std::to_string(n) + "]";
                }
                set.blocks.push_back({ctx, ref});
                break;
            case ItemKind::BlockClose: {
                const size_t slash = ctx.rfind('/');
                ctx = slash == std::string::npos ? "" : ctx.substr(0, slash);
                break;
            }
            case ItemKind::Include: {
                bool if_exists = false;
                const Document& d = set.files[fi];
                auto targets = resolve(d, it, if_exists);
                if (!targets) return unexpected(targets.error());
                const std::string from = d.path;
                for (const std::string& path : *targets) {
                    if (std::find(chain.begin(), chain.end(), path) != chain.end()) {
                        std::string c;
                        for (const auto& p : chain) c += p + " -> ";
                        return unexpected(ErrorCode::BadFile, from + ":" + std::to_string(it.line) + ": include cycle: " + c + path);
                    }
                    if (depth + 1 > opts.max_depth)
                        return unexpected(ErrorCode::BadFile, from + ":" + std::to_string(it.line) + ": includes nested deeper than " +
                                                                  std::to_string(opts.max_depth));
                    auto child = read_file(path, it.line, from);
                    if (!child) {
                        if (child.error().code == ErrorCode::NotFound && if_exists) {
                            set.notes.push_back(from + ":" + std::to_string(it.line) + ": " + path + " does not exist (skipped, as " +
                                                std::string(format_name(format)) + " does)");
                            continue;
                        }
                        if (child.error().code == ErrorCode::NotFound)
                            return unexpected(ErrorCode::NotFound, from + ":" + std::to_string(it.line) + ": included file " + path + " does not exist");
                        return unexpected(child.error());
                    }
                    chain.push_back(path);
                    auto r = walk(*child, ctx, depth + 1);
                    chain.pop_back();
                    if (!r) return r;
                }
                break;
            }
            default: break;
            }
        }
        return {};
    }

    Expected<void> load_root(const std::string& path) {
        auto fi = read_file(path, 0, path);
        if (!fi) return unexpected(fi.error());
        chain.push_back(path);
        auto r = walk(*fi, "", 0);
        chain.pop_back();
        return r;
    }
};

} // namespace

Expected<ConfigSet> load(Format format, const std::string& path, const FileSource& fs, const LoadOptions& opts) {
    if (format == Format::Sysctl) {
        // One file alone (load_sysctl reads the whole set).
    }
    Loader l{format, fs, opts, {}, dir_of(path), {}, {}};
    l.set.format = format;
    auto r = l.load_root(path);
    if (!r) return unexpected(r.error());
    if (format == Format::Postgres && !opts.postgres_auto_conf.empty()) {
        auto fi = l.read_file(opts.postgres_auto_conf, 0, path);
        if (fi) {
            l.set.notes.push_back(opts.postgres_auto_conf + " (ALTER SYSTEM) is read after " + path + ": what it sets wins");
            auto w = l.walk(*fi, "", 0);
            if (!w) return unexpected(w.error());
        } else if (fi.error().code != ErrorCode::NotFound) {
            return unexpected(fi.error());
        }
    }
    return std::move(l.set);
}

namespace {

// Files named *.conf in `dirs` (each under `root`), a name in an earlier dir masking the same name
// in a later one, in lexicographic order of name: the rule of sysctl.d(5) and systemd.unit(5).
Expected<std::vector<std::string>> masked_conf_files(const FileSource& fs, const std::string& root,
                                                     const std::vector<std::string>& dirs) {
    std::map<std::string, std::string> by_name;
    for (const std::string& dir : dirs) {
        auto g = fs.glob(root + dir + "/*.conf");
        if (!g) return unexpected(g.error());
        for (const std::string& p : *g) by_name.emplace(base_of(p), p);
    }
    std::vector<std::string> out;
    for (const auto& [name, p] : by_name) out.push_back(p);
    return out;
}

} // namespace

Expected<ConfigSet> load_sysctl(const FileSource& fs, const std::string& root, const LoadOptions& opts) {
    Loader l{Format::Sysctl, fs, opts, {}, root + "/etc", {}, {}};
    l.set.format = Format::Sysctl;
    const std::vector<std::string> dirs = {"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"};
    auto files = masked_conf_files(fs, root, dirs);
    if (!files) return unexpected(files.error());
    l.set.notes.push_back("order of systemd-sysctl(8) (sysctl.d(5)): *.conf of /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, "
                          "/usr/lib/sysctl.d, /lib/sysctl.d by file name, a name in an earlier directory masking a later one; "
                          "the last assignment of a key wins");
    const std::string etc_conf = root + "/etc/sysctl.conf";
    auto etc_text = fs.read(etc_conf);
    bool etc_read = false;
    for (const std::string& p : *files) {
        auto text = fs.read(p);
        if (!text) return unexpected(text.error());
        // Debian: /etc/sysctl.d/99-sysctl.conf is a link to ../sysctl.conf; edit the real file.
        std::string path = p;
        if (base_of(p) == "99-sysctl.conf" && dir_of(p) == root + "/etc/sysctl.d" && etc_text && *etc_text == *text) {
            path = etc_conf;
            etc_read = true;
            l.set.notes.push_back(p + " is " + etc_conf + " (Debian's link): edits go to " + etc_conf);
        }
        auto fi = l.read_file(path, 0, path);
        if (!fi) return unexpected(fi.error());
        auto w = l.walk(*fi, "", 0);
        if (!w) return unexpected(w.error());
    }
    if (!etc_read && etc_text) {
        // procps `sysctl --system` reads /etc/sysctl.conf after the directories.
        l.set.notes.push_back(etc_conf + " is read last (procps sysctl --system); systemd-sysctl reads it only through a sysctl.d link");
        auto fi = l.read_file(etc_conf, 0, etc_conf);
        if (!fi) return unexpected(fi.error());
        auto w = l.walk(*fi, "", 0);
        if (!w) return unexpected(w.error());
    }
    if (l.set.files.empty()) return unexpected(ErrorCode::NotFound, "no sysctl configuration files under " + (root.empty() ? "/" : root));
    return std::move(l.set);
}

Expected<ConfigSet> load_unit(const std::string& unit_path, const FileSource& fs, std::vector<std::string> dropin_dirs,
                              const LoadOptions& opts) {
    if (dropin_dirs.empty()) dropin_dirs = {"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system"};
    Loader l{Format::Systemd, fs, opts, {}, dir_of(unit_path), {}, {}};
    l.set.format = Format::Systemd;
    auto r = l.load_root(unit_path);
    if (!r) return unexpected(r.error());
    const std::string unit = base_of(unit_path);
    std::vector<std::string> dirs;
    for (const auto& d : dropin_dirs) dirs.push_back(d + "/" + unit + ".d");
    auto files = masked_conf_files(fs, "", dirs);
    if (!files) return unexpected(files.error());
    l.set.notes.push_back("drop-ins of systemd.unit(5): " + unit + ".d/*.conf in each unit directory by file name, an earlier "
                          "directory masking a later one, read after the unit; the last assignment wins (an empty one resets a list)");
    for (const std::string& p : *files) {
        auto fi = l.read_file(p, 0, p);
        if (!fi) return unexpected(fi.error());
        auto w = l.walk(*fi, "", 0);
        if (!w) return unexpected(w.error());
    }
    return std::move(l.set);
}

std::optional<Effective> effective(const ConfigSet& set, std::string_view key, std::string_view context) {
    const std::string k = normalize_key(set.format, key);
    std::vector<size_t> hits;  // indices into set.order
    auto collect = [&](std::string_view ctx) {
        hits.clear();
        for (size_t i = 0; i < set.order.size(); ++i)
            if (set.at(set.order[i]).key_norm == k && set.contexts[i] == ctx) hits.push_back(i);
    };
    Effective e;
    e.key = k;
    size_t winner = 0;
    if (set.format == Format::Nginx) {
        // The context itself, else the nearest enclosing one (nginx's inheritance).
        std::string ctx(context);
        while (true) {
            collect(ctx);
            if (!hits.empty()) break;
            if (ctx.empty()) return std::nullopt;
            const size_t slash = ctx.rfind('/');
            ctx = slash == std::string::npos ? "" : ctx.substr(0, slash);
        }
        winner = hits.front();
        e.rule = "nginx: the directive in the innermost context that sets it (" + (ctx.empty() ? std::string("main") : ctx) +
                 "); a repeated directive there is an error or adds values, the first is shown";
    } else {
        collect(context);
        if (hits.empty()) return std::nullopt;
        if (set.format == Format::Sshd) {
            winner = hits.front();
            e.rule = "sshd_config(5): the first value obtained wins";
        } else {
            winner = hits.back();
            e.rule = set.format == Format::Postgres ? "postgresql.conf: the last value read wins (postgresql.auto.conf is read last)"
                   : set.format == Format::Sysctl   ? "sysctl: the last assignment applied wins"
                   : set.format == Format::Redis    ? "redis.conf: the last value wins (save, rename-command and other list options add up)"
                                                    : "systemd: the last assignment wins (an empty one resets a list)";
        }
    }
    const ItemRef ref = set.order[winner];
    e.where = ref;
    e.args = set.at(ref).args;
    e.file = set.files[ref.file].path;
    e.line = set.at(ref).line;
    for (size_t h : hits)
        if (h != winner) e.shadowed.push_back(set.order[h]);
    return e;
}

} // namespace sigmaops::config
