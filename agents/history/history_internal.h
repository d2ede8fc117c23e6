// history/history_internal.h - what history.cpp shares with export.cpp and history_cli.cpp:
// the statement cache type, the row writers used by both the live API and import, and small
// formatting helpers. Private to agents/history/.
#pragma once

#include <history/history.h>
#include "sqlite_util.h"

#include <string>
#include <string_view>
#include <vector>

namespace sigmaops::history {

struct History::StatementCache : detail::StatementCache {
    using detail::StatementCache::StatementCache;
};

// Q("SQL"): the cached statement for SQL on this History's connection (inside History members).
#define Q(sql) ::sigmaops::history::detail::Stmt(m_db, m_cache->get((sql), __FILE__, __LINE__), __FILE__, __LINE__)

namespace detail {

// Row writers. They write exactly what they are given (no capping, no clock): the caller has
// sanitized the text and holds a transaction. Each returns the new row id.
Id insert_command(sqlite3* db, StatementCache& cache, const Command& c);
Id insert_change(sqlite3* db, StatementCache& cache, const ConfigChange& c);
void insert_change_event(sqlite3* db, StatementCache& cache, Id change_id, const ChangeEvent& e);
Id insert_finding(sqlite3* db, StatementCache& cache, const Finding& f);
// Bumps a session's updated_ms (no-op for id 0). NotFound when the session does not exist.
void touch_session(sqlite3* db, StatementCache& cache, Id session_id, std::int64_t now);

// Readers shared by the API and export. `where` uses ?1 for `key`.
std::vector<ConfigChange> read_changes(sqlite3* db, StatementCache& cache, const char* where, Id key);
std::vector<Finding> read_findings(sqlite3* db, StatementCache& cache, Id session_id);

// User words -> an FTS5 query: each word quoted, all required, "word*" keeps prefix search.
std::string fts_query(std::string_view text);
// The "move it aside" advice appended to BadFile messages.
std::string bad_file_hint(const std::string& path);

// Runs f() (which throws sigmaops::Exception on failure) and returns its result as Expected;
// BadFile errors get the "move it aside" advice for `path`.
template <typename F>
auto guarded(const std::string& path, F&& f) -> decltype(sigmaops::catch_to_expected(f)) {
    auto r = sigmaops::catch_to_expected(f);
    if (!r.has_value() && r.error().code == sigmaops::ErrorCode::BadFile)
        return sigmaops::unexpected(sigmaops::ErrorCode::BadFile, r.error().message + bad_file_hint(path));
    return r;
}

} // namespace detail
} // namespace sigmaops::history
