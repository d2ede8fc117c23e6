// history/export.cpp - a session as Markdown (for people) and JSON (for machines: import_json()
// reads it back exactly), and the import itself.
//
// JSON contract: {"format": "sigmaops-history-session", "version": 1, "session": {...},
// "messages": [...], "commands": [...], "config_changes": [...], "findings": [...]}. Row ids are
// left out (an import gets new ones), times are integers (ms since the epoch, UTC), timings are
// numbers printed so that they parse back to the same double. Keys keep a fixed order, so
// export -> import -> export gives the same bytes.
#include <history/history.h>
#include "history_internal.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace sigmaops::history {

using json = nlohmann::ordered_json;
using sigmaops::ErrorCode;
using sigmaops::Exception;

namespace {

constexpr const char* kFormat = "sigmaops-history-session";
constexpr int kFormatVersion = 1;

// ----- JSON readers with messages that name the field -----

const json& field(const json& j, const char* key, const std::string& where) {
    if (!j.is_object()) throw Exception(ErrorCode::InvalidArgument, "import: " + where + " is not an object");
    auto it = j.find(key);
    if (it == j.end()) throw Exception(ErrorCode::InvalidArgument, "import: " + where + " has no \"" + key + "\"");
    return *it;
}

std::string get_str(const json& j, const char* key, const std::string& where) {
    const json& v = field(j, key, where);
    if (!v.is_string()) throw Exception(ErrorCode::InvalidArgument, "import: " + where + "." + key + " must be a string");
    return v.get<std::string>();
}

std::int64_t get_i64(const json& j, const char* key, const std::string& where) {
    const json& v = field(j, key, where);
    if (!v.is_number_integer()) throw Exception(ErrorCode::InvalidArgument, "import: " + where + "." + key + " must be an integer");
    return v.get<std::int64_t>();
}

double get_f64(const json& j, const char* key, const std::string& where) {
    const json& v = field(j, key, where);
    if (!v.is_number()) throw Exception(ErrorCode::InvalidArgument, "import: " + where + "." + key + " must be a number");
    return v.get<double>();
}

bool get_bool(const json& j, const char* key, const std::string& where) {
    const json& v = field(j, key, where);
    if (!v.is_boolean()) throw Exception(ErrorCode::InvalidArgument, "import: " + where + "." + key + " must be true or false");
    return v.get<bool>();
}

const json& get_array(const json& j, const char* key, const std::string& where) {
    const json& v = field(j, key, where);
    if (!v.is_array()) throw Exception(ErrorCode::InvalidArgument, "import: " + where + "." + key + " must be an array");
    return v;
}

// ----- Markdown helpers -----

// A code fence longer than any run of backticks inside `text`.
std::string fence_for(const std::string& text) {
    std::size_t longest = 0, run = 0;
    for (char c : text) {
        run = c == '`' ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    return std::string(std::max<std::size_t>(3, longest + 1), '`');
}

void code_block(std::ostringstream& md, const std::string& lang, const std::string& text) {
    std::string f = fence_for(text);
    md << f << lang << "\n" << text;
    if (text.empty() || text.back() != '\n') md << "\n";
    md << f << "\n\n";
}

std::string inline_code(const std::string& text) {
    std::string f = fence_for(text).substr(2);  // one more backtick than the longest run
    bool pad = !text.empty() && (text.front() == '`' || text.back() == '`');
    return f + (pad ? " " : "") + text + (pad ? " " : "") + f;
}

std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

std::string format_ms(double ms) {
    char buf[32];
    if (ms >= 1000) std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000);
    else std::snprintf(buf, sizeof buf, "%.0f ms", ms);
    return buf;
}

} // namespace

