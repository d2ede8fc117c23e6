// test_logs_loghub.cpp - grouping accuracy on Loghub-2k (../shared/data/loghub) must not fall
// below the floors measured with bench/bench_loghub (docs/benchmarks.md, "Log parsing"), both
// with each system's log_format and with automatic detection. One parameter set for all.
// Skipped when the data set is absent.
#include "logs_test_util.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <unordered_map>

using namespace sigmaops;

namespace {

bool read_csv_row(std::istream& in, std::vector<std::string>& row) {
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

double ga(const std::string& log, const std::vector<std::string>& truth, std::optional<std::string> fmt) {
    auto reader = logs::LineReader::open(log);
    REQUIRE(reader);
    logs::ParseOptions po;
    po.log_format = fmt;
    auto parser = logs::RecordParser::create(po);
    REQUIRE(parser);
    logs::TemplateMiner miner;
    std::vector<std::uint32_t> ids;
    logs::Record r;
    while (parser->next(*reader, r)) {
        const auto m = miner.add(r.message);
        ids.insert(ids.end(), r.n_lines, m.template_id);
    }
    for (auto& id : ids) id = miner.resolve(id);   // the final grouping
    REQUIRE(ids.size() == truth.size());
    std::unordered_map<std::string, std::size_t> truth_size;
    for (const auto& t : truth) ++truth_size[t];
    std::map<std::uint32_t, std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < ids.size(); ++i) groups[ids[i]].push_back(i);
    std::size_t correct = 0;
    for (const auto& [id, lines] : groups) {
        const std::string& t = truth[lines.front()];
        if (std::all_of(lines.begin(), lines.end(), [&](std::size_t i) { return truth[i] == t; }) && truth_size[t] == lines.size())
            correct += lines.size();
    }
    return double(correct) / double(truth.size());
}

} // namespace

TEST_CASE("Loghub-2k grouping accuracy stays above its floors", "[logs][loghub]") {
    const std::string dir = SIGMAOPS_SHARED_DATA "/loghub";
    if (!std::filesystem::exists(dir + "/benchmark_settings.json")) {
        std::cout << "skipped: Loghub data not found at " << dir << "\n";
        return;
    }
    struct System { const char* name; const char* log_format; double floor; };
    // Floors: measured (docs/benchmarks.md) minus about 0.01.
    const System systems[] = {
        {"HDFS", "<Date> <Time> <Pid> <Level> <Component>: <Content>", 0.99},
        {"Hadoop", "<Date> <Time> <Level> \\[<Process>\\] <Component>: <Content>", 0.98},
        {"Spark", "<Date> <Time> <Level> <Component>: <Content>", 0.99},
        {"Zookeeper", "<Date> <Time> - <Level>  \\[<Node>:<Component>@<Id>\\] - <Content>", 0.98},
        {"BGL", "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>", 0.98},
        {"Apache", "\\[<Time>\\] \\[<Level>\\] <Content>", 0.99},
        {"OpenSSH", "<Date> <Day> <Time> <Component> sshd\\[<Pid>\\]: <Content>", 0.99},
        {"Linux", "<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>", 0.93},
    };
    double sum_fmt = 0, sum_auto = 0;
    for (const System& s : systems) {
        const std::string base = dir + "/" + s.name + "/" + s.name + "_2k.log";
        std::ifstream csv(base + "_structured_corrected.csv");
        REQUIRE(csv);
        std::vector<std::string> row, truth;
        read_csv_row(csv, row);
        const auto col = std::size_t(std::find(row.begin(), row.end(), "EventId") - row.begin());
        while (read_csv_row(csv, row))
            if (col < row.size()) truth.push_back(row[col]);
        const double with_fmt = ga(base, truth, s.log_format), with_auto = ga(base, truth, std::nullopt);
        INFO(s.name << ": GA " << with_fmt << " (log_format), " << with_auto << " (detected)");
        CHECK(with_fmt >= s.floor);
        CHECK(with_auto >= s.floor);
        sum_fmt += with_fmt;
        sum_auto += with_auto;
    }
    CHECK(sum_fmt / 8 >= 0.98);
    CHECK(sum_auto / 8 >= 0.98);
}
