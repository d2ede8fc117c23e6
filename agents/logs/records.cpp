// records.cpp - stage 2 continued: the Loghub-style LogFormat override (compiled to a PCRE2
// pattern), the continuation-line rules, and RecordParser, which turns lines into records.
//
// Load: one parse_header call per line (no allocation once the record buffers have grown);
// the lookahead used for detection is ParseOptions::detect_lines lines, then one record.
#include "logs_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <base/text.h>

#include <algorithm>
#include <cctype>
#include <deque>

namespace sigmaops::logs {

// ---------------------------------------------------------------------------------------------
// LogFormat: "<Date> <Time> <Level> <Content>" -> ^(?<f0>.*?)\s+(?<f1>.*?)\s+(?<f2>.*?)\s+(?<f3>.*?)$
// as logparser builds it: a field is a lazy group, the text between fields is a regular
// expression whose runs of spaces match \s+.

struct LogFormat::Impl {
    std::string spec;
    std::vector<std::string> fields;
    pcre2_code* code = nullptr;
    mutable pcre2_match_data* match = nullptr;
    int i_content = -1;
    std::vector<int> i_time;           // fields that make up the time, in spec order
    int i_timestamp = -1, i_level = -1, i_app = -1, i_pid = -1, i_host = -1;
    std::vector<int> group;            // PCRE2 group number of each field

