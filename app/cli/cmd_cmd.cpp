// cmd_cmd.cpp - `sigmaops cmd "REQUEST" | --command CMD [-n N] [--no-model] [--host H] [--run]
// [--dry-run] [--json]`: the command agent (agents/commands). A REQUEST goes through the
// generation stage (commands::Proposer: tldr retrieval, the model's answer under the answer
// grammar, candidates parsed, risk-rated, flag-checked and ranked; with --no-model or no model
// the best tldr examples, placeholders marked). Shows the proposal (command, host, risk and reasons);
// with --run asks on the terminal (y/N, or the host name for destructive, irreversible and
// unknown commands) and runs it with the output streamed; every run and every refusal is
// recorded in history. Nothing here can approve a command: only commands::confirm() makes an
// Approval, from the person at /dev/tty. There is no --yes.
#include "commands.h"
#include "common.h"
#include "lineedit.h"

#include <commands/commands.h>
#include <knowledge/knowledge.h>
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

// The generation stage failed (no index and no model, a model error): exit 1 with the message.
struct GenerationError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

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

// color: risk names in their colour (color_wanted: stdout a terminal, NO_COLOR unset, TERM not dumb).
void print_proposal(std::ostream& o, const Proposal& p, bool color) {
    o << "command: " << visible((p.sudo ? "sudo " : "") + p.text) << "\n";
    o << "host:    " << (p.local() ? "localhost (" + local_host_name() + ")" : p.host) << "\n";
    if (!p.explanation.empty()) o << "what:    " << visible(p.explanation) << "\n";
    const std::string risk(shell::risk_name(p.risk()));
    o << "risk:    " << (color ? colored_risk(risk) : risk);
    if (needs_typed_host(p.risk())) o << " (running it needs the host name typed)";
    o << "\n";
    for (const shell::Reason& r : p.assessment.reasons)
        o << "         - " << visible(r.word) << ": " << visible(r.why) << " (at " << r.offset << ")\n";
    if (p.parse_error) o << "does not parse: " << visible(p.parse_error->message) << " (at " << p.parse_error->offset << ")\n";
}

json candidate_json(const Candidate& k) {
    json flags = json::array();
    for (const knowledge::FlagProblem& f : k.unknown_flags)
        flags.push_back({{"program", f.program}, {"option", f.option}, {"offset", f.offset}, {"message", f.message}});
    json j = {{"command", (k.proposal.sudo ? "sudo " : "") + k.proposal.text},
              {"source", k.source},
              {"score", k.score},
              {"parses", k.parses},
              {"unknown_flags", flags},
              {"undocumented", k.undocumented},
              {"has_placeholders", k.has_placeholders},
              {"missing_programs", k.missing_programs},
              {"proposal", proposal_json(k.proposal)}};
    if (k.source == "model") {
        j["logprob"] = k.logprob;
        j["answer"] = k.answer;
    }
    if (k.example) j["tldr"] = {{"page", k.example->page}, {"id", k.example->id}, {"command", k.example->command}};
    return j;
}

// A plain-words REQUEST through the generation stage: the tldr index (retrieval, flag checks),
// the model unless --no-model (none found: tldr examples only, said on stderr), this machine's
// man pages for local runs. Progress goes to stderr. Throws UsageError for bad options.
// The target's context (agents/commands target_context: cached in history, one read-only probe
// otherwise) and the candidates whose program is missing there marked and ranked below. A target
// that cannot be probed is said on stderr; the candidates are then left as they are.
void mark_on_target(const Invocation& c, Proposals& all, const std::string& host, std::optional<TargetContext>& ctx) {
    history::Options ho;
    auto db = history::History::open(history_path(c.args), ho);
    history::History* h = db ? db->get() : nullptr;
    Expected<TargetContext> got = sigmaops::unexpected(ErrorCode::Io, "not probed");
    if (host.empty()) {
        got = target_context(local_probe(), h, host, programs_of(all));
    } else {
        remote::TerminalPrompter prompter;
        remote::ConnectOptions co;
        co.prompter = &prompter;
        remote::ConnectionPool pool(co);
        auto session = pool.acquire(host);
        if (!session) got = sigmaops::unexpected(session.error());
        else got = target_context(ssh_probe(**session), h, host, programs_of(all));
    }
    if (!got) {
        c.io.err << "sigmaops: cannot probe " << (host.empty() ? "this machine" : host) << ": " << got.error().message
                 << " (programs not checked)\n";
        return;
    }
    mark_missing_programs(all, *got);
    ctx = std::move(*got);
}

json context_json(const TargetContext& t) {
    return {{"host", t.host.empty() ? "localhost" : t.host}, {"os_id", t.os_id}, {"os_version_id", t.os_version_id},
            {"os", t.os_pretty}, {"shell", t.shell}, {"init", t.init}, {"package_managers", t.package_managers},
            {"programs", t.programs}, {"from_cache", t.from_cache}, {"probed_ms", t.probed_ms}, {"notes", t.notes}};
}

