// config/change.cpp - the change flow (issue 18 item 4) as a journaled transaction on a host:
// propose -> approve hunks -> read (the file must still be what was proposed against) -> backup
// (a timestamped copy on the host, hash checked) -> atomic write (SFTP temp + rename as root;
// through a temp file and `mv` under sudo otherwise; owner, mode and SELinux context kept) ->
// the service's checker -> reload -> health check -> on any failure restore the original, reload
// (or start a service that died), check again. Every step is written to history before and after
// it runs (History::add_change_step), so rollback_change() and check_change_state() work from the
// journal, and a lost connection leaves a record that says which file is on the host.
#include "config_flow.h"

#include <history/history.h>
#include <remote/remote.h>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>
#include <sstream>
#include <thread>

namespace sigmaops::config {

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

std::string_view outcome_name(Outcome o) {
    switch (o) {
    case Outcome::Applied: return "applied";
    case Outcome::Declined: return "declined";
    case Outcome::Unchanged: return "unchanged";
    case Outcome::ValidationFailed: return "validation-failed";
    case Outcome::RolledBack: return "rolled-back";
    case Outcome::Failed: return "failed";
    }
    return "?";
}

namespace {

using nlohmann::json;
using history::ChangeStatus;
using Clock = std::chrono::steady_clock;

// The transport failed: the connection is gone (or unusable) mid-step.
struct Lost {
    std::string what;
};
// A step failed in a way the flow reports (not a transport failure).
struct StepFailed {
    std::string what;
};

json target_json(const ServiceTarget& t) {
    return {{"service", std::string(service_name(t.service))}, {"config_path", t.config_path}, {"service_manager", t.service_manager},
            {"unit", t.unit}, {"binary", t.binary}, {"pid_file", t.pid_file}, {"prefix", t.prefix}, {"data_dir", t.data_dir},
            {"socket_dir", t.socket_dir}, {"run_as", t.run_as}, {"port", t.port}, {"unit_file", t.unit_file}};
}

ServiceTarget target_from_json(const json& j) {
    ServiceTarget t;
    t.service = parse_service(j.at("service").get<std::string>()).value_or(Service::Nginx);
    t.config_path = j.at("config_path").get<std::string>();
    t.service_manager = j.at("service_manager").get<std::string>();
    t.unit = j.at("unit").get<std::string>();
    t.binary = j.at("binary").get<std::string>();
    t.pid_file = j.at("pid_file").get<std::string>();
    t.prefix = j.at("prefix").get<std::string>();
    t.data_dir = j.at("data_dir").get<std::string>();
    t.socket_dir = j.at("socket_dir").get<std::string>();
    t.run_as = j.at("run_as").get<std::string>();
    t.port = j.at("port").get<int>();
    t.unit_file = j.value("unit_file", "");
    return t;
}

std::string utc_stamp() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

std::string random_suffix() {
    std::random_device rd;
    static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    for (int i = 0; i < 10; ++i) s += chars[rd() % (sizeof chars - 1)];
    return s;
}

// Passwords a config file holds (redis requirepass/masterauth, as the server reads them): they
// are replaced by "[secret]" in everything the journal, history and the report keep.
std::vector<std::string> secrets_of(const ServiceTarget& t, const std::string& text) {
    std::vector<std::string> out;
    if (t.service != Service::Redis) return out;
    auto d = parse(Format::Redis, t.config_path, text);
    if (!d) {
        // Unparsable: fall back to the words after the keywords, line by line.
        std::istringstream in(text);
        for (std::string l; std::getline(in, l);) {
            std::istringstream w(l);
            std::string k, v;
            w >> k >> v;
            for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if ((k == "requirepass" || k == "masterauth") && !v.empty()) {
                out.push_back(v);
                if (v.size() > 2 && (v.front() == '"' || v.front() == '\'')) out.push_back(v.substr(1, v.size() - 2));
            }
        }
        return out;
    }
    for (const Item& it : d->items)
        if (it.kind == ItemKind::Setting && (it.key_norm == "requirepass" || it.key_norm == "masterauth") && !it.args.empty()) {
            if (!it.args[0].empty()) out.push_back(it.args[0]);
            out.push_back(d->text.substr(it.value_begin, it.value_end - it.value_begin));  // as written, quotes included
        }
    return out;
}

std::string redact(std::string s, const std::vector<std::string>& secrets) {
    for (const auto& secret : secrets) {
        if (secret.size() < 2) continue;
        for (auto at = s.find(secret); at != std::string::npos; at = s.find(secret, at + 8)) s.replace(at, secret.size(), "[secret]");
    }
    return s;
}

std::string first_lines(const std::string& s, std::size_t max_bytes = 4000) {
    return s.size() <= max_bytes ? s : s.substr(0, max_bytes) + "\n[... cut]";
}

class Flow {
public:
    Flow(remote::SshSession& s, history::History& h, const ApplyOptions& o) : m_session(&s), m_history(h), m_opt(o) {}

    history::Id id = 0;
    bool sudo = false;
    std::string auth_file;  // redis: the backup of the original (its requirepass is the running server's)
    // sysctl: what the health check reads back (key -> value), and the running values saved
    // before the reload (what a restore writes back).
    std::vector<std::pair<std::string, std::string>> expect, saved;

