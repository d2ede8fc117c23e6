// history/history_cli.cpp - `sigmaops history ...` (see history_cli.h for the commands and exit codes).
// Output is plain text for people, except `export --format json`. Errors say what to do next.
#include "history_cli.h"
#include "history.h"
#include "history_internal.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace sigmaops::history {

namespace {

constexpr int kOk = 0, kRuntime = 1, kUsage = 2;

const char* const kHelp =
    "usage: sigmaops [--db FILE] history COMMAND [ARGS]\n"
    "\n"
    "The record of chats, commands, config changes and findings (SQLite).\n"
    "\n"
    "commands:\n"
    "  list [--limit N] [--offset N]         sessions, most recent first\n"
    "  show ID                               a session as Markdown\n"
    "  search TEXT... [--limit N] [--host H] full-text search, best match first\n"
    "  export ID --format md|json [-o FILE]  write a session (stdout unless -o)\n"
    "  import FILE                           read a session exported as JSON ('-' = stdin)\n"
    "  rm ID [--yes]                         delete a session and everything in it\n"
    "  move-aside                            rename a damaged database so a fresh one is created\n"
    "\n"
    "exit status: 0 ok, 1 error, 2 usage error\n";

struct UsageError {
    std::string message;
};

bool parse_int(const std::string& s, std::int64_t& v) {
    if (s.empty()) return false;
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(s.c_str(), &end, 10);
    if (errno != 0 || *end != '\0') return false;
    v = x;
    return true;
}

Id parse_id(const std::string& s) {
    std::int64_t v = 0;
    if (!parse_int(s, v) || v <= 0) throw UsageError{"'" + s + "' is not a session id (a positive number; see `history list`)"};
    return v;
}

// Splits args (after the subcommand) into positionals and --options with values.
struct Parsed {
    std::vector<std::string> positional;
    std::vector<std::pair<std::string, std::string>> options;  // name -> value ("" for flags)
    const std::string* get(const std::string& name) const {
        for (auto& [k, v] : options)
            if (k == name) return &v;
        return nullptr;
    }
};

Parsed parse(const std::vector<std::string>& args, const std::vector<std::string>& with_value,
             const std::vector<std::string>& flags) {
    Parsed p;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") {
            for (++i; i < args.size(); ++i) p.positional.push_back(args[i]);
            break;
        }
        if (a.size() > 1 && a[0] == '-' ) {
            std::string name = a, value;
            auto eq = a.find('=');
            if (eq != std::string::npos && a.rfind("--", 0) == 0) { name = a.substr(0, eq); value = a.substr(eq + 1); }
            bool takes = std::find(with_value.begin(), with_value.end(), name) != with_value.end();
            bool flag = std::find(flags.begin(), flags.end(), name) != flags.end();
            if (!takes && !flag) throw UsageError{"unknown option " + name + " for `history " + args[0] + "`"};
            if (takes && eq == std::string::npos) {
                if (i + 1 >= args.size()) throw UsageError{name + " needs a value"};
                value = args[++i];
            }
            p.options.emplace_back(name, value);
        } else {
            p.positional.push_back(a);
        }
    }
    return p;
}