std::string target_name(const std::string& host) { return host.empty() ? "localhost" : host; }

Expected<Proposals> generate(const Invocation& c, const std::string& request, const std::string& host,
                             std::optional<TargetContext>& ctx) {
    const int n = int(c.args.get_int("--candidates", 3, 1, 16));
    std::optional<knowledge::Knowledge> tldr;
    auto index = knowledge::Knowledge::open(c.args.get("--index"));
    if (index) tldr.emplace(std::move(*index));
    else c.io.err << "sigmaops: " << index.error().message << "\n(proposing without tldr retrieval)\n";
    std::shared_ptr<llm::Model> model;
    if (!c.args.has("--no-model")) {
        c.io.err << "sigmaops: loading the model...\n";
        model = load_model(c.args, c.io);
        if (!model) c.io.err << "sigmaops: continuing without a model: the best tldr examples only\n";
    }
    // The target's man pages: this machine's for a local run, the host's over SSH for --host (when
    // the host cannot be reached, tldr only). Declared in this order so the provider goes first.
    remote::TerminalPrompter prompter;
    std::optional<remote::ConnectionPool> pool;
    std::unique_ptr<remote::SshSession> doc_session;
    knowledge::DocProvider provider = knowledge::local_docs();
    if (!host.empty()) {
        remote::ConnectOptions co;
        co.prompter = &prompter;
        pool.emplace(co);
        auto session = pool->acquire(host);
        if (session) {
            doc_session = std::move(*session);
            provider = ssh_docs(*doc_session);
        } else {
            c.io.err << "sigmaops: cannot read " << host << "'s man pages: " << session.error().message
                     << " (flags checked against tldr only)\n";
            provider = {};
        }
    }
    knowledge::DocCache docs(provider, tldr ? &*tldr : nullptr);
    Proposer proposer(model, tldr ? &*tldr : nullptr, &docs);
    ProposeOptions o;
    o.n = n;
    o.host = host;
    if (model) c.io.err << "sigmaops: proposing " << n << (n == 1 ? " command" : " commands") << "...\n";
    std::optional<Expected<Proposals>> out;
    Interrupt::while_cancellable([&] { proposer.cancel(); }, [&] { out.emplace(proposer.propose(request, o)); });
    if (*out && !(*out)->candidates.empty()) mark_on_target(c, **out, host, ctx);
    return std::move(*out);
}

void print_candidates(std::ostream& o, const Proposals& all, const std::string& host, bool color) {
    if (!all.note.empty()) o << "note:    " << visible(all.note) << "\n";
    if (all.candidates.size() < 2) return;
    o << "candidates (best first; the first is the proposal below):\n";
    for (size_t k = 0; k < all.candidates.size(); ++k) {
        const Candidate& c = all.candidates[k];
        o << "  " << k + 1 << ". " << visible((c.proposal.sudo ? "sudo " : "") + c.proposal.text) << "   ["
          << (color ? colored_risk(shell::risk_name(c.proposal.risk())) : std::string(shell::risk_name(c.proposal.risk()))) << ", "
          << c.source;
        if (!c.parses) o << ", does not parse";
        if (!c.unknown_flags.empty()) o << ", " << c.unknown_flags.size() << " unknown flag(s)";
        for (const std::string& m : c.missing_programs) o << ", program not found on " << target_name(host) << ": " << visible(m);
        o << "]\n";
    }
}

// The proposal the user asked about: --command is their own text. A plain-words REQUEST goes
// to the generation stage (generate()); its best candidate is the proposal.
Proposal proposal_from(const Invocation& c, const std::string& host, json& report, std::optional<Proposals>& generated) {
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
    if (c.args.has("--sudo")) throw UsageError("--sudo goes with --command; a proposal says sudo itself when it needs it");
    std::optional<TargetContext> ctx;
    auto all = generate(c, c.args.positional()[0], host, ctx);
    if (!all) throw GenerationError(all.error().message);
    json cands = json::array();
    for (const Candidate& k : all->candidates) cands.push_back(candidate_json(k));
    report["candidates"] = cands;
    report["used_model"] = all->used_model;
    if (ctx) report["target"] = context_json(*ctx);
    if (!all->note.empty()) report["note"] = all->note;
    if (all->candidates.empty()) throw GenerationError(all->note.empty() ? "no command to propose" : all->note);
    Proposal best = all->candidates.front().proposal;
    generated = std::move(*all);
    return best;
}

