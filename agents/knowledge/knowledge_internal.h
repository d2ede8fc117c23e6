// knowledge_internal.h - private helpers of the knowledge module: a small SQLite wrapper (checked
// calls that throw sigmaops::Exception with the call and file:line; statements with RAII) and the
// text helpers the index builder and the searcher share. Only agents/knowledge/*.cpp and the
// module's tests include it.
#pragma once

#include <base/result.h>
#include <sqlite3.h>

#include <string>
#include <string_view>
#include <vector>

namespace sigmaops::knowledge::detail {

[[noreturn]] void throw_sqlite(sqlite3* db, int rc, const char* call, const char* file, int line);
inline int check_sqlite(int rc, sqlite3* db, const char* call, const char* file, int line) {
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return rc;
    throw_sqlite(db, rc, call, file, line);
}
#define KN_SQL(db, call) ::sigmaops::knowledge::detail::check_sqlite((call), (db), #call, __FILE__, __LINE__)

// A prepared statement, finalized on destruction.
class Statement {
public:
    Statement(sqlite3* db, std::string_view sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    sqlite3_stmt* get() const { return m_stmt; }
    void bind(int i, std::string_view text);
    void bind(int i, sqlite3_int64 v);
    bool step();               // true: a row; false: done
    void reset();
    std::string text(int col) const;
    sqlite3_int64 integer(int col) const;
    double real(int col) const;
private:
    sqlite3* m_db;
    sqlite3_stmt* m_stmt = nullptr;
};

void exec(sqlite3* db, const char* sql);

// The index's format version (meta table, key "format"); open() refuses others.
inline constexpr const char* k_format = "sigmaops-tldr-1";

// Lower-case ASCII word tokens of `text` (letters, digits; other bytes separate), as the FTS5
// unicode61 tokenizer splits ASCII text.
std::vector<std::string> words(std::string_view text);
// The text the FTS index holds for a command: program words and option spellings, placeholders'
// value text left out ("tar xf {{path/to/a.tar}} {{[-C|--directory]}}" -> "tar xf -C --directory").
std::string command_index_text(std::string_view command);
// tldr's mnemonic brackets removed: "[c]reate a g[z]ipped archive" -> "create a gzipped archive".
std::string strip_mnemonics(std::string_view description);

} // namespace sigmaops::knowledge::detail
