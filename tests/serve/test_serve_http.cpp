// test_serve_http.cpp - `sigmaops serve` against the OpenAI API reference, with curl: the real
// server (serve::Server, the shipped sigma-ops-nano model on the CPU) on a free loopback port.
// Non-streaming and streaming chat and text completions, usage, stop strings (also split across
// tokens), max_tokens, seed, the error objects (400/401/404/413/429/503), a disconnect that
// cancels, the graceful stop; greedy replies under 4 concurrent clients equal the reply alone,
// with the FIFO scheduler and with continuous batching (BatchSession on the CPU).
#include "serve_test_util.h"

#include "serve_internal.h"

#include <atomic>
#include <fstream>
#include <thread>

using namespace serve_test;
using sigmaops::serve::StopFilter;

TEST_CASE("serve stop filter: a stop string is never emitted, however the pieces cut it", "[serve]") {
    StopFilter f({"<end>", "XY"});
    std::string out;
    for (const char* piece : {"Hello <", "e", "nd", "> more"}) out += f.push(piece);
    CHECK(out == "Hello ");
    CHECK(f.matched());
    CHECK(f.push("later").empty());
    // A held-back tail that turns out not to be a stop comes out later, unchanged.
    StopFilter g({"XYZ"});
    std::string o2;
    o2 += g.push("abc X");
    CHECK(o2 == "abc ");
    o2 += g.push("Y");
    CHECK(o2 == "abc ");
    o2 += g.push("q");
    CHECK(o2 == "abc XYq");
    o2 += g.push("XY");
    o2 += g.flush();
    CHECK(o2 == "abc XYqXY");
    CHECK_FALSE(g.matched());
}