int run_cmd(const Invocation& c) {
    const std::string host = c.args.get("--host");
    if (c.args.has("--host") && host.empty()) throw UsageError("--host is empty (leave it out to run on this machine)");
    const bool json_out = c.args.has("--json"), dry_run = c.args.has("--dry-run"), run = c.args.has("--run");
    const int timeout_s = int(c.args.get_int("--timeout", 0, 0, 1 << 30));
    const history::Id session = c.args.get_int("--session", 0, 0, INT64_MAX);
    json report;
    std::optional<Proposals> generated;
    std::optional<Proposal> made;
    try {
        made = proposal_from(c, host, report, generated);
    } catch (const GenerationError& e) {
        c.io.err << "sigmaops: " << e.what() << "\n";
        report["error"] = e.what();
        report["status"] = "error";
        report["exit_status"] = k_exit_failure;
        if (json_out) c.io.out << dump(report) << "\n";
        return k_exit_failure;
    }
    Proposal p = std::move(*made);
    report["proposal"] = proposal_json(p);
    auto finish = [&](const std::string& status, int rc) {
        report["status"] = status;
        report["exit_status"] = rc;
        if (json_out) c.io.out << dump(report) << "\n";
        return rc;
    };
    const bool color = color_wanted(c.io);
    if (!json_out && generated) print_candidates(c.io.out, *generated, host, color);
    if (!json_out) print_proposal(c.io.out, p, color);
    if (!json_out && generated) {
        const Candidate& best = generated->candidates.front();
        for (const knowledge::FlagProblem& f : best.unknown_flags) c.io.out << "flag:    " << visible(f.message) << "\n";
        for (const std::string& u : best.undocumented) c.io.out << "unknown: " << visible(u) << ": no man page or tldr page here\n";
        for (const std::string& m : best.missing_programs)
            c.io.out << "missing: " << visible(m) << ": program not found on " << target_name(host) << "\n";
    }
    // A tldr example with <values> left to fill in is a template, not a command to run.
    if (generated && generated->candidates.front().has_placeholders && run && !dry_run) {
        c.io.err << "sigmaops: not run: the command still has placeholders ('<...>'); fill them in and pass it with --command\n";
        return finish("not-run", k_exit_declined);
    }
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

    // The question goes to /dev/tty (a terminal, or nobody is asked): colour unless the
    // environment says no (NO_COLOR, TERM=dumb), as the chat decides it.
    TerminalConfirmer confirmer(TerminalConfirmerOptions{color_allowed_by_env()});
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
    c.usage = "(\"REQUEST\" [--candidates N] [--no-model] | --command CMD) [--host H] [--run] [--dry-run] [--sudo] [--timeout SECONDS] [--json]";
    c.flags = {{"--command", "-c", "CMD", "the command itself (typed by you) instead of a request in words"},
               {"--candidates", "", "N", "propose N candidates, ranked best first (1-16, default 3); --run runs the first",
                {"-n"}},   // -n is -n/--n-predict elsewhere: kept working here, no longer shown
               {"--no-model", "", "", "propose the best tldr examples only (their placeholders marked <...>)"},
               {"--index", "", "FILE", "the tldr index (default: the shipped resources/knowledge/tldr.sqlite)"},
               {"--host", "", "H", "run on this host over SSH (a profile or ssh_config name); default: this machine"},
               {"--run", "", "", "ask to run it (y/N on the terminal; the host name for destructive commands)"},
               {"--dry-run", "", "", "show what would run and its risk; never asks, never runs"},
               {"--sudo", "", "", "run it under sudo (the password is asked on the terminal, once)"},
               {"--timeout", "", "SECONDS", "stop it after SECONDS; 0 for none (default 0)"},
               {"--json", "", "", "print one JSON object: proposal, candidates, status, result, history_id"},
               {"--session", "", "ID", "record the run in chat session ID (what /cmd and /run in the chat pass)"},
               history_flag()};
    c.flags = concat({c.flags, model_flags()});
    c.notes =
        "Nothing runs without your confirmation on the terminal: y for read-only to changes-system\n"
        "commands, the host name typed exactly (this machine's hostname for a local run) for\n"
        "unknown, destructive and irreversible ones. Without a terminal everything is declined.\n"
        "A REQUEST is answered by the model under a fixed answer format (constrained decoding), with\n"
        "the programs of the best tldr examples (CC BY 4.0, tldr-pages contributors); every\n"
        "candidate is parsed, risk-rated and its flags checked against the man page and tldr.\n"
        "There is no option that skips the question. Ctrl-C stops the command (its whole process\n"
        "group, or the remote process). Every run and every refusal is recorded in history.\n"
        "exit status: 0 the command ran and exited 0 (or nothing was to run), 1 the command failed\n"
        "(non-zero exit, signal, timeout) or an error, 2 usage error, 3 not confirmed (declined, no\n"
        "terminal, wrong host name), 130 stopped with Ctrl-C";
    c.run = run_cmd;
    return c;
}

} // namespace sigmaops::cli
