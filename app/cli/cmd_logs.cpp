// cmd_logs.cpp - `sigmaops logs ...` and `sigmaops diagnose`: the log pipeline of agents/logs
// from the terminal.
//   diagnose FILE... [--journal [--unit U] [--since T]...] [--host H [--unit U | --file PATH]] [--json] ...
// reads each file, journal or host file as its own source (its own format detection), mines templates, matches the
// signature library and prints the ranked findings with evidence and read-only next commands,
// then a digest of the most frequent templates (all of it logs::diagnose and report_text/_json;
// this file builds the sources, shows the progress bar and prints). The
// deterministic report stands on its own; then the model (the default one, or -m) explains the
// findings from a fenced prompt (logs::explain), unless --no-model; --show-prompt prints that prompt.
//   logs parse FILE... [--log-format FMT] [--rotated] [-o OUT.csv] [--json]
// writes one row per input line in the Loghub structured-CSV convention (LineId,EventId,
// EventTemplate), for evaluation and for logparser tooling; --json prints a summary instead of
// (or, with -o, besides) the CSV. Memory: 4 bytes per line (its template id) plus the miner; the
// templates are written once the whole input is mined, so each row carries the final template.
#include "commands.h"

#include "common.h"

#include <base/text.h>
#include <history/history.h>
#include <logs/logs.h>
#include <remote/remote.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <optional>
#include <sstream>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace sigmaops::cli {

namespace {

std::string csv_field(std::string_view s) {
    if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += "\"\"";
        else out.push_back(c);
    }
    out.push_back('"');
    return out;
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else out.push_back(char(c));
        }
    }
    return out + "\"";
}

// Progress on stderr for long work, at most once a second and only on a terminal (never with
// --json, into a pipe or into a test's stream: progress_wanted): a source of known size over
// 64 MiB shows bytes read / total and lines/s; one of unknown size (a journal, a host, stdin)
// shows lines, lines/s and bytes read once it has taken a second. Small files show nothing.
struct Progress {
    Io& io;
    bool wanted = false, on = false, shown = false;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), last = start;
    Progress(Io& io_, bool json) : io(io_), wanted(progress_wanted(io_, json)) {}
    void size_known(std::uint64_t bytes_total) { on = wanted && (bytes_total == 0 || bytes_total > (64u << 20)); }
    void restart() { start = last = std::chrono::steady_clock::now(); }
    void tick(const logs::LineReader& r, std::uint64_t n_lines) { show(r.bytes_read(), r.bytes_total(), n_lines); }
    void show(std::uint64_t bytes_read, std::uint64_t bytes_total, std::uint64_t n_lines) {
        if (!on) return;
        const auto now = std::chrono::steady_clock::now();
        if (now - last < std::chrono::seconds(1)) return;
        last = now;
        shown = true;
        const double s = std::chrono::duration<double>(now - start).count();
        io.err << "\r" << progress_text(bytes_read, bytes_total, n_lines, s) << "   " << std::flush;
    }
    void done() {
        if (on && shown) io.err << "\n";
        shown = false;
    }
};


