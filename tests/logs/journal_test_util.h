// journal_test_util.h - real journal files for the logs tests: syslog lines turned into the
// Journal Export Format (https://systemd.io/JOURNAL_EXPORT_FORMATS/) and converted by
// systemd-journal-remote, as Debian packages it, into a .journal file that journalctl reads.
// Also the pipeline's findings in a comparable form.
#pragma once

#include "logs_test_util.h"

#include <cstdio>
#include <ctime>
#include <regex>
#include <sstream>
#include <sys/stat.h>
#include <tuple>

namespace logs_test {

inline const char* k_journal_remote = "/lib/systemd/systemd-journal-remote";

// Why journal files cannot be built or read here, or "" when they can.
inline std::string journal_tools_missing() {
    if (::access(k_journal_remote, X_OK) != 0) return std::string(k_journal_remote) + " missing (package systemd-journal-remote)";
    if (std::system("command -v journalctl >/dev/null 2>&1") != 0) return "journalctl missing (package systemd)";
    return "";
}

// One journal entry made from a syslog line.
struct JournalEntry {
    std::string unit;       // _SYSTEMD_UNIT ("" for kernel messages)
    int priority = 6;
    std::string export_text;
};

// "Mar  3 02:15:07 app01 kernel: [8812345.112233] java invoked oom-killer: ..." (RFC 3164 as
// rsyslog writes it) -> an export-format entry with the fields journald would have stored:
// __REALTIME_TIMESTAMP (the syslog time in `year`, UTC), __MONOTONIC_TIMESTAMP, _BOOT_ID,
// MESSAGE (without the dmesg "[seconds]" prefix for the kernel, as the journal keeps it),
// PRIORITY (err for lines that report a failure, info otherwise), _SYSTEMD_UNIT (APP.service,
// ssh.service for sshd, init.scope for PID 1, none for the kernel), UNIT= for PID 1's messages
// about a unit (what journalctl -u matches besides _SYSTEMD_UNIT), SYSLOG_IDENTIFIER, _HOSTNAME,
// _PID, _TRANSPORT. This parser is the test's own, independent of agents/logs.
inline std::vector<JournalEntry> syslog_to_journal(const std::string& text, int year) {
    static const std::regex line_re(R"(^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\S+) ([^\[: ]+)(?:\[(\d+)\])?: (.*)$)");
    static const std::regex kernel_prefix(R"(^\[ *\d+\.\d+\] )");
    static const std::regex failure(R"(fail|error|killed|kill process|invalid|segfault|blocked for|oom|denied|exited|not responding|emerg)",
                                    std::regex::icase);
    static const std::regex unit_re(R"(([A-Za-z0-9@_.-]+\.service))");
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::vector<JournalEntry> out;
    std::istringstream in(text);
    std::string line;
    std::uint64_t mono = 5'000'000;
    while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_match(line, m, line_re)) continue;
        std::tm tm{};
        tm.tm_year = year - 1900;
        for (int i = 0; i < 12; ++i)
            if (m[1] == months[i]) tm.tm_mon = i;
        tm.tm_mday = std::stoi(m[2]);
        tm.tm_hour = std::stoi(m[3]);
        tm.tm_min = std::stoi(m[4]);
        tm.tm_sec = std::stoi(m[5]);
        const std::int64_t secs = std::int64_t(timegm(&tm));
        const std::string host = m[6], app = m[7], pid = m[8];
        std::string message = m[9];
        const bool kernel = app == "kernel";
        if (kernel) message = std::regex_replace(message, kernel_prefix, "", std::regex_constants::format_first_only);
        JournalEntry e;
        e.priority = std::regex_search(message, failure) ? 3 : 6;
        e.unit = kernel ? "" : app == "systemd" && pid == "1" ? "init.scope" : app == "sshd" ? "ssh.service" : app + ".service";
        std::string x;
        x += "__REALTIME_TIMESTAMP=" + std::to_string(secs * 1000000) + "\n";
        x += "__MONOTONIC_TIMESTAMP=" + std::to_string(mono += 1000) + "\n";
        x += "_BOOT_ID=5bd4e3a1c0f24e6d9a7b8c9d0e1f2a3b\n";
        x += "MESSAGE=" + message + "\n";
        x += "PRIORITY=" + std::to_string(e.priority) + "\n";
        x += "SYSLOG_IDENTIFIER=" + app + "\n";
        x += "_HOSTNAME=" + host + "\n";
        if (kernel) {
            x += "_TRANSPORT=kernel\n";
        } else {
            x += "_TRANSPORT=syslog\n_PID=" + pid + "\n_SYSTEMD_UNIT=" + e.unit + "\n";
            std::smatch u;
            if (e.unit == "init.scope" && std::regex_search(message, u, unit_re)) x += "UNIT=" + u[1].str() + "\n";
        }
        e.export_text = x + "\n";
        out.push_back(std::move(e));
    }
    return out;
}