Expected<std::string> History::export_json(Id session_id) {
    return detail::guarded(m_path, [&] {
        SQL_EXEC(m_db, "BEGIN");  // one snapshot for the whole session
        struct End { sqlite3* db; ~End() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); } } end{m_db};
        Conversation s = session(session_id).value();
        json doc;
        doc["format"] = kFormat;
        doc["version"] = kFormatVersion;
        doc["session"] = json{{"title", s.title}, {"created_ms", s.created_ms}, {"updated_ms", s.updated_ms},
                              {"model", s.model}, {"host", s.host}, {"pinned", s.pinned}};
        json msgs = json::array();
        auto all_msgs = messages(session_id).value();
        for (const Message& m : all_msgs)
            msgs.push_back(json{{"role", m.role}, {"content", m.content}, {"created_ms", m.created_ms},
                                {"n_prompt_tokens", m.n_prompt_tokens}, {"n_tokens", m.n_tokens},
                                {"prompt_ms", m.prompt_ms}, {"decode_ms", m.decode_ms}});
        doc["messages"] = std::move(msgs);
        json cmds = json::array();
        auto all_cmds = commands(session_id).value();
        for (const Command& c : all_cmds)
            cmds.push_back(json{{"host", c.host}, {"text", c.text}, {"risk", to_string(c.risk)}, {"approved_by", c.approved_by},
                                {"exit_code", c.exit_code ? json(*c.exit_code) : json(nullptr)},
                                {"started_ms", c.started_ms}, {"duration_ms", c.duration_ms},
                                {"stdout", c.stdout_text}, {"stdout_truncated", c.stdout_truncated}, {"n_stdout_bytes", c.n_stdout_bytes},
                                {"stderr", c.stderr_text}, {"stderr_truncated", c.stderr_truncated}, {"n_stderr_bytes", c.n_stderr_bytes}});
        doc["commands"] = std::move(cmds);
        json changes = json::array();
        auto all_changes = config_changes(session_id).value();
        for (const ConfigChange& c : all_changes) {
            json events = json::array();
            for (const ChangeEvent& e : c.events)
                events.push_back(json{{"status", to_string(e.status)}, {"at_ms", e.at_ms}, {"note", e.note}});
            changes.push_back(json{{"host", c.host}, {"path", c.path}, {"diff", c.diff}, {"backup_path", c.backup_path},
                                   {"validation_output", c.validation_output}, {"status", to_string(c.status)},
                                   {"created_ms", c.created_ms}, {"updated_ms", c.updated_ms}, {"events", std::move(events)}});
        }
        doc["config_changes"] = std::move(changes);
        json finds = json::array();
        auto all_finds = findings(session_id).value();
        for (const Finding& f : all_finds) {
            json ev = json::array();
            for (const Evidence& e : f.evidence) ev.push_back(json{{"ref", e.ref}, {"excerpt", e.excerpt}});
            finds.push_back(json{{"host", f.host}, {"source", f.source}, {"severity", f.severity}, {"summary", f.summary},
                                 {"detail", f.detail}, {"created_ms", f.created_ms}, {"evidence", std::move(ev)}});
        }
        doc["findings"] = std::move(finds);
        return doc.dump(2) + "\n";
    });
}