    ~Impl() {
        if (match) pcre2_match_data_free(match);
        if (code) pcre2_code_free(code);
    }
};

LogFormat::LogFormat(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
LogFormat::LogFormat(LogFormat&&) noexcept = default;
LogFormat& LogFormat::operator=(LogFormat&&) noexcept = default;
LogFormat::~LogFormat() = default;
const std::vector<std::string>& LogFormat::fields() const { return m_impl->fields; }
const std::string& LogFormat::spec() const { return m_impl->spec; }

Expected<LogFormat> LogFormat::compile(std::string_view spec) {
    auto impl = std::make_unique<Impl>();
    impl->spec = std::string(spec);
    std::string pattern = "^";
    std::vector<std::size_t> spec_at;   // spec offset of each pattern byte, for error messages
    spec_at.push_back(0);
    for (std::size_t i = 0; i < spec.size();) {
        const char c = spec[i];
        if (c == '<') {
            const std::size_t close = spec.find('>', i);
            const std::size_t next_open = spec.find('<', i + 1);
            if (close == std::string_view::npos || (next_open != std::string_view::npos && next_open < close))
                return unexpected(ErrorCode::InvalidArgument,
                                  "log format: '<' at offset " + std::to_string(i) + " has no matching '>' (expected <Name>)");
            const std::string name(spec.substr(i + 1, close - i - 1));
            if (name.empty() || !std::all_of(name.begin(), name.end(), [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; }))
                return unexpected(ErrorCode::InvalidArgument, "log format: field name '" + name + "' at offset " + std::to_string(i) +
                                                                  " (expected letters, digits and '_')");
            if (std::find(impl->fields.begin(), impl->fields.end(), name) != impl->fields.end())
                return unexpected(ErrorCode::InvalidArgument, "log format: field <" + name + "> appears twice (offset " + std::to_string(i) + ")");
            const int k = int(impl->fields.size());
            impl->fields.push_back(name);
            std::string group = std::to_string(k);
            group.insert(0, "(?<f");
            group += ">.*?)";
            pattern += group;
            spec_at.insert(spec_at.end(), group.size(), i);
            i = close + 1;
            continue;
        }
        if (c == ' ') {
            while (i < spec.size() && spec[i] == ' ') ++i;
            pattern += "\\s+";
            spec_at.insert(spec_at.end(), 3, i - 1);
            continue;
        }
        pattern.push_back(c);
        spec_at.push_back(i);
        ++i;
    }
    pattern += "$";
    for (std::size_t k = 0; k < impl->fields.size(); ++k) {
        const std::string& f = impl->fields[k];
        const int ki = int(k);
        if (f == "Content") impl->i_content = ki;
        else if (f == "Timestamp") impl->i_timestamp = ki;
        else if (f == "Month" || f == "Date" || f == "Day" || f == "Time" || f == "Year") impl->i_time.push_back(ki);
        else if (f == "Level") impl->i_level = ki;
        else if (f == "Component" || f == "App" || f == "Program") impl->i_app = ki;
        else if (f == "Pid" || f == "PID") impl->i_pid = ki;
        else if (f == "Host" || f == "Node" || f == "Hostname") impl->i_host = ki;
    }
    if (impl->i_content < 0)
        return unexpected(ErrorCode::InvalidArgument, "log format '" + impl->spec + "' has no <Content> field (the message)");
    int err = 0;
    PCRE2_SIZE err_off = 0;
    impl->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0, &err, &err_off, nullptr);
    if (!impl->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        const std::size_t at = err_off < spec_at.size() ? spec_at[err_off] : spec.size();
        return unexpected(ErrorCode::InvalidArgument, "log format: " + std::string(reinterpret_cast<const char*>(msg)) +
                                                          " near offset " + std::to_string(at) + " of '" + impl->spec + "'");
    }
    for (std::size_t k = 0; k < impl->fields.size(); ++k) {
        std::string name = std::to_string(k);
        name.insert(name.begin(), 'f');
        impl->group.push_back(pcre2_substring_number_from_name(impl->code, reinterpret_cast<PCRE2_SPTR>(name.c_str())));
    }
    pcre2_jit_compile(impl->code, PCRE2_JIT_COMPLETE);   // falls back to the interpreter if JIT is missing
    impl->match = pcre2_match_data_create_from_pattern(impl->code, nullptr);
    return LogFormat(std::move(impl));
}

bool LogFormat::parse(std::string_view line, const TimeContext& time, Header& h, std::string& scratch) const {
    const Impl& m = *m_impl;
    h = Header{};
    const int rc = pcre2_match(m.code, reinterpret_cast<PCRE2_SPTR>(line.data()), line.size(), 0, 0, m.match, nullptr);
    if (rc < 0) return false;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.match);
    auto field = [&](int k) -> std::string_view {
        if (k < 0) return {};
        const int n = m.group[std::size_t(k)];
        if (n < 0 || n >= rc || ov[2 * n] == PCRE2_UNSET) return {};
        return line.substr(ov[2 * n], ov[2 * n + 1] - ov[2 * n]);
    };
    h.message = field(m.i_content);
    h.app = field(m.i_app);
    h.pid = field(m.i_pid);
    h.host = field(m.i_host);
    if (m.i_level >= 0) h.severity = severity_from_text(field(m.i_level));
    if (m.i_timestamp >= 0) {
        const std::string_view ts = field(m.i_timestamp);
        if (parse_timestamp(ts, time, h.time_ms) == ts.size() && !ts.empty()) h.has_time = true;
    }
    if (!h.has_time && !m.i_time.empty()) {
        scratch.clear();
        for (int k : m.i_time) {
            if (!scratch.empty()) scratch.push_back(' ');
            scratch.append(field(k));
        }
        if (parse_timestamp(scratch, time, h.time_ms) > 0) h.has_time = true;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Continuation lines.

namespace detail {

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// "java.lang.IllegalStateException: msg", "ValueError: bad", "KeyboardInterrupt"
bool is_exception_line(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' || line[i] == '.' || line[i] == '$')) ++i;
    if (i == 0 || i > 200) return false;
    if (i < line.size() && line[i] != ':') return false;
    const std::string_view name = line.substr(0, i);
    return name.find("Error") != std::string_view::npos || name.find("Exception") != std::string_view::npos ||
           name.find("Interrupt") != std::string_view::npos || name.find("Exit") != std::string_view::npos ||
           name.find("Throwable") != std::string_view::npos;
}

} // namespace

bool is_continuation(std::string_view line, bool in_trace) {
    if (line.empty()) return false;
    if (line[0] == ' ' || line[0] == '\t') return line.find_first_not_of(" \t") != std::string_view::npos;
    if (starts_with(line, "at ") || starts_with(line, "Caused by: ") || starts_with(line, "Suppressed: ") ||
        starts_with(line, "... ") || starts_with(line, "During handling of the above exception") ||
        starts_with(line, "The above exception was the direct cause"))
        return true;
    return in_trace && is_exception_line(line);
}

bool starts_trace(std::string_view line) {
    return starts_with(line, "Traceback (most recent call last):") || starts_with(line, "Exception in thread ") ||
           is_exception_line(line);
}

} // namespace detail

// ---------------------------------------------------------------------------------------------
// RecordParser.

struct RecordParser::Impl {
    ParseOptions options;
    std::optional<LogFormat> custom;
    Format format = Format::Unknown;
    bool detected = false;
    std::deque<Line> lookahead;
    Line line;
    Record current;
    bool has_current = false;
    bool current_trace = false;
    Header header;
    std::string scratch;

