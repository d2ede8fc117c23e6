// history/sqlite_util.h - private helpers of the history module: the SQLite call check (which
// records the call and file:line), prepared statements with RAII reset, and IMMEDIATE
// transactions. Not part of the public API; only agents/history/*.cpp include it.
//
// Contract: everything here throws sigmaops::Exception on failure (Database, BadFile for
// SQLITE_CORRUPT / SQLITE_NOTADB, Io for SQLITE_CANTOPEN / SQLITE_IOERR); the public History
// methods catch and return sigmaops::Expected.
#pragma once

#include <base/result.h>
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sigmaops::history::detail {

// Maps an SQLite result code to the coarse sigma error code callers branch on.
inline sigmaops::ErrorCode error_code_for(int rc) {
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return sigmaops::ErrorCode::BadFile;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM: return sigmaops::ErrorCode::Io;
    default: return sigmaops::ErrorCode::Database;
    }
}

// Throws for any rc other than OK/ROW/DONE, with "<call> at <file>:<line>: <sqlite message> (<code name>)".
[[noreturn]] void throw_sqlite(sqlite3* db, int rc, const char* call, const char* file, int line);

inline int check_sqlite(int rc, sqlite3* db, const char* call, const char* file, int line) {
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return rc;
    throw_sqlite(db, rc, call, file, line);
}

// SQL_CHECK(db, sqlite3_xxx(...)): runs the call, throws with the call text and file:line on error.
#define SQL_CHECK(db, call) ::sigmaops::history::detail::check_sqlite((call), (db), #call, __FILE__, __LINE__)

// Runs SQL without results (may hold several statements).
void exec(sqlite3* db, const char* sql, const char* file, int line);
#define SQL_EXEC(db, sql) ::sigmaops::history::detail::exec((db), (sql), __FILE__, __LINE__)

// Prepared statements, kept for the life of the connection (SQLITE_PREPARE_PERSISTENT).
class StatementCache {
public:
    explicit StatementCache(sqlite3* db) : m_db(db) {}
    ~StatementCache();
    StatementCache(const StatementCache&) = delete;
    StatementCache& operator=(const StatementCache&) = delete;
    // The prepared statement for `sql`, reset and unbound.
    sqlite3_stmt* get(const char* sql, const char* file, int line);
private:
    sqlite3* m_db;
    std::unordered_map<std::string, sqlite3_stmt*> m_stmts;
};

// A cached statement in use: bind (1-based), step, read columns (0-based); reset on scope exit.
class Stmt {
public:
    Stmt(sqlite3* db, sqlite3_stmt* stmt, const char* file, int line) : m_db(db), m_stmt(stmt), m_file(file), m_line(line) {}
    ~Stmt() { sqlite3_reset(m_stmt); sqlite3_clear_bindings(m_stmt); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, std::int64_t v) { return ck(sqlite3_bind_int64(m_stmt, i, v), "sqlite3_bind_int64"); }
    Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
    Stmt& bind(int i, double v) { return ck(sqlite3_bind_double(m_stmt, i, v), "sqlite3_bind_double"); }
    Stmt& bind(int i, bool v) { return bind(i, static_cast<std::int64_t>(v ? 1 : 0)); }
    Stmt& bind(int i, std::string_view v) {
        return ck(sqlite3_bind_text64(m_stmt, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), "sqlite3_bind_text64");
    }
    Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, std::optional<int> v) { return v ? bind(i, *v) : bind_null(i); }
    Stmt& bind_null(int i) { return ck(sqlite3_bind_null(m_stmt, i), "sqlite3_bind_null"); }
    // Binds NULL for id 0 (no session), the id otherwise.
    Stmt& bind_id(int i, std::int64_t id) { return id ? bind(i, id) : bind_null(i); }

    // true: a row is ready; false: done.
    bool step() { return check_sqlite(sqlite3_step(m_stmt), m_db, "sqlite3_step", m_file, m_line) == SQLITE_ROW; }
    // Steps a statement that returns no rows.
    void run() { step(); }

    std::int64_t i64(int c) const { return sqlite3_column_int64(m_stmt, c); }
    int i32(int c) const { return sqlite3_column_int(m_stmt, c); }
    double f64(int c) const { return sqlite3_column_double(m_stmt, c); }
    bool is_null(int c) const { return sqlite3_column_type(m_stmt, c) == SQLITE_NULL; }
    std::string text(int c) const {
        const unsigned char* p = sqlite3_column_text(m_stmt, c);
        return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(m_stmt, c)) : std::string();
    }
    sqlite3_stmt* get() const { return m_stmt; }

private:
    Stmt& ck(int rc, const char* call) { check_sqlite(rc, m_db, call, m_file, m_line); return *this; }
    sqlite3* m_db;
    sqlite3_stmt* m_stmt;
    const char* m_file;
    int m_line;
};

// A write transaction taken with BEGIN IMMEDIATE (the write lock up front, so the busy timeout
// applies and a WAL reader never has to upgrade). Rolled back unless commit() ran.
class Transaction {
public:
    Transaction(sqlite3* db, const char* file, int line);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();
private:
    sqlite3* m_db;
    const char* m_file;
    int m_line;
    bool m_done = false;
};
#define HISTORY_TRANSACTION(db) ::sigmaops::history::detail::Transaction((db), __FILE__, __LINE__)

// UTF-8 helpers.
// Replaces every invalid UTF-8 sequence (overlong, surrogate, > U+10FFFF, truncated) with U+FFFD.
std::string to_valid_utf8(std::string_view s);

} // namespace sigmaops::history::detail
