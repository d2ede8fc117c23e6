// cmd_change.cpp - the config agent on a host (issue 18): `sigmaops tune SERVICE --host H
// [--apply] [--json]` (facts over SSH, the rules, the diff with a reason and a source per hunk;
// with --apply each hunk is asked on the terminal, then the journaled change flow runs) and
// `sigmaops rollback CHANGE_ID`. Only flags, questions and printing live here; the work is
// agents/config's. No flag skips the questions: without a terminal every hunk is declined.
#include "commands.h"
#include "common.h"
#include "tune_host.h"

#include <config/config.h>
#include <history/history.h>
#include <remote/remote.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace sigmaops::cli {

namespace {

using namespace sigmaops::remote;

// Host text (file contents, command output) is untrusted: control characters are shown as ^X.
std::string printable(std::string_view s) {
    std::string r;
    for (char ch : s) {
        const unsigned char u = static_cast<unsigned char>(ch);
        if ((u < 0x20 && ch != '\n' && ch != '\t') || u == 0x7f) {
            r += '^';
            r += u == 0x7f ? '?' : static_cast<char>(u + 64);
        } else {
            r += ch;
        }
    }
    return r;
}

class CliPrompter final : public Prompter {
public:
    bool confirm_host_key(const std::string& h, int p, const std::string& t, const std::string& f) override {
        return m_tty.confirm_host_key(h, p, t, f);
    }
    std::optional<SecretString> ask_secret(SecretKind k, const std::string& prompt) override { return m_tty.ask_secret(k, prompt); }
    void notify(const std::string& m) override {
        if (m.find("REMOTE HOST IDENTIFICATION HAS CHANGED") == std::string::npos) m_tty.notify(m);
    }

private:
    TerminalPrompter m_tty;
};

// Asks on /dev/tty, hunk by hunk. No terminal: everything is declined (and said so on stderr).
class TerminalApprover final : public config::Approver {
public:
    explicit TerminalApprover(std::ostream& err) : m_err(err) {}
    std::vector<bool> choose_hunks(const config::Proposal& p) override {
        std::vector<bool> chosen(p.file.hunks.size(), false);
        std::FILE* tty = std::fopen("/dev/tty", "r+");
        if (!tty) {
            m_err << "sigmaops: no terminal to ask on: every hunk declined, nothing written\n";
            return chosen;
        }
        bool all = false;
        for (std::size_t i = 0; i < p.file.hunks.size(); ++i) {
            if (all) {
                chosen[i] = true;
                continue;
            }
            std::vector<bool> one(p.file.hunks.size(), false);
            one[i] = true;
            std::fprintf(tty, "\n%s", printable(config::render_file_change(p.file, one)).c_str());
            std::fprintf(tty, "apply hunk %zu/%zu to %s on %s? [y]es, [n]o, [a]ll remaining, [q]uit: ", i + 1, p.file.hunks.size(),
                         printable(p.file.path).c_str(), printable(p.host).c_str());
            std::fflush(tty);
            char line[64] = {0};
            if (!std::fgets(line, sizeof line, tty)) break;
            const char a = line[0];
            if (a == 'y' || a == 'Y') chosen[i] = true;
            else if (a == 'a' || a == 'A') all = chosen[i] = true;
            else if (a == 'q' || a == 'Q') break;
        }
        std::fclose(tty);
        return chosen;
    }
    bool confirm_rollback(const std::string& summary) override {
        std::FILE* tty = std::fopen("/dev/tty", "r+");
        if (!tty) {
            m_err << "sigmaops: no terminal to ask on: rollback declined\n";
            return false;
        }
        std::fprintf(tty, "%s\nroll back? type 'yes': ", printable(summary).c_str());
        std::fflush(tty);
        char line[64] = {0};
        const bool yes = std::fgets(line, sizeof line, tty) && std::string(line).rfind("yes", 0) == 0;
        std::fclose(tty);
        return yes;
    }

private:
    std::ostream& m_err;
};

int fail(const Invocation& c, const std::string& message) {
    c.io.err << "sigmaops: " << printable(message) << "\n";
    return k_exit_failure;
}

} // namespace

