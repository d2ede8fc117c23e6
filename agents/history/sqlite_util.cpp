// history/sqlite_util.cpp - the SQLite call check, statement cache, transactions and UTF-8
// helpers used by the history module (see sqlite_util.h).
#include "sqlite_util.h"

#include <cstring>

namespace sigmaops::history::detail {

namespace {
const char* base_name(const char* file) {
    const char* slash = std::strrchr(file, '/');
    return slash ? slash + 1 : file;
}
} // namespace

void throw_sqlite(sqlite3* db, int rc, const char* call, const char* file, int line) {
    std::string msg = std::string(call) + " at " + base_name(file) + ":" + std::to_string(line) + ": ";
    // The connection's message is about the last call on it, which is this one.
    const char* detail = db ? sqlite3_errmsg(db) : nullptr;
    msg += detail ? detail : sqlite3_errstr(rc);
    msg += " (";
    msg += sqlite3_errstr(rc);
    msg += ", code " + std::to_string(rc) + ")";
    throw sigmaops::Exception(error_code_for(rc), msg);
}

void exec(sqlite3* db, const char* sql, const char* file, int line) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = std::string("sqlite3_exec(\"") + std::string(sql).substr(0, 60) + "\") at " + base_name(file) + ":" +
                          std::to_string(line) + ": " + (err ? err : sqlite3_errstr(rc)) + " (" + sqlite3_errstr(rc) +
                          ", code " + std::to_string(rc) + ")";
        sqlite3_free(err);
        throw sigmaops::Exception(error_code_for(rc), msg);
    }
}

StatementCache::~StatementCache() {
    for (auto& [sql, stmt] : m_stmts) sqlite3_finalize(stmt);
}

sqlite3_stmt* StatementCache::get(const char* sql, const char* file, int line) {
    auto it = m_stmts.find(sql);
    if (it != m_stmts.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    check_sqlite(sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr), m_db,
                 "sqlite3_prepare_v3", file, line);
    m_stmts.emplace(sql, stmt);
    return stmt;
}

Transaction::Transaction(sqlite3* db, const char* file, int line) : m_db(db), m_file(file), m_line(line) {
    exec(m_db, "BEGIN IMMEDIATE", m_file, m_line);
}

Transaction::~Transaction() {
    // Nothing to report from a destructor: a failed ROLLBACK leaves SQLite to roll back itself
    // (the transaction is abandoned when the connection closes or the next BEGIN fails loudly).
    if (!m_done && !sqlite3_get_autocommit(m_db)) sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    exec(m_db, "COMMIT", m_file, m_line);
    m_done = true;
}

std::string to_valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    std::size_t n = s.size(), i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) { out.push_back(static_cast<char>(c)); ++i; continue; }
        std::size_t len = 0;
        std::uint32_t cp = 0, min = 0;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        bool ok = len != 0 && i + len <= n;
        for (std::size_t k = 1; ok && k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) ok = false;
            else cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
        if (ok) { out.append(s.substr(i, len)); i += len; }
        else { out += "\xEF\xBF\xBD"; ++i; }
    }
    return out;
}


} // namespace sigmaops::history::detail