TEST_CASE("serve conformance with curl: models, chat, completions, stream, usage, stop, max_tokens, seed", "[serve]") {
    SERVE_REQUIRE_CURL();
    auto srv = start(options());
    const std::string url = base(*srv);

    Reply models = curl(url + "/v1/models");
    REQUIRE(models.status == 200);
    CHECK(models.j["object"] == "list");
    REQUIRE(models.j["data"].size() == 1);
    CHECK(models.j["data"][0]["id"] == "nano");
    CHECK(models.j["data"][0]["object"] == "model");

    // Non-streaming chat.
    Reply whole = curl(url + "/v1/chat/completions", chat_body("How do I list open ports?", 24).dump());
    REQUIRE(whole.status == 200);
    INFO(whole.body);
    CHECK(whole.j["object"] == "chat.completion");
    CHECK(whole.j["model"] == "nano");
    CHECK(whole.j["id"].get<std::string>().rfind("chatcmpl-", 0) == 0);
    const json& choice = whole.j["choices"][0];
    CHECK(choice["index"] == 0);
    CHECK(choice["message"]["role"] == "assistant");
    const std::string text = choice["message"]["content"];
    CHECK_FALSE(text.empty());
    const std::string finish = choice["finish_reason"];
    CHECK((finish == "stop" || finish == "length"));
    const json& u = whole.j["usage"];
    CHECK(u["prompt_tokens"].get<int>() > 5);
    CHECK(u["completion_tokens"].get<int>() >= 1);
    CHECK(u["completion_tokens"].get<int>() <= 24);
    CHECK(u["total_tokens"].get<int>() == u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
    if (finish == "length") CHECK(u["completion_tokens"] == 24);

    // The same request streamed: the role, the same text in pieces, the finish, usage, [DONE].
    json sb = chat_body("How do I list open ports?", 24, true);
    sb["stream_options"] = {{"include_usage", true}};
    Reply streamed = curl(url + "/v1/chat/completions", sb.dump(), {"-N"});
    REQUIRE(streamed.status == 200);
    auto events = sse_events(streamed.body);
    REQUIRE(events.size() >= 4);
    CHECK(events.back() == "[DONE]");
    json first = json::parse(events[0]);
    CHECK(first["object"] == "chat.completion.chunk");
    CHECK(first["choices"][0]["delta"]["role"] == "assistant");
    CHECK(stream_text(events) == text);
    json last_choice = json::parse(events[events.size() - 3]);
    CHECK(last_choice["choices"][0]["finish_reason"] == finish);
    json usage_chunk = json::parse(events[events.size() - 2]);
    CHECK(usage_chunk["choices"].empty());
    CHECK(usage_chunk["usage"] == u);

    // Text completions, whole and streamed.
    json cb = {{"model", "nano"}, {"prompt", "The command to show disk usage is"}, {"max_tokens", 12}, {"temperature", 0}};
    Reply comp = curl(url + "/v1/completions", cb.dump());
    REQUIRE(comp.status == 200);
    CHECK(comp.j["object"] == "text_completion");
    const std::string ctext = comp.j["choices"][0]["text"];
    CHECK(comp.j["usage"]["completion_tokens"].get<int>() <= 12);
    cb["stream"] = true;
    Reply cstream = curl(url + "/v1/completions", cb.dump(), {"-N"});
    REQUIRE(cstream.status == 200);
    auto cevents = sse_events(cstream.body);
    CHECK(cevents.back() == "[DONE]");
    CHECK(stream_text(cevents) == ctext);

    // max_tokens: a short cap ends with "length" unless the model ended first.
    Reply capped = curl(url + "/v1/chat/completions", chat_body("Explain systemd in detail.", 3).dump());
    REQUIRE(capped.status == 200);
    CHECK(capped.j["usage"]["completion_tokens"].get<int>() <= 3);
    if (capped.j["choices"][0]["finish_reason"] == "length") CHECK(capped.j["usage"]["completion_tokens"] == 3);

    // stop: a piece of the greedy reply cuts it just before, in both modes; never emitted.
    REQUIRE(text.size() >= 8);
    const std::string stop = text.substr(text.size() / 2, 3);
    const std::string expect = text.substr(0, text.find(stop));
    for (bool stream : {false, true}) {
        json b = chat_body("How do I list open ports?", 24, stream);
        b["stop"] = json::array({stop, "@@never@@"});
        Reply r = curl(url + "/v1/chat/completions", b.dump(), {"-N"});
        REQUIRE(r.status == 200);
        INFO("stream " << stream << " stop '" << stop << "': " << r.body);
        if (stream) {
            auto ev = sse_events(r.body);
            CHECK(stream_text(ev) == expect);
            CHECK(json::parse(ev[ev.size() - 2])["choices"][0]["finish_reason"] == "stop");
        } else {
            CHECK(r.j["choices"][0]["message"]["content"] == expect);
            CHECK(r.j["choices"][0]["finish_reason"] == "stop");
        }
    }
    // A single stop string (not an array) works the same.
    json b1 = chat_body("How do I list open ports?", 24);
    b1["stop"] = stop;
    CHECK(curl(url + "/v1/chat/completions", b1.dump()).j["choices"][0]["message"]["content"] == expect);

    // seed: sampling at temperature 0.9 repeats itself with the same seed.
    json sampled = {{"model", "nano"},
                    {"messages", json::array({json{{"role", "user"}, {"content", "Name a Linux command."}}})},
                    {"max_tokens", 16},
                    {"temperature", 0.9},
                    {"seed", 1234}};
    Reply s1 = curl(url + "/v1/chat/completions", sampled.dump());
    Reply s2 = curl(url + "/v1/chat/completions", sampled.dump());
    REQUIRE(s1.status == 200);
    CHECK(s1.j["choices"][0]["message"]["content"] == s2.j["choices"][0]["message"]["content"]);
}

TEST_CASE("serve errors are OpenAI error objects: 400, 401, 404, 413", "[serve]") {
    SERVE_REQUIRE_CURL();
    auto o = options();
    o.api_key = "sk-test-serve-2b9c";
    o.max_body_bytes = 4096;
    auto srv = start(o);
    const std::string url = base(*srv) + "/v1/chat/completions";
    const std::vector<std::string> auth = {"-H", "Authorization: Bearer sk-test-serve-2b9c"};
    auto check_error = [](const Reply& r, int status, const std::string& code) {
        INFO(r.body);
        CHECK(r.status == status);
        REQUIRE(r.j.is_object());
        REQUIRE(r.j.contains("error"));
        const json& e = r.j["error"];
        CHECK(e["message"].is_string());
        CHECK_FALSE(e["message"].get<std::string>().empty());
        CHECK(e["type"].is_string());
        CHECK(e.contains("param"));
        CHECK(e["code"] == code);
    };
    const std::string good = chat_body("hi", 2).dump();
    check_error(curl(url, good), 401, "invalid_api_key");
    check_error(curl(url, good, {"-H", "Authorization: Bearer sk-wrong"}), 401, "invalid_api_key");
    check_error(curl(base(*srv) + "/v1/models", "", {"-H", "Authorization: Bearer sk-test-serve-2b9"}), 401, "invalid_api_key");
    CHECK(curl(url, good, auth).status == 200);
    check_error(curl(url, "{\"model\": \"nano\", \"messages\": [", auth), 400, "invalid_json");
    json unknown = chat_body("hi", 2);
    unknown["model"] = "gpt-9";
    Reply r404 = curl(url, unknown.dump(), auth);
    check_error(r404, 404, "model_not_found");
    CHECK(r404.j["error"]["param"] == "model");
    json n2 = chat_body("hi", 2);
    n2["n"] = 2;
    Reply rn = curl(url, n2.dump(), auth);
    check_error(rn, 400, "unsupported_value");
    CHECK(rn.j["error"]["param"] == "n");
    json badtemp = chat_body("hi", 2);
    badtemp["temperature"] = "hot";
    check_error(curl(url, badtemp.dump(), auth), 400, "invalid_value");
    std::string many;
    for (int i = 0; i < 700; ++i) many += "disk ";
    Reply too_long = curl(url, chat_body(many, 2).dump(), auth);   // over the 512-token context
    check_error(too_long, 400, "context_length_exceeded");
    json big = chat_body(std::string(8000, 'a'), 2);
    check_error(curl(url, big.dump(), auth), 413, "request_too_large");
    check_error(curl(base(*srv) + "/v1/nothing", "", auth), 404, "unknown_url");
}

TEST_CASE("serve limits: 429 when every slot and the queue are full, a disconnect cancels, 503 and a bounded end on stop", "[serve]") {
    SERVE_REQUIRE_CURL();
    auto o = options();
    o.parallel = 1;
    o.queue = 0;
    o.shutdown_grace_ms = 1500;
    o.n_ctx = 4096;
    auto srv = start(o);
    const std::string url = base(*srv) + "/v1/chat/completions";
    // A reply that runs for many seconds: 4000 tokens sampled at temperature 2 (seeded), where
    // the end-of-text token is as unlikely as any other.
    json lb = chat_body("Write a very long story about servers.", 4000, true);
    lb["temperature"] = 2;
    lb["seed"] = 7;
    const std::string long_stream = lb.dump();
    {
        Child busy({"curl", "-sS", "-N", "-H", "Content-Type: application/json", "--data-binary", long_stream, url});
        REQUIRE(busy.read_until("\"content\":\"", 30));    // generating
        Reply r = curl(url, chat_body("hi", 2).dump());
        INFO(r.body);
        CHECK(r.status == 429);
        CHECK(r.j["error"]["code"] == "queue_full");
        // The client goes away: its generation is cancelled, so the slot is free again soon
        // (4000 tokens would take far longer than this).
        busy.kill();
    }
    const auto t0 = std::chrono::steady_clock::now();
    int status = 0;
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)) {
        status = curl(url, chat_body("hi", 2).dump()).status;
        if (status == 200) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(status == 200);

    // Graceful stop: a running stream gets its end (an error event and [DONE]) within the
    // grace period plus a little.
    Child streaming({"curl", "-sS", "-N", "-H", "Content-Type: application/json", "--data-binary", long_stream, url});
    REQUIRE(streaming.read_until("\"content\":\"", 30));
    const auto t1 = std::chrono::steady_clock::now();
    std::thread stopper([&] { srv->stop(); });
    // While it stops, a new request gets 503 (the listener is open until the streams end).
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    Reply r503 = curl(url, chat_body("hi", 2).dump());
    stopper.join();
    const double stop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    INFO(r503.body);
    CHECK(r503.status == 503);
    CHECK(r503.j["error"]["code"] == "shutting_down");
    CHECK(stop_s < 5);
    streaming.finish(10);
    CHECK(streaming.out().find("data: [DONE]") != std::string::npos);
    CHECK(streaming.out().find("\"error\"") != std::string::npos);
}