namespace {

// One host: facts, plan, diff (or JSON); with `apply`, the change flow file by file.
int tune_host(const Invocation& c, config::Service service, const std::string& host_name, bool apply,
              std::vector<config::AnsibleHost>* export_to = nullptr) {
    const bool json = c.args.has("--json");
    auto profile = resolve_host(host_name, ConfigPaths{});
    if (!profile) return fail(c, profile.error().message);
    CliPrompter prompter;
    ConnectOptions opts;
    opts.prompter = &prompter;
    c.io.err << "connecting to " << host_name << "...\n";
    auto session = SshSession::connect(*profile, opts);
    if (!session) return fail(c, session.error().message);
    auto history = history::History::open(history_path(c.args));
    if (!history) return fail(c, history.error().message);
    c.io.err << "reading host facts...\n";
    config::FactsOptions fo;
    fo.refresh = c.args.has("--refresh-facts");
    auto facts = config::gather_facts(**session, history->get(), host_name, fo);
    if (!facts) return fail(c, facts.error().message);

    config::ServiceTarget target = config::default_target(service, *facts);
    if (service == config::Service::Sshd) target.port = profile->port;
    const bool sudo = profile->user != "root" && !(profile->user.empty() && std::getenv("USER") && std::string(std::getenv("USER")) == "root");

    config::HostPlanOptions po;
    po.sudo = sudo;
    po.pg_type = c.args.get("--type", "web");
    if (!config::parse_db_type(po.pg_type)) throw UsageError("--type must be web, oltp, dw, desktop or mixed");
    po.login_method = c.args.get("--login-method", "publickey");
    po.login_user = profile->user.empty() ? (std::getenv("USER") ? std::getenv("USER") : "") : profile->user;
    po.redis_store = c.args.has("--store");
    po.sysctl_workload = c.args.get("--workload", "general");
    auto planned = config::plan_on_host(**session, *facts, host_name, target, po);
    if (!planned) return fail(c, planned.error().message);
    std::vector<std::string>& notes = planned->notes;
    std::vector<config::Proposal>& proposals = planned->proposals;
    if (export_to) {
        config::AnsibleHost ah;
        ah.name = host_name;
        ah.address = profile->hostname;
        ah.port = profile->port;
        ah.user = profile->user;
        if (!profile->identity_files.empty()) ah.identity_file = profile->identity_files.front();
        ah.become = sudo;
        ah.proposals = proposals;
        export_to->push_back(std::move(ah));
    }

    if (json) {
        nlohmann::ordered_json j;
        j["host"] = host_name;
        j["service"] = std::string(config::service_name(service));
        j["facts"] = nlohmann::ordered_json::parse(config::facts_json(*facts));
        j["notes"] = notes;
        j["files"] = nlohmann::ordered_json::array();
        for (const auto& p : proposals) {
            nlohmann::ordered_json f;
            f["path"] = p.file.path;
            f["hunks"] = nlohmann::ordered_json::array();
            for (std::size_t i = 0; i < p.file.hunks.size(); ++i) {
                const auto& h = p.file.hunks[i];
                std::vector<bool> one(p.file.hunks.size(), false);
                one[i] = true;
                f["hunks"].push_back({{"id", h.id}, {"rule", h.change.rule_id}, {"key", h.change.key},
                                      {"value", h.change.value ? nlohmann::ordered_json(*h.change.value) : nullptr}, {"line", h.line},
                                      {"reason", h.change.reason}, {"source", h.change.source}, {"disagreement", h.change.disagreement},
                                      {"notes", h.notes}, {"diff", config::render_file_change(p.file, one)}});
            }
            f["diff"] = config::file_change_diff(p.file);
            j["files"].push_back(std::move(f));
        }
        c.io.out << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
        return k_exit_ok;
    }
    c.io.out << "# " << config::service_name(service) << " on " << printable(host_name) << " (" << printable(facts->os_pretty) << ", "
             << facts->cpus << " CPUs, " << facts->mem_kb / 1024 << " MB RAM, service manager " << facts->service_manager
             << (facts->from_cache ? ", facts cached" : "") << ")\n";
    for (const auto& n : notes) c.io.out << "# note: " << printable(n) << "\n";
    if (proposals.empty()) {
        c.io.out << "nothing to change: every rule's value is already in effect\n";
        return k_exit_ok;
    }
    for (const auto& p : proposals) c.io.out << printable(config::render_file_change(p.file)) << "\n";
    if (!apply) {
        c.io.out << "nothing was written; `--apply` asks hunk by hunk, then backs up, writes, validates, reloads and checks health\n";
        return k_exit_ok;
    }
    TerminalApprover approver(c.io.err);
    config::ApplyOptions ao;
    ao.session_id = c.args.get_int("--session", 0, 0, INT64_MAX);  // the chat session (/tune in `sigmaops chat`)
    ao.login_profile = &*profile;
    ao.login_options = &opts;
    ao.on_step = [&](const std::string& step, const std::string& what) { c.io.err << "[" << step << "] " << printable(what) << "\n"; };
    int rc = k_exit_ok;
    for (const auto& p : proposals) {
        auto r = config::apply_change(**session, **history, p, approver, ao);
        if (!r) return fail(c, r.error().message);
        c.io.out << p.file.path << ": " << config::outcome_name(r->outcome) << (r->change_id ? " (change " + std::to_string(r->change_id) + ")" : "")
                 << ": " << printable(r->message) << "\n";
        for (const auto& n : r->notes) c.io.out << "  note: " << printable(n) << "\n";
        if (!r->backup_path.empty() && r->outcome == config::Outcome::Applied)
            c.io.out << "  backup: " << r->backup_path << "; undo with `sigmaops rollback " << r->change_id << "`\n";
        if (r->outcome != config::Outcome::Applied && r->outcome != config::Outcome::Declined && r->outcome != config::Outcome::Unchanged) {
            rc = k_exit_failure;
            break;  // stop at the first failure
        }
    }
    return rc;
}

} // namespace

