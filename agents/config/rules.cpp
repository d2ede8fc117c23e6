// rules.cpp - the config agent's rules over documents (config.h, "Rules over documents"): sshd
// hardening, nginx against the worker's limits plus common security findings, sysctl for a stated
// workload, redis memory. Each rule is data (key, value, reason, source, disagreement) plus the
// condition under which it applies; a rule whose value is already in effect (set in the files or
// the built-in default) yields nothing. STYLE rule 18: a rule carries its source.
#include "config_internal.h"

#include <algorithm>

namespace sigmaops::config {

namespace {

constexpr const char* k_ssh_audit_deb12 =
    "ssh-audit hardening guide, Debian 12 / OpenSSH 9.2 (https://www.ssh-audit.com/hardening_guides.html#debian_12, rev. 2024-10)";
constexpr const char* k_mozilla_ssh = "Mozilla OpenSSH guideline, modern (https://infosec.mozilla.org/guidelines/openssh)";
constexpr const char* k_lynis_7408 = "Lynis 3.0.8 SSH-7408 (include/tests_ssh, SSHOPS list)";

struct SshdRule {
    const char* id;
    const char* key;
    const char* value;
    const char* builtin_default;  // OpenSSH 9.2's default, as `sshd -T` prints it (lowercase); "" = none
    const char* reason;
    const char* source;
    const char* disagreement;
};

// Algorithm lists: ssh-audit's Debian 12 guide, without the gss-* key exchanges (they only apply
// with GSSAPIKeyExchange, off by default).
constexpr const char* k_kex = "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,"
                              "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256";
constexpr const char* k_ciphers = "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-gcm@openssh.com,aes128-ctr";
constexpr const char* k_macs = "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,umac-128-etm@openssh.com";
constexpr const char* k_hostkey = "sk-ssh-ed25519-cert-v01@openssh.com,ssh-ed25519-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,"
                                  "rsa-sha2-256-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,ssh-ed25519,rsa-sha2-512,rsa-sha2-256";

const SshdRule k_sshd_rules[] = {
    {"sshd.kex-algorithms", "KexAlgorithms", k_kex, "", "only key exchanges without known weaknesses (no NIST ECDH curves, no group14/SHA-1)",
     k_ssh_audit_deb12, "Mozilla's modern list keeps ecdh-sha2-nistp256/384/521; ssh-audit drops them and adds sntrup761: ssh-audit followed (newer, made for Debian 12)"},
    {"sshd.ciphers", "Ciphers", k_ciphers, "", "authenticated or CTR ciphers only", k_ssh_audit_deb12,
     "Mozilla's modern list is the same set in another order: ssh-audit's order followed"},
    {"sshd.macs", "MACs", k_macs, "", "encrypt-then-MAC with SHA-2 or UMAC-128 only (no SHA-1, no 64-bit tags)", k_ssh_audit_deb12,
     "Mozilla also allows hmac-sha2-512/256 and umac-128 without ETM: ssh-audit followed (ETM only)"},
    {"sshd.host-key-algorithms", "HostKeyAlgorithms", k_hostkey, "", "Ed25519 and RSA-SHA2 host keys only (no ECDSA on NIST curves)",
     k_ssh_audit_deb12, "Mozilla does not restrict host key algorithms; ssh-audit followed"},
    {"sshd.log-level", "LogLevel", "VERBOSE", "info", "log the key fingerprint of each login, for audits", k_mozilla_ssh,
     "Lynis SSH-7408 expects VERBOSE too"},
    {"sshd.max-auth-tries", "MaxAuthTries", "3", "6", "fewer guesses per connection", k_lynis_7408,
     "an agent offering more than 3 keys can fail before the right one: list it with IdentitiesOnly/IdentityFile"},
    {"sshd.max-sessions", "MaxSessions", "2", "10", "fewer multiplexed sessions per connection", k_lynis_7408, ""},
    {"sshd.client-alive-count-max", "ClientAliveCountMax", "2", "3", "drop unresponsive clients sooner", k_lynis_7408, ""},
    {"sshd.tcp-keepalive", "TCPKeepAlive", "no", "yes", "spoofable TCP keepalives off; ClientAlive* (encrypted) detect dead peers",
     k_lynis_7408, ""},
    {"sshd.compression", "Compression", "no", "yes", "no compression before authentication's end (less attack surface)", k_lynis_7408, ""},
    {"sshd.x11-forwarding", "X11Forwarding", "no", "no", "no X11 forwarding (a server rarely needs it; exposes the client's display)",
     k_lynis_7408, ""},
    {"sshd.allow-agent-forwarding", "AllowAgentForwarding", "no", "yes", "agent forwarding lets root on this host use your keys",
     k_lynis_7408, ""},
    {"sshd.allow-tcp-forwarding", "AllowTcpForwarding", "no", "yes", "no port forwarding through this host (turn it back on per user in a Match block)",
     k_lynis_7408, "breaks SSH tunnels and ProxyJump through this host; Mozilla is silent"},
};

bool version_at_least(const SshdFacts& f, int major, int minor) {
    return f.openssh_major > major || (f.openssh_major == major && f.openssh_minor >= minor);
}

// The value in effect outside any Match block: the file's, else the built-in default.
std::string sshd_current(const ConfigSet& set, const char* key, const char* builtin) {
    auto e = effective(set, key, "");
    return e ? lower_ascii(joined(e->args)) : std::string(builtin);
}

Change make_change(const std::string& id, const std::string& key, std::optional<std::string> value, const std::string& reason,
                   const std::string& source, const std::string& disagreement, const std::string& context = "") {
    Change c;
    c.key = key;
    c.value = std::move(value);
    c.context = context;
    c.rule_id = id;
    c.reason = reason;
    c.source = source;
    c.disagreement = disagreement;
    return c;
}

} // namespace

std::vector<Change> sshd_hardening(const ConfigSet& set, const SshdFacts& facts) {
    std::vector<Change> out;
    // The rules above are written for OpenSSH 8.5+ (sntrup761, KbdInteractiveAuthentication); an older
    // sshd gets only the keyword rules whose keywords it knows.
    const bool modern = version_at_least(facts, 8, 5);
    for (const SshdRule& r : k_sshd_rules) {
        const std::string key = r.key;
        if (!modern && (key == "KexAlgorithms" || key == "HostKeyAlgorithms")) continue;
        const std::string cur = sshd_current(set, r.key, r.builtin_default);
        if (cur == lower_ascii(r.value)) continue;
        out.push_back(make_change(r.id, r.key, std::string(r.value), r.reason, r.source, r.disagreement));
    }
    // Root login: Mozilla says no; Lynis accepts prohibit-password. Root's own key login is kept
    // when root is who applies the change.
    {
        const std::string cur = sshd_current(set, "PermitRootLogin", "without-password");
        const bool root_user = facts.login_user == "root";
        const std::string want = root_user ? "prohibit-password" : "no";
        const bool ok = cur == want || cur == "no" || (root_user && (cur == "without-password" || cur == "forced-commands-only"));
        if (!ok)
            out.push_back(make_change("sshd.permit-root-login", "PermitRootLogin", want,
                                      root_user ? "root logs in here with a key: keep key login, refuse root passwords"
                                                : "no direct root login; log in as a user and use sudo",
                                      k_mozilla_ssh,
                                      root_user ? "Mozilla says no; you log in as root, so Lynis' prohibit-password is followed (never lock you out)"
                                                : "Lynis also accepts prohibit-password; Mozilla's no followed"));
    }
    // Password and keyboard-interactive login: off only when the user does not log in that way.
    const bool uses_password = facts.login_method == "password";
    const bool uses_kbd = facts.login_method == "keyboard-interactive";
    if (!uses_password && !uses_kbd) {
        if (sshd_current(set, "PasswordAuthentication", "yes") != "no")
            out.push_back(make_change("sshd.password-authentication", "PasswordAuthentication", "no",
                                      "keys only: no password guessing (you log in with " + facts.login_method + ")", k_mozilla_ssh,
                                      "Mozilla writes AuthenticationMethods publickey; PasswordAuthentication no is the narrower change that keeps other key-based methods"));
    }
    if (!uses_kbd && version_at_least(facts, 8, 7)) {
        if (sshd_current(set, "KbdInteractiveAuthentication", "yes") != "no")
            out.push_back(make_change("sshd.kbd-interactive-authentication", "KbdInteractiveAuthentication", "no",
                                      "no keyboard-interactive (PAM password) prompts" + std::string(uses_password ? "" : "; you log in with a key"),
                                      k_mozilla_ssh, ""));
    }
    return out;
}

// ----- nginx ----------------------------------------------------------------------------------------
namespace {
constexpr const char* k_nginx_core = "nginx docs, ngx_core_module (https://nginx.org/en/docs/ngx_core_module.html)";
constexpr const char* k_nginx_http = "nginx docs, ngx_http_core_module (https://nginx.org/en/docs/http/ngx_http_core_module.html)";
constexpr const char* k_mozilla_tls = "Mozilla Server Side TLS, intermediate (https://wiki.mozilla.org/Security/Server_Side_TLS, v5.7)";

constexpr const char* k_nginx_proxy = "nginx docs, ngx_http_proxy_module (https://nginx.org/en/docs/http/ngx_http_proxy_module.html)";
constexpr const char* k_cis_nginx = "CIS NGINX Benchmark v2.0.1";

std::uint64_t to_u64(const std::string& s, std::uint64_t fallback) {
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }) || s.size() > 18) return fallback;
    return std::stoull(s);
}

