// cmd_hosts.cpp - `sigmaops hosts list|add|rm|test` and `sigmaops run --hosts ... -- CMD`.
// Secrets are asked on /dev/tty (remote.h's TerminalPrompter), never taken from argv.
#include "commands.h"
#include "common.h"

#include <remote/remote.h>

#include <sstream>

namespace sigmaops::cli {

namespace {

using namespace sigmaops::remote;

// The terminal prompter, except that the changed-host-key alarm is not shown through it: the
// connection error carries the same text and is printed on stderr (it appeared twice).
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

int fail(const Invocation& c, const Error& e) {
    c.io.err << "sigmaops: " << e.message << "\n";
    return k_exit_failure;
}

std::string one_name(const Invocation& c, const char* what) {
    if (c.args.positional().size() != 1) throw UsageError(std::string(what) + " needs exactly one host name");
    return c.args.positional()[0];
}

int run_list(const Invocation& c) {
    c.args.at_most(0);
    auto hosts = list_hosts(ConfigPaths{});
    if (!hosts) return fail(c, hosts.error());
    for (const auto& h : *hosts) {
        c.io.out << h.name << "\t" << (h.user.empty() ? "" : h.user + "@") << h.hostname << ":" << h.port;
        if (!h.proxy_jump.empty()) c.io.out << "\tvia " << h.proxy_jump;
        c.io.out << "\t" << h.source << "\n";
    }
    return k_exit_ok;
}

int run_add(const Invocation& c) {
    HostProfile h;
    h.name = one_name(c, "add");
    if (!c.args.has("--hostname")) throw UsageError("--hostname is required (the address or DNS name to connect to)");
    h.hostname = c.args.get("--hostname");
    h.user = c.args.get("--user");
    h.port = int(c.args.get_int("--port", 22, 1, 65535));
    if (c.args.has("--identity")) h.identity_files.push_back(c.args.get("--identity"));
    h.proxy_jump = c.args.get("--proxy-jump");
    auto r = add_host(h, ConfigPaths{});
    if (!r && r.error().code == ErrorCode::InvalidArgument) throw UsageError(r.error().message);
    if (!r) return fail(c, r.error());
    c.io.out << "added " << h.name << "\n";
    return k_exit_ok;
}

int run_rm(const Invocation& c) {
    const std::string name = one_name(c, "rm");
    auto r = remove_host(name, ConfigPaths{});
    if (!r) return fail(c, r.error());
    c.io.out << "removed " << name << "\n";
    return k_exit_ok;
}

int run_test(const Invocation& c) {
    auto h = resolve_host(one_name(c, "test"), ConfigPaths{});
    if (!h) return fail(c, h.error());
    CliPrompter prompter;
    ConnectOptions opts;
    opts.prompter = &prompter;
    auto s = SshSession::connect(*h, opts);
    if (!s) return fail(c, s.error());
    auto r = (*s)->exec("echo ok");
    if (!r || !r->ok()) {
        c.io.err << "sigmaops: connected, but running a command failed: "
                 << (!r ? r.error().message
                        : r->exit_status ? "exit status " + std::to_string(*r->exit_status) + (r->err.empty() ? "" : ": " + r->err)
                                         : std::string("no exit status"))
                 << "\n";
        return k_exit_failure;
    }
    c.io.out << h->name << ": ok (host key " << (*s)->host_key_fingerprint() << ")\n";
    return k_exit_ok;
}

int run_exec(const Invocation& c) {
    std::vector<std::string> hosts;
    std::stringstream ss(c.args.get("--hosts"));
    for (std::string h; std::getline(ss, h, ',');)
        if (!h.empty()) hosts.push_back(h);
    if (hosts.empty()) throw UsageError("--hosts H1,H2,... is required");
    const int parallel = int(c.args.get_int("--parallel", 10, 1, 10000));
    const int timeout_s = int(c.args.get_int("--timeout", 0, 0, 1 << 30));
    if (c.args.n_before_separator() > 0)
        throw UsageError("the command goes after --: sigmaops run --hosts H1,H2 -- COMMAND");
    std::string command;
    for (const std::string& w : c.args.positional()) command += (command.empty() ? "" : " ") + w;
    if (command.empty()) throw UsageError("no command given: sigmaops run --hosts H1,H2 -- COMMAND");

    CliPrompter prompter;
    ConnectOptions opts;
    opts.prompter = &prompter;
    ConnectionPool pool(opts);
    ExecOptions eo;
    eo.timeout = std::chrono::seconds(timeout_s);
    auto results = run_on_hosts(pool, hosts, command, static_cast<std::size_t>(parallel), eo);
    int rc = k_exit_ok;
    for (const auto& hr : results) {
        if (!hr.result) {
            c.io.out << "=== " << hr.host << ": error: " << hr.result.error().message << "\n";
            rc = k_exit_failure;
            continue;
        }
        const ExecResult& r = *hr.result;
        c.io.out << "=== " << hr.host << ": ";
        if (r.timed_out) c.io.out << "timed out";
        else if (r.exit_status) c.io.out << "exit " << *r.exit_status;
        else if (!r.exit_signal.empty()) c.io.out << "killed by SIG" << r.exit_signal;
        else c.io.out << "no exit status";
        if (r.truncated) c.io.out << " (output truncated)";
        c.io.out << "\n" << r.out;
        if (!r.out.empty() && r.out.back() != '\n') c.io.out << "\n";
        if (!r.err.empty()) {
            c.io.err << "[" << hr.host << "] " << r.err;
            if (r.err.back() != '\n') c.io.err << "\n";
        }
        if (!r.ok()) rc = k_exit_failure;
    }
    return rc;
}

} // namespace

Command hosts_command() {
    Command c;
    c.name = "hosts";
    c.summary = "SSH host profiles: list, add, rm, test";
    c.subcommands = {
        {"list", "every host profile and where it comes from", "", {}, "", run_list, {}},
        {"add", "add a host profile to hosts.conf",
         "NAME --hostname HOST [--user U] [--port P] [--identity FILE] [--proxy-jump J]",
         {{"--hostname", "", "HOST", "address or DNS name to connect to (required)", {"--host"}},
          {"--user", "", "U", "login name (default: ssh_config's, else yours)"},
          {"--port", "", "P", "SSH port, 1 to 65535 (default 22)"},
          {"--identity", "", "FILE", "private key file"},
          {"--proxy-jump", "", "J", "jump host(s): [user@]host[:port][,...], as OpenSSH's ProxyJump"}},
         "", run_add, {}},
        {"rm", "remove a host profile from hosts.conf", "NAME", {}, "", run_rm, {}},
        {"test", "connect, verify the host key and authenticate", "NAME", {}, "", run_test, {}},
    };
    c.notes = "Hosts come from the app's hosts.conf ($XDG_CONFIG_HOME/sigmaops/hosts.conf) and ~/.ssh/config;\n"
              "add/rm edit only hosts.conf.";
    return c;
}

Command run_command() {
    Command c;
    c.name = "run";
    c.summary = "run one command on several hosts over SSH";
    c.usage = "--hosts H1,H2,... [--parallel N] [--timeout SECONDS] -- COMMAND...";
    c.flags = {{"--hosts", "", "H1,H2", "host names (profiles or ssh_config hosts), comma-separated (required)"},
               {"--parallel", "", "N", "hosts at a time, 1 or more (default 10)"},
               {"--timeout", "", "SECONDS", "per host; 0 for none (default 0)"}};
    c.notes = "exit status: 0 when the command succeeded everywhere, 1 otherwise, 2 on usage errors";
    c.run = run_exec;
    return c;
}

} // namespace sigmaops::cli
