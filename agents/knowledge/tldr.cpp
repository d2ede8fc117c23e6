// tldr.cpp - tldr pages: the page parser, placeholders, and the index builder (knowledge.h).
//
// Index layout (format k_format; one file, read-only once built):
//   meta(key, value)                       format, source, licence
//   page(id, name, platform, title, description, first, count)
//                                          pages sorted by name; a page's examples are the ids
//                                          first .. first+count-1
//   example(id, description, command)      description without tldr's mnemonic brackets,
//                                          command as tldr writes it (placeholders kept)
//   example_fts(program, description, command)  contentless FTS5 (porter tokenizer) over the
//                                          page title + its first description line, the example's
//                                          description and the command's program and option
//                                          words; rowid = example.id. Positions are kept
//                                          (detail=full): bm25() of a contentless table gives 0
//                                          without them.
// Nothing is stored twice: the FTS index holds no content, the page name is not repeated per
// example. VACUUM at the end; same input and SQLite version give the same bytes.
#include <knowledge/knowledge.h>

#include "knowledge_internal.h"

#include <algorithm>
#include <map>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace sigmaops::knowledge {

namespace detail {

void throw_sqlite(sqlite3* db, int rc, const char* call, const char* file, int line) {
    std::string msg = std::string(call) + " at " + file + ":" + std::to_string(line) + ": " +
                      (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) + " (" + sqlite3_errstr(rc) + ")";
    ErrorCode code = ErrorCode::Database;
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = ErrorCode::BadFile; break;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM: code = ErrorCode::Io; break;
    default: break;
    }
    throw Exception(code, msg);
}

Statement::Statement(sqlite3* db, std::string_view sql) : m_db(db) {
    KN_SQL(db, sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &m_stmt, nullptr));
}
Statement::~Statement() { sqlite3_finalize(m_stmt); }
void Statement::bind(int i, std::string_view text) {
    KN_SQL(m_db, sqlite3_bind_text(m_stmt, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
}
void Statement::bind(int i, sqlite3_int64 v) { KN_SQL(m_db, sqlite3_bind_int64(m_stmt, i, v)); }
bool Statement::step() { return KN_SQL(m_db, sqlite3_step(m_stmt)) == SQLITE_ROW; }
void Statement::reset() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}
std::string Statement::text(int col) const {
    const unsigned char* t = sqlite3_column_text(m_stmt, col);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(m_stmt, col)))
             : std::string();
}
sqlite3_int64 Statement::integer(int col) const { return sqlite3_column_int64(m_stmt, col); }
double Statement::real(int col) const { return sqlite3_column_double(m_stmt, col); }

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string m = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw Exception(ErrorCode::Database, std::string("SQL `") + sql + "`: " + m);
    }
}

