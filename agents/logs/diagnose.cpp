// diagnose.cpp - the log diagnosis over several sources (read -> parse -> mine -> collect) and
// its two renderings, text for a terminal and JSON for tools. The CLI, chat and the desktop call
// this; none of them repeats the loop.
#include <logs/logs.h>

#include <history/history.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace sigmaops::logs {

namespace {

constexpr std::uint64_t k_progress_every = 16 * 1024;   // records between progress calls

std::string file_label(const std::string& name) {
    const std::string base = std::filesystem::path(name).filename().string();
    return base.empty() ? name : base;
}

// One template as one source showed it.
struct SeenTemplate {
    std::uint32_t template_id = 0;
    std::uint64_t count = 0;
    Severity max_severity = Severity::Unknown;
    bool has_time = false;
    std::int64_t first_ms = 0, last_ms = 0;
    Evidence first;
    Evidence last;
};

// Records per minute (timed records of all sources), for Report::histogram. Consecutive records
// mostly share a minute: the last one's counter is cached.
struct MinuteCounts {
    static constexpr std::size_t k_max_minutes = 100'000;
    std::map<std::int64_t, std::pair<std::uint64_t, std::uint64_t>> minutes;   // minute -> (records, errors)
    std::int64_t cached_minute = 0;
    std::pair<std::uint64_t, std::uint64_t>* cached = nullptr;
    void add(std::int64_t t_ms, bool error) {
        const std::int64_t m = t_ms >= 0 ? t_ms / 60'000 : (t_ms - 59'999) / 60'000;
        if (!cached || m != cached_minute) {
            auto it = minutes.find(m);
            if (it == minutes.end()) {
                if (minutes.size() >= k_max_minutes) return;
                it = minutes.emplace(m, std::pair<std::uint64_t, std::uint64_t>{0, 0}).first;
            }
            cached = &it->second;
            cached_minute = m;
        }
        ++cached->first;
        cached->second += error;
    }
    // At most 24 buckets of a round width covering the first to the last minute.
    std::vector<HistogramBucket> buckets() const {
        std::vector<HistogramBucket> out;
        if (minutes.empty()) return out;
        const std::int64_t lo = minutes.begin()->first, hi = minutes.rbegin()->first;
        static const std::int64_t widths[] = {1, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 43200, 525600};
        std::int64_t w = widths[std::size(widths) - 1];
        for (std::int64_t x : widths)
            if ((hi / x - lo / x) < 24) { w = x; break; }
        const std::int64_t first = (lo >= 0 ? lo / w : (lo - w + 1) / w) * w;
        const std::int64_t n = std::min<std::int64_t>((hi - first) / w + 1, 24);
        out.resize(std::size_t(n));
        for (std::int64_t i = 0; i < n; ++i) {
            out[std::size_t(i)].start_ms = (first + i * w) * 60'000;
            out[std::size_t(i)].span_ms = w * 60'000;
        }
        for (const auto& [m, c] : minutes) {
            const std::int64_t i = std::min<std::int64_t>((m - first) / w, n - 1);
            out[std::size_t(i)].records += c.first;
            out[std::size_t(i)].errors += c.second;
        }
        return out;
    }
};

// The first line of a message, clipped at 300 bytes (on a UTF-8 boundary, "..." added), into `out`.
void clip_first_line(std::string_view m, std::string& out) {
    if (const std::size_t nl = m.find('\n'); nl != std::string_view::npos) m = m.substr(0, nl);
    if (m.size() > 300) {
        std::size_t cut = 300;
        while (cut > 0 && (std::uint8_t(m[cut]) & 0xC0) == 0x80) --cut;
        out.assign(m.substr(0, cut));
        out += "...";
    } else {
        out.assign(m);
    }
}

Evidence evidence_of(const Record& r, const std::string& label) {
    Evidence e;
    e.source = label;
    e.line = r.first_line;
    clip_first_line(r.message, e.text);
    return e;
}

// Whether two templates stand for the same message: the same tokens, where a <*> in either
// matches any token of the other (one generalises or narrows the other).
bool same_template(std::string_view a, std::string_view b) {
    if (a == b) return true;
    auto next = [](std::string_view& s) {
        const std::size_t sp = s.find(' ');
        std::string_view tok = s.substr(0, sp);
        s = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
        return tok;
    };
    while (!a.empty() && !b.empty()) {
        const std::string_view x = next(a), y = next(b);
        if (x != y && x != k_wildcard && y != k_wildcard) return false;
    }
    return a.empty() && b.empty();
}