int run_tune_on_host(const Invocation& c, config::Service service) {
    c.args.at_most(0);
    const bool json = c.args.has("--json"), apply = c.args.has("--apply");
    if (json && apply) throw UsageError("--apply asks on the terminal hunk by hunk; it does not go with --json");
    if (c.args.has("--host") == c.args.has("--hosts")) throw UsageError("give either --host H or --hosts H1,H2");
    if (c.args.has("--export-ansible")) {
        if (apply) throw UsageError("--export-ansible writes a playbook instead of applying; it does not go with --apply");
        if (c.args.get("--export-ansible").empty()) throw UsageError("--export-ansible needs a directory");
    }
    if (c.args.has("--host")) {
        if (c.args.get("--host").empty()) throw UsageError("--host needs a host name");
        if (c.args.has("--export-ansible")) {
            std::vector<config::AnsibleHost> hosts;
            if (tune_host(c, service, c.args.get("--host"), false, &hosts) != k_exit_ok) return k_exit_failure;
            auto files = config::export_ansible(hosts, c.args.get("--export-ansible"));
            if (!files) return fail(c, files.error().message);
            for (const auto& f : *files) c.io.err << "wrote " << f << "\n";
            return k_exit_ok;
        }
        return tune_host(c, service, c.args.get("--host"), apply);
    }
    std::vector<std::string> hosts;
    {
        std::string list = c.args.get("--hosts"), one;
        for (std::size_t i = 0; i <= list.size(); ++i) {
            if (i == list.size() || list[i] == ',') {
                if (!one.empty()) hosts.push_back(one);
                one.clear();
            } else {
                one += list[i];
            }
        }
    }
    if (hosts.empty()) throw UsageError("--hosts needs host names: --hosts H1,H2");
    // Plan every host first (values differ with each host's facts) and show each diff ...
    if (json) {
        nlohmann::ordered_json all = nlohmann::ordered_json::array();
        int rc = k_exit_ok;
        for (const std::string& h : hosts) {
            std::ostringstream out;
            Io io{c.io.in, out, c.io.err};
            Invocation one{c.args, io, c.command, c.path};
            if (tune_host(one, service, h, false) != k_exit_ok) {
                all.push_back({{"host", h}, {"error", "see stderr"}});
                rc = k_exit_failure;
                continue;
            }
            all.push_back(nlohmann::ordered_json::parse(out.str()));
        }
        c.io.out << nlohmann::ordered_json{{"hosts", all}}.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
        return rc;
    }
    std::vector<config::AnsibleHost> exported;
    for (const std::string& h : hosts) {
        c.io.out << "=== " << printable(h) << "\n";
        if (tune_host(c, service, h, false, c.args.has("--export-ansible") ? &exported : nullptr) != k_exit_ok) return k_exit_failure;
    }
    if (c.args.has("--export-ansible")) {
        auto files = config::export_ansible(exported, c.args.get("--export-ansible"));
        if (!files) return fail(c, files.error().message);
        for (const auto& f : *files) c.io.err << "wrote " << f << "\n";
        return k_exit_ok;
    }
    if (!apply) return k_exit_ok;
    // ... then apply one host at a time, stopping at the first failure.
    for (const std::string& h : hosts) {
        c.io.out << "=== applying on " << printable(h) << "\n";
        if (tune_host(c, service, h, true) != k_exit_ok) {
            c.io.out << "stopped at " << printable(h) << ": the hosts after it were not changed\n";
            return k_exit_failure;
        }
    }
    return k_exit_ok;
}