    void announce(const std::string& step, const std::string& what) {
        if (m_opt.on_step) m_opt.on_step(step, what);
    }
    std::vector<std::string> secrets;  // never journaled (redact)
    void step(const std::string& name, bool ok, const std::string& detail) {
        if (id) (void)m_history.add_change_step(id, name, ok, redact(detail, secrets));
    }
    void status(ChangeStatus s, const std::string& note, const std::string& backup = {}, const std::string& validation = {}) {
        if (id) (void)m_history.set_change_status(id, s, redact(note, secrets), backup, redact(validation, secrets));
    }

    // Who we are on the host: root runs everything directly; anyone else through sudo.
    void detect_sudo() {
        auto r = exec_raw("id -u", false, std::chrono::milliseconds(15000));
        sudo = trim_nl(r.out) != "0";
    }

    remote::ExecResult run(const std::string& cmd, std::chrono::milliseconds timeout = {}) {
        return exec_raw(cmd, sudo, timeout.count() ? timeout : m_opt.command_timeout);
    }

    // The file's bytes (as root when needed). NotFound/permission problems are StepFailed.
    std::string read(const std::string& path) {
        if (!sudo) {
            auto r = m_session->read_file(path);
            if (!r) {
                transport_check(r.error());
                throw StepFailed{"reading " + path + ": " + r.error().message};
            }
            return *r;
        }
        auto r = run("cat -- " + shell_quote(path));
        if (!r.ok()) throw StepFailed{"reading " + path + ": " + trim_nl(r.err)};
        return r.out;
    }

    // sha256 of a file on the host; "" when it cannot be read.
    std::string remote_sha(const std::string& path) {
        auto r = run("sha256sum -- " + shell_quote(path));
        if (!r.ok() || r.out.size() < 64) return {};
        return r.out.substr(0, 64);
    }

    // The SELinux context of `path` when SELinux is on ("" otherwise).
    std::string selinux_context(const std::string& path) {
        auto r = run("if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then stat -c %C -- " + shell_quote(path) + "; fi");
        return r.ok() ? trim_nl(r.out) : std::string();
    }

    // Replaces `path` with `data` atomically (readers see the old or the new bytes), keeping
    // owner, group, mode and (given) SELinux context. Throws StepFailed/Lost.
    void write_atomic(const std::string& path, const std::string& data, const std::string& context) {
        if (!sudo) {
            auto r = m_session->write_file(path, data);
            if (!r) {
                transport_check(r.error());
                throw StepFailed{r.error().message};
            }
        } else {
            // The login user cannot write there: upload to a private temp file, then as root copy
            // it to a temp name beside the target with the target's owner and mode and rename it
            // into place (rename is atomic within a directory).
            const std::string upload = "/tmp/.sigmaops-upload-" + random_suffix();
            auto up = m_session->write_file(upload, data, 0600);
            if (!up) {
                transport_check(up.error());
                throw StepFailed{"uploading to " + upload + ": " + up.error().message};
            }
            const std::string dir = path.substr(0, path.rfind('/') == 0 ? 1 : path.rfind('/'));
            const std::string s =
                "t=$(mktemp " + shell_quote(dir + "/.sigmaops.XXXXXX") + ") || { rm -f " + shell_quote(upload) + "; exit 1; }; "
                "if cat " + shell_quote(upload) + " > \"$t\" && chown --reference=" + shell_quote(path) + " \"$t\" && chmod --reference=" +
                shell_quote(path) + " \"$t\" && mv -f \"$t\" " + shell_quote(path) + "; then rm -f " + shell_quote(upload) +
                "; else rc=$?; rm -f \"$t\" " + shell_quote(upload) + "; exit $rc; fi";
            auto r = run("sh -c " + shell_quote(s));
            if (!r.ok()) throw StepFailed{trim_nl(r.err.empty() ? r.out : r.err)};
        }
        if (!context.empty()) {
            auto r = run("chcon " + shell_quote(context) + " -- " + shell_quote(path));
            if (!r.ok()) throw StepFailed{"chcon: " + trim_nl(r.err)};
        }
    }