namespace {

// The reply to `prompt` alone, then from 4 clients at once: every one must equal it.
void check_concurrent_equals_alone(const sigmaops::serve::Options& o) {
    auto srv = start(o);
    const std::string url = base(*srv) + "/v1/chat/completions";
    const std::string body = chat_body("What does the df command show?", 20).dump();
    Reply alone = curl(url, body);
    REQUIRE(alone.status == 200);
    const std::string expect = alone.j["choices"][0]["message"]["content"];
    json sbody = json::parse(body);
    sbody["stream"] = true;
    std::vector<std::string> got(4);
    std::vector<std::thread> clients;
    for (int i = 0; i < 4; ++i)
        clients.emplace_back([&, i] {
            // Two stream, two do not: both paths share the schedule.
            got[size_t(i)] = i % 2 ? stream_text(sse_events(curl(url, sbody.dump(), {"-N"}).body))
                                   : curl(url, body).j["choices"][0]["message"]["content"].get<std::string>();
        });
    for (auto& t : clients) t.join();
    for (int i = 0; i < 4; ++i) {
        INFO("client " << i);
        CHECK(got[size_t(i)] == expect);
    }
}

} // namespace

TEST_CASE("serve greedy equivalence: 4 concurrent clients get the reply of the prompt alone (fifo x2)", "[serve]") {
    SERVE_REQUIRE_CURL();
    auto o = options();
    o.parallel = 2;
    check_concurrent_equals_alone(o);
}

