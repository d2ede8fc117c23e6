// logs_test_util.h - helpers of the agents/logs tests: temp dirs, files, and running the
// pipeline over a string.
#pragma once

#include <logs/logs.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace logs_test {

// A fresh directory under $TMPDIR, removed when the object dies.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "sigmaops-logs-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string& name, const std::string& bytes) const {
        const std::string p = (path / name).string();
        std::ofstream(p, std::ios::binary) << bytes;
        return p;
    }
    // Writes `bytes` gzip-compressed (through the gzip program, which Debian always has).
    std::string gz(const std::string& name, const std::string& bytes) const {
        const std::string plain = file(name + ".plain", bytes);
        const std::string p = (path / name).string();
        const std::string cmd = "gzip -c -n '" + plain + "' > '" + p + "'";
        if (std::system(cmd.c_str()) != 0) return "";
        std::filesystem::remove(plain);
        return p;
    }
};

inline std::vector<std::string> read_all(sigmaops::logs::LineReader& r) {
    std::vector<std::string> out;
    sigmaops::logs::Line l;
    while (r.next(l)) out.push_back(l.text);
    return out;
}

// Records of `text` parsed with detection (or `log_format`), at a fixed "now" (2024-03-01).
inline std::vector<sigmaops::logs::Record> records_of(const std::string& text, std::optional<std::string> log_format = std::nullopt) {
    auto reader = sigmaops::logs::LineReader::from_bytes(text);
    sigmaops::logs::ParseOptions po;
    po.log_format = std::move(log_format);
    po.time.now_ms = 1709251200000LL;   // 2024-03-01T00:00:00Z
    auto parser = sigmaops::logs::RecordParser::create(po);
    std::vector<sigmaops::logs::Record> out;
    sigmaops::logs::Record r;
    while (parser->next(reader, r)) out.push_back(r);
    return out;
}

} // namespace logs_test