static bool is_alnum(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

std::vector<std::string> words(std::string_view text) {
    std::vector<std::string> out;
    std::string cur;
    for (unsigned char c : text) {
        if (is_alnum(c) || c >= 0x80) {
            cur += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        } else if (!cur.empty()) {
            out.push_back(std::move(cur));
            cur.clear();
        }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

std::string command_index_text(std::string_view command) {
    // Keep the program words and options; drop value placeholders (their words, "path", "to",
    // "file", would match every request about files).
    std::string out;
    size_t last = 0;
    for (const Placeholder& p : find_placeholders(command)) {
        out.append(command.substr(last, p.begin - last));
        for (const std::string& a : p.alternatives) out += " " + a;
        out += ' ';
        last = p.end;
    }
    out.append(command.substr(last));
    return out;
}

std::string strip_mnemonics(std::string_view d) {
    std::string out;
    out.reserve(d.size());
    for (size_t i = 0; i < d.size(); ++i) {
        if (d[i] == '[') {
            size_t j = i + 1;
            while (j < d.size() && j - i <= 4 && is_alnum(static_cast<unsigned char>(d[j]))) ++j;
            const bool letter_before = i > 0 && is_alnum(static_cast<unsigned char>(d[i - 1]));
            const bool letter_after = j + 1 < d.size() && is_alnum(static_cast<unsigned char>(d[j + 1]));
            if (j < d.size() && d[j] == ']' && j > i + 1 && j - i <= 4 && (letter_before || letter_after ||
                                                                           j + 1 == d.size() || d[j + 1] == ' ')) {
                out.append(d.substr(i + 1, j - i - 1));
                i = j;
                continue;
            }
        }
        out += d[i];
    }
    return out;
}

} // namespace detail

std::vector<Placeholder> find_placeholders(std::string_view command) {
    std::vector<Placeholder> out;
    size_t i = 0;
    while ((i = command.find("{{", i)) != std::string_view::npos) {
        size_t close = command.find("}}", i + 2);
        if (close == std::string_view::npos) break;
        // `{{${var}}}`: the placeholder ends at the last brace of the run.
        while (close + 2 < command.size() && command[close + 2] == '}') ++close;
        Placeholder p;
        p.begin = i;
        p.end = close + 2;
        p.text = std::string(command.substr(i + 2, close - i - 2));
        const std::string& t = p.text;
        if (t.size() > 2 && t.front() == '[' && t.back() == ']' && t.find('|') != std::string::npos &&
            t.find(' ') == std::string::npos) {
            std::string_view body(t.data() + 1, t.size() - 2);
            bool good = true;
            std::vector<std::string> alts;
            size_t s = 0;
            while (s <= body.size()) {
                size_t bar = body.find('|', s);
                if (bar == std::string_view::npos) bar = body.size();
                if (bar == s) { good = false; break; }
                alts.emplace_back(body.substr(s, bar - s));
                s = bar + 1;
            }
            if (good) p.alternatives = std::move(alts);
        }
        out.push_back(std::move(p));
        i = close + 2;
    }
    return out;
}

std::string fill_placeholders(const Example& e, const std::function<std::string(const Placeholder&)>& value) {
    std::string out;
    size_t last = 0;
    for (const Placeholder& p : e.placeholders) {
        if (p.begin < last || p.end > e.command.size()) continue;
        out.append(e.command, last, p.begin - last);
        if (!p.alternatives.empty()) out += p.alternatives.front();
        else if (value) out += value(p);
        else out += "<" + p.text + ">";
        last = p.end;
    }
    out.append(e.command, last, std::string::npos);
    return out;
}

Expected<Page> parse_tldr_page(std::string_view md, std::string_view platform) {
    Page page;
    page.platform = std::string(platform);
    std::string pending;      // the description of an example waiting for its command
    bool have_pending = false;
    size_t line_no = 0;
    size_t pos = 0;
    while (pos <= md.size()) {
        size_t nl = md.find('\n', pos);
        if (nl == std::string_view::npos) nl = md.size();
        std::string_view line = md.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) {
            if (nl == md.size()) break;
            continue;
        }
        if (line.size() >= 2 && line[0] == '#' && line[1] == ' ' && page.name.empty()) {
            std::string_view t = line.substr(2);
            while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
            page.name = std::string(t);
        } else if (line[0] == '>') {
            std::string_view t = line.substr(1);
            while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
            if (t.rfind("More information", 0) == 0) continue;
            if (!page.description.empty()) page.description += '\n';
            page.description += std::string(t);
        } else if (line.size() >= 2 && line[0] == '-' && line[1] == ' ') {
            std::string_view t = line.substr(2);
            while (!t.empty() && (t.back() == ' ' || t.back() == ':')) t.remove_suffix(1);
            pending = detail::strip_mnemonics(t);
            have_pending = true;
        } else if (line.size() >= 2 && line.front() == '`' && line.back() == '`' && have_pending) {
            Example e;
            e.page = page.name;
            e.platform = page.platform;
            e.description = pending;
            e.command = std::string(line.substr(1, line.size() - 2));
            e.placeholders = find_placeholders(e.command);
            page.examples.push_back(std::move(e));
            have_pending = false;
        }
        if (nl == md.size()) break;
    }
    if (page.name.empty())
        return unexpected(ErrorCode::BadFile, "not a tldr page: no `# name` title line (read " +
                                                  std::to_string(line_no) + " lines)");
    return page;
}

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    if (!f) throw Exception(ErrorCode::Io, "cannot read " + p.string());
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

struct Db {
    sqlite3* db = nullptr;
    ~Db() { sqlite3_close(db); }
};

} // namespace