TEST_CASE("serve greedy equivalence: 4 concurrent clients get the reply of the prompt alone (continuous batching)", "[serve]") {
    SERVE_REQUIRE_CURL();
    auto o = options();
    o.scheduling = sigmaops::serve::Scheduling::Batch;
    o.parallel = 4;
    check_concurrent_equals_alone(o);
}

TEST_CASE("serve: the batch scheduler's greedy reply is the FIFO scheduler's (the engine's own decode)", "[serve]") {
    SERVE_REQUIRE_CURL();
    auto fifo = start(options());
    auto ob = options();
    ob.scheduling = sigmaops::serve::Scheduling::Batch;
    ob.parallel = 2;
    auto batch = start(ob);
    for (const char* prompt : {"How do I restart nginx?", "Show the last 50 lines of the syslog."}) {
        const std::string body = chat_body(prompt, 16).dump();
        Reply a = curl(base(*fifo) + "/v1/chat/completions", body), b = curl(base(*batch) + "/v1/chat/completions", body);
        REQUIRE(a.status == 200);
        REQUIRE(b.status == 200);
        CHECK(a.j["choices"][0]["message"]["content"] == b.j["choices"][0]["message"]["content"]);
        CHECK(a.j["usage"] == b.j["usage"]);
    }
}

TEST_CASE("serve constrained decoding (grammar, response_format json_schema) and llama.cpp's /tokenize, /apply-template, /props", "[serve]") {
    SERVE_REQUIRE_CURL();
    auto srv = start(options());
    const std::string url = base(*srv);
    json g = chat_body("Is the disk full?", 8);
    g["grammar"] = "root ::= \"yes\" | \"no\"";
    Reply rg = curl(url + "/v1/chat/completions", g.dump());
    REQUIRE(rg.status == 200);
    const std::string answer = rg.j["choices"][0]["message"]["content"];
    CHECK((answer == "yes" || answer == "no"));
    json s = chat_body("Report the disk state as JSON.", 40);
    s["response_format"] = {{"type", "json_schema"},
                            {"json_schema", {{"name", "state"}, {"schema", {{"type", "object"}, {"properties", {{"full", {{"type", "boolean"}}}}}}}}}};
    Reply rs = curl(url + "/v1/chat/completions", s.dump());
    REQUIRE(rs.status == 200);
    INFO(rs.body);
    if (rs.j["choices"][0]["finish_reason"] == "stop") {
        const json parsed = json::parse(rs.j["choices"][0]["message"]["content"].get<std::string>(), nullptr, false);
        REQUIRE_FALSE(parsed.is_discarded());
        CHECK(parsed["full"].is_boolean());
    }
    json bad = chat_body("x", 2);
    bad["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"schema", {{"$ref", "#/x"}}}}}};
    CHECK(curl(url + "/v1/chat/completions", bad.dump()).status == 400);

    Reply tok = curl(url + "/tokenize", json{{"content", "df -h /var"}}.dump());
    REQUIRE(tok.status == 200);
    CHECK(tok.j["tokens"].size() >= 2);
    Reply tok_bos = curl(url + "/tokenize", json{{"content", "df -h /var"}, {"add_special", true}}.dump());
    CHECK(tok_bos.j["tokens"].size() == tok.j["tokens"].size() + 1);
    Reply tpl = curl(url + "/apply-template", json{{"messages", json::array({json{{"role", "user"}, {"content", "df -h /var"}}})}}.dump());
    REQUIRE(tpl.status == 200);
    CHECK(tpl.j["prompt"].get<std::string>().find("df -h /var") != std::string::npos);
    CHECK(curl(url + "/apply-template", "{\"messages\": 3}").status == 400);
    Reply props = curl(url + "/props");
    CHECK(props.j["default_generation_settings"]["n_ctx"] == 512);
    CHECK(curl(url + "/v1/models").j["data"][0]["context_length"] == 512);
}

TEST_CASE("sigmaops serve (the binary): key from a file never shown, SIGTERM ends a stream and exits 0", "[serve][cli]") {
    SERVE_REQUIRE_CURL();
    const std::string bin = std::string(SIGMAOPS_BINARY_DIR) + "/app/sigmaops";
    if (::access(bin.c_str(), X_OK) != 0) {
        WARN("skipped: " << bin << " is not built");
        std::printf("skipped: %s is not built\n", bin.c_str());
        return;
    }
    const fs::path dir = fs::temp_directory_path() / ("sigmaops-serve-cli-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string key = "sk-file-key-9e1f77";
    {
        std::ofstream f(dir / "key");
        f << key << "\n";
    }
    fs::permissions(dir / "key", fs::perms::owner_read | fs::perms::owner_write);
    Child serve({bin, "serve", "-m", nano_model(), "--port", "0", "--json", "--device", "cpu", "--ctx", "4096",
                 "--api-key-file", (dir / "key").string(), "--shutdown-grace", "0.5", "--model-id", "nano"});
    REQUIRE(serve.read_until("}\n", 60));
    const json start = json::parse(serve.out().substr(serve.out().find('{'), serve.out().find("}\n") - serve.out().find('{') + 1));
    CHECK(start["auth"] == true);
    const std::string url = start["url"].get<std::string>() + "/chat/completions";
    const std::vector<std::string> auth = {"-H", "Authorization: Bearer " + key};
    CHECK(curl(url, chat_body("hi", 2).dump()).status == 401);
    CHECK(curl(url, chat_body("hi", 2).dump(), auth).status == 200);
    json lb = chat_body("Write a very long story about servers.", 3000, true);
    lb["temperature"] = 2;
    lb["seed"] = 3;
    Child stream({"curl", "-sS", "-N", "-H", "Authorization: Bearer " + key, "-H", "Content-Type: application/json",
                  "--data-binary", lb.dump(), url});
    REQUIRE(stream.read_until("\"content\":\"", 30));
    serve.kill_with(SIGTERM);
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = serve.finish(20);
    CHECK(rc == 0);
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 10);
    stream.finish(10);
    CHECK(stream.out().find("data: [DONE]") != std::string::npos);
    // The key is in no log line.
    CHECK(serve.out().find(key) == std::string::npos);
    CHECK(serve.out().find("SIGTERM received") != std::string::npos);
    fs::remove_all(dir);
}