std::vector<Flag> tune_host_flags() {
    return {{"--host", "", "H", "the host to read and change over SSH (a hosts.conf / ~/.ssh/config name)"},
            {"--hosts", "", "H1,H2", "several hosts: each planned and shown first; with --apply changed one at a time, stopping at the first failure"},
            {"--apply", "", "", "after the diff, ask hunk by hunk on the terminal, then back up, write, validate, reload, check health"},
            {"--refresh-facts", "", "", "read the host's facts again even when history holds recent ones"},
            {"--export-ansible", "", "DIR", "write DIR/inventory.ini and DIR/playbook.yml that apply the same per-host changes (backup, checker, reload handler) instead of applying"},
            {"--session", "", "ID", "file the change under chat session ID in history (what /tune in the chat passes)"},
            history_flag()};
}

namespace {

int run_rollback(const Invocation& c) {
    if (c.args.positional().size() != 1) throw UsageError("rollback needs exactly one CHANGE_ID (see `sigmaops history` or the tune output)");
    const std::string& arg = c.args.positional()[0];
    if (arg.empty() || arg.size() > 18 || arg.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError("CHANGE_ID must be a number, not '" + arg + "'");
    const std::int64_t id = std::stoll(arg);
    auto history = history::History::open(history_path(c.args));
    if (!history) return fail(c, history.error().message);
    auto change = (*history)->config_change(id);
    if (!change) return fail(c, change.error().message);
    auto profile = resolve_host(change->host, ConfigPaths{});
    if (!profile) return fail(c, profile.error().message);
    CliPrompter prompter;
    ConnectOptions opts;
    opts.prompter = &prompter;
    c.io.err << "connecting to " << change->host << "...\n";
    auto session = SshSession::connect(*profile, opts);
    if (!session) return fail(c, session.error().message);
    TerminalApprover approver(c.io.err);
    config::ApplyOptions ao;
    ao.login_profile = &*profile;
    ao.login_options = &opts;
    ao.on_step = [&](const std::string& step, const std::string& what) { c.io.err << "[" << step << "] " << printable(what) << "\n"; };
    auto r = config::rollback_change(**session, **history, id, approver, ao);
    if (!r) return fail(c, r.error().message);
    if (c.args.has("--json")) {
        nlohmann::ordered_json j{{"change_id", id}, {"host", change->host}, {"path", change->path},
                                 {"outcome", std::string(config::outcome_name(r->outcome))}, {"file_state", r->file_state},
                                 {"backup", r->backup_path}, {"message", r->message}};
        c.io.out << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    } else {
        c.io.out << "change " << id << ": " << config::outcome_name(r->outcome) << ": " << printable(r->message) << "\n";
    }
    return r->outcome == config::Outcome::RolledBack ? k_exit_ok : r->outcome == config::Outcome::Declined ? k_exit_ok : k_exit_failure;
}

} // namespace

Command rollback_command() {
    return {"rollback", "restore the file a recorded config change replaced, then validate, reload and check health",
            "CHANGE_ID [--json]",
            {{"--json", "", "", "print one JSON object: change_id, host, path, outcome, file_state, backup, message"}, history_flag()},
            "The change's journal (history) says which file, which backup and which hashes. The file on the host\n"
            "must be the change's result (or already the original); a file edited since is not touched.\n"
            "You confirm on the terminal; without one nothing is done.\n"
            "exit status: 0 rolled back (or declined), 1 failed, 2 usage error",
            run_rollback, {}};
}

} // namespace sigmaops::cli

