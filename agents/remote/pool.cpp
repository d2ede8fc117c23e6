// remote/pool.cpp - connection reuse per host and a bounded worker pool for running one command
// on many hosts. Prompter calls from workers are serialised so the user sees one question at a time.
#include "internal.h"

#include <thread>

namespace sigmaops::remote {

namespace {
// Forwards to the user's Prompter one call at a time.
class SerialPrompter final : public Prompter {
public:
    explicit SerialPrompter(Prompter* inner) : m_inner(inner) {}
    bool confirm_host_key(const std::string& h, int p, const std::string& t, const std::string& f) override {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_inner->confirm_host_key(h, p, t, f);
    }
    std::optional<SecretString> ask_secret(SecretKind k, const std::string& prompt) override {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_inner->ask_secret(k, prompt);
    }
    void notify(const std::string& m) override {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_inner->notify(m);
    }
private:
    Prompter* m_inner;
    std::mutex m_mutex;
};
}  // namespace

ConnectionPool::ConnectionPool(ConnectOptions options) : m_options(std::move(options)) {
    if (m_options.prompter) {
        m_serial_prompter = std::make_unique<SerialPrompter>(m_options.prompter);
        m_options.prompter = m_serial_prompter.get();
    }
}
ConnectionPool::~ConnectionPool() = default;

Expected<std::unique_ptr<SshSession>> ConnectionPool::acquire(const std::string& name) {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_idle.find(name);
        if (it != m_idle.end()) {
            auto s = std::move(it->second);
            m_idle.erase(it);
            if (s->is_connected() && s->keepalive()) return s;
        }
    }
    auto profile = resolve_host(name, m_options.paths);
    if (!profile) return sigmaops::unexpected(profile.error());
    return SshSession::connect(*profile, m_options);
}

void ConnectionPool::release(std::unique_ptr<SshSession> session) {
    if (!session || !session->is_connected()) return;
    std::lock_guard<std::mutex> lock(m_mutex);
    m_idle[session->host().name] = std::move(session);
}

void ConnectionPool::keepalive_idle() {
    std::lock_guard<std::mutex> lock(m_mutex);
    for (auto it = m_idle.begin(); it != m_idle.end();) {
        if (!it->second->keepalive()) it = m_idle.erase(it);
        else ++it;
    }
}

std::vector<HostResult> run_on_hosts(ConnectionPool& pool, const std::vector<std::string>& hosts,
                                     const std::string& command, std::size_t max_parallel, const ExecOptions& exec) {
    std::vector<std::optional<Expected<ExecResult>>> results(hosts.size());
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (std::size_t i = next++; i < hosts.size(); i = next++) {
            auto session = pool.acquire(hosts[i]);
            if (!session) { results[i].emplace(sigmaops::unexpected(session.error())); continue; }
            results[i].emplace((*session)->exec(command, exec));
            pool.release(std::move(*session));
        }
    };
    std::size_t n_threads = std::max<std::size_t>(1, std::min(max_parallel ? max_parallel : 1, hosts.size()));
    std::vector<std::thread> threads;
    for (std::size_t t = 1; t < n_threads; ++t) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    std::vector<HostResult> out;
    out.reserve(hosts.size());
    for (std::size_t i = 0; i < hosts.size(); ++i)
        out.push_back(HostResult{hosts[i], std::move(*results[i])});
    return out;
}

}  // namespace sigmaops::remote