// An nginx time ("75s", "5m", "1h", "300" = seconds; "500ms") in milliseconds; nullopt when it is
// not one (ngx_parse_time: units ms s m h d w M y, several may follow each other: "1m30s").
std::optional<std::uint64_t> nginx_time_ms(const std::string& v) {
    if (v.empty()) return std::nullopt;
    std::uint64_t total = 0;
    std::size_t i = 0;
    while (i < v.size()) {
        std::size_t j = i;
        while (j < v.size() && std::isdigit(static_cast<unsigned char>(v[j]))) ++j;
        if (j == i || j - i > 12) return std::nullopt;
        const std::uint64_t n = std::stoull(v.substr(i, j - i));
        std::string unit;
        while (j < v.size() && std::isalpha(static_cast<unsigned char>(v[j]))) unit += v[j++];
        std::uint64_t ms = 0;
        if (unit.empty() || unit == "s") ms = 1000;
        else if (unit == "ms") ms = 1;
        else if (unit == "m") ms = 60000;
        else if (unit == "h") ms = 3600000;
        else if (unit == "d") ms = 86400000;
        else if (unit == "w") ms = 7ull * 86400000;
        else if (unit == "M") ms = 30ull * 86400000;
        else if (unit == "y") ms = 365ull * 86400000;
        else return std::nullopt;
        total += n * ms;
        i = j;
        if (unit.empty() && i < v.size()) return std::nullopt;
    }
    return total;
}

