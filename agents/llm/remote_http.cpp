// remote_http.cpp - HTTP exchanges with an OpenAI-compatible endpoint (remote_http.h).
// cpp-httplib is Debian's libcpp-httplib (0.11.4, the split build: this file compiles against
// its declarations and links the shared library, which carries OpenSSL for https).
#include "remote_http.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace sigmaops::llm::remote {

Expected<Endpoint> parse_endpoint(const std::string& url) {
    auto bad = [&](const std::string& why) {
        return unexpected(ErrorCode::InvalidArgument, "backend URL '" + url + "': " + why);
    };
    const std::size_t sep = url.find("://");
    if (sep == std::string::npos) return bad("write it as http://HOST:PORT or https://HOST[:PORT][/PATH]");
    std::string scheme = url.substr(0, sep);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (scheme != "http" && scheme != "https") return bad("only http:// and https:// are supported");
    const std::size_t host_start = sep + 3;
    const std::size_t path_start = url.find('/', host_start);
    const std::string authority = url.substr(host_start, path_start == std::string::npos ? std::string::npos : path_start - host_start);
    if (authority.empty()) return bad("no host");
    if (authority.find('@') != std::string::npos)
        return bad("credentials do not belong in the URL (it shows up in history and process lists); "
                   "put the key in $SIGMAOPS_API_KEY or the keyring (sigmaops backend set-key URL)");
    for (char c : url)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("spaces or control characters in the URL");
    std::string path = path_start == std::string::npos ? std::string() : url.substr(path_start);
    if (path.find_first_of("?#") != std::string::npos) return bad("no query or fragment, only a path prefix");
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
    if (scheme == "https") return bad("this build has no TLS support");
#endif
    while (!path.empty() && path.back() == '/') path.pop_back();
    Endpoint e;
    e.origin = scheme + "://" + authority;
    if (path.size() >= 3 && path.compare(path.size() - 3, 3, "/v1") == 0) {
        e.api = path;
        e.root = path.substr(0, path.size() - 3);
    } else {
        e.api = path + "/v1";
        e.root = path;
    }
    e.shown = e.origin + e.api;
    return e;
}

std::string error_message_of(std::string_view body) {
    try {
        const auto j = nlohmann::json::parse(body);
        if (j.is_object()) {
            if (j.contains("error")) {
                const auto& e = j["error"];
                if (e.is_string()) return e.get<std::string>();
                if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
            }
            if (j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
            if (j.contains("detail")) return j["detail"].is_string() ? j["detail"].get<std::string>() : j["detail"].dump();
        }
    } catch (const std::exception&) {
    }
    std::string out;
    for (char c : body.substr(0, 200)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

double retry_after_seconds(const std::string& value) {
    if (value.empty()) return -1;
    if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c) || c == ' '; })) {
        try {
            return std::stod(value);
        } catch (const std::exception&) {
            return -1;
        }
    }
    std::tm tm{};
    // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT"
    if (!strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return -1;
    const double d = std::difftime(timegm(&tm), std::time(nullptr));
    return d < 0 ? 0 : d;
}

Http::Http(Endpoint endpoint, std::string api_key, HttpOptions options)
    : m_endpoint(std::move(endpoint)), m_key(std::move(api_key)), m_options(options) {}

Http::~Http() {
    // The key lived only here: wipe it.
    std::fill(m_key.begin(), m_key.end(), '\0');
}

void Http::cancel() {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_cancel = true;
    if (m_client) m_client->stop();   // closes the socket: a blocked read returns at once
    m_wake.notify_all();
}

void Http::arm() { m_cancel = false; }

