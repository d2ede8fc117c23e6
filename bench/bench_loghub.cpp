// bench_loghub.cpp - the log pipeline (agents/logs) against Loghub-2k and against the clock.
//
//   bench_loghub ga [DATA_DIR]        grouping accuracy on every system of DATA_DIR (default
//                                     ../shared/data/loghub), two columns: with the benchmark's
//                                     log_format, and with automatic format detection
//   bench_loghub explain SYSTEM [DATA_DIR]  where one system's grouping goes wrong
//   bench_loghub generate BYTES FILE  a mixed log (syslog + multi-line Java traces + incidents)
//                                     of about BYTES bytes, for the memory test of `diagnose`
//   bench_loghub throughput [N] [RUNS]  lines/s of read + detect + mine on a generated N-line
//                                     syslog (default 1,000,000 lines, 5 runs, minimum time),
//                                     one thread
//
// Grouping accuracy (../shared/data/README.md): a line is correct when the set of lines put in its
// template equals exactly the set of lines with its ground-truth EventId; GA is the share of
// correct lines. One MinerOptions{} for every system: nothing here or in agents/logs is tuned per
// system.
#include "loghub_eval.h"

#include <logs/logs.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <unistd.h>
#include <string>
#include <unordered_map>
#include <vector>

using namespace sigmaops;
using loghub::grouping_accuracy;
using loghub::mine_file;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The value of "key": "..." in the "datasets" -> system object of benchmark_settings.json (a
// plain search is enough for this one file).
std::string json_string_after(const std::string& json, std::size_t from, const std::string& key) {
    const std::size_t k = json.find("\"" + key + "\"", from);
    if (k == std::string::npos) return "";
    std::size_t q = json.find('"', json.find(':', k) + 1);
    std::string out;
    for (std::size_t i = q + 1; i < json.size() && json[i] != '"'; ++i) {
        if (json[i] == '\\' && i + 1 < json.size()) { out.push_back(json[++i]); continue; }
        out.push_back(json[i]);
    }
    return out;
}



// Prints where one system's grouping goes wrong: truth events split over several templates, and
// templates that merge several truth events (with an example line each).
void explain(const std::vector<std::string>& truth, const std::vector<std::uint32_t>& predicted, const std::string& log_path) {
    std::vector<std::string> lines;
    std::ifstream f(log_path);
    for (std::string l; std::getline(f, l);) lines.push_back(l);
    std::map<std::string, std::map<std::uint32_t, std::size_t>> by_truth;
    std::map<std::uint32_t, std::map<std::string, std::size_t>> by_pred;
    std::map<std::pair<std::string, std::uint32_t>, std::size_t> example;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        ++by_truth[truth[i]][predicted[i]];
        ++by_pred[predicted[i]][truth[i]];
        example.emplace(std::make_pair(truth[i], predicted[i]), i);
    }
    for (auto& [t, preds] : by_truth) {
        if (preds.size() == 1 && by_pred[preds.begin()->first].size() == 1) continue;
        std::printf("truth %s:\n", t.c_str());
        for (auto& [p, n] : preds)
            std::printf("   -> T%u x%zu (T%u holds %zu truths)  %s\n", p, n, p, by_pred[p].size(),
                        lines[example[{t, p}]].substr(0, 200).c_str());
    }
}