// An nginx size ("8k", "1m", "1024", "2g") in bytes; nullopt when it is not one (ngx_parse_size).
std::optional<std::uint64_t> nginx_size(const std::string& v) {
    if (v.empty()) return std::nullopt;
    std::uint64_t mult = 1;
    std::string digits = v;
    const char last = static_cast<char>(std::tolower(static_cast<unsigned char>(v.back())));
    if (last == 'k') mult = 1024;
    else if (last == 'm') mult = 1024 * 1024;
    else if (last == 'g') mult = 1024ull * 1024 * 1024;
    if (mult != 1) digits.pop_back();
    if (digits.empty() || digits.size() > 12 || !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); }))
        return std::nullopt;
    return std::stoull(digits) * mult;
}

// The http block's context ("http[0]"), or "" when there is none.
std::string http_context(const ConfigSet& set) {
    for (const auto& b : set.blocks)
        if (b.context.rfind("http[", 0) == 0 && b.context.find('/') == std::string::npos) return b.context;
    return {};
}
} // namespace

std::vector<Change> nginx_rules(const ConfigSet& set, const NginxFacts& facts) {
    std::vector<Change> out;
    auto wp = effective(set, "worker_processes", "");
    if (!wp || (wp->args.size() == 1 && wp->args[0] != "auto" && to_u64(wp->args[0], 0) != static_cast<std::uint64_t>(facts.cpus)))
        if (!(wp && wp->args == std::vector<std::string>{"auto"}))
            out.push_back(make_change("nginx.worker-processes", "worker_processes", "auto",
                                      "one worker per CPU (" + std::to_string(facts.cpus) + " here); the default is 1", k_nginx_core, ""));
    // Each proxied connection holds two descriptors (client + upstream): the workers' open-files
    // limit must cover 2 x worker_connections.
    std::string events_ctx;
    for (const auto& b : set.blocks)
        if (b.context.rfind("events[", 0) == 0) { events_ctx = b.context; break; }
    auto wc = effective(set, "worker_connections", events_ctx);
    const std::uint64_t connections = wc && !wc->args.empty() ? to_u64(wc->args[0], 512) : 512;
    auto rl = effective(set, "worker_rlimit_nofile", "");
    const std::uint64_t limit = rl && !rl->args.empty() ? to_u64(rl->args[0], facts.nofile) : facts.nofile;
    if (2 * connections > limit)
        out.push_back(make_change("nginx.worker-rlimit-nofile", "worker_rlimit_nofile", std::to_string(2 * connections),
                                  "worker_connections " + std::to_string(connections) + " needs up to " + std::to_string(2 * connections) +
                                      " descriptors when proxying; the limit is " + std::to_string(limit),
                                  k_nginx_core + std::string(" worker_rlimit_nofile; events worker_connections"),
                                  "raising the limit needs the hard limit (LimitNOFILE) at least as high"));
    std::string http_ctx;
    for (const auto& b : set.blocks)
        if (b.context.rfind("http[", 0) == 0) { http_ctx = b.context; break; }
    if (!http_ctx.empty()) {
        auto st = effective(set, "server_tokens", http_ctx);
        if (!st || st->args != std::vector<std::string>{"off"})
            out.push_back(make_change("nginx.server-tokens", "server_tokens", "off", "do not print the nginx version in errors and headers",
                                      k_nginx_http + std::string(" server_tokens; CIS NGINX Benchmark 2.5.4"), "", http_ctx));
    }
    // Every context that sets ssl_protocols with TLS 1.0/1.1, and every autoindex on.
    for (size_t i = 0; i < set.order.size(); ++i) {
        const Item& it = set.at(set.order[i]);
        if (it.key == "ssl_protocols") {
            const bool old = std::any_of(it.args.begin(), it.args.end(), [](const std::string& a) {
                return a == "SSLv2" || a == "SSLv3" || a == "TLSv1" || a == "TLSv1.1";
            });
            if (old)
                out.push_back(make_change("nginx.ssl-protocols", "ssl_protocols", "TLSv1.2 TLSv1.3", "TLS 1.0 and 1.1 are deprecated (RFC 8996)",
                                          k_mozilla_tls, "", set.contexts[i]));
        } else if (it.key == "autoindex" && !it.args.empty() && it.args[0] == "on") {
            out.push_back(make_change("nginx.autoindex", "autoindex", "off", "directory listings expose files not meant to be linked",
                                      "nginx docs, ngx_http_autoindex_module; gixy/common audit finding", "", set.contexts[i]));
        } else if (it.key == "keepalive_timeout" && !it.args.empty()) {
            // Where it is set (http, server or location): off entirely, or idle connections held so
            // long that each keeps a worker_connections slot for minutes.
            const auto ms = nginx_time_ms(it.args[0]);
            if (ms && *ms == 0)
                out.push_back(make_change("nginx.keepalive-timeout", "keepalive_timeout", "65",
                                          "keep-alive is off: every request pays a new TCP (and TLS) handshake; 65s is Debian's nginx.conf value",
                                          k_nginx_http + std::string(" keepalive_timeout (default 75s); Debian nginx.conf"), "", set.contexts[i]));
            else if (ms && *ms > 300000)
                out.push_back(make_change("nginx.keepalive-timeout", "keepalive_timeout", "65",
                                          "idle keep-alive connections are held " + it.args[0] + ": each holds one of worker_connections meanwhile (above 300s)",
                                          k_nginx_http + std::string(" keepalive_timeout (default 75s); Debian nginx.conf"), "", set.contexts[i]));
        } else if (it.key == "keepalive_requests" && !it.args.empty()) {
            const std::uint64_t n = to_u64(it.args[0], 1000);
            if (n < 100)
                out.push_back(make_change("nginx.keepalive-requests", "keepalive_requests", "1000",
                                          "a keep-alive connection is closed after " + it.args[0] +
                                              " requests: clients reconnect often (the default is 1000 since nginx 1.19.10, 100 before)",
                                          k_nginx_http + std::string(" keepalive_requests"),
                                          "the docs warn that a very high value keeps per-connection memory: the default 1000 followed, not more",
                                          set.contexts[i]));
        } else if (it.key == "client_max_body_size" && !it.args.empty() && nginx_size(it.args[0]) == std::optional<std::uint64_t>(0)) {
            out.push_back(make_change("nginx.client-max-body-size", "client_max_body_size", "1m",
                                      "0 turns the request body size check off: any client can send bodies of any size",
                                      k_nginx_http + std::string(" client_max_body_size (default 1m); ") + k_cis_nginx + " 5.2.2",
                                      "CIS suggests a value as small as the application allows (its example is 100K); nginx's default 1m followed: raise it "
                                      "where uploads need more",
                                      set.contexts[i]));
        } else if (it.key == "large_client_header_buffers" && it.args.size() == 2) {
            const std::uint64_t number = to_u64(it.args[0], 4);
            const auto size = nginx_size(it.args[1]);
            if (size && (*size < 1024 || number < 2))
                out.push_back(make_change("nginx.large-client-header-buffers", "large_client_header_buffers", "4 8k",
                                          "a request line or header longer than one buffer (" + it.args[1] +
                                              ") is refused with 414/400: long cookies and URLs break",
                                          k_nginx_http + std::string(" large_client_header_buffers (default 4 8k)"),
                                          std::string(k_cis_nginx) + " 5.2.3 suggests 2 1k against header floods; 1k breaks common cookies, so below 1k "
                                                                     "is flagged and nginx's default followed",
                                          set.contexts[i]));
        } else if (it.key == "proxy_buffering" && !it.args.empty() && it.args[0] == "off") {
            // Only where something is proxied: the context (or one inside it) has proxy_pass.
            bool proxied = false;
            for (std::size_t k = 0; k < set.order.size() && !proxied; ++k)
                proxied = set.at(set.order[k]).key == "proxy_pass" &&
                          (set.contexts[k] == set.contexts[i] || set.contexts[k].rfind(set.contexts[i] + "/", 0) == 0 ||
                           set.contexts[i].empty() || set.contexts[i].find('/') == std::string::npos);
            if (proxied)
                out.push_back(make_change("nginx.proxy-buffering", "proxy_buffering", "on",
                                          "with buffering off each response is passed on synchronously: a slow client holds the upstream "
                                          "connection (and its worker) for the whole transfer",
                                          k_nginx_proxy + std::string(" proxy_buffering, X-Accel-Buffering"),
                                          "streaming responses (server-sent events, long polling) need it off: let that upstream send "
                                          "\"X-Accel-Buffering: no\" instead, which turns it off per response",
                                          set.contexts[i]));
        }
    }
    // Where proxy_pass is used: the buffers nginx gives each proxied response. A client body
    // buffer larger than the largest body allowed only wastes memory on chunked bodies (nginx
    // allocates the whole buffer when the length is unknown).
    if (!http_ctx.empty()) {
        auto max_body = effective(set, "client_max_body_size", http_ctx);
        auto body_buf = effective(set, "client_body_buffer_size", http_ctx);
        const auto mb = max_body && !max_body->args.empty() ? nginx_size(max_body->args[0]) : std::optional<std::uint64_t>(1024 * 1024);
        const auto bb = body_buf && !body_buf->args.empty() ? nginx_size(body_buf->args[0]) : std::nullopt;
        if (mb && *mb > 0 && bb && *bb > *mb)
            out.push_back(make_change("nginx.client-body-buffer-size", "client_body_buffer_size", max_body ? max_body->args[0] : "1m",
                                      "client_body_buffer_size " + body_buf->args[0] + " is above client_max_body_size " +
                                          (max_body ? max_body->args[0] : "1m") + ": no body may be larger, and chunked bodies get the whole buffer",
                                      k_nginx_http + std::string(" client_body_buffer_size, client_max_body_size; ngx_http_request_body.c"),
                                      "", http_ctx));
    }
    for (std::size_t i = 0; i < set.order.size(); ++i) {
        const Item& it = set.at(set.order[i]);
        if (it.key != "proxy_pass") continue;
        // proxy_buffer_size holds the upstream's response header; with proxy_buffers it must
        // leave room for proxy_busy_buffers_size, or nginx -t refuses the file.
        auto pbs = effective(set, "proxy_buffer_size", set.contexts[i]);
        auto pb = effective(set, "proxy_buffers", set.contexts[i]);
        const auto header = pbs && !pbs->args.empty() ? nginx_size(pbs->args[0]) : std::optional<std::uint64_t>(4096);
        std::uint64_t n = 8;
        std::optional<std::uint64_t> each = 4096;
        if (pb && pb->args.size() == 2) {
            n = to_u64(pb->args[0], 8);
            each = nginx_size(pb->args[1]);
        }
        auto busy = effective(set, "proxy_busy_buffers_size", set.contexts[i]);
        if (!busy && header && each && *each > 0 && n >= 2 && 2 * std::max(*header, *each) >= (n - 1) * *each) {
            // The default busy size is 2 x max(proxy_buffer_size, one buffer), which must stay
            // below all buffers minus one: give proxy_buffers enough of the header's size.
            const std::uint64_t need = 2 * std::max(*header, *each) / *each + 2;
            out.push_back(make_change("nginx.proxy-buffers", "proxy_buffers",
                                      std::to_string(std::max<std::uint64_t>(need, 8)) + " " + (pb && pb->args.size() == 2 ? pb->args[1] : std::string("4k")),
                                      "proxy_buffer_size " + (pbs ? pbs->args[0] : std::string("4k")) + " is too large for proxy_buffers " +
                                          (pb ? joined(pb->args) : std::string("8 4k")) +
                                          ": the busy buffers (2 x proxy_buffer_size) must fit in all buffers minus one, or nginx -t fails",
                                      k_nginx_proxy + std::string(" proxy_buffer_size, proxy_buffers, proxy_busy_buffers_size"), "",
                                      set.contexts[i]));
        }
    }
    return out;
}

