// test_logs_loghub.cpp - grouping accuracy on Loghub-2k (../shared/data/loghub) must not fall
// below the floors measured with bench/bench_loghub (docs/benchmarks.md, "Log parsing"), both
// with each system's log_format and with automatic detection. One parameter set for all.
// Skipped when the data set is absent.
#include "logs_test_util.h"
#include "loghub_eval.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <unordered_map>

using namespace sigmaops;

namespace {

double ga(const std::string& log, const std::vector<std::string>& truth, std::optional<std::string> fmt) {
    auto ids = loghub::mine_file(log, std::move(fmt));
    REQUIRE(ids);
    REQUIRE(ids->size() == truth.size());
    return loghub::grouping_accuracy(truth, *ids);
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
        const std::vector<std::string> truth = loghub::read_event_ids(base + "_structured_corrected.csv");
        REQUIRE_FALSE(truth.empty());
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
