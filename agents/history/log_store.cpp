// history/log_store.cpp - the logs agent's memory in the history database (schema v5): per log
// source, the templates earlier diagnoses saw (so a new run can tell which are new), and the
// stored diagnosis reports. Tuned for: up to ~10^5 templates per source, written once per run in
// one transaction.
#include "history_internal.h"

#include <sqlite3.h>

namespace sigmaops::history {

Expected<LogSourceHistory> History::log_source(const std::string& source) {
    return detail::guarded(m_path, [&] {
        LogSourceHistory h;
        h.source = source;
        {
            auto s = Q("SELECT n_runs, first_run_ms, last_run_ms FROM log_sources WHERE source = ?1");
            s.bind(1, source);
            if (!s.step()) return h;
            h.n_runs = s.i64(0);
            h.first_run_ms = s.i64(1);
            h.last_run_ms = s.i64(2);
        }
        auto s = Q("SELECT template, n_records, first_seen_ms, last_seen_ms FROM log_templates WHERE source = ?1");
        s.bind(1, source);
        while (s.step()) h.templates.push_back(LogTemplate{s.text(0), s.i64(1), s.i64(2), s.i64(3)});
        return h;
    });
}

Expected<void> History::record_log_run(const std::string& source_in, const std::vector<LogTemplate>& seen) {
    return detail::guarded(m_path, [&] {
        if (source_in.empty()) throw Exception(ErrorCode::InvalidArgument, "a log source needs a name");
        const std::string source = detail::to_valid_utf8(source_in);
        const std::int64_t now = now_ms();
        auto tx = HISTORY_TRANSACTION(m_db);
        Q("INSERT INTO log_sources(source, n_runs, first_run_ms, last_run_ms) VALUES (?1, 1, ?2, ?2) "
          "ON CONFLICT(source) DO UPDATE SET n_runs = n_runs + 1, last_run_ms = excluded.last_run_ms")
            .bind(1, source).bind(2, now).run();
        for (const LogTemplate& t : seen) {
            const std::int64_t first = t.first_seen_ms ? t.first_seen_ms : now;
            const std::int64_t last = t.last_seen_ms ? t.last_seen_ms : now;
            Q("INSERT INTO log_templates(source, template, n_records, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
              "ON CONFLICT(source, template) DO UPDATE SET n_records = n_records + excluded.n_records, "
              "last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)")
                .bind(1, source).bind(2, detail::to_valid_utf8(t.text)).bind(3, t.n_records).bind(4, first).bind(5, last).run();
        }
        tx.commit();
    });
}

Expected<Id> History::add_log_report(const LogReport& in) {
    return detail::guarded(m_path, [&] {
        const std::int64_t now = now_ms();
        auto tx = HISTORY_TRANSACTION(m_db);
        detail::touch_session(m_db, *m_cache, in.session_id, now);
        Q("INSERT INTO log_reports(session_id, host, sources, report_json, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)")
            .bind_id(1, in.session_id).bind(2, detail::to_valid_utf8(in.host)).bind(3, detail::to_valid_utf8(in.sources))
            .bind(4, detail::to_valid_utf8(in.report_json)).bind(5, in.created_ms ? in.created_ms : now).run();
        const Id id = sqlite3_last_insert_rowid(m_db);
        tx.commit();
        return id;
    });
}

Expected<void> History::set_log_report_json(Id report_id, const std::string& report_json) {
    return detail::guarded(m_path, [&] {
        Q("UPDATE log_reports SET report_json = ?2 WHERE id = ?1").bind(1, report_id).bind(2, detail::to_valid_utf8(report_json)).run();
        if (sqlite3_changes(m_db) == 0) throw Exception(ErrorCode::NotFound, "no log report #" + std::to_string(report_id));
    });
}

namespace {
LogReport read_report(const detail::Stmt& s) {
    return LogReport{s.i64(0), s.i64(1), s.text(2), s.text(3), s.text(4), s.i64(5)};
}
} // namespace

Expected<LogReport> History::log_report(Id report_id) {
    return detail::guarded(m_path, [&] {
        auto s = Q("SELECT id, coalesce(session_id, 0), host, sources, report_json, created_ms FROM log_reports WHERE id = ?1");
        s.bind(1, report_id);
        if (!s.step()) throw Exception(ErrorCode::NotFound, "no log report #" + std::to_string(report_id));
        return read_report(s);
    });
}

Expected<std::vector<LogReport>> History::log_reports(Id session_id) {
    return detail::guarded(m_path, [&] {
        std::vector<LogReport> out;
        auto s = Q("SELECT id, coalesce(session_id, 0), host, sources, report_json, created_ms FROM log_reports "
                   "WHERE coalesce(session_id, 0) = ?1 ORDER BY created_ms, id");
        s.bind(1, session_id);
        while (s.step()) out.push_back(read_report(s));
        return out;
    });
}

} // namespace sigmaops::history