// ----- sysctl -------------------------------------------------------------------------------------------
namespace {
constexpr const char* k_kernel_ip = "Linux kernel docs, Documentation/networking/ip-sysctl.rst";
constexpr const char* k_tuned_tp = "TuneD throughput-performance profile (profiles/throughput-performance/tuned.conf, tuned 2.19)";
constexpr const char* k_pg_overcommit = "PostgreSQL docs 18.4.4 Linux Memory Overcommit (https://www.postgresql.org/docs/current/kernel-resources.html)";
} // namespace

std::vector<Change> sysctl_rules(const ConfigSet& set, const SysctlFacts& facts) {
    struct R { const char* id; const char* key; const char* value; const char* reason; const char* source; const char* disagreement; };
    std::vector<R> rules;
    if (facts.workload == SysctlWorkload::Web) {
        rules = {
            {"sysctl.somaxconn", "net.core.somaxconn", "4096", "a longer accept queue for bursts of new connections (the default before Linux 5.4 is 128)", k_kernel_ip, ""},
            {"sysctl.syn-backlog", "net.ipv4.tcp_max_syn_backlog", "8192", "more half-open connections queued under load", k_kernel_ip, ""},
            {"sysctl.port-range", "net.ipv4.ip_local_port_range", "1024 65535", "more source ports for connections to upstreams", k_kernel_ip, ""},
        };
    } else if (facts.workload == SysctlWorkload::Database) {
        rules = {
            {"sysctl.swappiness", "vm.swappiness", "10", "keep the database's memory in RAM", k_tuned_tp, ""},
            {"sysctl.dirty-ratio", "vm.dirty_ratio", "40", "larger write-back batches", k_tuned_tp,
             "PostgreSQL checkpoints do their own pacing; some guides lower dirty_background_bytes instead: TuneD followed"},
            {"sysctl.dirty-background-ratio", "vm.dirty_background_ratio", "10", "start write-back earlier", k_tuned_tp, ""},
            {"sysctl.overcommit", "vm.overcommit_memory", "2", "no OOM killer on the postmaster: refuse allocations instead", k_pg_overcommit,
             "TuneD leaves overcommit alone; PostgreSQL's docs followed"},
        };
    } else {
        rules = {
            {"sysctl.syncookies", "net.ipv4.tcp_syncookies", "1", "SYN flood protection", k_kernel_ip, ""},
        };
    }
    std::vector<Change> out;
    for (const R& r : rules) {
        auto e = effective(set, r.key, "");
        std::string cur;
        if (e) cur = joined(e->args);
        else
            for (const auto& [k, v] : facts.running)
                if (normalize_key(Format::Sysctl, k) == r.key) cur = v;
        // Whitespace in a value (a port range) compares as single spaces.
        std::string norm;
        for (char c : cur) norm += (c == '\t' ? ' ' : c);
        while (norm.find("  ") != std::string::npos) norm.erase(norm.find("  "), 1);
        if (norm == r.value) continue;
        out.push_back(make_change(r.id, r.key, std::string(r.value), r.reason, r.source, r.disagreement));
    }
    return out;
}