namespace sigmaops::cli {

void add_host_mode(Command& tune) {
    for (Command& sub : tune.subcommands) {
        auto service = config::parse_service(sub.name);
        if (!service || !sub.run) continue;
        auto plain = sub.run;
        sub.run = [plain, s = *service](const Invocation& c) {
            return c.args.has("--host") || c.args.has("--hosts") ? run_tune_on_host(c, s) : plain(c);
        };
        for (Flag& f : tune_host_flags())
            if (std::none_of(sub.flags.begin(), sub.flags.end(), [&](const Flag& g) { return g.name == f.name; })) sub.flags.push_back(f);
        if (*service == config::Service::Postgres)
            sub.flags.push_back({"--type", "", "T", "with --host: the workload, web (default), oltp, dw, desktop or mixed"});
        sub.usage += "\n       sigmaops tune " + sub.name + " --host H [--apply] [--json]";
        sub.notes += "\nWith --host: the host's facts over SSH, the rules, the diff with a reason and a source per hunk;\n"
                     "--apply asks hunk by hunk on the terminal (none: nothing is written), then backs up, writes,\n"
                     "validates, reloads and checks health, and rolls back by itself on any failure.";
    }
    auto host_only = [](const std::string& name, const std::string& summary, std::vector<Flag> extra) {
        Command c;
        c.name = name;
        c.summary = summary;
        c.usage = "--host H | --hosts H1,H2 [--apply] [--json]";
        c.flags = tune_host_flags();
        c.flags.push_back({"--json", "", "", "print one JSON object: facts, notes, files with hunks (rule, reason, source, diff)"});
        for (Flag& f : extra) c.flags.push_back(std::move(f));
        const auto s = config::parse_service(name);
        c.run = [s](const Invocation& inv) {
            if (!inv.args.has("--host") && !inv.args.has("--hosts"))
                throw UsageError("tune " + std::string(config::service_name(*s)) + " needs --host H (or --hosts H1,H2)");
            return run_tune_on_host(inv, *s);
        };
        c.notes = "exit status: 0 ok (or declined), 1 the host, a file or the change failed, 2 usage error";
        return c;
    };
    for (const char* n : {"nginx", "redis", "sysctl"}) {
        bool present = std::any_of(tune.subcommands.begin(), tune.subcommands.end(), [&](const Command& s) { return s.name == n; });
        if (present) continue;
        if (std::string(n) == "nginx")
            tune.subcommands.push_back(host_only(n, "nginx workers, connections, keepalive and buffers against the host's limits", {}));
        else if (std::string(n) == "sysctl")
            tune.subcommands.push_back(host_only(n, "kernel network and VM settings (/etc/sysctl.conf) for a stated workload",
                                                 {{"--workload", "", "W", "what the host serves: web, database or general (default)"}}));
        else
            tune.subcommands.push_back(host_only(n, "redis maxmemory and eviction policy against the host's memory",
                                                 {{"--store", "", "", "redis is a store, not a cache: noeviction"}}));
    }
}

} // namespace sigmaops::cli