std::size_t n_tokens(std::string_view t) { return t.empty() ? 0 : std::size_t(std::count(t.begin(), t.end(), ' ')) + 1; }

// Single-quoted for a POSIX shell.
std::string sh_quoted(std::string_view w) {
    std::string out = "'";
    for (char c : w) {
        if (c == '\'') out += "'\\''";
        else out.push_back(c);
    }
    return out + "'";
}

// The longest run of constant tokens of a template (what grep can look for).
std::string constant_run(std::string_view t) {
    std::string best, cur;
    std::string_view rest = t;
    while (true) {
        const std::size_t sp = rest.find(' ');
        const std::string_view tok = rest.substr(0, sp);
        if (tok == k_wildcard) {
            cur.clear();
        } else {
            if (!cur.empty()) cur.push_back(' ');
            cur.append(tok);
            if (cur.size() > best.size()) best = cur;
        }
        if (sp == std::string_view::npos) break;
        rest = rest.substr(sp + 1);
    }
    return best.substr(0, 120);
}

constexpr std::size_t k_fuzzy_limit = 5000;   // stored templates of one length compared word by word

} // namespace

std::string mask_secrets(std::string_view text) {
    static const std::string_view keys[] = {"password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "apikey",
                                            "api-key", "access_key", "private_key", "client_secret", "credentials"};
    std::string lower(text);
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    auto is_value_end = [](char c) { return c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '&' || c == ',' || c == ';' || c == '}'; };
    while (i < text.size()) {
        // "Bearer X" / "Basic X" after "authorization"
        std::size_t best = std::string::npos, key_len = 0;
        for (std::string_view k : keys) {
            const std::size_t at = lower.find(k, i);
            if (at < best) { best = at; key_len = k.size(); }
        }
        const std::size_t auth = lower.find("authorization", i);
        if (auth < best) { best = auth; key_len = 13; }
        if (best == std::string::npos) break;
        std::size_t j = best + key_len;
        // the rest of the key name (password_hash, token_id...), then optional quote and spaces, then = or :
        while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_' || text[j] == '-')) ++j;
        if (j < text.size() && (text[j] == '"' || text[j] == '\'')) ++j;
        while (j < text.size() && text[j] == ' ') ++j;
        if (j >= text.size() || (text[j] != '=' && text[j] != ':')) {
            out.append(text.substr(i, best + key_len - i));
            i = best + key_len;
            continue;
        }
        ++j;
        while (j < text.size() && text[j] == ' ') ++j;
        if (j < text.size() && (text[j] == '"' || text[j] == '\'')) ++j;
        if (auth == best) {   // "Authorization: Bearer abc", "authorization=Basic abc"
            std::size_t w = j;
            while (w < text.size() && std::isalpha(static_cast<unsigned char>(text[w]))) ++w;
            if (w < text.size() && w > j && text[w] == ' ') j = w + 1;
        }
        std::size_t end = j;
        while (end < text.size() && !is_value_end(text[end])) ++end;
        out.append(text.substr(i, j - i));
        if (end > j) out += "<redacted>";
        i = end;
    }
    out.append(text.substr(std::min(i, text.size())));
    return out;
}

