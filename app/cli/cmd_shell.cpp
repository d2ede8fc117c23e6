// cmd_shell.cpp - `sigmaops shell check [--jsonl]`: parses and rates shell commands read from
// stdin, one JSON object per input (for scripting and evaluation; issue 17). Input: one command
// per line, or with --jsonl one JSON string per line (so multi-line scripts fit). Output:
//   {"ok":true,"risk":"destructive","reasons":[{"risk":..,"word":"rm","offset":0,"why":".."}],"programs":["rm"]}
//   {"ok":false,"error":{"offset":5,"message":".."},"risk":"unknown","reasons":[..],"programs":[]}
// A line of --jsonl input that is not a JSON string gives {"ok":false,"error":{..},"input_error":true}.
#include "commands.h"

#include <shell/shell.h>

#include <nlohmann/json.hpp>

#include <iostream>

namespace sigmaops::cli {

namespace {

nlohmann::json check_one(const std::string& text) {
    using namespace sigmaops::shell;
    nlohmann::json j;
    ParseResult r = parse(text);
    Assessment a;
    if (r.ok()) {
        j["ok"] = true;
        a = classify(*r.script);
    } else {
        j["ok"] = false;
        j["error"] = {{"offset", r.error->offset}, {"message", r.error->message}};
        a = classify_source(text);
    }
    j["risk"] = std::string(risk_name(a.risk));
    nlohmann::json reasons = nlohmann::json::array();
    for (const Reason& x : a.reasons)
        reasons.push_back({{"risk", std::string(risk_name(x.risk))}, {"word", x.word}, {"offset", x.offset}, {"why", x.why}});
    j["reasons"] = std::move(reasons);
    j["programs"] = a.programs;
    return j;
}

int run_check(const Invocation& c) {
    c.args.at_most(0);
    const bool jsonl = c.args.has("--jsonl");
    for (std::string line; std::getline(c.io.in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!jsonl) {
            c.io.out << check_one(line).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
            continue;
        }
        if (line.empty()) continue;
        nlohmann::json in = nlohmann::json::parse(line, nullptr, false);
        if (in.is_discarded() || !in.is_string()) {
            nlohmann::json j = {{"ok", false}, {"input_error", true},
                                {"error", {{"offset", 0}, {"message", "this line is not a JSON string"}}}};
            c.io.out << j.dump() << "\n";
            continue;
        }
        c.io.out << check_one(in.get<std::string>()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    return k_exit_ok;
}

} // namespace

Command shell_command() {
    Command c;
    c.name = "shell";
    c.summary = "parse shell commands and rate their risk (nothing is run)";
    c.subcommands = {
        {"check", "parse commands from stdin; one JSON object per input: ok, error, risk, reasons, programs",
         "[--jsonl] < COMMANDS",
         {{"--jsonl", "", "", "each input line is a JSON string (a whole script); default: one command per line"}},
         "Risk levels: read-only, changes-files, changes-system, unknown, destructive, irreversible.\n"
         "Unparsable input and programs not known are `unknown`, rated above changes-system.\n"
         "exit status: 0 ok, 2 usage error",
         run_check, {}},
    };
    c.notes = "exit status: 0 ok, 1 error, 2 usage error";
    return c;
}

} // namespace sigmaops::cli
