// cmd_history.cpp - `sigmaops history ...`: list, show, search, export, import and remove
// sessions of the SQLite history. Output is plain text for people, except `export --format json`.
#include "commands.h"
#include "common.h"

#include <base/text.h>
#include <history/history.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace sigmaops::cli {

namespace {

using history::History;

// Prints an error, with the move-aside hint for a damaged file; returns the exit code.
int report(Io& io, const Error& e, const std::string& db) {
    io.err << "sigmaops history: " << e.message << "\n";
    if (e.code == ErrorCode::BadFile)
        io.err << "To keep the damaged file and start a fresh history: sigmaops history move-aside --history '" << db << "'\n";
    return k_exit_failure;
}

history::Id session_id(const std::string& s) {
    size_t used = 0;
    long long v = 0;
    try { v = std::stoll(s, &used); } catch (...) { used = 0; }
    if (s.empty() || used != s.size() || v <= 0)
        throw UsageError("'" + s + "' is not a session id (a positive number; see `sigmaops history list`)");
    return v;
}

std::string date_short(std::int64_t ms) { return history::format_utc(ms).substr(0, 16); }  // "YYYY-MM-DD HH:MM"

std::string clip(std::string s, std::size_t n) {
    for (char& c : s)
        if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    if (s.size() <= n) return s;
    return std::string(utf8_prefix(s, n - 3)) + "...";
}

bool write_private_file(const std::string& path, const std::string& data, std::string& error) {
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

// Opens the database for a command that reads it (create=false) or writes it.
Expected<std::unique_ptr<History>> open_db(const std::string& db, bool create) {
    history::Options opts;
    opts.create = create;
    return History::open(db, opts);
}

int run_list(const Invocation& c) {
    c.args.at_most(0);
    const int limit = int(c.args.get_int("--limit", 50, 0, 1'000'000'000));
    const int offset = int(c.args.get_int("--offset", 0, 0, 1'000'000'000));
    const std::string db = history_path(c.args);
    auto h = open_db(db, false);
    if (!h && h.error().code == ErrorCode::NotFound) { c.io.out << "no history yet (" << db << ")\n"; return k_exit_ok; }
    if (!h) return report(c.io, h.error(), db);
    auto sessions = (*h)->list_sessions(limit, offset);
    if (!sessions) return report(c.io, sessions.error(), db);
    if (sessions->empty()) { c.io.out << "no sessions\n"; return k_exit_ok; }
    char line[256];
    std::snprintf(line, sizeof line, "%6s  %-16s  %5s  %-3s  %-12s  %s\n", "ID", "UPDATED (UTC)", "MSGS", "PIN", "HOST", "TITLE");
    c.io.out << line;
    for (const history::Conversation& s : *sessions) {
        std::snprintf(line, sizeof line, "%6lld  %-16s  %5lld  %-3s  %-12s  ", static_cast<long long>(s.id),
                      date_short(s.updated_ms).c_str(), static_cast<long long>(s.n_messages), s.pinned ? "*" : "",
                      clip(s.host, 12).c_str());
        c.io.out << line << clip(s.title, 60) << "\n";
    }
    return k_exit_ok;
}

int run_show(const Invocation& c) {
    if (c.args.positional().size() != 1) throw UsageError("show needs exactly one session id");
    const history::Id id = session_id(c.args.positional()[0]);
    const std::string db = history_path(c.args);
    auto h = open_db(db, false);
    if (!h) return report(c.io, h.error(), db);
    auto md = (*h)->export_markdown(id);
    if (!md) return report(c.io, md.error(), db);
    c.io.out << *md;
    return k_exit_ok;
}

int run_search(const Invocation& c) {
    if (c.args.positional().empty()) throw UsageError("search needs the text to look for");
    history::SearchQuery q;
    for (const auto& w : c.args.positional()) q.text += (q.text.empty() ? "" : " ") + w;
    q.limit = int(c.args.get_int("--limit", 20, 0, 1'000'000'000));
    q.host = c.args.get("--host");
    const std::string db = history_path(c.args);
    auto h = open_db(db, false);
    if (!h && h.error().code == ErrorCode::NotFound) { c.io.out << "no history yet (" << db << ")\n"; return k_exit_ok; }
    if (!h) return report(c.io, h.error(), db);
    auto hits = (*h)->search(q);
    if (!hits) return report(c.io, hits.error(), db);
    if (hits->empty()) { c.io.out << "no matches\n"; return k_exit_ok; }
    for (const history::SearchHit& hit : *hits) {
        c.io.out << to_string(hit.kind) << " " << hit.id;
        if (hit.session_id) c.io.out << "  session " << hit.session_id;
        c.io.out << "  " << date_short(hit.created_ms);
        if (!hit.host.empty()) c.io.out << "  " << hit.host;
        if (!hit.role.empty()) c.io.out << "  " << hit.role;
        c.io.out << "\n    " << clip(hit.snippet, 200) << "\n";
    }
    return k_exit_ok;
}

int run_export(const Invocation& c) {
    if (c.args.positional().size() != 1) throw UsageError("export needs exactly one session id");
    if (!c.args.has("--format")) throw UsageError("export needs --format md or --format json");
    const std::string fmt = c.args.get("--format");
    if (fmt != "md" && fmt != "markdown" && fmt != "json") throw UsageError("--format must be md or json, not '" + fmt + "'");
    const history::Id id = session_id(c.args.positional()[0]);
    const std::string db = history_path(c.args);
    auto h = open_db(db, false);
    if (!h) return report(c.io, h.error(), db);
    auto text = fmt == "json" ? (*h)->export_json(id) : (*h)->export_markdown(id);
    if (!text) return report(c.io, text.error(), db);
    const std::string file = c.args.get("--output", "-");
    if (file == "-") { c.io.out << *text; return k_exit_ok; }
    std::string error;
    if (!write_private_file(file, *text, error)) { c.io.err << "sigmaops history: " << error << "\n"; return k_exit_failure; }
    c.io.err << "wrote session " << id << " to " << file << "\n";
    return k_exit_ok;
}

int run_import(const Invocation& c) {
    if (c.args.positional().size() != 1) throw UsageError("import needs exactly one file");
    const std::string& from = c.args.positional()[0];
    std::string data;
    if (from == "-") {
        std::ostringstream ss;
        ss << c.io.in.rdbuf();
        data = ss.str();
    } else {
        if (std::error_code ec; std::filesystem::is_directory(from, ec)) {
            c.io.err << "sigmaops history: " << from << " is a directory; import takes a file from "
                     << "`sigmaops history export ID --format json`\n";
            return k_exit_failure;
        }
        std::ifstream in(from, std::ios::binary);
        if (!in) { c.io.err << "sigmaops history: cannot read " << from << ": " << std::strerror(errno) << "\n"; return k_exit_failure; }
        std::ostringstream ss;
        ss << in.rdbuf();
        data = ss.str();
    }
    const std::string db = history_path(c.args);
    auto h = open_db(db, true);
    if (!h) return report(c.io, h.error(), db);
    auto id = (*h)->import_json(data);
    if (!id) return report(c.io, id.error(), db);
    c.io.out << "imported " << from << " as session " << *id << "\n";
    return k_exit_ok;
}

int run_rm(const Invocation& c) {
    if (c.args.positional().size() != 1) throw UsageError("rm needs exactly one session id");
    const history::Id id = session_id(c.args.positional()[0]);
    const std::string db = history_path(c.args);
    auto h = open_db(db, false);
    if (!h) return report(c.io, h.error(), db);
    auto s = (*h)->session(id);
    if (!s) return report(c.io, s.error(), db);
    if (!c.args.has("--yes")) {
        if (!::isatty(STDIN_FILENO))
            throw UsageError("rm deletes session " + std::to_string(id) + " and everything in it; add --yes to confirm");
        c.io.err << "Delete session " << id << " \"" << clip(s->title, 60) << "\" (" << s->n_messages
                 << " messages, with its commands, changes and findings)? [y/N] ";
        std::string answer;
        std::getline(c.io.in, answer);
        if (answer != "y" && answer != "Y" && answer != "yes") { c.io.err << "not deleted\n"; return k_exit_failure; }
    }
    auto removed = (*h)->remove_session(id);
    if (!removed) return report(c.io, removed.error(), db);
    c.io.out << "deleted session " << id << "\n";
    return k_exit_ok;
}

int run_move_aside(const Invocation& c) {
    c.args.at_most(0);
    const std::string db = history_path(c.args);
    auto moved = history::move_aside(db);
    if (!moved) return report(c.io, moved.error(), db);
    c.io.out << "moved " << db << " to " << *moved << "; a fresh history will be created on next use\n";
    return k_exit_ok;
}

} // namespace

Command history_command() {
    const Flag db = history_flag();
    Command c;
    c.name = "history";
    c.summary = "the record of chats, commands, config changes and findings (SQLite)";
    c.flags = {db};
    c.subcommands = {
        {"list", "sessions, most recent first", "[--limit N] [--offset N] [--history FILE]",
         {db, {"--limit", "", "N", "at most N sessions (default 50)"}, {"--offset", "", "N", "skip the N most recent"}},
         "", run_list, {}},
        {"show", "a session as Markdown", "ID [--history FILE]", {db}, "", run_show, {}},
        {"search", "full-text search, best match first", "TEXT... [--limit N] [--host H] [--history FILE]",
         {db, {"--limit", "", "N", "at most N matches (default 20)"}, {"--host", "", "H", "only what happened on host H"}},
         "", run_search, {}},
        {"export", "write a session as Markdown or JSON", "ID --format md|json [-o FILE] [--history FILE]",
         {db, {"--format", "", "md|json", "Markdown for people, JSON for import (required)"},
          {"--output", "-o", "FILE", "write to FILE (mode 0600) instead of stdout"}},
         "", run_export, {}},
        {"import", "read a session exported as JSON ('-' = stdin)", "FILE [--history FILE]", {db}, "", run_import, {}},
        {"rm", "delete a session and everything in it", "ID [--yes] [--history FILE]",
         {db, {"--yes", "-y", "", "do not ask (needed without a terminal)"}}, "", run_rm, {}},
        {"move-aside", "rename a damaged database so a fresh one is created", "[--history FILE]", {db}, "",
         run_move_aside, {}},
    };
    c.notes = "exit status: 0 ok, 1 error, 2 usage error";
    return c;
}

} // namespace sigmaops::cli