Expected<BuildStats> build_index(const std::string& pages_dir, const std::string& out_path,
                                 const std::vector<std::string>& platforms) {
    return catch_to_expected([&]() -> BuildStats {
        BuildStats st;
        // name -> (platform, file); later platforms in the list replace earlier ones (linux over common).
        std::vector<std::pair<std::string, std::pair<std::string, fs::path>>> files;
        {
            std::map<std::string, std::pair<std::string, fs::path>> by_name;
            bool any_dir = false;
            for (const std::string& plat : platforms) {
                fs::path dir = fs::path(pages_dir) / plat;
                std::error_code ec;
                if (!fs::is_directory(dir, ec)) continue;
                any_dir = true;
                for (const auto& e : fs::directory_iterator(dir, ec)) {
                    if (!e.is_regular_file(ec) || e.path().extension() != ".md") continue;
                    by_name[e.path().stem().string()] = {plat, e.path()};
                }
            }
            if (!any_dir)
                throw Exception(ErrorCode::NotFound, "no tldr pages under " + pages_dir +
                                                         " (expected common/ or linux/ holding *.md)");
            files.assign(by_name.begin(), by_name.end());   // sorted by name
        }
        const std::string tmp = out_path + ".tmp" + std::to_string(::getpid());
        std::error_code ec;
        fs::remove(tmp, ec);
        {
            Db d;
            KN_SQL(d.db, sqlite3_open_v2(tmp.c_str(), &d.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr));
            detail::exec(d.db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA page_size=4096;");
            detail::exec(d.db,
                         "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
                         "CREATE TABLE page(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, platform TEXT NOT NULL,"
                         " title TEXT NOT NULL, description TEXT NOT NULL, first INTEGER NOT NULL, count INTEGER NOT NULL);"
                         "CREATE TABLE example(id INTEGER PRIMARY KEY, description TEXT NOT NULL, command TEXT NOT NULL);"
                         "CREATE VIRTUAL TABLE example_fts USING fts5(program, description, command, content='',"
                         " tokenize='porter unicode61');"
                         "BEGIN;");
            {
                detail::Statement meta(d.db, "INSERT INTO meta(key, value) VALUES (?1, ?2)");
                const std::pair<const char*, const char*> rows[] = {
                    {"format", detail::k_format},
                    {"source", "tldr-pages (https://github.com/tldr-pages/tldr), pages/{common,linux}"},
                    {"licence", "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/); tldr-pages contributors; "
                                "changes: converted to an SQLite index"},
                };
                for (auto [k, v] : rows) {
                    meta.bind(1, k);
                    meta.bind(2, v);
                    meta.step();
                    meta.reset();
                }
            }
            detail::Statement ins_page(d.db, "INSERT INTO page(id, name, platform, title, description, first, count)"
                                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
            detail::Statement ins_ex(d.db, "INSERT INTO example(id, description, command) VALUES (?1, ?2, ?3)");
            detail::Statement ins_fts(d.db, "INSERT INTO example_fts(rowid, program, description, command)"
                                            " VALUES (?1, ?2, ?3, ?4)");
            sqlite3_int64 page_id = 0, ex_id = 0;
            for (const auto& [name, pf] : files) {
                Expected<Page> p = parse_tldr_page(read_file(pf.second), pf.first);
                if (!p || p->examples.empty()) {
                    ++st.n_skipped;
                    st.skipped.push_back(pf.first + "/" + name + ".md" +
                                         (p ? std::string(": no examples") : ": " + p.error().message));
                    continue;
                }
                ++page_id;
                ins_page.bind(1, page_id);
                ins_page.bind(2, name);
                ins_page.bind(3, pf.first);
                ins_page.bind(4, p->name);
                ins_page.bind(5, p->description);
                ins_page.bind(6, ex_id + 1);
                ins_page.bind(7, static_cast<sqlite3_int64>(p->examples.size()));
                ins_page.step();
                ins_page.reset();
                for (const Example& e : p->examples) {
                    ++ex_id;
                    ins_ex.bind(1, ex_id);
                    ins_ex.bind(2, e.description);
                    ins_ex.bind(3, e.command);
                    ins_ex.step();
                    ins_ex.reset();
                    ins_fts.bind(1, ex_id);
                    // The program column: the title and the page's first description line ("tar
                    // Archiving utility"), so a request in the page's words finds its examples
                    // (+1.7 points top-1 in bench_knowledge for +0.6 MB).
                    ins_fts.bind(2, p->name + " " + p->description.substr(0, p->description.find('\n')));
                    ins_fts.bind(3, e.description);
                    ins_fts.bind(4, detail::command_index_text(e.command));
                    ins_fts.step();
                    ins_fts.reset();
                }
                ++st.n_pages;
                st.n_examples += p->examples.size();
            }
            detail::exec(d.db, "COMMIT; INSERT INTO example_fts(example_fts) VALUES('optimize');");
            detail::exec(d.db, "VACUUM;");
        }
        fs::rename(tmp, out_path, ec);
        if (ec) {
            fs::remove(tmp, ec);
            throw Exception(ErrorCode::Io, "cannot write " + out_path + ": " + ec.message());
        }
        return st;
    });
}

} // namespace sigmaops::knowledge
