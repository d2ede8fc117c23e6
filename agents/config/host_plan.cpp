// config/host_plan.cpp - what the config agent proposes for a service on a host: the service's
// files read over SSH (includes too), the rules for the host's facts (PGTune for PostgreSQL,
// sshd hardening, nginx, redis), planned as hunks and grouped into one Proposal per file.
#include "config/config.h"
#include "config_internal.h"

#include <remote/remote.h>

#include <cctype>
#include <cstdlib>

namespace sigmaops::config {

FileSource remote_files(remote::SshSession& s, bool sudo) {
    FileSource fs;
    fs.read = [&s, sudo](const std::string& path) -> Expected<std::string> {
        remote::ExecOptions eo;
        eo.sudo = sudo;
        auto r = s.exec("cat -- " + shell_quote(path), eo);
        if (!r) return unexpected(r.error());
        if (!r->ok()) return unexpected(ErrorCode::NotFound, path + ": " + r->err);
        return r->out;
    };
    // Glob patterns come from config files (untrusted): only path characters and glob
    // metacharacters reach the shell, unquoted so that it expands them.
    fs.glob = [&s, sudo](const std::string& pattern) -> Expected<std::vector<std::string>> {
        for (char ch : pattern)
            if (!(std::isalnum(static_cast<unsigned char>(ch)) || std::string_view("/._-*?[]+@:").find(ch) != std::string_view::npos))
                return unexpected(ErrorCode::InvalidArgument, "include pattern '" + pattern + "' has characters SigmaOps does not pass to a shell");
        remote::ExecOptions eo;
        eo.sudo = sudo;
        auto r = s.exec("for f in " + pattern + "; do [ -e \"$f\" ] && printf '%s\\n' \"$f\"; done; true", eo);
        if (!r) return unexpected(r.error());
        std::vector<std::string> out;
        std::size_t pos = 0;
        while (pos < r->out.size()) {
            std::size_t nl = r->out.find('\n', pos);
            if (nl == std::string::npos) nl = r->out.size();
            if (nl > pos) out.push_back(r->out.substr(pos, nl - pos));
            pos = nl + 1;
        }
        return out;
    };
    return fs;
}

namespace {
Format format_of(Service s) {
    switch (s) {
    case Service::Sshd: return Format::Sshd;
    case Service::Nginx: return Format::Nginx;
    case Service::Postgres: return Format::Postgres;
    case Service::Redis: return Format::Redis;
    case Service::Sysctl: return Format::Sysctl;
    case Service::Systemd: return Format::Systemd;
    }
    return Format::Nginx;
}
} // namespace

Expected<HostPlan> plan_on_host(remote::SshSession& session, const HostFacts& facts, const std::string& host, const ServiceTarget& target,
                                const HostPlanOptions& o) {
    HostPlan out;
    std::vector<Change> changes;
    LoadOptions lo;
    if (target.service == Service::Postgres) {
        lo.postgres_auto_conf = target.data_dir + "/postgresql.auto.conf";
        PgFacts pf;
        auto v = facts.versions.find("postgresql");
        if (v == facts.versions.end()) return unexpected(ErrorCode::NotFound, host + ": PostgreSQL is not installed (no postgres --version)");
        pf.version = std::atoi(v->second.c_str());
        auto type = parse_db_type(o.pg_type);
        if (!type) return unexpected(ErrorCode::InvalidArgument, "the workload must be web, oltp, dw, desktop or mixed, not '" + o.pg_type + "'");
        pf.type = *type;
        pf.ram_kb = facts.mem_kb;
        pf.cpus = facts.cpus;
        pf.disk = facts.any_rotational() ? Disk::Hdd : Disk::Ssd;
        auto tuned = pgtune(pf);
        if (!tuned) return unexpected(tuned.error());
        for (const auto& w : tuned->warnings) out.notes.push_back("PGTune: " + w);
        for (const auto& s : tuned->settings)
            changes.push_back({s.name, s.value, "", "postgres." + s.name,
                               "PGTune for " + std::string(db_type_name(pf.type)) + ", " + std::to_string(pf.ram_kb / 1024) + " MB RAM, " +
                                   std::to_string(pf.cpus) + " CPUs, " + std::string(disk_name(pf.disk)),
                               s.source, ""});
    }
    auto set = load(format_of(target.service), target.config_path, remote_files(session, o.sudo), lo);
    if (!set) return unexpected(set.error());
    switch (target.service) {
    case Service::Sshd: {
        SshdFacts sf;
        auto v = facts.versions.find("openssh");
        if (v != facts.versions.end()) {
            sf.openssh_major = std::atoi(v->second.c_str());
            auto dot = v->second.find('.');
            sf.openssh_minor = dot == std::string::npos ? 0 : std::atoi(v->second.c_str() + dot + 1);
        }
        sf.distro = facts.os_id;
        sf.distro_version = facts.os_version_id;
        sf.login_method = o.login_method;
        sf.login_user = o.login_user;
        changes = sshd_hardening(*set, sf);
        break;
    }
    case Service::Nginx: changes = nginx_rules(*set, {facts.cpus, facts.nofile_soft, facts.mem_kb}); break;
    case Service::Redis: changes = redis_rules(*set, {facts.mem_kb, !o.redis_store}); break;
    case Service::Sysctl: {
        SysctlFacts sf;
        const std::string w = lower_ascii(o.sysctl_workload);
        if (w == "web") sf.workload = SysctlWorkload::Web;
        else if (w == "database" || w == "db") sf.workload = SysctlWorkload::Database;
        else if (w == "general" || w.empty()) sf.workload = SysctlWorkload::General;
        else return unexpected(ErrorCode::InvalidArgument, "the sysctl workload must be web, database or general, not '" + o.sysctl_workload + "'");
        sf.ram_kb = facts.mem_kb;
        sf.rotating_disk = facts.any_rotational();
        for (const auto& [k, v] : facts.sysctl) sf.running.emplace_back(k, v);
        changes = sysctl_rules(*set, sf);
        break;
    }
    case Service::Postgres: case Service::Systemd: break;  // systemd drop-ins: edits the caller brings (no rules)
    }
    auto plan = plan_changes(*set, changes);
    if (!plan) return unexpected(plan.error());
    for (const auto& w : plan->warnings) out.notes.push_back(w);
    for (std::size_t fi = 0; fi < set->files.size(); ++fi) {
        Proposal p;
        p.host = host;
        p.target = target;
        p.file.path = set->files[fi].path;
        p.file.before = set->files[fi].text;
        for (const Hunk& h : plan->hunks)
            if (h.file == fi) {
                Hunk one = h;
                one.file = 0;
                p.file.hunks.push_back(std::move(one));
            }
        if (!p.file.hunks.empty()) out.proposals.push_back(std::move(p));
    }
    return out;
}

} // namespace sigmaops::config