int run_ga(const std::string& dir, const std::string& only = "") {
    const std::string settings = read_file(dir + "/benchmark_settings.json");
    if (settings.empty()) { std::cerr << "cannot read " << dir << "/benchmark_settings.json\n"; return 1; }
    const char* systems[] = {"HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "Apache", "OpenSSH", "Linux"};
    std::printf("| system | GA (log_format) | GA (auto-detected) | detected format | templates (truth) | Drain |\n");
    std::printf("|---|---|---|---|---|---|\n");
    double sum_fmt = 0, sum_auto = 0;
    for (const char* s : systems) {
        const std::size_t at = settings.find("\"" + std::string(s) + "\": {");
        const std::string log_format = json_string_after(settings, at, "log_format");
        const std::size_t drain_at = settings.find("loghub2k_corrected", settings.find("published_Drain_Loghub2.0_RQ2", at));
        const double drain = std::atof(settings.c_str() + settings.find(':', drain_at) + 1);
        const std::string base = dir + "/" + s + "/" + s + "_2k.log";
        const std::vector<std::string> truth = loghub::read_event_ids(base + "_structured_corrected.csv");
        logs::Format detected = logs::Format::Unknown;
        auto with_format = mine_file(base, log_format, nullptr);
        auto with_auto = mine_file(base, std::nullopt, &detected);
        if (!with_format || !with_auto) {
            std::cerr << s << ": " << (!with_format ? with_format.error().message : with_auto.error().message) << "\n";
            return 1;
        }
        if (with_format->size() != truth.size() || with_auto->size() != truth.size()) {
            std::cerr << s << ": " << truth.size() << " labelled lines but " << with_format->size() << "/" << with_auto->size() << " read\n";
            return 1;
        }
        if (!only.empty()) {
            if (only != s) continue;
            explain(truth, *with_auto, base);
        }
        const double ga_f = grouping_accuracy(truth, *with_format), ga_a = grouping_accuracy(truth, *with_auto);
        std::map<std::string, int> distinct;
        for (const auto& t : truth) distinct[t] = 1;
        std::map<std::uint32_t, int> mined;
        for (auto id : *with_auto) mined[id] = 1;
        sum_fmt += ga_f;
        sum_auto += ga_a;
        std::printf("| %s | %.3f | %.3f | %s | %zu (%zu) | %.3f |\n", s, ga_f, ga_a, std::string(logs::format_name(detected)).c_str(),
                    mined.size(), distinct.size(), drain);
    }
    std::printf("| **mean** | **%.3f** | **%.3f** | | | 0.910 |\n", sum_fmt / 8, sum_auto / 8);
    return 0;
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    for (std::string line; std::getline(f, line);)
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

// A syslog of n lines from a mix of services, with varying values (deterministic).
std::string generate_syslog(std::size_t n, std::size_t start_sec = 0) {
    std::mt19937_64 rng(42);
    auto num = [&](int lo, int hi) { return std::to_string(lo + int(rng() % std::uint64_t(hi - lo + 1))); };
    auto ip = [&] { return num(1, 223) + "." + num(0, 255) + "." + num(0, 255) + "." + num(1, 254); };
    const char* users[] = {"root", "admin", "oracle", "test", "ubuntu", "git", "postgres", "deploy"};
    const char* units[] = {"nginx.service", "cron.service", "ssh.service", "docker.service", "postgresql.service"};
    const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::string out;
    out.reserve(n * 110);
    char ts[32];
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t sec = start_sec + i / 50;
        std::snprintf(ts, sizeof ts, "%s %2zu %02zu:%02zu:%02zu", months[(sec / 86400 / 28) % 12], 1 + (sec / 86400) % 28,
                      (sec / 3600) % 24, (sec / 60) % 60, sec % 60);
        out += ts;
        out += " web01 ";
        const std::string pid = num(300, 65000);
        switch (rng() % 10) {
        case 0: out += "sshd[" + pid + "]: Failed password for " + users[rng() % 8] + " from " + ip() + " port " + num(1024, 65535) + " ssh2"; break;
        case 1: out += "sshd[" + pid + "]: Accepted publickey for " + std::string(users[rng() % 8]) + " from " + ip() + " port " + num(1024, 65535) + " ssh2: RSA SHA256:" + num(100000, 999999); break;
        case 2: out += "sshd[" + pid + "]: pam_unix(sshd:session): session opened for user " + std::string(users[rng() % 8]) + "(uid=" + num(0, 2000) + ") by (uid=0)"; break;
        case 3: out += "CRON[" + pid + "]: (root) CMD (/usr/lib/php/sessionclean " + num(1, 9) + ")"; break;
        case 4: out += "systemd[1]: Started " + std::string(units[rng() % 5]) + "."; break;
        case 5: out += "systemd[1]: " + std::string(units[rng() % 5]) + ": Main process exited, code=exited, status=" + num(0, 3) + "/FAILURE"; break;
        case 6: out += "kernel: [" + num(1000, 99999) + "." + num(100000, 999999) + "] EXT4-fs (sda" + num(1, 4) + "): mounted filesystem with ordered data mode"; break;
        case 7: out += "kernel: [" + num(1000, 99999) + "." + num(100000, 999999) + "] Out of memory: Killed process " + pid + " (java) total-vm:" + num(100000, 9999999) + "kB"; break;
        case 8: out += "nginx[" + pid + "]: " + ip() + " - - \"GET /api/v1/items/" + num(1, 99999) + " HTTP/1.1\" " + (rng() % 5 ? "200" : "502") + " " + num(100, 99999); break;
        default: out += "dhclient[" + pid + "]: DHCPACK of " + ip() + " from " + ip() + " (xid=0x" + num(10000000, 99999999) + ")"; break;
        }
        out.push_back('\n');
    }
    return out;
}

// A mixed log of about `bytes` bytes: syslog lines of many services, interleaved with Java
// application records whose stack traces span several lines (multi-line records), and now and
// then an incident (OOM kill, unit failure, disk full). For the memory test of issue 16.
int run_generate(std::uint64_t bytes, const std::string& path) {
    std::ofstream f(path, std::ios::binary);
    if (!f) { std::cerr << "cannot write " << path << "\n"; return 1; }
    std::uint64_t written = 0;
    std::size_t block = 0;
    std::mt19937_64 rng(7);
    while (written < bytes) {
        // 20,000 lines = 400 s at 50 lines/s; each block continues where the last one ended.
        const std::size_t sec = block * 400 + 400;
        std::string chunk = generate_syslog(20000, block * 400);
        char ts[32];
        std::snprintf(ts, sizeof ts, "%s %2zu %02zu:%02zu:%02zu", "Jan", 1 + (sec / 86400) % 28, (sec / 3600) % 24, (sec / 60) % 60, sec % 60);
        const std::string now = ts;
        // Java records with stack traces in the middle of the syslog stream.
        std::string traces;
        for (int i = 0; i < 200; ++i) {
            traces += now + " web01 app[4242]: java.lang.IllegalStateException: pool " + std::to_string(rng() % 1000) +
                      " exhausted\n";
            const int depth = 3 + int(rng() % 40);
            for (int d = 0; d < depth; ++d) traces += "\tat org.example.Pool.get" + std::to_string(d) + "(Pool.java:" + std::to_string(rng() % 500) + ")\n";
            traces += "Caused by: java.net.SocketTimeoutException: connect timed out\n\t... 12 more\n";
        }
        if (block % 50 == 7) traces += now + " web01 kernel: [1.2] Out of memory: Killed process 4242 (java) total-vm:8123456kB\n" +
                                       now + " web01 systemd[1]: app.service: Failed with result 'oom-kill'.\n";
        if (block % 70 == 3) traces += now + " web01 postgres[900]: PANIC:  could not write to file: No space left on device\n";
        f << chunk << traces;
        written += chunk.size() + traces.size();
        ++block;
    }
    std::printf("wrote %s: %.2f GB\n", path.c_str(), double(written) / 1e9);
    return f ? 0 : 1;
}

int run_throughput(std::size_t n, int runs) {
    const std::string data = generate_syslog(n);
    const std::string path = "/tmp/sigmaops_bench_syslog_" + std::to_string(::getpid()) + ".log";
    {
        std::ofstream f(path, std::ios::binary);
        f << data;
    }
    double best = 1e30;
    std::size_t n_templates = 0, n_records = 0;
    for (int r = 0; r < runs; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        auto reader = logs::LineReader::open(path);
        auto parser = logs::RecordParser::create();
        logs::TemplateMiner miner;
        logs::Record rec;
        std::size_t k = 0;
        while (parser->next(*reader, rec)) {
            miner.add(rec.message);
            ++k;
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::min(best, s);
        n_templates = miner.size();
        n_records = k;
        std::fprintf(stderr, "run %d: %.3f s (%s)\n", r + 1, s, std::string(logs::format_name(parser->format())).c_str());
    }
    std::remove(path.c_str());
    std::printf("CPU: %s\n", cpu_model().c_str());
    std::printf("lines: %zu (%.1f MB), records: %zu, templates: %zu\n", n, double(data.size()) / 1e6, n_records, n_templates);
    std::printf("read + detect + mine, one thread, min of %d runs: %.3f s = %.0f lines/s (%.0f MB/s)\n", runs, best,
                double(n) / best, double(data.size()) / 1e6 / best);
    return 0;
}

// The whole deterministic diagnosis (logs::diagnose: read, detect, parse, mine, signatures,
// statistical signals, per-source template memory and digest; no history, no model) on the same
// generated syslog.
int run_diagnose(std::size_t n, int runs) {
    const std::string data = generate_syslog(n);
    const std::string path = "/tmp/sigmaops_bench_syslog_" + std::to_string(::getpid()) + ".log";
    {
        std::ofstream f(path, std::ios::binary);
        f << data;
    }
    double best = 1e30, best_cpu = 1e30;
    std::size_t n_findings = 0;
    for (int r = 0; r < runs; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        const std::clock_t c0 = std::clock();
        std::vector<logs::Source> sources;
        sources.push_back(logs::open_source(path));
        auto report = logs::diagnose(std::move(sources));
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
        if (!report) { std::cerr << report.error().message << "\n"; return 1; }
        best = std::min(best, s);
        best_cpu = std::min(best_cpu, cpu);
        n_findings = report->findings.size();
        std::fprintf(stderr, "run %d: %.3f s (CPU %.3f s)\n", r + 1, s, cpu);
    }
    std::remove(path.c_str());
    std::printf("CPU: %s\n", cpu_model().c_str());
    std::printf("lines: %zu (%.1f MB), findings: %zu\n", n, double(data.size()) / 1e6, n_findings);
    std::printf("diagnose (no history, no model), one thread, min of %d runs: %.3f s = %.0f lines/s; CPU time %.3f s = %.0f lines/s\n",
                runs, best, double(n) / best, best_cpu, double(n) / best_cpu);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "ga";
    if (mode == "ga") return run_ga(argc > 2 ? argv[2] : "../shared/data/loghub");
    if (mode == "explain" && argc > 2) return run_ga(argc > 3 ? argv[3] : "../shared/data/loghub", argv[2]);
    if (mode == "generate" && argc > 3) return run_generate(std::uint64_t(std::atoll(argv[2])), argv[3]);
    if (mode == "diagnose")
        return run_diagnose(argc > 2 ? std::size_t(std::atoll(argv[2])) : 1'000'000, argc > 3 ? std::atoi(argv[3]) : 3);
    if (mode == "throughput")
        return run_throughput(argc > 2 ? std::size_t(std::atoll(argv[2])) : 1'000'000, argc > 3 ? std::atoi(argv[3]) : 5);
    std::fprintf(stderr, "usage: bench_loghub ga [DATA_DIR] | explain SYSTEM [DATA_DIR] | generate BYTES FILE | throughput [N_LINES] [RUNS] | diagnose [N_LINES] [RUNS]\n");
    return 2;
}