    // Empty when the service is healthy, else why not. `workers_before`: nginx's worker pids
    // before a reload (a reload that took starts new workers).
    std::string health(const ServiceTarget& t, const std::string* workers_before, std::vector<std::string>& notes) {
        const auto deadline = Clock::now() + m_opt.health_timeout;
        auto poll = [&](auto&& attempt, std::chrono::milliseconds cap = std::chrono::milliseconds(0)) {
            const auto end = cap.count() ? std::min(deadline, Clock::now() + cap) : deadline;
            for (;;) {
                if (attempt()) return true;
                if (Clock::now() >= end) return false;
                std::this_thread::sleep_for(std::chrono::milliseconds(150));
            }
        };
        if (t.service == Service::Sysctl) {
            // Each changed key read back from /proc/sys must hold the value the file sets.
            std::string why;
            std::vector<std::string> keys;
            for (const auto& [k, v] : expect) keys.push_back(k);
            auto r = run(sysctl_read_command(keys));
            const auto now = parse_sysctl_read(r.out);
            for (const auto& want : expect) {
                const std::string& k = want.first;
                const std::string& v = want.second;
                auto it = std::find_if(now.begin(), now.end(), [&](const auto& x) { return x.first == want.first; });
                if (it == now.end()) why += (why.empty() ? "" : "; ") + k + " cannot be read back";
                else if (collapse_ws(it->second) != collapse_ws(v))
                    why += (why.empty() ? "" : "; ") + k + " is \"" + collapse_ws(it->second) + "\", not \"" + collapse_ws(v) + "\"";
            }
            return why.empty() ? std::string() : "read back: " + why;
        }
        if (t.service == Service::Systemd) {
            if (!run("[ -d /run/systemd/system ]").ok()) return {};  // nothing loaded it: nothing to check
            auto r = run(systemd_loaded_command(t));
            return r.ok() ? std::string() : trim_nl(r.out + r.err);
        }
        if (!poll([&] { return run(alive_command(t), std::chrono::milliseconds(15000)).ok(); }))
            return std::string(service_name(t.service)) + " is not running";
        if (workers_before && t.service == Service::Nginx) {
            std::string now_workers;
            bool changed = poll([&] {
                now_workers = run(workers_command(t)).out;
                return !now_workers.empty() && now_workers != *workers_before;
            }, std::chrono::milliseconds(4000));
            if (!changed) return "nginx kept its old configuration: the reload did not take (its error log says why, e.g. a port in use)";
        }
        std::string last;
        bool answered = poll([&] {
            auto r = run(probe_command(t, auth_file), std::chrono::milliseconds(15000));
            last = trim_nl(r.out + (r.err.empty() ? "" : " " + r.err));
            return probe_ok(t, r.out);
        });
        if (!answered) return std::string(service_name(t.service)) + " does not answer on port " + std::to_string(t.port) + ": " + first_lines(last, 400);
        if (t.service == Service::Postgres) {
            std::istringstream in(last);
            for (std::string l; std::getline(in, l);)
                if (l.rfind("pending restart: ", 0) == 0) notes.push_back(l.substr(17) + ": takes effect at the next restart (a reload cannot change it)");
        }
        if (t.service == Service::Sshd) {
            // The proof that nobody is locked out: a fresh login through a second connection,
            // while this one stays open.
            if (!m_opt.login_profile || !m_opt.login_options) return "no login profile for a fresh SSH login, so sshd's change cannot be verified";
            remote::HostProfile p = *m_opt.login_profile;
            if (t.port) p.port = t.port;
            std::string why;
            bool in = poll([&] {
                auto s = remote::SshSession::connect(p, *m_opt.login_options);
                if (!s) {
                    why = s.error().message;
                    return false;
                }
                auto r = (*s)->exec("true");
                if (!r || !r->ok()) {
                    why = r ? "`true` failed" : r.error().message;
                    return false;
                }
                return true;
            });
            if (!in) return "a fresh SSH login to port " + std::to_string(p.port) + " failed: " + why;
        }
        return {};
    }

    // After a lost connection: a second connection (the same profile) to find out and finish.
    bool reconnect() {
        if (!m_opt.login_profile || !m_opt.login_options) return false;
        auto s = remote::SshSession::connect(*m_opt.login_profile, *m_opt.login_options);
        if (!s) return false;
        m_owned = std::move(*s);
        m_session = m_owned.get();
        try {
            detect_sudo();
        } catch (...) {
            return false;
        }
        return true;
    }

    static std::string trim_nl(std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
        return s;
    }

private:
    remote::ExecResult exec_raw(const std::string& cmd, bool use_sudo, std::chrono::milliseconds timeout) {
        remote::ExecOptions eo;
        eo.sudo = use_sudo;
        eo.timeout = timeout;
        auto r = m_session->exec(cmd, eo);
        if (!r) {
            transport_check(r.error());
            throw StepFailed{r.error().message};
        }
        return *r;
    }
    void transport_check(const Error& e) {
        if (e.code == ErrorCode::Network || !m_session->is_connected()) throw Lost{e.message};
    }

