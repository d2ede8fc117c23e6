// cmd_explain.cpp - `sigmaops explain CMD [--json]`: a shell command explained word by word from
// this machine's man pages and the tldr index (agents/knowledge), with its risk level and the
// reasons (agents/shell). Nothing is run. Issue 17 item 6.
//   {"command":..,"ok":true,"risk":"changes-files","reasons":[..],
//    "programs":[{"program":"tar","offset":0,"summary":..,"documented":true,"wrappers":[]}],
//    "words":[{"offset":5,"text":"-x","program":"tar","role":"option","explanation":..,"source":"man"}],
//    "unknown_flags":[{"program":..,"word":..,"option":..,"offset":..,"message":..}],"undocumented":[..]}
// A command that does not parse: exit status 2, with --json {"ok":false,"error":{"offset","message"}}.
#include "commands.h"

#include <knowledge/knowledge.h>
#include <shell/shell.h>

#include <nlohmann/json.hpp>

#include <iostream>

namespace sigmaops::cli {

namespace {

namespace kn = sigmaops::knowledge;

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// Control characters (escape sequences from a man page or the input) are not sent to the terminal.
std::string printable(const std::string& s) {
    std::string o;
    for (char c : s) o += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    return o;
}

int run_explain(const Invocation& c) {
    std::string command;
    for (const std::string& p : c.args.positional()) command += (command.empty() ? "" : " ") + p;
    if (command.empty()) throw UsageError("explain needs a command, e.g. sigmaops explain 'tar -xzvf a.tgz -C /opt'");
    const bool json = c.args.has("--json");
    shell::ParseResult parsed = shell::parse(command);
    if (!parsed.ok()) {
        if (json)
            c.io.out << dump({{"command", command}, {"ok", false},
                              {"error", {{"offset", parsed.error->offset}, {"message", parsed.error->message}}}})
                     << "\n";
        c.io.err << "sigmaops: the command does not parse at offset " << parsed.error->offset << ": "
                 << parsed.error->message << "\n";
        return k_exit_usage;
    }
    std::optional<kn::Knowledge> tldr;
    {
        Expected<kn::Knowledge> k = kn::Knowledge::open(c.args.get("--index"));
        if (k) tldr.emplace(std::move(*k));
        else if (c.args.has("--index")) {
            c.io.err << "sigmaops: " << k.error().message << "\n";
            return k_exit_failure;
        } else {
            c.io.err << "sigmaops: no tldr index (" << k.error().message.substr(0, k.error().message.find('\n'))
                     << "); explaining from man pages only\n";
        }
    }
    kn::DocCache docs(c.args.has("--no-man") ? kn::DocProvider() : kn::local_docs(), tldr ? &*tldr : nullptr);
    Expected<kn::Explanation> e = kn::explain(command, docs);
    if (!e) {
        c.io.err << "sigmaops: " << e.error().message << "\n";
        return k_exit_failure;
    }
    const shell::Assessment a = shell::classify(*parsed.script);
    if (json) {
        nlohmann::json j;
        j["command"] = command;
        j["ok"] = true;
        j["risk"] = std::string(shell::risk_name(a.risk));
        j["reasons"] = nlohmann::json::array();
        for (const shell::Reason& r : a.reasons)
            j["reasons"].push_back({{"risk", std::string(shell::risk_name(r.risk))}, {"word", r.word}, {"offset", r.offset}, {"why", r.why}});
        j["programs"] = nlohmann::json::array();
        for (const kn::ProgramUse& p : e->programs)
            j["programs"].push_back({{"program", p.program}, {"offset", p.offset}, {"summary", p.summary},
                                     {"documented", p.documented}, {"wrappers", p.wrappers}});
        j["words"] = nlohmann::json::array();
        for (const kn::WordExplanation& w : e->words)
            j["words"].push_back({{"offset", w.offset}, {"text", w.text}, {"program", w.program},
                                  {"role", std::string(kn::role_name(w.role))}, {"explanation", w.explanation},
                                  {"source", w.source}});
        j["unknown_flags"] = nlohmann::json::array();
        for (const kn::FlagProblem& f : e->unknown)
            j["unknown_flags"].push_back({{"program", f.program}, {"word", f.word}, {"option", f.option},
                                          {"offset", f.offset}, {"message", f.message}, {"tldr_only", f.tldr_only}});
        j["undocumented"] = e->undocumented;
        c.io.out << dump(j) << "\n";
        return k_exit_ok;
    }
    c.io.out << printable(command) << "\n\n";
    for (const kn::WordExplanation& w : e->words) {
        std::string text = printable(w.text.empty() ? "(computed)" : w.text);
        if (text.size() < 14) text.resize(14, ' ');
        std::string line = "  " + text + " " + printable(w.explanation);
        if (line.size() > 200) line = line.substr(0, 197) + "...";
        c.io.out << line << (w.source.empty() ? "" : "  [" + w.source + "]") << "\n";
    }
    if (!e->unknown.empty()) {
        c.io.out << "\nunknown options:\n";
        for (const kn::FlagProblem& f : e->unknown) c.io.out << "  offset " << f.offset << ": " << printable(f.message) << "\n";
    }
    for (const std::string& p : e->undocumented)
        c.io.out << "\n" << printable(p) << ": no documentation here (no man page, no tldr page); its options were not checked\n";
    c.io.out << "\nrisk: " << shell::risk_name(a.risk) << "\n";
    for (const shell::Reason& r : a.reasons)
        c.io.out << "  " << shell::risk_name(r.risk) << ": " << printable(r.why) << " (" << printable(r.word) << " at offset "
                 << r.offset << ")\n";
    return k_exit_ok;
}

} // namespace

Command explain_command() {
    Command c;
    c.name = "explain";
    c.summary = "explain a shell command word by word, with its risk (nothing is run)";
    c.usage = "[--json] [--index FILE] [--no-man] 'COMMAND'";
    c.flags = {{"--json", "", "", "one JSON object: words, programs, unknown_flags, risk, reasons"},
               {"--index", "", "FILE", "the tldr index (default: the shipped one; see notes)"},
               {"--no-man", "", "", "do not read this machine's man pages (tldr only)"}};
    c.notes = "Each option is explained from this machine's man page (man -P cat), else from a tldr\n"
              "example that uses it; options neither lists are reported as unknown. The tldr pages are\n"
              "(c) tldr-pages contributors, CC BY 4.0 (https://github.com/tldr-pages/tldr).\n"
              "Index search: --index, $SIGMAOPS_KNOWLEDGE, $XDG_DATA_HOME/sigmaops/knowledge, the source\n"
              "tree, <prefix>/share/sigmaops/knowledge.\n"
              "exit status: 0 ok, 1 error, 2 usage error or a command that does not parse";
    c.run = run_explain;
    return c;
}

} // namespace sigmaops::cli
