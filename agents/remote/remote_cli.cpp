// remote/remote_cli.cpp - "sigmaops hosts ..." and "sigmaops run --hosts ... -- CMD".
// Exit codes: 0 ok, 1 failure, 2 usage. Secrets are asked on /dev/tty, never taken from argv.
#include "remote_cli.h"

#include "internal.h"

#include <sstream>

namespace sigmaops::remote {

namespace {

const char* HOSTS_USAGE =
    "usage: sigmaops hosts list\n"
    "       sigmaops hosts add NAME --host HOST [--user U] [--port P] [--identity FILE] [--proxy-jump J]\n"
    "       sigmaops hosts rm NAME\n"
    "       sigmaops hosts test NAME\n"
    "Hosts come from the app's hosts.conf ($XDG_CONFIG_HOME/sigmaops/hosts.conf) and ~/.ssh/config;\n"
    "add/rm edit only hosts.conf. test connects, verifies the host key and authenticates.\n";

const char* RUN_USAGE =
    "usage: sigmaops run --hosts H1,H2,... [--parallel N] [--timeout SECONDS] -- COMMAND...\n"
    "Runs COMMAND on every host (at most N at a time, default 10) and prints per-host results.\n"
    "Exit status 0 when the command succeeded everywhere, 1 otherwise, 2 on usage errors.\n";

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

bool parse_int(const std::string& s, int& out) {
    try {
        std::size_t pos = 0;
        out = std::stoi(s, &pos);
        return pos == s.size();
    } catch (...) {
        return false;
    }
}

}  // namespace

int run_hosts_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    if (args.empty()) { err << HOSTS_USAGE; return 2; }
    const std::string& cmd = args[0];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") { out << HOSTS_USAGE; return 0; }
    ConfigPaths paths;
    if (cmd == "list") {
        if (args.size() != 1) { err << HOSTS_USAGE; return 2; }
        auto hosts = list_hosts(paths);
        if (!hosts) { err << "error: " << hosts.error().message << "\n"; return 1; }
        for (const auto& h : *hosts) {
            out << h.name << "\t" << (h.user.empty() ? "" : h.user + "@") << h.hostname << ":" << h.port;
            if (!h.proxy_jump.empty()) out << "\tvia " << h.proxy_jump;
            out << "\t" << h.source << "\n";
        }
        return 0;
    }
    if (cmd == "add") {
        if (args.size() < 2 || args[1].rfind("--", 0) == 0) { err << HOSTS_USAGE; return 2; }
        HostProfile h;
        h.name = args[1];
        for (std::size_t i = 2; i < args.size(); ++i) {
            const std::string& a = args[i];
            if (i + 1 >= args.size()) { err << "missing value for " << a << "\n" << HOSTS_USAGE; return 2; }
            const std::string& v = args[++i];
            if (a == "--host") h.hostname = v;
            else if (a == "--user") h.user = v;
            else if (a == "--port") { if (!parse_int(v, h.port)) { err << "invalid --port " << v << " (1 to 65535)\n"; return 2; } }
            else if (a == "--identity") h.identity_files.push_back(v);
            else if (a == "--proxy-jump") h.proxy_jump = v;
            else { err << "unknown option " << a << "\n" << HOSTS_USAGE; return 2; }
        }
        if (h.hostname.empty()) { err << "--host is required\n" << HOSTS_USAGE; return 2; }
        auto r = add_host(h, paths);
        if (!r) { err << "error: " << r.error().message << "\n"; return r.error().code == ErrorCode::InvalidArgument ? 2 : 1; }
        out << "added " << h.name << "\n";
        return 0;
    }
    if (cmd == "rm") {
        if (args.size() != 2) { err << HOSTS_USAGE; return 2; }
        auto r = remove_host(args[1], paths);
        if (!r) { err << "error: " << r.error().message << "\n"; return 1; }
        out << "removed " << args[1] << "\n";
        return 0;
    }
    if (cmd == "test") {
        if (args.size() != 2) { err << HOSTS_USAGE; return 2; }
        auto h = resolve_host(args[1], paths);
        if (!h) { err << "error: " << h.error().message << "\n"; return 1; }
        CliPrompter prompter;
        ConnectOptions opts;
        opts.prompter = &prompter;
        auto s = Session::connect(*h, opts);
        if (!s) { err << "error: " << s.error().message << "\n"; return 1; }
        auto r = (*s)->exec("echo ok");
        if (!r || !r->ok()) {
            err << "error: connected, but running a command failed: "
                << (!r ? r.error().message
                       : r->exit_status ? "exit status " + std::to_string(*r->exit_status) + (r->err.empty() ? "" : ": " + r->err)
                                        : std::string("no exit status"))
                << "\n";
            return 1;
        }
        out << h->name << ": ok (host key " << (*s)->host_key_fingerprint() << ")\n";
        return 0;
    }
    err << "unknown hosts command '" << cmd << "'\n" << HOSTS_USAGE;
    return 2;
}

int run_exec_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    std::vector<std::string> hosts;
    int parallel = 10, timeout_s = 0;
    std::size_t i = 0;
    for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") { out << RUN_USAGE; return 0; }
        if (a == "--") { ++i; break; }
        if (i + 1 >= args.size()) { err << "missing value for " << a << "\n" << RUN_USAGE; return 2; }
        const std::string& v = args[++i];
        if (a == "--hosts") {
            std::stringstream ss(v);
            std::string h;
            while (std::getline(ss, h, ',')) if (!h.empty()) hosts.push_back(h);
        } else if (a == "--parallel") {
            if (!parse_int(v, parallel) || parallel < 1) { err << "invalid --parallel " << v << " (hosts at a time: 1 or more)\n"; return 2; }
        } else if (a == "--timeout") {
            if (!parse_int(v, timeout_s) || timeout_s < 0) { err << "invalid --timeout " << v << " (seconds, 0 for none)\n"; return 2; }
        } else {
            err << "unknown option " << a << "\n" << RUN_USAGE;
            return 2;
        }
    }
    std::string command;
    for (; i < args.size(); ++i) command += (command.empty() ? "" : " ") + args[i];
    if (hosts.empty() || command.empty()) { err << RUN_USAGE; return 2; }

    CliPrompter prompter;
    ConnectOptions opts;
    opts.prompter = &prompter;
    ConnectionPool pool(opts);
    ExecOptions eo;
    eo.timeout = std::chrono::seconds(timeout_s);
    auto results = run_on_hosts(pool, hosts, command, static_cast<std::size_t>(parallel), eo);
    int rc = 0;
    for (const auto& hr : results) {
        if (!hr.result) {
            out << "=== " << hr.host << ": error: " << hr.result.error().message << "\n";
            rc = 1;
            continue;
        }
        const ExecResult& r = *hr.result;
        out << "=== " << hr.host << ": ";
        if (r.timed_out) out << "timed out";
        else if (r.exit_status) out << "exit " << *r.exit_status;
        else if (!r.exit_signal.empty()) out << "killed by SIG" << r.exit_signal;
        else out << "no exit status";
        if (r.truncated) out << " (output truncated)";
        out << "\n" << r.out;
        if (!r.out.empty() && r.out.back() != '\n') out << "\n";
        if (!r.err.empty()) {
            err << "[" << hr.host << "] " << r.err;
            if (r.err.back() != '\n') err << "\n";
        }
        if (!r.ok()) rc = 1;
    }
    return rc;
}

}  // namespace sigmaops::remote