    remote::SshSession* m_session;
    std::unique_ptr<remote::SshSession> m_owned;
    history::History& m_history;
    const ApplyOptions& m_opt;
};

// Where the phases of one apply stand, for the lost-connection path.
enum class Phase { BeforeWrite, Writing, Written, Reloaded };

struct Journal {
    ServiceTarget target;
    std::string path, old_sha, new_sha, backup_path, backup_sha, context;
    std::vector<std::pair<std::string, std::string>> sysctl_saved;  // sysctl: running values before the change
};

Expected<Journal> read_journal(history::History& h, history::Id id) {
    auto steps = h.change_steps(id);
    if (!steps) return unexpected(steps.error());
    Journal j;
    bool have_plan = false;
    for (const auto& s : *steps) {
        try {
            if (s.step == "plan" && s.ok) {
                auto d = json::parse(s.detail);
                j.target = target_from_json(d.at("target"));
                j.path = d.at("path").get<std::string>();
                j.old_sha = d.at("old_sha256").get<std::string>();
                j.new_sha = d.at("new_sha256").get<std::string>();
                j.context = d.value("selinux_context", "");
                have_plan = true;
            } else if (s.step == "snapshot" && s.ok) {
                auto d = json::parse(s.detail);
                for (const auto& [k, v] : d.at("running").items()) j.sysctl_saved.emplace_back(k, v.get<std::string>());
            } else if (s.step == "backup" && s.ok) {
                auto d = json::parse(s.detail);
                j.backup_path = d.at("path").get<std::string>();
                j.backup_sha = d.at("sha256").get<std::string>();
            }
        } catch (const std::exception& e) {
            return unexpected(ErrorCode::BadFile, "change " + std::to_string(id) + ": journal step '" + s.step + "' is not readable: " + e.what());
        }
    }
    if (!have_plan) return unexpected(ErrorCode::InvalidArgument, "change " + std::to_string(id) + " was never planned (declined or refused before writing): there is nothing to restore");
    return j;
}

// Restore the original, reload (or start it if it died), check health. Returns the report.
ApplyReport recover(Flow& f, const ServiceTarget& t, const std::string& path, const std::string& old_text, const std::string& new_text,
                    const std::string& old_sha, const std::string& context, const std::string& reason, bool reloaded, ApplyReport rep) {
    f.announce("restore", "restoring the original " + path + " (" + reason + ")");
    std::string restore_error;
    try {
        f.write_atomic(path, old_text, context);
        if (f.remote_sha(path) != old_sha) restore_error = "the restored file's hash does not match the original";
    } catch (const StepFailed& e) {
        restore_error = e.what;
    }
    f.step("restore", restore_error.empty(), restore_error.empty() ? json{{"sha256", old_sha}}.dump() : restore_error);
    f.status(ChangeStatus::Failed, reason, rep.backup_path, rep.validation_output);
    if (!restore_error.empty()) {
        rep.outcome = Outcome::Failed;
        rep.message = reason + "; restoring the original FAILED (" + restore_error + "); the backup is " + rep.backup_path;
        return rep;
    }
    if (reloaded && t.service == Service::Sysctl) {
        // Write back the running values saved before the reload, then read them back.
        f.announce("reload", "writing back the running values of " + std::to_string(f.saved.size()) + " key(s)");
        auto r = f.run(sysctl_write_command(f.saved));
        f.step("reload", r.ok(), json{{"command", "write back the saved values"}, {"exit", r.exit_status.value_or(-1)},
                                      {"output", first_lines(r.out + r.err)}}.dump(-1, ' ', false, json::error_handler_t::replace));
        f.expect = f.saved;
        std::vector<std::string> notes;
        std::string h = f.health(t, nullptr, notes);
        f.step("health", h.empty(), h.empty() ? "every key holds its value from before the change" : h);
        if (!r.ok() || !h.empty()) {
            rep.outcome = Outcome::Failed;
            rep.message = reason + "; the original file is back but the running values are not all restored: " + (h.empty() ? Flow::trim_nl(r.out) : h);
            return rep;
        }
        reloaded = false;
        f.status(ChangeStatus::RolledBack, "restored automatically: " + reason);
        rep.outcome = Outcome::RolledBack;
        rep.message = reason + "; the original file was restored and every key holds its value from before the change again";
        return rep;
    }
    if (reloaded) {
        f.announce("reload", "reloading " + std::string(service_name(t.service)) + " with the original file");
        const bool alive = f.run(alive_command(t)).ok();
        auto r = f.run(alive ? reload_command(t, new_text, old_text, f.auth_file) : start_command(t));
        f.step("reload", r.ok(), json{{"command", alive ? "reload" : "start"}, {"exit", r.exit_status.value_or(-1)},
                                      {"output", first_lines(r.out + r.err)}}.dump(-1, ' ', false, json::error_handler_t::replace));
        std::string workers_before;
        std::vector<std::string> notes;
        f.announce("health", "checking " + std::string(service_name(t.service)) + " again");
        std::string h = f.health(t, nullptr, notes);
        f.step("health", h.empty(), h.empty() ? "healthy" : h);
        if (!h.empty()) {
            rep.outcome = Outcome::Failed;
            rep.message = reason + "; the original file is back but " + h;
            return rep;
        }
    }
    f.status(ChangeStatus::RolledBack, "restored automatically: " + reason);
    rep.outcome = Outcome::RolledBack;
    rep.message = reason + "; the original file was restored" + (reloaded ? std::string(" and the service answers again") : std::string(" (the service was not reloaded)"));
    return rep;
}

} // namespace

static std::vector<std::string> secrets_of_proposal(const Proposal& p) {
    std::vector<std::string> out = secrets_of(p.target, p.file.before);
    auto full = apply_text_hunks(p.file.before, p.file.hunks);
    if (full)
        for (auto& x : secrets_of(p.target, *full)) out.push_back(x);
    return out;
}

static Expected<ApplyReport> apply_change_impl(remote::SshSession& session, history::History& history, const Proposal& p, Approver& approver,
                                        const ApplyOptions& opt) {
    ApplyReport rep;
    const FileChange& fc = p.file;
    if (fc.hunks.empty()) {
        rep.outcome = Outcome::Unchanged;
        rep.message = "nothing to change in " + fc.path;
        return rep;
    }
    Flow f(session, history, opt);
    const ServiceTarget& t = p.target;
    Phase phase = Phase::BeforeWrite;
    std::string old_sha = sha256_hex(fc.before), new_sha, new_text, context;
    f.secrets = secrets_of_proposal(p);
    try {
        f.detect_sudo();
        history::ConfigChange c;
        c.session_id = opt.session_id;
        c.host = p.host;
        c.path = fc.path;
        c.diff = redact(file_change_diff(fc), f.secrets);
        auto id = history.propose_change(c);
        if (!id) return unexpected(id.error());
        f.id = rep.change_id = *id;
        json hunks = json::array();
        for (const Hunk& h : fc.hunks)
            hunks.push_back({{"id", h.id}, {"line", h.line}, {"reason", h.change.reason}, {"source", h.change.source}});
        f.step("propose", true, json{{"service", std::string(service_name(t.service))}, {"hunks", hunks}, {"notes", p.notes}}.dump(-1, ' ', false, json::error_handler_t::replace));

        std::vector<bool> chosen = approver.choose_hunks(p);
        std::vector<Hunk> selected;
        json ids = json::array();
        if (chosen.size() == fc.hunks.size())
            for (std::size_t i = 0; i < chosen.size(); ++i)
                if (chosen[i]) {
                    selected.push_back(fc.hunks[i]);
                    ids.push_back(fc.hunks[i].id);
                }
        if (selected.empty()) {
            f.step("approve", false, "declined: no hunk approved");
            rep.outcome = Outcome::Declined;
            rep.message = "declined: nothing was written";
            return rep;
        }
        f.step("approve", true, json{{"hunks", ids}, {"of", fc.hunks.size()}}.dump(-1, ' ', false, json::error_handler_t::replace));
        auto applied = apply_text_hunks(fc.before, selected);
        if (!applied) return unexpected(applied.error());
        new_text = *applied;
        new_sha = sha256_hex(new_text);
        if (t.service == Service::Sysctl || t.service == Service::Systemd) {
            // Our own parser first (for a drop-in it is what stands in when systemd-analyze is
            // missing): a file it cannot read is refused before anything is written.
            auto parsed = parse(t.service == Service::Sysctl ? Format::Sysctl : Format::Systemd, fc.path, new_text);
            if (!parsed) {
                rep.validation_output = parsed.error().message;
                f.step("validate", false, json{{"command", "SigmaOps' " + std::string(service_name(t.service)) + " parser"},
                                               {"output", rep.validation_output}}.dump(-1, ' ', false, json::error_handler_t::replace));
                f.status(ChangeStatus::Failed, "refused by the parser: " + rep.validation_output, "", rep.validation_output);
                rep.outcome = Outcome::ValidationFailed;
                rep.message = "the changed " + fc.path + " does not parse (" + rep.validation_output + "): nothing was written";
                return rep;
            }
        }

        f.announce("read", "reading " + fc.path);
        std::string current = f.read(fc.path);
        if (sha256_hex(current) != old_sha) {
            f.step("read", false, "the file changed since the proposal");
            f.status(ChangeStatus::Failed, "the file changed since the proposal");
            rep.outcome = Outcome::Failed;
            rep.message = fc.path + " changed on the host since the proposal was made: nothing was written; propose again";
            return rep;
        }
        context = f.selinux_context(fc.path);
        f.step("plan", true, json{{"target", target_json(t)}, {"path", fc.path}, {"old_sha256", old_sha}, {"new_sha256", new_sha},
                                  {"selinux_context", context}, {"sudo", f.sudo}, {"diff", file_change_diff(fc, chosen)}}.dump(-1, ' ', false, json::error_handler_t::replace));

        // Backup: a timestamped copy on the host, checked against the original's hash.
        std::string flat = fc.path;
        for (char& ch : flat)
            if (ch == '/') ch = '_';
        rep.backup_path = opt.backup_dir + "/" + (flat.empty() || flat[0] != '_' ? flat : flat.substr(1)) + "." + utc_stamp() + ".change-" +
                          std::to_string(f.id);
        f.announce("backup", "copying " + fc.path + " to " + rep.backup_path);
        auto b = f.run("umask 077 && mkdir -p -- " + shell_quote(opt.backup_dir) + " && cp -p -- " + shell_quote(fc.path) + " " +
                       shell_quote(rep.backup_path) + " && sha256sum -- " + shell_quote(rep.backup_path));
        if (!b.ok() || b.out.substr(0, 64) != old_sha) {
            const std::string why = b.ok() ? "the copy's hash differs from the original's" : Flow::trim_nl(b.err);
            f.run("rm -f -- " + shell_quote(rep.backup_path));
            f.step("backup", false, why);
            f.status(ChangeStatus::Failed, "backup failed: " + why);
            rep.outcome = Outcome::Failed;
            rep.message = "the backup of " + fc.path + " failed (" + why + "): nothing was changed";
            rep.backup_path.clear();
            return rep;
        }
        f.step("backup", true, json{{"path", rep.backup_path}, {"sha256", old_sha}}.dump(-1, ' ', false, json::error_handler_t::replace));

        // Write.
        f.announce("write", "writing " + fc.path);
        f.step("write", true, json{{"phase", "begin"}, {"new_sha256", new_sha}}.dump(-1, ' ', false, json::error_handler_t::replace));
        phase = Phase::Writing;
        try {
            f.write_atomic(fc.path, new_text, context);
        } catch (const StepFailed& e) {
            const std::string now_sha = f.remote_sha(fc.path);
            const std::string state = now_sha == old_sha ? "old" : now_sha == new_sha ? "new" : "other";
            f.step("write", false, json{{"error", e.what}, {"state", state}}.dump(-1, ' ', false, json::error_handler_t::replace));
            rep.file_state = state;
            if (state == "old") {
                f.status(ChangeStatus::Failed, "writing failed: " + e.what);
                rep.outcome = Outcome::Failed;
                rep.message = "writing " + fc.path + " failed (" + e.what + "): the original is untouched";
                return rep;
            }
            return recover(f, t, fc.path, fc.before, new_text, old_sha, context, "writing failed: " + e.what, false, rep);
        }
        const std::string written = f.remote_sha(fc.path);
        if (written != new_sha) {
            f.step("write", false, "the file on the host does not have the new content's hash");
            return recover(f, t, fc.path, fc.before, new_text, old_sha, context, "the written file does not match the change", false, rep);
        }
        phase = Phase::Written;
        f.step("write", true, json{{"phase", "done"}, {"state", "new"}}.dump(-1, ' ', false, json::error_handler_t::replace));

        // Validate with the service's own checker; a refused file is never reloaded.
        f.announce("validate", validate_command(t));
        auto v = f.run(validate_command(t));
        rep.validation_output = first_lines(Flow::trim_nl(v.out + v.err));
        f.step("validate", v.ok(), json{{"command", validate_command(t)}, {"exit", v.exit_status.value_or(-1)}, {"output", rep.validation_output}}.dump(-1, ' ', false, json::error_handler_t::replace));
        if (!v.ok()) {
            auto r = recover(f, t, fc.path, fc.before, new_text, old_sha, context,
                             std::string(service_name(t.service)) + "'s checker refused the change", false, rep);
            if (r.outcome == Outcome::RolledBack) r.outcome = Outcome::ValidationFailed;
            r.message += ":\n" + rep.validation_output;
            return r;
        }

        // Reload through the service manager (or the service's own reload).
        std::string workers_before;
        if (t.service == Service::Nginx) workers_before = f.run(workers_command(t)).out;
        f.auth_file = rep.backup_path;
        if (t.service == Service::Sysctl) {
            // The running value of every key either file sets, journaled before anything is
            // applied: what an automatic restore or `sigmaops rollback` writes back.
            std::vector<std::string> keys;
            for (const auto& a : sysctl_assignments(new_text)) keys.push_back(a.key);
            for (const auto& a : sysctl_assignments(fc.before))
                if (std::find(keys.begin(), keys.end(), a.key) == keys.end()) keys.push_back(a.key);
            f.saved = parse_sysctl_read(f.run(sysctl_read_command(keys)).out);
            json saved = json::object();
            for (const auto& [k, v] : f.saved) saved[k] = v;
            f.step("snapshot", true, json{{"running", saved}}.dump(-1, ' ', false, json::error_handler_t::replace));
            for (const auto& a : sysctl_changed(fc.before, new_text)) f.expect.emplace_back(a.key, a.value);
        }
        const std::string reload_cmd = reload_command(t, fc.before, new_text, f.auth_file);
        f.announce("reload", reload_cmd);
        phase = Phase::Reloaded;
        auto rl = f.run(reload_cmd);
        f.step("reload", rl.ok(), json{{"command", reload_cmd}, {"exit", rl.exit_status.value_or(-1)},
                                       {"output", first_lines(rl.out + rl.err)}}.dump(-1, ' ', false, json::error_handler_t::replace));
        if (t.service == Service::Redis || t.service == Service::Sysctl || t.service == Service::Systemd) {
            std::istringstream in(rl.out);
            for (std::string l; std::getline(in, l);)
                if (l.find("restart") != std::string::npos || l.find("stays until") != std::string::npos) rep.notes.push_back(l);
        }
        if (t.service == Service::Systemd && rl.exit_status == 3) {
            // No systemd: nothing can load the drop-in. Do not pretend: put the original back.
            auto r = recover(f, t, fc.path, fc.before, new_text, old_sha, context, "not applied: " + Flow::trim_nl(rl.out + rl.err), false, rep);
            if (r.outcome == Outcome::RolledBack)
                r.message += "; the drop-in passed the checks (" + first_lines(rep.validation_output, 300) + ")";
            return r;
        }
        if (!rl.ok())
            return recover(f, t, fc.path, fc.before, new_text, old_sha, context,
                           "the reload failed: " + first_lines(Flow::trim_nl(rl.err + rl.out), 400), true, rep);

        // Health: alive, answering, a real request; sshd: a fresh login.
        f.announce("health", "checking " + std::string(service_name(t.service)));
        std::string h = f.health(t, t.service == Service::Nginx ? &workers_before : nullptr, rep.notes);
        f.step("health", h.empty(), h.empty() ? "healthy" : h);
        if (!h.empty()) return recover(f, t, fc.path, fc.before, new_text, old_sha, context, "the health check failed: " + h, true, rep);

        f.status(ChangeStatus::Applied, "applied " + std::to_string(selected.size()) + " of " + std::to_string(fc.hunks.size()) + " hunks",
                 rep.backup_path, rep.validation_output);
        rep.outcome = Outcome::Applied;
        rep.message = "applied " + std::to_string(selected.size()) + " of " + std::to_string(fc.hunks.size()) + " hunks to " + fc.path +
                      "; validated, reloaded, healthy";
        return rep;
    } catch (const StepFailed& e) {
        f.step("error", false, e.what);
        if (phase >= Phase::Written) return recover(f, t, fc.path, fc.before, new_text, old_sha, context, e.what, phase == Phase::Reloaded, rep);
        f.status(ChangeStatus::Failed, e.what);
        rep.outcome = Outcome::Failed;
        rep.message = e.what;
        return rep;
    } catch (const Lost& lost) {
        rep.outcome = Outcome::Failed;
        rep.message = "the connection to " + p.host + " was lost (" + lost.what + ")";
        f.step("connection", false, lost.what);
        if (!f.id) return rep;
        if (phase == Phase::BeforeWrite) {
            f.status(ChangeStatus::Failed, "connection lost before the file was written");
            rep.file_state = "old";
            rep.message += " before " + fc.path + " was written: it is unchanged";
            return rep;
        }
        if (!f.reconnect()) {
            f.status(ChangeStatus::Failed, "connection lost; the file is the old or the new one (written atomically)");
            rep.message += ": " + fc.path + " holds the old or the new content, never a mix; `sigmaops rollback " + std::to_string(f.id) +
                           "` checks which and restores the original";
            return rep;
        }
        try {
            // A transfer cut short leaves SFTP's temp file (".NAME.sigmaops-*" beside the file,
            // never renamed over it): remove it.
            const auto slash = fc.path.rfind('/');
            const std::string dir = slash == std::string::npos ? "." : fc.path.substr(0, slash == 0 ? 1 : slash);
            const std::string base = slash == std::string::npos ? fc.path : fc.path.substr(slash + 1);
            f.run("rm -f -- " + shell_quote((dir == "/" ? "" : dir) + "/." + base + ".sigmaops-") + "*");
            const std::string now_sha = f.remote_sha(fc.path);
            rep.file_state = now_sha == old_sha ? "old" : now_sha == new_sha ? "new" : "other";
            f.step("state", true, json{{"state", rep.file_state}, {"sha256", now_sha}, {"after", "reconnect"}}.dump(-1, ' ', false, json::error_handler_t::replace));
            if (rep.file_state == "old") {
                f.status(ChangeStatus::Failed, "connection lost while writing; the file is the original");
                rep.message += " while writing; reconnected: " + fc.path + " is the original";
                return rep;
            }
            if (rep.file_state == "other") {
                f.status(ChangeStatus::Failed, "connection lost; the file is neither the original nor the change");
                rep.message += "; reconnected: " + fc.path + " is neither the original nor the change; the backup is " + rep.backup_path;
                return rep;
            }
            auto r = recover(f, t, fc.path, fc.before, new_text, old_sha, context,
                             "the connection was lost before the change was verified", phase == Phase::Reloaded, rep);
            r.message = "the connection to " + p.host + " was lost (" + lost.what + "); reconnected: the file was the new one; " + r.message;
            return r;
        } catch (const Lost& again) {
            f.status(ChangeStatus::Failed, "connection lost twice");
            rep.message += "; the second connection was lost too (" + again.what + ")";
            return rep;
        } catch (const StepFailed& e) {
            f.status(ChangeStatus::Failed, e.what);
            rep.message += "; after reconnecting: " + e.what;
            return rep;
        }
    }
}

Expected<ApplyReport> apply_change(remote::SshSession& session, history::History& history, const Proposal& p, Approver& approver,
                                   const ApplyOptions& opt) {
    auto r = apply_change_impl(session, history, p, approver, opt);
    if (!r) return r;
    // The report goes back to the caller (and the terminal) with any password replaced too.
    const auto secrets = secrets_of_proposal(p);
    r->message = redact(r->message, secrets);
    r->validation_output = redact(r->validation_output, secrets);
    for (auto& n : r->notes) n = redact(n, secrets);
    return r;
}

Expected<std::string> check_change_state(remote::SshSession& session, history::History& history, std::int64_t change_id) {
    auto j = read_journal(history, change_id);
    if (!j) return unexpected(j.error());
    ApplyOptions opt;
    Flow f(session, history, opt);
    f.id = change_id;
    try {
        f.detect_sudo();
        const std::string now_sha = f.remote_sha(j->path);
        const std::string state = now_sha == j->old_sha ? "old" : now_sha == j->new_sha ? "new" : "other";
        f.step("state", true, json{{"state", state}, {"sha256", now_sha}}.dump(-1, ' ', false, json::error_handler_t::replace));
        return state;
    } catch (const Lost& e) {
        return unexpected(ErrorCode::Network, e.what);
    } catch (const StepFailed& e) {
        return unexpected(ErrorCode::Generic, e.what);
    }
}

Expected<ApplyReport> rollback_change(remote::SshSession& session, history::History& history, std::int64_t change_id, Approver& approver,
                                      const ApplyOptions& opt) {
    auto change = history.config_change(change_id);
    if (!change) return unexpected(change.error());
    auto jr = read_journal(history, change_id);
    if (!jr) return unexpected(jr.error());
    const Journal& j = *jr;
    if (j.backup_path.empty())
        return unexpected(ErrorCode::InvalidArgument, "change " + std::to_string(change_id) + " has no backup recorded: it was never written");
    ApplyReport rep;
    rep.change_id = change_id;
    rep.backup_path = j.backup_path;
    Flow f(session, history, opt);
    f.id = change_id;
    const ServiceTarget& t = j.target;
    try {
        f.detect_sudo();
        const std::string now_sha = f.remote_sha(j.path);
        rep.file_state = now_sha == j.old_sha ? "old" : now_sha == j.new_sha ? "new" : "other";
        f.step("state", true, json{{"state", rep.file_state}, {"sha256", now_sha}, {"for", "rollback"}}.dump(-1, ' ', false, json::error_handler_t::replace));
        if (rep.file_state == "old") {
            if (change->status != ChangeStatus::RolledBack) {
                if (change->status == ChangeStatus::Proposed) f.status(ChangeStatus::Failed, "never took effect");
                f.status(ChangeStatus::RolledBack, "the file already is the original");
            }
            rep.outcome = Outcome::RolledBack;
            rep.message = j.path + " already is the original: nothing to restore";
            return rep;
        }
        if (rep.file_state == "other")
            return unexpected(ErrorCode::InvalidArgument, j.path + " on " + change->host + " changed since change " + std::to_string(change_id) +
                                                         " (it is neither that change's result nor the original): not touching it; the backup is " +
                                                         j.backup_path);
        if (change->status == ChangeStatus::RolledBack)
            return unexpected(ErrorCode::InvalidArgument, "change " + std::to_string(change_id) + " is already rolled back");
        if (!approver.confirm_rollback("restore " + j.path + " on " + change->host + " from " + j.backup_path + " (change " +
                                       std::to_string(change_id) + "), then check and reload " + std::string(service_name(t.service)))) {
            rep.outcome = Outcome::Declined;
            rep.message = "declined: nothing was changed";
            return rep;
        }
        f.announce("read", "reading the backup " + j.backup_path);
        const std::string original = f.read(j.backup_path);
        if (sha256_hex(original) != j.old_sha) {
            f.step("rollback", false, "the backup's hash does not match the original's");
            return unexpected(ErrorCode::BadFile, "the backup " + j.backup_path + " does not match the original's hash: not restoring it");
        }
        const std::string current = f.read(j.path);
        f.secrets = secrets_of(t, original);
        for (auto& x : secrets_of(t, current)) f.secrets.push_back(x);
        f.announce("restore", "restoring " + j.path);
        f.write_atomic(j.path, original, j.context);
        const bool restored = f.remote_sha(j.path) == j.old_sha;
        f.step("restore", restored, json{{"from", j.backup_path}}.dump(-1, ' ', false, json::error_handler_t::replace));
        if (!restored) throw StepFailed{"the restored file does not match the original's hash"};
        f.announce("validate", validate_command(t));
        auto v = f.run(validate_command(t));
        rep.validation_output = redact(first_lines(Flow::trim_nl(v.out + v.err)), f.secrets);
        f.step("validate", v.ok(), json{{"exit", v.exit_status.value_or(-1)}, {"output", rep.validation_output}}.dump(-1, ' ', false, json::error_handler_t::replace));
        if (!v.ok()) {
            f.status(ChangeStatus::Failed, "the original no longer passes the checker; restored but not reloaded");
            rep.outcome = Outcome::Failed;
            rep.message = "the original " + j.path + " is back but " + std::string(service_name(t.service)) +
                          "'s checker refuses it now (something else changed): not reloaded:\n" + rep.validation_output;
            return rep;
        }
        const bool alive = f.run(alive_command(t)).ok();
        std::string workers_before;
        if (t.service == Service::Nginx && alive) workers_before = f.run(workers_command(t)).out;
        f.auth_file = j.backup_path;
        std::string reload_cmd = alive ? reload_command(t, current, original, f.auth_file) : start_command(t);
        if (t.service == Service::Sysctl) {
            // The running values saved before the change was applied (journal step "snapshot").
            f.saved = j.sysctl_saved;
            f.expect = j.sysctl_saved;
            reload_cmd = sysctl_write_command(j.sysctl_saved);
        }
        f.announce("reload", reload_cmd);
        auto rl = f.run(reload_cmd);
        if (t.service == Service::Systemd && rl.exit_status == 3) {
            rep.notes.push_back(Flow::trim_nl(rl.out) + " (nothing to reload)");
            rl.exit_status = 0;
        }
        f.step("reload", rl.ok(), json{{"exit", rl.exit_status.value_or(-1)}, {"output", first_lines(rl.out + rl.err)}}.dump(-1, ' ', false, json::error_handler_t::replace));
        f.announce("health", "checking " + std::string(service_name(t.service)));
        std::string h = f.health(t, t.service == Service::Nginx && alive ? &workers_before : nullptr, rep.notes);
        f.step("health", h.empty(), h.empty() ? "healthy" : h);
        if (change->status == ChangeStatus::Proposed) f.status(ChangeStatus::Failed, "finished by rollback");
        if (!rl.ok() || !h.empty()) {
            if (change->status == ChangeStatus::Applied) f.status(ChangeStatus::Failed, "rollback: " + (h.empty() ? std::string("reload failed") : h));
            rep.outcome = Outcome::Failed;
            rep.message = "the original " + j.path + " is back but " + (h.empty() ? "the reload failed: " + Flow::trim_nl(rl.err) : h);
            return rep;
        }
        f.status(ChangeStatus::RolledBack, "rolled back from " + j.backup_path);
        rep.outcome = Outcome::RolledBack;
        rep.message = "restored " + j.path + " from " + j.backup_path + "; validated, reloaded, healthy";
        return rep;
    } catch (const Lost& e) {
        return unexpected(ErrorCode::Network, "the connection was lost during the rollback (" + e.what + "); run it again: it checks the file first");
    } catch (const StepFailed& e) {
        f.step("error", false, e.what);
        return unexpected(ErrorCode::Generic, "rollback of change " + std::to_string(change_id) + " failed: " + e.what);
    }
}

std::vector<std::string> config_secrets(const ServiceTarget& t, const std::string& text) {
    std::vector<std::string> out;
    for (std::string& s : secrets_of(t, text))
        if (s.size() >= 2) out.push_back(std::move(s));  // redact()'s rule: shorter ones are never masked
    return out;
}

} // namespace sigmaops::config
