// remote_http.h - private to agents/llm: one HTTP exchange with an OpenAI-compatible endpoint
// through cpp-httplib (Debian's libcpp-httplib, built with OpenSSL for https), cancellable from
// another thread, with the endpoint's failures turned into messages a user can act on. Used by
// remote.cpp; tested against real servers in tests/llm/test_llm_remote_http.cpp.
#pragma once

#include <base/result.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace httplib {
class Client;
}

namespace sigmaops::llm::remote {

// An endpoint URL taken apart: "https://h:8443/api" -> origin "https://h:8443", api "/api/v1",
// root "/api" (where /tokenize lives). A URL already ending in "/v1" keeps it.
struct Endpoint {
    std::string origin;            // scheme://host[:port]
    std::string api;               // the prefix of /models, /chat/completions, /completions
    std::string root;              // api without its trailing "/v1"
    std::string shown;             // the URL as messages show it (origin + api)
};
// InvalidArgument for what is not http(s)://host[:port][/path] (credentials, query or fragment
// in the URL are refused: the key goes in $SIGMAOPS_API_KEY or the keyring).
Expected<Endpoint> parse_endpoint(const std::string& url);

struct Reply {
    int status = 0;
    std::string content_type;
    std::string retry_after;       // the Retry-After header, as sent
    std::string body;              // the whole body unless a chunk callback took it
};

struct HttpOptions {
    double connect_timeout_s = 10;
    double read_timeout_s = 300;
    int max_rate_retries = 3;
    double max_retry_wait_s = 30;  // a longer Retry-After is cut to this
};

// Called with each piece of a 2xx body as it arrives; false stops the exchange (Cancelled).
using ChunkCallback = std::function<bool(std::string_view chunk)>;

class Http {
public:
    Http(Endpoint endpoint, std::string api_key, HttpOptions options);
    ~Http();
    Http(const Http&) = delete;
    Http& operator=(const Http&) = delete;

    // GET/POST `path` (absolute, e.g. endpoint().api + "/models"). A 2xx text/event-stream
    // reply's body goes to `on_chunk` when given; any other body is in Reply::body. 429 and 503 are waited out (Retry-After, else 1, 2, 4 s; at most
    // max_rate_retries times). Errors: Network (no connection, timeouts, TLS, a broken
    // connection), Cancelled (cancel() or on_chunk), and for HTTP statuses http_error().
    Expected<Reply> request(const std::string& method, const std::string& path, const std::string& json_body,
                            const ChunkCallback& on_chunk = {});
    // The Error for a non-2xx reply: Auth for 401/403, NotFound for 404, Generic otherwise;
    // the message names the URL, the status and the server's own error message.
    Error http_error(const std::string& path, const Reply& reply) const;

    // From any thread: the exchange in progress (or its retry wait) ends now with Cancelled.
    void cancel();
    // Before a new call: forget an earlier cancel().
    void arm();
    bool cancelled() const { return m_cancel.load(); }
    const Endpoint& endpoint() const { return m_endpoint; }

private:
    Expected<Reply> once(const std::string& method, const std::string& path, const std::string& body,
                         const ChunkCallback& on_chunk);
    std::string connect_failure() const;

    Endpoint m_endpoint;
    std::string m_key;
    HttpOptions m_options;
    std::atomic<bool> m_cancel{false};
    mutable std::mutex m_mutex;    // guards m_client and the wait below
    std::condition_variable m_wake;
    httplib::Client* m_client = nullptr;   // the exchange in progress, for cancel()
};

// The server's own words in an error body: {"error":{"message":..}}, {"error":".."},
// {"message":..}, {"detail":..}; else the body's first 200 bytes, control bytes removed.
std::string error_message_of(std::string_view body);
// Seconds to wait for a Retry-After value (delta-seconds or an HTTP date); -1 when unreadable.
double retry_after_seconds(const std::string& value);

} // namespace sigmaops::llm::remote