// Splits "a.service,b.service" (--unit takes several, comma-separated).
std::vector<std::string> comma_list(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t end = s.find(',', start);
        if (end == std::string::npos) end = s.size();
        if (end > start) out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

// The journal and host sources of `diagnose` (--journal, --journal-file/--journal-dir, --host),
// appended after the files. Usage errors for flags that do not fit together. The SSH prompts
// (an unknown host key, a passphrase) go to the terminal as in `sigmaops hosts test`.
void add_journal_and_host_sources(const Invocation& c, std::vector<logs::Source>& sources, remote::Prompter& prompter,
                                  std::string& host_name) {
    const Args& a = c.args;
    const bool host = a.has("--host");
    const bool journal = a.has("--journal") || a.has("--journal-file") || a.has("--journal-dir") || (host && !a.has("--file"));
    if (a.has("--file") && !host) throw UsageError("--file names a file on a host (--host H); local files are arguments");
    if (a.has("--file") && (a.has("--journal-file") || a.has("--journal-dir") || a.has("--journal")))
        throw UsageError("--file reads a file on the host, not its journal: leave out --journal/--journal-file/--journal-dir");
    if (a.has("--journal-file") && a.has("--journal-dir")) throw UsageError("give --journal-file or --journal-dir, not both");
    for (const char* f : {"--unit", "--since", "--until", "--priority"})
        if (a.has(f) && !journal)
            throw UsageError(std::string(f) + " filters a journal: add --journal (this machine), --journal-file, --journal-dir or --host H");
    if (!journal && !host) return;
    logs::JournalQuery q;
    q.file = a.get("--journal-file");
    q.directory = a.get("--journal-dir");
    q.units = comma_list(a.get("--unit"));
    if (a.has("--unit") && q.units.empty()) throw UsageError("--unit needs a unit name, e.g. nginx.service");
    q.since = a.get("--since");
    q.until = a.get("--until");
    q.priority = a.get("--priority");
    if (!host) {
        sources.push_back(logs::journal_source(q));
        return;
    }
    host_name = a.get("--host");
    logs::RemoteQuery rq;
    if (a.has("--file")) rq.file = a.get("--file");
    else rq.journal = q;
    auto profile = remote::resolve_host(host_name, remote::ConfigPaths{});
    std::optional<Error> failed;
    if (!profile) failed = profile.error();
    std::unique_ptr<remote::SshSession> session;
    if (profile) {
        remote::ConnectOptions opts;
        opts.prompter = &prompter;
        auto s = remote::SshSession::connect(*profile, opts);
        if (s) session = std::move(*s);
        else failed = s.error();
    }
    if (failed) {
        logs::Source src;
        src.name = host_name + ":" + (rq.journal ? "journal" : rq.file);
        src.error = Error{failed->code, "cannot connect to " + host_name + ": " + failed->message};
        sources.push_back(std::move(src));
        return;
    }
    sources.push_back(logs::remote_source(std::shared_ptr<remote::SshSession>(std::move(session)), rq));
}

// The model stage: the default model (or -m) explains the findings; without a model file the
// deterministic report stands alone with a note. Ctrl-C stops the answer, not the report.
void explain_report(const Invocation& c, logs::Report& report, history::History* db) {
    if (c.args.has("--no-model")) return;
    if (report.findings.empty()) {
        report.notes.push_back("no findings: the model was not asked");
        return;
    }
    if (!remote_backend_selected(c.args) && !llm::find_model(c.args.get("--model"))) {
        report.notes.push_back("no model file found: this deterministic report is the answer (-m FILE.gguf adds the model's explanation)");
        return;
    }
    std::ostringstream why;
    Io quiet{c.io.in, c.io.out, why};
    const std::shared_ptr<llm::Model> model = load_model(c.args, quiet);
    if (!model) {
        std::string w = why.str();
        while (!w.empty() && w.back() == '\n') w.pop_back();
        report.notes.push_back("the model was not used: " + w);
        return;
    }
    c.io.err << why.str();   // which model answers (a remote backend, the device), said once
    logs::ExplainOptions eo;
    eo.history = db;
    eo.prompt.n_ctx = int(c.args.get_int("--ctx", 0, 0, 1 << 20));
    std::atomic<bool> cancel{false};
    eo.cancel = &cancel;
    Expected<void> done;
    if (!c.args.has("--json")) c.io.err << "sigmaops diagnose: asking " << model->card().display_name() << "...\n";
    Interrupt::while_cancellable([&] { cancel = true; }, [&] { done = logs::explain(report, *model, eo); });
    if (!done) report.notes.push_back("the model's explanation failed: " + done.error().message);
}

void print_prompt(const Invocation& c, const std::string& prompt, int n_tokens, const std::vector<std::string>& left_out,
                  bool asked = true) {
    c.io.out << (asked ? "--- the prompt, exactly as the model saw it (" : "--- the prompt the model would see (--no-model: not asked; ")
             << n_tokens << " tokens) ---\n"
             << prompt << "\n--- left out to fit the context: "
             << (left_out.empty() ? "nothing" : std::to_string(left_out.size()) + " items") << " ---\n";
    for (const auto& l : left_out) c.io.out << "  " << l << "\n";
    c.io.out << "--- end of prompt ---\n\n";
}

// --show-prompt --no-model: the prompt the model would see, built and fitted with the model's
// tokenizer (the model file is loaded, nothing is generated). Without a model file the token
// budget is unknown, so run_diagnose refuses before reading (see --help).
int show_prompt_only(const Invocation& c, const logs::Report& report) {
    if (report.findings.empty()) {
        c.io.out << "--- no prompt: no findings, so the model would not be asked ---\n\n";
        return k_exit_ok;
    }
    std::ostringstream why;
    Io quiet{c.io.in, c.io.out, why};
    const std::shared_ptr<llm::Model> model = load_model(c.args, quiet);
    if (!model) {
        c.io.err << "sigmaops diagnose: --show-prompt needs the model's tokenizer: " << why.str();
        return k_exit_failure;
    }
    c.io.err << why.str();   // where the model was loaded (device: ...), said once, as explain_report does
    logs::PromptOptions po;
    po.n_ctx = int(c.args.get_int("--ctx", 0, 0, 1 << 20));
    if (po.n_ctx == 0) po.n_ctx = int(std::min<std::uint32_t>(model->card().n_ctx_train ? model->card().n_ctx_train : 4096, 4096));
    auto prompt = logs::build_prompt(report, *model, po);
    if (!prompt) {
        c.io.err << "sigmaops diagnose: the prompt was not built: " << prompt.error().message << "\n";
        return k_exit_failure;
    }
    print_prompt(c, prompt->text, prompt->n_tokens, prompt->left_out, false);
    return k_exit_ok;
}

int run_diagnose(const Invocation& c) {
    const auto& files = c.args.positional();
    bool other_sources = false;   // checked, with the flags that go with them, in add_journal_and_host_sources
    for (const char* f : {"--journal", "--journal-file", "--journal-dir", "--host", "--file", "--unit", "--since", "--until", "--priority"})
        other_sources = other_sources || c.args.has(f);
    if (files.empty() && !other_sources)
        throw UsageError("diagnose needs a log file ('-' for stdin), --journal, --journal-file, --journal-dir or --host");
    if (std::count(files.begin(), files.end(), "-") > 1) throw UsageError("'-' (stdin) can be named once");
    if (c.args.has("--show-prompt") && c.args.has("--no-model") && !remote_backend_selected(c.args) &&
        !llm::find_model(c.args.get("--model"))) {
        c.io.err << "sigmaops diagnose: --show-prompt --no-model builds the prompt with the model's tokenizer (its token\n"
                    "budget is counted in that model's tokens) and no model file was found: pass -m FILE.gguf\n";
        return k_exit_failure;
    }
    logs::DiagnoseOptions opt;
    if (c.args.has("--log-format")) opt.log_format = c.args.get("--log-format");
    logs::ParseOptions po;
    po.log_format = opt.log_format;
    if (auto check = logs::RecordParser::create(po); !check) throw UsageError(check.error().message);

    std::vector<logs::Source> sources;
    for (const std::string& f : files) sources.push_back(logs::open_source(f, c.args.has("--rotated")));
    remote::TerminalPrompter prompter;
    add_journal_and_host_sources(c, sources, prompter, opt.host);
    // History: each source's templates are compared with its earlier runs, and the report is kept.
    std::unique_ptr<history::History> db;
    if (!c.args.has("--no-history")) {
        auto h = history::History::open(history_path(c.args));
        if (h) db = std::move(*h);
        else c.io.err << "sigmaops diagnose: history not used (" << h.error().message << ")\n";
    }
    opt.history = db.get();
    opt.session_id = c.args.get_int("--session", 0, 0, INT64_MAX);
    if (opt.session_id && !db) throw UsageError("--session needs the history (leave out --no-history)");
    Progress progress{c.io, c.args.has("--json")};
    std::size_t progress_source = SIZE_MAX;
    opt.progress = [&](const logs::DiagnoseProgress& p) {
        if (p.i_source != progress_source) {   // lines and lines/s are per source
            progress_source = p.i_source;
            progress.restart();
        }
        progress.size_known(p.bytes_total);
        if (p.done) progress.done();
        else progress.show(p.bytes_read, p.bytes_total, p.lines);
    };
    auto report = logs::diagnose(std::move(sources), opt);
    if (!report) {
        c.io.err << "sigmaops diagnose: " << report.error().message << "\n";
        return k_exit_failure;
    }
    const int rc = report->any_error() ? k_exit_failure : k_exit_ok;
    explain_report(c, *report, db.get());
    if (c.args.has("--json")) {
        c.io.out << logs::report_json(*report);
        return rc;
    }
    if (c.args.has("--show-prompt") && report->model)
        print_prompt(c, report->model->prompt, report->model->n_prompt_tokens, report->model->left_out);
    int prompt_rc = k_exit_ok;
    if (c.args.has("--show-prompt") && c.args.has("--no-model")) prompt_rc = show_prompt_only(c, *report);
    c.io.out << logs::report_text(*report);
    return rc != k_exit_ok ? rc : prompt_rc;
}

int run_parse(const Invocation& c) {
    const auto& files = c.args.positional();
    if (files.empty()) throw UsageError("parse needs a log file ('-' for stdin)");
    if (files.size() > 1 && std::find(files.begin(), files.end(), "-") != files.end())
        throw UsageError("'-' (stdin) cannot be mixed with files");
    const bool json = c.args.has("--json");
    const std::string out_path = c.args.get("--output", json ? "" : "-");

    std::vector<std::string> paths;
    for (const std::string& f : files) {
        if (c.args.has("--rotated") && f != "-") {
            auto set = logs::rotated_set(f);
            if (set.empty()) { c.io.err << "sigmaops logs: no such file: " << f << "\n"; return k_exit_failure; }
            paths.insert(paths.end(), set.begin(), set.end());
        } else {
            paths.push_back(f);
        }
    }
    std::optional<logs::LineReader> reader;
    if (paths.size() == 1 && paths[0] == "-") {
        reader.emplace(logs::LineReader::from_fd(0, "<stdin>"));
    } else {
        auto r = logs::LineReader::open_files(paths);
        if (!r) { c.io.err << "sigmaops logs: " << r.error().message << "\n"; return k_exit_failure; }
        reader.emplace(std::move(*r));
    }
    logs::ParseOptions po;
    if (c.args.has("--log-format")) po.log_format = c.args.get("--log-format");
    auto parser = logs::RecordParser::create(po);
    if (!parser) throw UsageError(parser.error().message);

    logs::TemplateMiner miner;
    std::vector<std::uint32_t> line_template;   // index: line number - 1
    logs::Record rec;
    std::uint64_t n_records = 0, n_truncated = 0;
    Progress progress{c.io, json};
    progress.size_known(reader->bytes_total());
    while (parser->next(*reader, rec)) {
        const logs::Match m = miner.add(rec.message);
        ++n_records;
        n_truncated += rec.truncated;
        line_template.resize(rec.first_line - 1 + rec.n_lines, m.template_id);
        progress.tick(*reader, line_template.size());
    }
    progress.done();
    if (reader->error()) {
        c.io.err << "sigmaops logs: " << reader->error()->message << "\n";
        if (line_template.empty()) return k_exit_failure;
    }

    if (!out_path.empty()) {
        std::ofstream file;
        std::ostream* out = &c.io.out;
        if (out_path != "-") {
            file.open(out_path, std::ios::binary | std::ios::trunc);
            if (!file) { c.io.err << "sigmaops logs: cannot write " << out_path << "\n"; return k_exit_failure; }
            out = &file;
        }
        *out << "LineId,EventId,EventTemplate\n";
        std::vector<std::string> quoted(miner.size() + 1);
        for (std::uint32_t id = 1; id <= miner.size(); ++id) quoted[id] = csv_field(miner.get(id).text);
        for (std::size_t i = 0; i < line_template.size(); ++i) {
            const std::uint32_t id = miner.resolve(line_template[i]);   // merged templates take their final id
            *out << (i + 1) << ",E" << id << "," << quoted[id] << "\n";
        }
        out->flush();
        if (!*out) { c.io.err << "sigmaops logs: writing " << out_path << " failed\n"; return k_exit_failure; }
    }
    if (json) {
        c.io.out << "{\"format\":" << json_string(logs::format_name(parser->format())) << ",\"lines\":" << line_template.size()
                 << ",\"records\":" << n_records << ",\"truncated_records\":" << n_truncated
                 << ",\"error\":" << (reader->error() ? json_string(reader->error()->message) : "null") << ",\"templates\":[";
        bool first = true;
        for (std::uint32_t id = 1; id <= miner.size(); ++id) {
            if (miner.resolve(id) != id) continue;   // merged into another template
            const logs::Template& t = miner.get(id);
            c.io.out << (first ? "" : ",") << "{\"id\":\"E" << id << "\",\"count\":" << t.count << ",\"template\":" << json_string(t.text) << "}";
            first = false;
        }
        c.io.out << "]}\n";
    }
    return reader->error() ? k_exit_failure : k_exit_ok;
}

} // namespace