// Why a connection failed, from the OS: one more non-blocking connect to the first address
// (httplib says only "connection failed"); "" when it cannot tell.
std::string Http::connect_failure() const {
    std::string hostport = m_endpoint.origin.substr(m_endpoint.origin.find("://") + 3);
    std::string host = hostport, port = m_endpoint.origin.rfind("https", 0) == 0 ? "443" : "80";
    if (!hostport.empty() && hostport.front() == '[') {
        const std::size_t close = hostport.find(']');
        host = hostport.substr(1, close - 1);
        if (close + 1 < hostport.size() && hostport[close + 1] == ':') port = hostport.substr(close + 2);
    } else if (const std::size_t colon = hostport.rfind(':'); colon != std::string::npos) {
        host = hostport.substr(0, colon);
        port = hostport.substr(colon + 1);
    }
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
        return std::string("cannot resolve ") + host + ": " + gai_strerror(rc);
    std::string why;
    const int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol);
    if (fd >= 0) {
        int err = 0;
        if (::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                pollfd p{fd, POLLOUT, 0};
                const int ms = int(std::min(3.0, m_options.connect_timeout_s) * 1000);
                if (::poll(&p, 1, ms) == 1) {
                    socklen_t len = sizeof err;
                    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                } else {
                    err = ETIMEDOUT;
                }
            }
        }
        if (err) why = std::strerror(err);
        ::close(fd);
    }
    freeaddrinfo(res);
    for (char& c : why) c = char(std::tolower(static_cast<unsigned char>(c)));
    return why;
}

namespace {
std::string secs(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%g s", s);
    return b;
}
} // namespace

Expected<Reply> Http::once(const std::string& method, const std::string& path, const std::string& body,
                           const ChunkCallback& on_chunk) {
    httplib::Client client(m_endpoint.origin);
    if (!client.is_valid()) return unexpected(ErrorCode::InvalidArgument, "backend URL " + m_endpoint.shown + " is not usable");
    auto set_secs = [](double s, auto set) {
        const auto whole = static_cast<time_t>(s);
        set(whole, static_cast<time_t>((s - double(whole)) * 1e6));
    };
    set_secs(m_options.connect_timeout_s, [&](time_t a, time_t b) { client.set_connection_timeout(a, b); });
    set_secs(m_options.read_timeout_s, [&](time_t a, time_t b) { client.set_read_timeout(a, b); });
    set_secs(m_options.connect_timeout_s, [&](time_t a, time_t b) { client.set_write_timeout(a, b); });
    client.set_keep_alive(false);
    client.set_follow_location(false);
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_cancel) return unexpected(ErrorCode::Cancelled, "cancelled");
        m_client = &client;
    }
    struct Unregister {
        Http& h;
        ~Unregister() {
            std::lock_guard<std::mutex> lock(h.m_mutex);
            h.m_client = nullptr;
        }
    } unregister{*this};

    httplib::Request req;
    req.method = method;
    req.path = path;
    req.set_header("Accept", on_chunk ? "text/event-stream, application/json" : "application/json");
    if (!m_key.empty()) req.set_header("Authorization", "Bearer " + m_key);
    if (method == "POST") {
        req.set_header("Content-Type", "application/json");
        req.body = body;
    }
    Reply reply;
    bool stopped_by_callback = false;
    req.response_handler = [&](const httplib::Response& r) {
        reply.status = r.status;
        reply.content_type = r.get_header_value("Content-Type");
        reply.retry_after = r.get_header_value("Retry-After");
        return true;
    };
    constexpr std::size_t k_max_error_body = 64 * 1024, k_max_body = 64u << 20;
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        if (m_cancel) return false;
        const bool ok = reply.status >= 200 && reply.status < 300;
        // Only an event stream is handed on piece by piece; a server that answers a streamed
        // request with one JSON document (application/json) is read whole.
        if (ok && on_chunk && reply.content_type.find("text/event-stream") != std::string::npos) {
            if (!on_chunk(std::string_view(data, n))) {
                stopped_by_callback = true;
                return false;
            }
            return true;
        }
        const std::size_t cap = ok ? k_max_body : k_max_error_body;
        reply.body.append(data, std::min(n, cap - std::min(cap, reply.body.size())));
        return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    const bool sent = client.send(req, res, err);
    if (m_cancel) return unexpected(ErrorCode::Cancelled, "cancelled");
    if (stopped_by_callback) return unexpected(ErrorCode::Cancelled, "stopped by the caller");
    if (!sent) {
        const std::string where = m_endpoint.origin;
        switch (err) {
        case httplib::Error::Connection: {
            const std::string why = connect_failure();
            return unexpected(ErrorCode::Network, "cannot connect to the backend at " + where + (why.empty() ? "" : " (" + why + ")") +
                                                      ": is the server running, and is the URL right?");
        }
        case httplib::Error::ConnectionTimeout:
            return unexpected(ErrorCode::Network, "connecting to the backend at " + where + " timed out after " + secs(m_options.connect_timeout_s));
        case httplib::Error::Read:
            if (reply.status == 0)
                return unexpected(ErrorCode::Network, "the backend at " + where + " did not answer within " + secs(m_options.read_timeout_s) +
                                                          ", or closed the connection (read failed)");
            return unexpected(ErrorCode::Network, "the connection to the backend at " + where +
                                                      " broke while the answer was arriving (or no data came for " + secs(m_options.read_timeout_s) + ")");
        case httplib::Error::Write:
            return unexpected(ErrorCode::Network, "sending the request to the backend at " + where + " failed");
        case httplib::Error::SSLConnection:
            return unexpected(ErrorCode::Network, "TLS handshake with " + where + " failed (is it https?)");
        case httplib::Error::SSLServerVerification:
            return unexpected(ErrorCode::Network, "the TLS certificate of " + where + " is not trusted by this system");
        case httplib::Error::SSLLoadingCerts:
            return unexpected(ErrorCode::Network, "this system's CA certificates could not be loaded for " + where);
        case httplib::Error::Canceled:
            return unexpected(ErrorCode::Cancelled, "cancelled");
        default:
            return unexpected(ErrorCode::Network, "request to the backend at " + where + " failed: " + httplib::to_string(err));
        }
    }
    reply.status = res.status;
    return reply;
}