    bool next_line(LineReader& lines) {
        if (!lookahead.empty()) {
            std::swap(line, lookahead.front());
            lookahead.pop_front();
            return true;
        }
        return lines.next(line);
    }

    void start(Record& r, const Header& h, Format f) {
        r.first_line = line.number;
        r.n_lines = 1;
        r.file_index = line.file_index;
        r.format = f;
        r.has_time = h.has_time;
        r.time_ms = h.time_ms;
        r.boot_relative = h.boot_relative;
        r.severity = h.severity;
        r.host.assign(h.host);
        r.app.assign(h.app);
        r.pid.assign(h.pid);
        r.message.assign(utf8_prefix(h.message, options.max_record_bytes));
        r.truncated = line.truncated || h.message.size() > options.max_record_bytes;
    }

    void append(Record& r) {
        ++r.n_lines;
        if (r.n_lines > options.max_record_lines || r.message.size() + 1 + line.text.size() > options.max_record_bytes) {
            r.truncated = true;
            return;
        }
        r.message.push_back('\n');
        r.message.append(line.text);
        r.truncated = r.truncated || line.truncated;
    }

    bool next(LineReader& lines, Record& out) {
        if (!detected) {
            detected = true;
            if (custom) {
                format = Format::Custom;
            } else {
                std::vector<std::string> sample;
                Line l;
                while (lookahead.size() < options.detect_lines && lines.next(l)) {
                    sample.push_back(l.text);
                    lookahead.push_back(std::move(l));
                    l = Line{};
                }
                format = detect_format(sample);
            }
        }
        while (next_line(lines)) {
            bool ok = custom ? custom->parse(line.text, options.time, header, scratch)
                             : parse_header(format, line.text, options.time, header, scratch);
            Format f = format;
            const bool headed = format != Format::Plain;
            if (ok && !headed && has_current && detail::is_continuation(line.text, current_trace)) ok = false;
            if (!ok) {
                if (has_current && (headed || detail::is_continuation(line.text, current_trace))) {
                    append(current);
                    if (!current_trace && detail::starts_trace(line.text)) current_trace = true;
                    continue;
                }
                header = Header{};
                header.message = line.text;
                f = Format::Plain;
            }
            const bool trace = detail::starts_trace(header.message);
            if (has_current) {
                std::swap(out, current);
                start(current, header, f);
                current_trace = trace;
                return true;
            }
            start(current, header, f);
            current_trace = trace;
            has_current = true;
        }
        if (has_current) {
            std::swap(out, current);
            has_current = false;
            return true;
        }
        return false;
    }
};

RecordParser::RecordParser(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
RecordParser::RecordParser(RecordParser&&) noexcept = default;
RecordParser& RecordParser::operator=(RecordParser&&) noexcept = default;
RecordParser::~RecordParser() = default;

Expected<RecordParser> RecordParser::create(ParseOptions options) {
    auto impl = std::make_unique<Impl>();
    if (options.log_format) {
        auto f = LogFormat::compile(*options.log_format);
        if (!f) return unexpected(f.error());
        impl->custom.emplace(std::move(*f));
    }
    if (options.detect_lines == 0) options.detect_lines = 1;
    if (options.time.now_ms == 0) options.time.now_ms = detail::now_or(options.time);
    impl->options = std::move(options);
    return RecordParser(std::move(impl));
}

bool RecordParser::next(LineReader& lines, Record& out) { return m_impl->next(lines, out); }
Format RecordParser::format() const { return m_impl->format; }

} // namespace sigmaops::logs