Expected<Id> History::import_json(std::string_view text) {
    return detail::guarded(m_path, [&] {
        json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
        if (doc.is_discarded())
            throw Exception(ErrorCode::InvalidArgument, "import: not valid JSON (or not UTF-8); expected a file from `sigmaops history export ID --format json`");
        if (!doc.is_object() || doc.value("format", "") != kFormat)
            throw Exception(ErrorCode::InvalidArgument, "import: not a SigmaOps session export (\"format\" is not \"" + std::string(kFormat) + "\")");
        std::int64_t version = get_i64(doc, "version", "document");
        if (version > kFormatVersion)
            throw Exception(ErrorCode::TooNew, "import: the export has format version " + std::to_string(version) +
                                                   ", this SigmaOps reads up to " + std::to_string(kFormatVersion) + "; update SigmaOps");
        const json& js = field(doc, "session", "document");
        // Read and check everything before writing anything.
        Conversation s;
        s.title = get_str(js, "title", "session");
        s.created_ms = get_i64(js, "created_ms", "session");
        s.updated_ms = get_i64(js, "updated_ms", "session");
        s.model = get_str(js, "model", "session");
        s.host = get_str(js, "host", "session");
        s.pinned = get_bool(js, "pinned", "session");

        std::vector<Message> msgs;
        const json& jm = get_array(doc, "messages", "document");
        for (std::size_t i = 0; i < jm.size(); ++i) {
            std::string w = "messages[" + std::to_string(i) + "]";
            Message m;
            m.role = get_str(jm[i], "role", w);
            if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool")
                throw Exception(ErrorCode::InvalidArgument, "import: " + w + ".role '" + m.role + "' is not system/user/assistant/tool");
            m.content = get_str(jm[i], "content", w);
            m.created_ms = get_i64(jm[i], "created_ms", w);
            m.n_prompt_tokens = static_cast<int>(get_i64(jm[i], "n_prompt_tokens", w));
            m.n_tokens = static_cast<int>(get_i64(jm[i], "n_tokens", w));
            m.prompt_ms = get_f64(jm[i], "prompt_ms", w);
            m.decode_ms = get_f64(jm[i], "decode_ms", w);
            msgs.push_back(std::move(m));
        }
        std::vector<Command> cmds;
        const json& jc = get_array(doc, "commands", "document");
        for (std::size_t i = 0; i < jc.size(); ++i) {
            std::string w = "commands[" + std::to_string(i) + "]";
            Command c;
            c.host = get_str(jc[i], "host", w);
            c.text = get_str(jc[i], "text", w);
            auto risk = risk_from_string(get_str(jc[i], "risk", w));
            if (!risk) throw Exception(ErrorCode::InvalidArgument, "import: " + w + ".risk is not a known risk level");
            c.risk = *risk;
            c.approved_by = get_str(jc[i], "approved_by", w);
            const json& ec = field(jc[i], "exit_code", w);
            if (ec.is_number_integer()) c.exit_code = ec.get<int>();
            else if (!ec.is_null()) throw Exception(ErrorCode::InvalidArgument, "import: " + w + ".exit_code must be an integer or null");
            c.started_ms = get_i64(jc[i], "started_ms", w);
            c.duration_ms = get_f64(jc[i], "duration_ms", w);
            c.stdout_text = get_str(jc[i], "stdout", w);
            c.stdout_truncated = get_bool(jc[i], "stdout_truncated", w);
            c.n_stdout_bytes = get_i64(jc[i], "n_stdout_bytes", w);
            c.stderr_text = get_str(jc[i], "stderr", w);
            c.stderr_truncated = get_bool(jc[i], "stderr_truncated", w);
            c.n_stderr_bytes = get_i64(jc[i], "n_stderr_bytes", w);
            cmds.push_back(std::move(c));
        }
        std::vector<ConfigChange> changes;
        const json& jch = get_array(doc, "config_changes", "document");
        for (std::size_t i = 0; i < jch.size(); ++i) {
            std::string w = "config_changes[" + std::to_string(i) + "]";
            ConfigChange c;
            c.host = get_str(jch[i], "host", w);
            c.path = get_str(jch[i], "path", w);
            c.diff = get_str(jch[i], "diff", w);
            c.backup_path = get_str(jch[i], "backup_path", w);
            c.validation_output = get_str(jch[i], "validation_output", w);
            auto st = change_status_from_string(get_str(jch[i], "status", w));
            if (!st) throw Exception(ErrorCode::InvalidArgument, "import: " + w + ".status is not proposed/applied/rolled-back/failed");
            c.status = *st;
            c.created_ms = get_i64(jch[i], "created_ms", w);
            c.updated_ms = get_i64(jch[i], "updated_ms", w);
            const json& je = get_array(jch[i], "events", w);
            for (std::size_t k = 0; k < je.size(); ++k) {
                std::string we = w + ".events[" + std::to_string(k) + "]";
                auto es = change_status_from_string(get_str(je[k], "status", we));
                if (!es) throw Exception(ErrorCode::InvalidArgument, "import: " + we + ".status is not a change status");
                c.events.push_back(ChangeEvent{*es, get_i64(je[k], "at_ms", we), get_str(je[k], "note", we)});
            }
            changes.push_back(std::move(c));
        }
        std::vector<Finding> finds;
        const json& jf = get_array(doc, "findings", "document");
        for (std::size_t i = 0; i < jf.size(); ++i) {
            std::string w = "findings[" + std::to_string(i) + "]";
            Finding f;
            f.host = get_str(jf[i], "host", w);
            f.source = get_str(jf[i], "source", w);
            f.severity = get_str(jf[i], "severity", w);
            f.summary = get_str(jf[i], "summary", w);
            f.detail = get_str(jf[i], "detail", w);
            f.created_ms = get_i64(jf[i], "created_ms", w);
            const json& je = get_array(jf[i], "evidence", w);
            for (std::size_t k = 0; k < je.size(); ++k) {
                std::string we = w + ".evidence[" + std::to_string(k) + "]";
                f.evidence.push_back(Evidence{get_str(je[k], "ref", we), get_str(je[k], "excerpt", we)});
            }
            finds.push_back(std::move(f));
        }

        auto tx = HISTORY_TRANSACTION(m_db);
        {
            auto st = Q("INSERT INTO sessions(title, created_ms, updated_ms, model, host, pinned) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
            st.bind(1, s.title).bind(2, s.created_ms).bind(3, s.updated_ms).bind(4, s.model).bind(5, s.host).bind(6, s.pinned).run();
        }
        Id sid = sqlite3_last_insert_rowid(m_db);
        for (const Message& m : msgs) {
            auto st = Q("INSERT INTO messages(session_id, role, content, created_ms, n_prompt_tokens, n_tokens, prompt_ms, decode_ms) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
            st.bind(1, sid).bind(2, m.role).bind(3, m.content).bind(4, m.created_ms).bind(5, m.n_prompt_tokens);
            st.bind(6, m.n_tokens).bind(7, m.prompt_ms).bind(8, m.decode_ms).run();
        }
        for (Command& c : cmds) {
            c.session_id = sid;
            detail::insert_command(m_db, *m_cache, c);
        }
        for (ConfigChange& c : changes) {
            c.session_id = sid;
            Id cid = detail::insert_change(m_db, *m_cache, c);
            for (const ChangeEvent& e : c.events) detail::insert_change_event(m_db, *m_cache, cid, e);
        }
        for (Finding& f : finds) {
            f.session_id = sid;
            detail::insert_finding(m_db, *m_cache, f);
        }
        tx.commit();
        return sid;
    });
}

Expected<std::string> History::export_markdown(Id session_id) {
    return detail::guarded(m_path, [&] {
        SQL_EXEC(m_db, "BEGIN");
        struct End { sqlite3* db; ~End() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); } } end{m_db};
        Conversation s = session(session_id).value();
        std::ostringstream md;
        md << "# " << one_line(s.title.empty() ? "(untitled session)" : s.title) << "\n\n";
        md << "- Session: " << s.id << (s.pinned ? " (pinned)" : "") << "\n";
        md << "- Created: " << format_utc(s.created_ms) << "\n";
        md << "- Last activity: " << format_utc(s.updated_ms) << "\n";
        if (!s.model.empty()) md << "- Model: " << one_line(s.model) << "\n";
        if (!s.host.empty()) md << "- Host: " << one_line(s.host) << "\n";
        md << "\n";

        auto msgs = messages(session_id).value();
        if (!msgs.empty()) md << "## Conversation\n\n";
        for (const Message& m : msgs) {
            md << "### " << m.role << " - " << format_utc(m.created_ms);
            if (m.role == "assistant" && (m.n_tokens || m.decode_ms > 0))
                md << " (" << m.n_tokens << " tokens, prompt " << format_ms(m.prompt_ms) << ", decode " << format_ms(m.decode_ms) << ")";
            md << "\n\n" << m.content;
            if (m.content.empty() || m.content.back() != '\n') md << "\n";
            md << "\n";
        }

        auto cmds = commands(session_id).value();
        if (!cmds.empty()) md << "## Commands\n\n";
        for (const Command& c : cmds) {
            md << "### " << inline_code(one_line(c.text)) << " on " << one_line(c.host) << "\n\n";
            md << "- When: " << format_utc(c.started_ms) << ", took " << format_ms(c.duration_ms) << "\n";
            md << "- Risk: " << to_string(c.risk) << "; approved by: " << (c.approved_by.empty() ? "(not approved)" : c.approved_by) << "\n";
            md << "- Exit code: " << (c.exit_code ? std::to_string(*c.exit_code) : std::string("(none)")) << "\n\n";
            if (!c.stdout_text.empty()) {
                md << "stdout" << (c.stdout_truncated ? " (truncated, " + std::to_string(c.n_stdout_bytes) + " bytes in all)" : "") << ":\n\n";
                code_block(md, "text", c.stdout_text);
            }
            if (!c.stderr_text.empty()) {
                md << "stderr" << (c.stderr_truncated ? " (truncated, " + std::to_string(c.n_stderr_bytes) + " bytes in all)" : "") << ":\n\n";
                code_block(md, "text", c.stderr_text);
            }
        }

        auto changes = config_changes(session_id).value();
        if (!changes.empty()) md << "## Config changes\n\n";
        for (const ConfigChange& c : changes) {
            md << "### " << inline_code(one_line(c.path)) << " on " << one_line(c.host) << " - " << to_string(c.status) << "\n\n";
            if (!c.backup_path.empty()) md << "- Backup: " << inline_code(one_line(c.backup_path)) << "\n";
            for (const ChangeEvent& e : c.events)
                md << "- " << format_utc(e.at_ms) << ": " << to_string(e.status) << (e.note.empty() ? "" : " - " + one_line(e.note)) << "\n";
            md << "\n";
            code_block(md, "diff", c.diff);
            if (!c.validation_output.empty()) {
                md << "Validation:\n\n";
                code_block(md, "text", c.validation_output);
            }
        }

        auto finds = findings(session_id).value();
        if (!finds.empty()) md << "## Findings\n\n";
        for (const Finding& f : finds) {
            md << "### " << (f.severity.empty() ? "" : "[" + f.severity + "] ") << one_line(f.summary) << "\n\n";
            md << "- Host: " << one_line(f.host) << "; source: " << one_line(f.source) << "; " << format_utc(f.created_ms) << "\n\n";
            if (!f.detail.empty()) md << f.detail << (f.detail.back() == '\n' ? "" : "\n") << "\n";
            for (const Evidence& e : f.evidence) {
                md << "- " << inline_code(one_line(e.ref)) << "\n\n";
                if (!e.excerpt.empty()) code_block(md, "text", e.excerpt);
            }
        }
        return md.str();
    });
}

} // namespace sigmaops::history
