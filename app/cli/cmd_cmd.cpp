// cmd_cmd.cpp - `sigmaops cmd "REQUEST" | --command CMD [--host H] [--run] [--dry-run] [--json]`:
// the command agent (agents/commands). Shows the proposal (command, host, risk and reasons);
// with --run asks on the terminal (y/N, or the host name for destructive, irreversible and
// unknown commands) and runs it with the output streamed; every run and every refusal is
// recorded in history. Nothing here can approve a command: only commands::confirm() makes an
// Approval, from the person at /dev/tty. There is no --yes.
#include "commands.h"
#include "common.h"

#include <commands/commands.h>
#include <remote/remote.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <iostream>

namespace sigmaops::cli {

namespace {

using namespace sigmaops::commands;
using nlohmann::json;

// Exit codes beyond command.h's: the command was not confirmed (declined, no terminal, wrong
// host name), or it was stopped with Ctrl-C.
constexpr int k_exit_declined = 3, k_exit_interrupted = 130;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json proposal_json(const Proposal& p) {
    json reasons = json::array();
    for (const shell::Reason& r : p.assessment.reasons)
        reasons.push_back({{"risk", shell::risk_name(r.risk)}, {"word", r.word}, {"offset", r.offset}, {"why", r.why}});
    json j = {{"command", p.text},
              {"sudo", p.sudo},
              {"host", p.local() ? "localhost" : p.host},
              {"local", p.local()},
              {"origin", origin_name(p.origin)},
              {"explanation", p.explanation},
              {"risk", shell::risk_name(p.risk())},
              {"reasons", reasons},
              {"programs", p.assessment.programs},
              {"needs_typed_host", needs_typed_host(p.risk())}};
    j["parse_error"] = p.parse_error ? json{{"offset", p.parse_error->offset}, {"message", p.parse_error->message}} : json(nullptr);
    return j;
}

void print_proposal(std::ostream& o, const Proposal& p) {
    o << "command: " << visible((p.sudo ? "sudo " : "") + p.text) << "\n";
    o << "host:    " << (p.local() ? "localhost (" + local_host_name() + ")" : p.host) << "\n";
    if (!p.explanation.empty()) o << "what:    " << visible(p.explanation) << "\n";
    o << "risk:    " << shell::risk_name(p.risk());
    if (needs_typed_host(p.risk())) o << " (running it needs the host name typed)";
    o << "\n";
    for (const shell::Reason& r : p.assessment.reasons)
        o << "         - " << visible(r.word) << ": " << visible(r.why) << " (at " << r.offset << ")\n";
    if (p.parse_error) o << "does not parse: " << visible(p.parse_error->message) << " (at " << p.parse_error->offset << ")\n";
}

// The proposal the user asked about: --command is their own text. A plain-words REQUEST goes
// to the generation stage (agents/commands' generation section).
Proposal proposal_from(const Invocation& c, const std::string& host) {
    if (c.args.has("--command")) {
        if (!c.args.positional().empty())
            throw UsageError("give either a REQUEST or --command CMD, not both");
        const std::string text = c.args.get("--command");
        if (text.find_first_not_of(" \t\n") == std::string::npos) throw UsageError("--command is empty");
        Proposal p = make_proposal(text, host, Origin::User);
        if (c.args.has("--sudo")) p.sudo = true;
        return p;
    }
    c.args.at_most(1);
    if (c.args.positional().empty()) throw UsageError("nothing to do: give a REQUEST in words, or --command CMD");
    throw UsageError("turning a request into a command needs the generation stage, which is not built yet; "
                     "give the command itself with --command 'CMD'");
}

int run_cmd(const Invocation& c) {
    const std::string host = c.args.get("--host");
    if (c.args.has("--host") && host.empty()) throw UsageError("--host is empty (leave it out to run on this machine)");
    const bool json_out = c.args.has("--json"), dry_run = c.args.has("--dry-run"), run = c.args.has("--run");
    const int timeout_s = int(c.args.get_int("--timeout", 0, 0, 1 << 30));
    const history::Id session = c.args.get_int("--session", 0, 0, INT64_MAX);
    Proposal p = proposal_from(c, host);

    json report = {{"proposal", proposal_json(p)}};
    auto finish = [&](const std::string& status, int rc) {
        report["status"] = status;
        report["exit_status"] = rc;
        if (json_out) c.io.out << dump(report) << "\n";
        return rc;
    };
    if (!json_out) print_proposal(c.io.out, p);
    // --dry-run never runs (nor asks); without --run the proposal is all there is.
    if (dry_run || !run) {
        if (!json_out) c.io.out << (dry_run ? "dry run: nothing was run\n" : "not run (add --run to be asked to run it)\n");
        return finish(dry_run ? "dry-run" : "not-run", k_exit_ok);
    }

    // Everything that runs is recorded: no history, no run.
    history::Options ho;
    auto db = history::History::open(history_path(c.args), ho);
    if (!db) {
        c.io.err << "sigmaops: " << db.error().message << "\n(nothing was run: every run is recorded in history)\n";
        report["error"] = db.error().message;
        return finish("error", k_exit_failure);
    }
    if (session) {
        if (auto s = (*db)->session(session); !s) {
            c.io.err << "sigmaops: --session " << session << ": " << s.error().message << "\n";
            report["error"] = s.error().message;
            return finish("error", k_exit_failure);
        }
    }

    TerminalConfirmer confirmer;
    Verdict verdict = confirm(p, confirmer);
    if (!verdict.approved()) {
        const std::string& why = verdict.declined;
        c.io.err << "sigmaops: not run: " << why << "\n";
        auto id = record_declined(**db, p, why, session);
        report["declined"] = why;
        if (id) report["history_id"] = *id;
        return finish("declined", k_exit_declined);
    }
    report["approved_by"] = verdict.approval->approved_by();

    remote::TerminalPrompter prompter;
    RunnerOptions ro;
    ro.history = db->get();
    ro.prompter = &prompter;
    Runner runner(ro);
    RunOptions opts;
    opts.timeout = std::chrono::seconds(timeout_s);
    std::atomic<bool> cancel{false};
    opts.cancel = &cancel;
    opts.session_id = session;
    if (!json_out) {
        opts.on_output = [&](Stream s, std::string_view text) {
            (s == Stream::Stdout ? c.io.out : c.io.err) << text << std::flush;
            return true;
        };
    }
    c.io.err << "sigmaops: running on " << (p.local() ? "localhost" : p.host) << " (Ctrl-C stops it)\n";
    std::optional<Expected<RunResult>> done;
    Interrupt::while_cancellable([&] { cancel = true; },
                                 [&] { done.emplace(runner.run(p, std::move(*verdict.approval), opts)); });
    if (!*done) {
        c.io.err << "sigmaops: " << done->error().message << "\n";
        report["error"] = done->error().message;
        return finish("error", k_exit_failure);
    }
    const RunResult& r = **done;
    report["result"] = {{"host", r.host},
                        {"exit_code", r.exit_code ? json(*r.exit_code) : json(nullptr)},
                        {"signal", r.signal},
                        {"cancelled", r.cancelled},
                        {"timed_out", r.timed_out},
                        {"truncated", r.truncated},
                        {"stdout", r.out},
                        {"stderr", r.err},
                        {"elapsed_ms", r.elapsed.count()}};
    report["history_id"] = r.history_id;
    std::string how = r.exit_code ? "exit " + std::to_string(*r.exit_code)
                                  : !r.signal.empty() ? "killed by SIG" + r.signal : std::string("no exit status");
    if (r.cancelled) how = "stopped (Ctrl-C); " + how;
    if (r.timed_out) how = "timed out; " + how;
    c.io.err << "sigmaops: " << how << " (history #" << r.history_id << ")\n";
    if (r.cancelled) return finish("cancelled", k_exit_interrupted);
    if (r.timed_out) return finish("timed-out", k_exit_failure);
    return finish(r.ok() ? "ok" : "failed", r.ok() ? k_exit_ok : k_exit_failure);
}

} // namespace

Command cmd_command() {
    Command c;
    c.name = "cmd";
    c.summary = "propose a shell command, show its risk, run it only after you confirm";
    c.usage = "(\"REQUEST\" | --command CMD) [--host H] [--run] [--dry-run] [--sudo] [--timeout S] [--json]";
    c.flags = {{"--command", "-c", "CMD", "the command itself (typed by you) instead of a request in words"},
               {"--host", "", "H", "run on this host over SSH (a profile or ssh_config name); default: this machine"},
               {"--run", "", "", "ask to run it (y/N on the terminal; the host name for destructive commands)"},
               {"--dry-run", "", "", "show what would run and its risk; never asks, never runs"},
               {"--sudo", "", "", "run it under sudo (the password is asked on the terminal, once)"},
               {"--timeout", "", "S", "stop it after S seconds; 0 for none (default 0)"},
               {"--json", "", "", "print one JSON object: proposal, status, result, history_id"},
               {"--session", "", "ID", "record the run in chat session ID (what /cmd and /run in the chat pass)"},
               history_flag()};
    c.notes =
        "Nothing runs without your confirmation on the terminal: y for read-only to changes-system\n"
        "commands, the host name typed exactly (this machine's hostname for a local run) for\n"
        "unknown, destructive and irreversible ones. Without a terminal everything is declined.\n"
        "There is no option that skips the question. Ctrl-C stops the command (its whole process\n"
        "group, or the remote process). Every run and every refusal is recorded in history.\n"
        "exit status: 0 the command ran and exited 0 (or nothing was to run), 1 the command failed\n"
        "(non-zero exit, signal, timeout) or an error, 2 usage error, 3 not confirmed (declined, no\n"
        "terminal, wrong host name), 130 stopped with Ctrl-C";
    c.run = run_cmd;
    return c;
}

} // namespace sigmaops::cli