// ----- redis ----------------------------------------------------------------------------------------------
std::vector<Change> redis_rules(const ConfigSet& set, const RedisFacts& facts) {
    std::vector<Change> out;
    constexpr const char* k_admin = "Redis docs, administration (https://redis.io/docs/latest/operate/oss_and_stack/management/admin/)";
    constexpr const char* k_evict = "Redis docs, key eviction (https://redis.io/docs/latest/develop/reference/eviction/)";
    auto mm = effective(set, "maxmemory", "");
    const bool unset = !mm || mm->args.empty() || mm->args[0] == "0";
    auto save = effective(set, "save", "");
    auto aof = effective(set, "appendonly", "");
    const bool persists = (!save || !(save->args.size() == 1 && save->args[0].empty())) || (aof && !aof->args.empty() && lower_ascii(aof->args[0]) == "yes");
    if (unset && facts.ram_kb > 0) {
        // A fork for RDB/AOF rewrite can need up to twice the data's memory: half of RAM then, else 3/4.
        const std::uint64_t mb = facts.ram_kb / 1024 * (persists ? 1 : 3) / (persists ? 2 : 4);
        out.push_back(make_change("redis.maxmemory", "maxmemory", std::to_string(mb) + "mb",
                                  std::string("no limit is set: bound Redis to ") + (persists ? "half" : "three quarters") +
                                      " of RAM so the OS (and a persistence fork) keeps room",
                                  k_admin, "the docs' own figure is \"up to 2 times the memory\" while saving: half of RAM followed when persisting"));
    }
    auto pol = effective(set, "maxmemory-policy", "");
    const std::string cur = pol && !pol->args.empty() ? lower_ascii(pol->args[0]) : "noeviction";
    const std::string want = facts.cache_only ? "allkeys-lru" : "noeviction";
    if (cur != want)
        out.push_back(make_change("redis.maxmemory-policy", "maxmemory-policy", want,
                                  facts.cache_only ? "a cache evicts the least recently used keys instead of refusing writes"
                                                   : "a data store must refuse writes rather than drop keys",
                                  k_evict, ""));
    return out;
}

} // namespace sigmaops::config