Command diagnose_command() {
    Command c;
    c.name = "diagnose";
    c.summary = "what went wrong in these logs: ranked findings with evidence (no model needed)";
    c.usage = "[FILE... | -] [--journal | --journal-file F | --journal-dir D] [--host H [--file PATH]]\n"
              "       [--unit U] [--since T] [--until T] [--priority P] [--json] [--no-model] [--show-prompt] [--log-format FMT]\n"
              "       [--rotated] [--history FILE | --no-history]";
    c.flags = {{"--json", "", "", "print the findings and the digest as one JSON object"},
               {"--journal", "", "", "read this machine's systemd journal (journalctl -o json)"},
               {"--journal-file", "", "F", "read a journal file (journalctl --file); with --host, one on the host"},
               {"--journal-dir", "", "D", "read a directory of journal files (journalctl --directory); with --host, on the host"},
               {"--unit", "", "U", "journal entries of unit U only (several: a.service,b.service)"},
               {"--since", "", "T", "journal entries from T on, in journalctl's syntax ('2024-03-01 12:00', yesterday, -1h)"},
               {"--until", "", "T", "journal entries up to T"},
               {"--priority", "", "P", "journal entries of priority P or worse (err, warning, 3, warning..err)"},
               {"--host", "", "H", "read host H's journal over SSH (a hosts.conf / ~/.ssh/config name), or --file there"},
               {"--file", "", "PATH", "with --host: read PATH on the host (streamed with cat; .gz inflated here)"},
               {"--no-model", "", "", "the deterministic report only (no model explanation)"},
               {"--show-prompt", "", "", "print exactly what the model saw, and what was left out to fit its context; with --no-model, "
                                          "what it would see (the model file loaded for its tokenizer only; an error without one)"},
               {"--log-format", "", "FMT", "header format, e.g. '<Date> <Time> <Level> <Content>' (default: detected)"},
               {"--rotated", "", "", "read FILE's rotated set too (FILE.2.gz, FILE.1, FILE), oldest first"},
               {"--no-history", "", "", "neither compare with earlier runs nor store the report"},
               {"--session", "", "ID", "store the report in chat session ID (what /diagnose in the chat passes)"},
               history_flag(), context_flags()[0]};
    c.flags = concat({c.flags, model_flags()});
    c.notes = "Each FILE is a source with its own format detection; plain and .gz files are streamed.\n"
              "A journal (--journal, --journal-file, --journal-dir, or a host's with --host) and a host's file\n"
              "(--host H --file PATH) are sources too, streamed: journalctl or cat runs and is read as it goes.\n"
              "SSH: the host's key must be known or accepted on the terminal, as for 'sigmaops hosts test'.\n"
              "History: each source's message templates are remembered; a later run of the same source reports\n"
              "the ones never seen before (new-template). The report and its findings are stored.\n"
              "Findings: categories of the signature library (oom-killer, disk-full, io-filesystem-error, ...),\n"
              "causes ranked before consequences; each with evidence (file:line) and read-only next commands.\n"
              "exit status: 0 ok, 1 error (a file, journal or host could not be read), 2 usage error";
    c.run = run_diagnose;
    return c;
}

Command logs_command() {
    Command c;
    c.name = "logs";
    c.summary = "read logs: detect their format, group lines into templates";
    c.subcommands = {
        {"parse", "one CSV row per line: LineId,EventId,EventTemplate (the Loghub convention)",
         "FILE... | - [--log-format FMT] [--rotated] [-o OUT.csv] [--json]",
         {{"--log-format", "", "FMT", "header format, e.g. '<Date> <Time> <Level> <Content>' (default: detected)"},
          {"--rotated", "", "", "read FILE's rotated set too (FILE.2.gz, FILE.1, FILE), oldest first"},
          {"--output", "-o", "FILE", "write the CSV to FILE instead of stdout"},
          {"--json", "", "", "print a JSON summary (format, counts, templates); the CSV only with -o"}},
         "Plain and .gz files are read streaming; several files are one stream, in the order given.\n"
         "Continuation lines (stack traces) take the EventId of the line they continue.",
         run_parse, {}},
    };
    c.notes = "exit status: 0 ok, 1 error (unreadable or damaged input), 2 usage error";
    return c;
}

} // namespace sigmaops::cli