int int_option(const Parsed& p, const std::string& name, int def) {
    const std::string* v = p.get(name);
    if (!v) return def;
    std::int64_t x = 0;
    if (!parse_int(*v, x) || x < 0 || x > 1'000'000'000) throw UsageError{name + " must be a non-negative number, not '" + *v + "'"};
    return static_cast<int>(x);
}

// Prints an error with a hint for the kinds that have one; returns the exit code.
int report(std::ostream& err, const sigma::Error& e, const std::string& db_path) {
    err << "sigmaops history: " << e.message << "\n";
    if (e.code == sigma::ErrorCode::BadFile)
        err << "To keep the damaged file and start a fresh history: sigmaops history move-aside --db '" << db_path << "'\n";
    return kRuntime;
}

std::string date_short(std::int64_t ms) {
    return detail::format_utc(ms).substr(0, 16);  // "YYYY-MM-DD HH:MM"
}

std::string clip(std::string s, std::size_t n) {
    for (char& c : s)
        if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    if (s.size() <= n) return s;
    return std::string(detail::utf8_prefix(s, n - 3)) + "...";
}

bool write_file(const std::string& path, const std::string& data, std::string& error) {
    // History exports hold what the history holds: readable by the owner only.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) { error = "cannot write " + path + ": " + std::strerror(errno); return false; }
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            error = "cannot write " + path + ": " + std::strerror(errno);
            ::close(fd);
            return false;
        }
        off += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) { error = "cannot write " + path + ": " + std::strerror(errno); return false; }
    return true;
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const std::string& db_path) {
    if (args.empty()) throw UsageError{"missing command"};
    const std::string& cmd = args[0];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") { out << kHelp; return kOk; }
    for (std::size_t i = 1; i < args.size(); ++i)
        if (args[i] == "--help" || args[i] == "-h") { out << kHelp; return kOk; }

    if (cmd == "move-aside") {
        if (args.size() > 1) throw UsageError{"move-aside takes no arguments"};
        auto moved = move_aside(db_path);
        if (!moved) return report(err, moved.error(), db_path);
        out << "moved " << db_path << " to " << *moved << "; a fresh history will be created on next use\n";
        return kOk;
    }

    static const std::vector<std::string> known = {"list", "show", "search", "export", "import", "rm"};
    if (std::find(known.begin(), known.end(), cmd) == known.end()) throw UsageError{"unknown command '" + cmd + "'"};

    // Parse before opening, so that usage errors never touch the database.
    Parsed p;
    if (cmd == "list") p = parse(args, {"--limit", "--offset"}, {});
    else if (cmd == "show") p = parse(args, {}, {});
    else if (cmd == "search") p = parse(args, {"--limit", "--host"}, {});
    else if (cmd == "export") p = parse(args, {"--format", "-o", "--output"}, {});
    else if (cmd == "import") p = parse(args, {}, {});
    else p = parse(args, {}, {"--yes", "-y"});

    Options opts;
    // Reading commands need an existing database; import creates one.
    opts.create = cmd == "import";
    auto opened = History::open(db_path, opts);
    if (!opened) {
        if (opened.error().code == sigma::ErrorCode::NotFound) {
            if (cmd == "list") { out << "no history yet (" << db_path << ")\n"; return kOk; }
            if (cmd == "search") { out << "no history yet (" << db_path << ")\n"; return kOk; }
        }
        return report(err, opened.error(), db_path);
    }
    History& h = **opened;

    if (cmd == "list") {
        if (!p.positional.empty()) throw UsageError{"list takes no arguments"};
        auto sessions = h.list_sessions(int_option(p, "--limit", 50), int_option(p, "--offset", 0));
        if (!sessions) return report(err, sessions.error(), db_path);
        if (sessions->empty()) { out << "no sessions\n"; return kOk; }
        char line[256];
        std::snprintf(line, sizeof line, "%6s  %-16s  %5s  %-3s  %-12s  %s\n", "ID", "UPDATED (UTC)", "MSGS", "PIN", "HOST", "TITLE");
        out << line;
        for (const Session& s : *sessions) {
            std::snprintf(line, sizeof line, "%6lld  %-16s  %5lld  %-3s  %-12s  ", static_cast<long long>(s.id),
                          date_short(s.updated_ms).c_str(), static_cast<long long>(s.n_messages), s.pinned ? "*" : "",
                          clip(s.host, 12).c_str());
            out << line << clip(s.title, 60) << "\n";
        }
        return kOk;
    }
    if (cmd == "show") {
        if (p.positional.size() != 1) throw UsageError{"show needs exactly one session id"};
        auto md = h.export_markdown(parse_id(p.positional[0]));
        if (!md) return report(err, md.error(), db_path);
        out << *md;
        return kOk;
    }
    if (cmd == "search") {
        if (p.positional.empty()) throw UsageError{"search needs the text to look for"};
        SearchQuery q;
        for (const auto& w : p.positional) q.text += (q.text.empty() ? "" : " ") + w;
        q.limit = int_option(p, "--limit", 20);
        if (const std::string* host = p.get("--host")) q.host = *host;
        auto hits = h.search(q);
        if (!hits) return report(err, hits.error(), db_path);
        if (hits->empty()) { out << "no matches\n"; return kOk; }
        for (const SearchHit& hit : *hits) {
            out << to_string(hit.kind) << " " << hit.id;
            if (hit.session_id) out << "  session " << hit.session_id;
            out << "  " << date_short(hit.created_ms);
            if (!hit.host.empty()) out << "  " << hit.host;
            if (!hit.role.empty()) out << "  " << hit.role;
            out << "\n    " << clip(hit.snippet, 200) << "\n";
        }
        return kOk;
    }
    if (cmd == "export") {
        if (p.positional.size() != 1) throw UsageError{"export needs exactly one session id"};
        const std::string* fmt = p.get("--format");
        if (!fmt) throw UsageError{"export needs --format md or --format json"};
        if (*fmt != "md" && *fmt != "markdown" && *fmt != "json") throw UsageError{"--format must be md or json, not '" + *fmt + "'"};
        Id id = parse_id(p.positional[0]);
        auto text = *fmt == "json" ? h.export_json(id) : h.export_markdown(id);
        if (!text) return report(err, text.error(), db_path);
        const std::string* file = p.get("-o");
        if (!file) file = p.get("--output");
        if (!file || *file == "-") { out << *text; return kOk; }
        std::string error;
        if (!write_file(*file, *text, error)) { err << "sigmaops history: " << error << "\n"; return kRuntime; }
        err << "wrote session " << id << " to " << *file << "\n";
        return kOk;
    }
    if (cmd == "import") {
        if (p.positional.size() != 1) throw UsageError{"import needs exactly one file"};
        std::string data;
        if (p.positional[0] == "-") {
            std::ostringstream ss;
            ss << std::cin.rdbuf();
            data = ss.str();
        } else {
            if (std::error_code ec; std::filesystem::is_directory(p.positional[0], ec)) {
                err << "sigmaops history: " << p.positional[0] << " is a directory; import takes a file from "
                    << "`sigmaops history export ID --format json`\n";
                return kRuntime;
            }
            std::ifstream in(p.positional[0], std::ios::binary);
            if (!in) { err << "sigmaops history: cannot read " << p.positional[0] << ": " << std::strerror(errno) << "\n"; return kRuntime; }
            std::ostringstream ss;
            ss << in.rdbuf();
            data = ss.str();
        }
        auto id = h.import_json(data);
        if (!id) return report(err, id.error(), db_path);
        out << "imported " << p.positional[0] << " as session " << *id << "\n";
        return kOk;
    }
    // rm
    if (p.positional.size() != 1) throw UsageError{"rm needs exactly one session id"};
    Id id = parse_id(p.positional[0]);
    auto s = h.session(id);
    if (!s) return report(err, s.error(), db_path);
    if (!p.get("--yes") && !p.get("-y")) {
        if (!::isatty(STDIN_FILENO))
            throw UsageError{"rm deletes session " + std::to_string(id) + " and everything in it; add --yes to confirm"};
        err << "Delete session " << id << " \"" << clip(s->title, 60) << "\" (" << s->n_messages
            << " messages, with its commands, changes and findings)? [y/N] ";
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y" && answer != "yes") { err << "not deleted\n"; return kRuntime; }
    }
    auto removed = h.remove_session(id);
    if (!removed) return report(err, removed.error(), db_path);
    out << "deleted session " << id << "\n";
    return kOk;
}

} // namespace

int run_history_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const std::string& db_path) {
    try {
        return run(args, out, err, db_path);
    } catch (const UsageError& e) {
        err << "sigmaops history: " << e.message << "\n" << "Try `sigmaops history --help`.\n";
        return kUsage;
    } catch (const std::exception& e) {
        err << "sigmaops history: " << e.what() << "\n";
        return kRuntime;
    }
}

} // namespace sigmaops::history