std::string utc_text(std::int64_t ms) {
    const std::time_t t = std::time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

bool Report::any_error() const {
    for (const auto& s : sources)
        if (s.error) return true;
    return false;
}

Source open_source(const std::string& path, bool rotated, ReadOptions options) {
    Source src;
    if (path == "-") {
        src.name = "<stdin>";
        src.reader.emplace(LineReader::from_fd(0, "<stdin>", options));
        return src;
    }
    src.name = path;
    std::error_code ec;
    const auto abs = std::filesystem::absolute(path, ec);
    src.key = ec ? path : abs.lexically_normal().string();
    const std::vector<std::string> paths = rotated ? rotated_set(path) : std::vector<std::string>{path};
    if (paths.empty()) {
        src.error = Error{ErrorCode::NotFound, "no such file: " + path};
        return src;
    }
    auto r = LineReader::open_files(paths, options);
    if (!r) src.error = r.error();
    else src.reader.emplace(std::move(*r));
    return src;
}

namespace {

// The templates a source showed, by final template (merged word families resolved).
std::vector<SeenTemplate> final_templates(const std::vector<SeenTemplate>& seen, const TemplateMiner& miner) {
    std::vector<SeenTemplate> out;
    std::unordered_map<std::uint32_t, std::size_t> at;
    for (const SeenTemplate& t : seen) {
        const std::uint32_t id = miner.resolve(t.template_id);
        auto [it, fresh] = at.emplace(id, out.size());
        if (fresh) {
            out.push_back(t);
            out.back().template_id = id;
            continue;
        }
        SeenTemplate& d = out[it->second];
        d.count += t.count;
        d.max_severity = std::max(d.max_severity, t.max_severity);
        if (t.has_time) {
            if (!d.has_time || t.first_ms < d.first_ms) d.first_ms = t.first_ms;
            if (!d.has_time || t.last_ms > d.last_ms) d.last_ms = t.last_ms;
            d.has_time = true;
        }
        if (t.first.line < d.first.line) d.first = t.first;
        if (t.last.line > d.last.line) d.last = t.last;
    }
    return out;
}

// Compares a source's templates with its history, remembers them, and makes the "new-template"
// finding (nullopt when nothing is new or the source was never diagnosed).
std::optional<Finding> remember_templates(history::History& h, const std::string& key, const std::string& name,
                                          const std::vector<SeenTemplate>& seen, const TemplateMiner& miner,
                                          std::size_t max_evidence, SourceSummary& sum, std::vector<std::string>& notes) {
    auto known = h.log_source(key);
    if (!known) {
        notes.push_back("history: templates of " + name + " not compared: " + known.error().message);
        return std::nullopt;
    }
    sum.earlier_runs = known->n_runs;
    std::unordered_set<std::string> exact;
    std::unordered_map<std::size_t, std::vector<const std::string*>> by_length;
    for (const auto& t : known->templates) exact.insert(t.text);
    for (const auto& t : known->templates) by_length[n_tokens(t.text)].push_back(&t.text);

    std::vector<history::LogTemplate> record;
    std::vector<std::pair<const SeenTemplate*, std::string>> fresh;
    for (const SeenTemplate& t : seen) {
        std::string text = mask_secrets(miner.get(t.template_id).text);
        bool is_known = exact.count(text) > 0;
        if (!is_known) {
            const auto it = by_length.find(n_tokens(text));
            if (it != by_length.end() && it->second.size() <= k_fuzzy_limit)
                for (const std::string* k : it->second)
                    if (same_template(text, *k)) { is_known = true; break; }
        }
        if (!is_known && known->n_runs > 0) fresh.emplace_back(&t, text);
        record.push_back(history::LogTemplate{std::move(text), std::int64_t(t.count), 0, 0});
    }
    if (auto w = h.record_log_run(key, record); !w)
        notes.push_back("history: templates of " + name + " not remembered: " + w.error().message);
    if (known->n_runs == 0) {
        notes.push_back("first diagnosis of " + name + ": its " + std::to_string(seen.size()) +
                        " templates are remembered; the next run reports the ones not seen before");
        return std::nullopt;
    }
    sum.new_templates = fresh.size();
    if (fresh.empty()) return std::nullopt;

    // Error-level templates first, then by first appearance.
    std::stable_sort(fresh.begin(), fresh.end(), [](const auto& a, const auto& b) {
        const bool ea = a.first->max_severity >= Severity::Error, eb = b.first->max_severity >= Severity::Error;
        if (ea != eb) return ea;
        return a.first->first.line < b.first->first.line;
    });
    Finding f;
    f.category = "new-template";
    const bool any_error = fresh.front().first->max_severity >= Severity::Error;
    f.severity = any_error ? Severity::Warning : Severity::Notice;
    f.title = std::to_string(fresh.size()) + (fresh.size() == 1 ? " message" : " messages") + " never seen before in " + name;
    for (const auto& [t, text] : fresh) {
        f.count += t->count;
        if (t->has_time) {
            if (!f.has_time || t->first_ms < f.first_ms) f.first_ms = t->first_ms;
            if (!f.has_time || t->last_ms > f.last_ms) f.last_ms = t->last_ms;
            f.has_time = true;
        }
        if (f.evidence.size() < std::max<std::size_t>(max_evidence, 1)) {
            Evidence e = t->first;
            e.text = mask_secrets(e.text);
            f.evidence.push_back(std::move(e));
        }
    }
    f.explanation = "The " + std::to_string(known->n_runs) + (known->n_runs == 1 ? " earlier diagnosis" : " earlier diagnoses") +
                    " of " + name + " (since " + utc_text(known->first_run_ms) + " UTC) never saw " +
                    (fresh.size() == 1 ? "this message" : "these messages") + ": ";
    for (std::size_t i = 0; i < fresh.size() && i < 5; ++i)
        f.explanation += (i ? "; \"" : "\"") + fresh[i].second.substr(0, 160) + "\" (" + std::to_string(fresh[i].first->count) + "x)";
    if (fresh.size() > 5) f.explanation += "; and " + std::to_string(fresh.size() - 5) + " more";
    f.explanation += ". A message a system never printed before often marks what changed: a new version, a new "
                     "client, a new failure.";
    const std::string grep_for = constant_run(fresh.front().second);
    if (!grep_for.empty() && name.find(':') == std::string::npos && name.front() != '<')
        f.next_commands.push_back("grep -n -F -- " + sh_quoted(grep_for) + " " + sh_quoted(name) + " | head -20");
    return f;
}

} // namespace

Expected<Report> diagnose(std::vector<Source> sources, const DiagnoseOptions& options) {
    ParseOptions po;
    po.log_format = options.log_format;
    po.time = options.time;
    if (auto check = RecordParser::create(po); !check) return unexpected(check.error());

    TemplateMiner miner;
    Collector collector(options.max_evidence);
    Report report;
    Record rec;
    std::uint64_t n_records = 0;
    std::vector<std::vector<SeenTemplate>> seen(sources.size());   // per source, in order of first appearance
    std::vector<std::uint32_t> slot;                                // template id -> 1 + index in seen[i]
    MinuteCounts minutes;
    for (std::size_t i = 0; i < sources.size(); ++i) {
        Source& src = sources[i];
        SourceSummary sum;
        sum.name = src.name;
        if (!src.reader) {
            sum.error = src.error ? src.error->message : std::string("not opened");
            report.sources.push_back(std::move(sum));
            continue;
        }
        LineReader& reader = *src.reader;
        auto parser = RecordParser::create(po);
        const std::string label = src.label.empty() ? file_label(src.name) : src.label;
        DiagnoseProgress p;
        p.source = src.name;
        p.i_source = i;
        p.n_sources = sources.size();
        auto tell = [&](bool done) {
            if (!options.progress) return;
            p.bytes_read = reader.bytes_read();
            p.bytes_total = reader.bytes_total();
            p.lines = sum.lines;
            p.records = n_records;
            p.done = done;
            options.progress(p);
        };
        std::fill(slot.begin(), slot.end(), 0);
        std::vector<SeenTemplate>& mine = seen[i];
        while (parser->next(reader, rec)) {
            const Match m = miner.add(rec.message);
            collector.add(rec, label, m.template_id, miner.get(m.template_id).text);
            if (m.template_id >= slot.size()) slot.resize(std::max<std::size_t>(m.template_id + 1, slot.size() * 2), 0);
            std::uint32_t& k = slot[m.template_id];
            if (k == 0) {
                Evidence e = evidence_of(rec, label);
                mine.push_back(SeenTemplate{m.template_id, 0, Severity::Unknown, false, 0, 0, e, e});
                k = std::uint32_t(mine.size());
            }
            SeenTemplate& t = mine[k - 1];
            ++t.count;
            if (t.count > 1) {
                t.last.line = rec.first_line;
                clip_first_line(rec.message, t.last.text);
            }
            t.max_severity = std::max(t.max_severity, rec.severity);
            if (rec.has_time && !rec.boot_relative) {
                minutes.add(rec.time_ms, rec.severity >= Severity::Error);
                if (!t.has_time || rec.time_ms < t.first_ms) t.first_ms = rec.time_ms;
                if (!t.has_time || rec.time_ms > t.last_ms) t.last_ms = rec.time_ms;
                t.has_time = true;
            }
            ++sum.records;
            ++n_records;
            sum.lines = rec.first_line + rec.n_lines - 1;
            if (n_records % k_progress_every == 0) {
                if (options.cancel && options.cancel->load(std::memory_order_relaxed))
                    return unexpected(ErrorCode::Cancelled, "diagnosis cancelled while reading " + src.name);
                tell(false);
            }
        }
        tell(true);
        sum.format = parser->format();
        if (reader.error()) sum.error = reader.error()->message;
        report.sources.push_back(std::move(sum));
    }
    report.findings = collector.findings();
    for (auto& f : report.findings) {
        f.title = mask_secrets(f.title);   // a burst's title quotes its template
        f.explanation = mask_secrets(f.explanation);
        for (auto& e : f.evidence) e.text = mask_secrets(e.text);
    }
    report.digest = collector.digest(options.digest_size, &miner);
    for (auto& d : report.digest) {
        d.text = mask_secrets(d.text);
        d.first.text = mask_secrets(d.first.text);
    }
    report.n_records = collector.n_records();
    report.n_templates = miner.size();
    report.histogram = minutes.buckets();

    std::vector<std::vector<SeenTemplate>> finals(sources.size());
    std::unordered_map<std::uint32_t, const Evidence*> last_of;   // final template id -> its latest record
    for (std::size_t i = 0; i < sources.size(); ++i) {
        if (!sources[i].reader) continue;
        finals[i] = final_templates(seen[i], miner);
        seen[i].clear();
        seen[i].shrink_to_fit();
        for (const SeenTemplate& t : finals[i]) last_of[t.template_id] = &t.last;
    }
    for (auto& d : report.digest)
        if (const auto it = last_of.find(d.template_id); it != last_of.end()) {
            d.last = *it->second;
            d.last.text = mask_secrets(d.last.text);
        }

    for (std::size_t i = 0; i < sources.size(); ++i) {
        if (!sources[i].reader) continue;
        report.sources[i].templates = finals[i].size();
        if (!options.history) continue;
        const std::string& key = sources[i].key.empty() ? sources[i].name : sources[i].key;
        if (auto f = remember_templates(*options.history, key, sources[i].name, finals[i], miner, options.max_evidence, report.sources[i],
                                        report.notes)) {
            f->id = "F" + std::to_string(report.findings.size() + 1);
            report.findings.push_back(std::move(*f));
        }
    }

    if (options.history) {
        history::LogReport lr;
        lr.session_id = options.session_id;
        lr.host = options.host;
        for (const auto& s : report.sources) lr.sources += (lr.sources.empty() ? "" : "\n") + s.name;
        lr.report_json = report_json(report);
        auto id = options.history->add_log_report(lr);
        if (!id) {
            report.notes.push_back("history: the report was not stored: " + id.error().message);
        } else {
            report.history_id = *id;
            std::map<std::string, std::string> name_of;   // evidence label -> source name
            for (std::size_t i = 0; i < sources.size(); ++i)
                name_of.emplace(sources[i].label.empty() ? file_label(sources[i].name) : sources[i].label, sources[i].name);
            for (const Finding& f : report.findings) {
                history::Finding hf;
                hf.session_id = options.session_id;
                hf.host = options.host;
                if (!f.evidence.empty()) {
                    const auto it = name_of.find(f.evidence.front().source);
                    hf.source = it != name_of.end() ? it->second : f.evidence.front().source;
                }
                hf.severity = std::string(severity_name(f.severity));
                hf.summary = f.id + " " + f.category + ": " + f.title;
                hf.detail = std::to_string(f.count) + (f.count == 1 ? " time" : " times");
                if (f.has_time) hf.detail += ", " + utc_text(f.first_ms) + " .. " + utc_text(f.last_ms) + " UTC";
                hf.detail += " (log report #" + std::to_string(*id) + ")\n" + f.explanation;
                for (const auto& cmd : f.next_commands) hf.detail += "\n  " + cmd;
                for (const auto& e : f.evidence) hf.evidence.push_back({e.source + ":" + std::to_string(e.line), e.text});
                if (auto w = options.history->add_finding(hf); !w) {
                    report.notes.push_back("history: finding " + f.id + " was not stored: " + w.error().message);
                    break;
                }
            }
        }
    }
    return report;
}

std::string report_text(const Report& r) {
    std::ostringstream o;
    for (const auto& s : r.sources) {
        o << s.name << ": ";
        if (s.error && s.records == 0) {
            o << "not read: " << *s.error << "\n";
            continue;
        }
        o << s.lines << " lines, " << s.records << " records, format " << format_name(s.format) << ", " << s.templates
          << (s.templates == 1 ? " template" : " templates");
        if (s.earlier_runs > 0) o << " (" << s.new_templates << " new since " << s.earlier_runs << (s.earlier_runs == 1 ? " earlier run)" : " earlier runs)");
        o << "\n";
        if (s.error) o << "  warning: " << *s.error << "\n";
    }
    o << "\n";
    if (r.findings.empty())
        o << "No findings: nothing matched the signature library (" << r.n_records << " records, " << r.n_templates << " templates).\n";
    for (const auto& f : r.findings) {
        o << f.id << "  " << severity_name(f.severity) << "  " << f.category << ": " << f.title << "\n";
        o << "    " << f.count << (f.count == 1 ? " time" : " times");
        if (f.has_time) o << ", " << utc_text(f.first_ms) << (f.count > 1 ? " .. " + utc_text(f.last_ms) : "") << " UTC";
        o << "\n";
        for (const auto& e : f.evidence) o << "    " << e.source << ":" << e.line << "  " << e.text << "\n";
        o << "    " << f.explanation << "\n    next (read-only):\n";
        for (const auto& cmd : f.next_commands) o << "      " << cmd << "\n";
        o << "\n";
    }
    o << "Most frequent templates:\n";
    for (const auto& d : r.digest)
        o << "  " << d.count << "  " << d.text.substr(0, 160) << "  (" << d.first.source << ":" << d.first.line << ")\n";
    if (r.model) {
        const ModelAnswer& m = *r.model;
        o << "\nModel explanation (" << m.model << "; it can be wrong, the findings above are the evidence):\n" << m.text << "\n";
        if (!m.flag.empty()) o << "warning: the answer " << m.flag << ": do not trust it beyond the findings above\n";
        if (!m.disagreement.empty()) o << "note: " << m.disagreement << " (both are shown; the findings above are the evidence)\n";
        if (!m.left_out.empty()) o << "(left out of the prompt to fit the model's context: " << m.left_out.size() << " items; --show-prompt lists them)\n";
    }
    if (!r.notes.empty()) o << "\n";
    for (const auto& n : r.notes) o << "note: " << n << "\n";
    if (r.history_id) o << "(stored in history as log report #" << r.history_id << ")\n";
    return o.str();
}

std::string report_json(const Report& r) {
    using json = nlohmann::ordered_json;
    json sources = json::array();
    for (const auto& s : r.sources)
        sources.push_back({{"name", s.name},
                           {"format", format_name(s.format)},
                           {"lines", s.lines},
                           {"records", s.records},
                           {"error", s.error ? json(*s.error) : json(nullptr)},
                           {"templates", s.templates},
                           {"earlier_runs", s.earlier_runs >= 0 ? json(s.earlier_runs) : json(nullptr)},
                           {"new_templates", s.new_templates}});
    json findings = json::array();
    for (const auto& f : r.findings) {
        json evidence = json::array();
        for (const auto& e : f.evidence) evidence.push_back({{"source", e.source}, {"line", e.line}, {"text", e.text}});
        findings.push_back({{"id", f.id},
                            {"category", f.category},
                            {"title", f.title},
                            {"severity", severity_name(f.severity)},
                            {"count", f.count},
                            {"first_seen", f.has_time ? json(utc_text(f.first_ms) + "Z") : json(nullptr)},
                            {"last_seen", f.has_time ? json(utc_text(f.last_ms) + "Z") : json(nullptr)},
                            {"evidence", std::move(evidence)},
                            {"explanation", f.explanation},
                            {"next_commands", f.next_commands}});
    }
    json top = json::array();
    for (const auto& d : r.digest)
        top.push_back({{"template", d.text},
                       {"count", d.count},
                       {"max_severity", severity_name(d.max_severity)},
                       {"first", {{"source", d.first.source}, {"line", d.first.line}}},
                       {"last", {{"source", d.last.source}, {"line", d.last.line}}}});
    json histogram = json::array();
    for (const auto& b : r.histogram)
        histogram.push_back({{"start", utc_text(b.start_ms) + "Z"}, {"minutes", b.span_ms / 60'000}, {"records", b.records}, {"errors", b.errors}});
    json model = nullptr;
    if (r.model) {
        const ModelAnswer& m = *r.model;
        model = {{"name", m.model},
                 {"answer", m.text},
                 {"cited", m.cited},
                 {"unknown", m.unknown},
                 {"flag", m.flag.empty() ? json(nullptr) : json(m.flag)},
                 {"root_cause", m.root_cause.empty() ? json(nullptr) : json(m.root_cause)},
                 {"disagreement", m.disagreement.empty() ? json(nullptr) : json(m.disagreement)},
                 {"prompt_tokens", m.n_prompt_tokens},
                 {"tokens", m.n_tokens},
                 {"left_out", m.left_out},
                 {"prompt", m.prompt}};
    }
    json out = {{"sources", std::move(sources)},
                {"findings", std::move(findings)},
                {"digest", {{"records", r.n_records}, {"templates", r.n_templates}, {"top", std::move(top)}, {"histogram", std::move(histogram)}}},
                {"notes", r.notes},
                {"history_id", r.history_id ? json(r.history_id) : json(nullptr)},
                {"model", std::move(model)}};
    return out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

} // namespace sigmaops::logs
