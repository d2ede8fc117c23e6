// diagnose.cpp - the log diagnosis over several sources (read -> parse -> mine -> collect) and
// its two renderings, text for a terminal and JSON for tools. The CLI, chat and the desktop call
// this; none of them repeats the loop.
#include <logs/logs.h>

#include <nlohmann/json.hpp>

#include <ctime>
#include <filesystem>
#include <sstream>

namespace sigmaops::logs {

namespace {

constexpr std::uint64_t k_progress_every = 16 * 1024;   // records between progress calls

std::string file_label(const std::string& name) {
    const std::string base = std::filesystem::path(name).filename().string();
    return base.empty() ? name : base;
}

} // namespace

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
        while (parser->next(reader, rec)) {
            const Match m = miner.add(rec.message);
            collector.add(rec, label, m.template_id, miner.get(m.template_id).text);
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
    report.digest = collector.digest(options.digest_size, &miner);
    report.n_records = collector.n_records();
    report.n_templates = miner.size();
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
        o << s.lines << " lines, " << s.records << " records, format " << format_name(s.format) << "\n";
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
                           {"error", s.error ? json(*s.error) : json(nullptr)}});
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
                       {"first", {{"source", d.first.source}, {"line", d.first.line}}}});
    json out = {{"sources", std::move(sources)},
                {"findings", std::move(findings)},
                {"digest", {{"records", r.n_records}, {"templates", r.n_templates}, {"top", std::move(top)}}},
                {"model", nullptr}};
    return out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

} // namespace sigmaops::logs