inline std::string export_text(const std::vector<JournalEntry>& entries) {
    std::string s;
    for (const auto& e : entries) s += e.export_text;
    return s;
}

// Converts export-format text into DIR/NAME.journal with systemd-journal-remote; "" on failure
// (the reason in `why`).
inline std::string make_journal(const TempDir& dir, const std::string& name, const std::string& export_format, std::string* why = nullptr) {
    const std::string in = dir.file(name + ".export", export_format);
    const std::string out = (dir.path / (name + ".journal")).string();
    const std::string log = (dir.path / (name + ".log")).string();
    const std::string cmd = std::string(k_journal_remote) + " --output='" + out + "' - < '" + in + "' > '" + log + "' 2>&1";
    if (std::system(cmd.c_str()) != 0 || ::access(out.c_str(), R_OK) != 0) {
        if (why) {
            std::ifstream f(log);
            *why = "systemd-journal-remote failed: " + std::string(std::istreambuf_iterator<char>(f), {});
        }
        return "";
    }
    return out;
}

// A finding reduced to what must agree between two readings of the same lines.
using FindingKey = std::tuple<std::string, std::uint64_t, std::string, std::int64_t, std::int64_t>;

inline std::string describe(const std::vector<FindingKey>& keys) {
    std::string s;
    for (const auto& [cat, n, sev, first, last] : keys)
        s += cat + " x" + std::to_string(n) + " " + sev + " " + std::to_string(first) + ".." + std::to_string(last) + "\n";
    return s.empty() ? "(no findings)\n" : s;
}

struct PipelineResult {
    std::vector<FindingKey> findings;
    std::uint64_t records = 0;
    sigmaops::logs::Format format = sigmaops::logs::Format::Unknown;
    std::vector<sigmaops::logs::Record> kept;      // every record (the inputs here are small)
    std::optional<sigmaops::Error> error;
};

// Reads `reader` to the end through parser, miner and collector, "now" being 2024-03-10 (so
// year-less syslog dates of early March fall in 2024).
inline PipelineResult run_pipeline(sigmaops::logs::LineReader& reader) {
    namespace logs = sigmaops::logs;
    logs::ParseOptions po;
    po.time.now_ms = 1710028800000LL;   // 2024-03-10T00:00:00Z
    auto parser = logs::RecordParser::create(po);
    logs::TemplateMiner miner;
    logs::Collector collector;
    PipelineResult out;
    logs::Record rec;
    while (parser->next(reader, rec)) {
        const logs::Match m = miner.add(rec.message);
        collector.add(rec, "src", m.template_id, miner.get(m.template_id).text);
        out.kept.push_back(rec);
        ++out.records;
    }
    out.format = parser->format();
    out.error = reader.error();
    for (const auto& f : collector.findings())
        out.findings.emplace_back(f.category, f.count, std::string(logs::severity_name(f.severity)), f.first_ms, f.last_ms);
    return out;
}

inline std::string sample_text(const std::string& name) {
    std::ifstream f(std::string(SIGMAOPS_SOURCE_DIR) + "/resources/samples/" + name, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

} // namespace logs_test