Expected<Reply> Http::request(const std::string& method, const std::string& path, const std::string& json_body,
                              const ChunkCallback& on_chunk) {
    double backoff = 1;
    for (int attempt = 0;; ++attempt) {
        auto r = once(method, path, json_body, on_chunk);
        if (!r) return r;
        if ((r->status != 429 && r->status != 503) || attempt >= m_options.max_rate_retries) return r;
        double wait = retry_after_seconds(r->retry_after);
        if (wait < 0) wait = backoff;
        backoff *= 2;
        wait = std::min(wait, m_options.max_retry_wait_s);
        std::unique_lock<std::mutex> lock(m_mutex);
        if (m_wake.wait_for(lock, std::chrono::duration<double>(wait), [&] { return m_cancel.load(); }))
            return unexpected(ErrorCode::Cancelled, "cancelled");
    }
}

Error Http::http_error(const std::string& path, const Reply& reply) const {
    const std::string msg = error_message_of(reply.body);
    const std::string said = msg.empty() ? "" : ": " + msg;
    const std::string url = m_endpoint.origin + path;
    switch (reply.status) {
    case 401:
    case 403:
        return {ErrorCode::Auth, "the backend at " + m_endpoint.shown + " refused the API key (" + std::to_string(reply.status) + said +
                                     "). Set $SIGMAOPS_API_KEY or store the key with `sigmaops backend set-key " + m_endpoint.shown + "`"};
    case 404:
        return {ErrorCode::NotFound, url + " not found (404" + said + ")"};
    case 413:
        return {ErrorCode::InvalidArgument, "the backend at " + m_endpoint.shown + " found the request too large (413" + said + ")"};
    case 429:
    case 503:
        return {ErrorCode::Generic, "the backend at " + m_endpoint.shown + " is busy (" + std::to_string(reply.status) + said + ") after " +
                                        std::to_string(m_options.max_rate_retries) + " waits for it; try again later"};
    default:
        break;
    }
    if (reply.status >= 500)
        return {ErrorCode::Generic, "the backend at " + m_endpoint.shown + " failed with a server error (" + std::to_string(reply.status) + said + ")"};
    return {ErrorCode::InvalidArgument, "the backend at " + m_endpoint.shown + " rejected the request (" + std::to_string(reply.status) + said + ")"};
}

} // namespace sigmaops::llm::remote
