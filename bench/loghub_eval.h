// loghub_eval.h - the Loghub evaluation shared by bench/bench_loghub.cpp and the accuracy test
// (tests/logs/test_logs_loghub.cpp): the ground truth from a *_structured_corrected.csv, the
// pipeline's template id per input line, and grouping accuracy (../shared/data/README.md: a line
// is correct when the set of lines put in its template equals exactly the set of lines with its
// ground-truth EventId; GA is the share of correct lines). Evaluation code, not product code.
#pragma once

#include <logs/logs.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <istream>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sigmaops::loghub {

// One CSV record (RFC 4180 quoting) from `in`; false at the end.
inline bool read_csv_row(std::istream& in, std::vector<std::string>& row) {
    row.clear();
    std::string field;
    bool quoted = false, any = false;
    for (int ch; (ch = in.get()) != EOF;) {
        any = true;
        const char c = char(ch);
        if (quoted) {
            if (c == '"') {
                if (in.peek() == '"') { field.push_back('"'); in.get(); }
                else quoted = false;
            } else field.push_back(c);
        } else if (c == '"') quoted = true;
        else if (c == ',') { row.push_back(field); field.clear(); }
        else if (c == '\n') { row.push_back(field); return true; }
        else if (c != '\r') field.push_back(c);
    }
    if (any) row.push_back(field);
    return any;
}

// The EventId column of a structured CSV, one per line; empty when the file cannot be read.
inline std::vector<std::string> read_event_ids(const std::string& structured_csv) {
    std::ifstream csv(structured_csv);
    std::vector<std::string> row, truth;
    if (!csv || !read_csv_row(csv, row)) return truth;
    const auto col = std::size_t(std::find(row.begin(), row.end(), "EventId") - row.begin());
    while (read_csv_row(csv, row))
        if (col < row.size()) truth.push_back(row[col]);
    return truth;
}

// Template id per input line (continuation lines take their record's id), with the one
// parameter set; `detected` receives the detected format.
inline Expected<std::vector<std::uint32_t>> mine_file(const std::string& path, std::optional<std::string> log_format,
                                                      logs::Format* detected = nullptr) {
    auto reader = logs::LineReader::open(path);
    if (!reader) return unexpected(reader.error());
    logs::ParseOptions po;
    po.log_format = std::move(log_format);
    auto parser = logs::RecordParser::create(po);
    if (!parser) return unexpected(parser.error());
    logs::TemplateMiner miner;   // the one parameter set
    std::vector<std::uint32_t> ids;
    logs::Record r;
    while (parser->next(*reader, r)) {
        const logs::Match m = miner.add(r.message);
        for (std::uint32_t k = 0; k < r.n_lines; ++k) ids.push_back(m.template_id);
    }
    if (reader->error()) return unexpected(*reader->error());
    if (detected) *detected = parser->format();
    for (auto& id : ids) id = miner.resolve(id);   // templates merged later take their final id
    return ids;
}

inline double grouping_accuracy(const std::vector<std::string>& truth, const std::vector<std::uint32_t>& predicted) {
    std::unordered_map<std::string, std::size_t> truth_size;
    for (const auto& t : truth) ++truth_size[t];
    std::unordered_map<std::uint32_t, std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < predicted.size() && i < truth.size(); ++i) groups[predicted[i]].push_back(i);
    std::size_t correct = 0;
    for (const auto& [id, lines] : groups) {
        const std::string& t = truth[lines.front()];
        const bool same = std::all_of(lines.begin(), lines.end(), [&](std::size_t i) { return truth[i] == t; });
        if (same && truth_size[t] == lines.size()) correct += lines.size();
    }
    return truth.empty() ? 0 : double(correct) / double(truth.size());
}

} // namespace sigmaops::loghub
