// Sessions and sampling on a real tiny model with a SentencePiece tokenizer: seeds reproduce,
// greedy is deterministic, stop strings, cancellation, streaming UTF-8, context overflow.
#include <catch2/catch.hpp>

#include "engine_test_util.h"
#include "tokenizer/tokenizer.h"

#include <sigma/engine.h>

#include <atomic>

using namespace sigma;

static std::shared_ptr<Model> tiny() {
    static std::shared_ptr<Model> m = [] {
        auto r = Model::load(testing::tiny_chat_model());
        REQUIRE(r);
        return *r;
    }();
    return m;
}

static std::unique_ptr<Session> session(SessionOptions so = {}) {
    auto s = tiny()->new_session(so);
    REQUIRE(s);
    return std::move(*s);
}

TEST_CASE("model info describes the DiffQKV shapes", "[engine][info]") {
    const ModelInfo& i = tiny()->info();
    CHECK(i.architecture == "sigma");
    CHECK(i.n_q == 8);
    CHECK(i.n_k == 2);
    CHECK(i.n_v == 4);
    CHECK(i.d_aug == 96);
    CHECK(i.has_tokenizer);
    CHECK(i.tokenizer_model == "llama");
    CHECK(i.chat_format == "sigma");
    // K cache 2x16 + V cache 4x16 floats per layer, 2 layers.
    CHECK(i.kv_bytes_per_token == 2 * (2 * 16 + 4 * 16) * 4);
}

TEST_CASE("the same seed gives the same text and greedy is deterministic", "[engine][sampling]") {
    SamplingParams p;
    p.seed = 1234;
    p.max_tokens = 24;
    p.temperature = 1.0f;
    auto a = session()->generate("restart the web server", p);
    auto b = session()->generate("restart the web server", p);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->tokens == b->tokens);
    p.seed = 99;
    auto c = session()->generate("restart the web server", p);
    REQUIRE(c);
    CHECK(c->tokens != a->tokens);

    SamplingParams g;
    g.temperature = 0;
    g.max_tokens = 16;
    auto g1 = session()->generate("list open ports", g);
    SamplingParams k1 = g;
    k1.temperature = 0.8f;
    k1.top_k = 1;   // top-k 1 is greedy whatever the temperature
    k1.seed = 5;
    auto g2 = session()->generate("list open ports", k1);
    REQUIRE(g1);
    REQUIRE(g2);
    CHECK(g1->tokens == g2->tokens);
}

TEST_CASE("streamed pieces are whole UTF-8 characters and add up to the text", "[engine][stream]") {
    SamplingParams p;
    p.seed = 7;
    p.max_tokens = 64;
    p.temperature = 1.5f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0;
    std::string streamed;
    int n_pieces = 0;
    auto r = session()->generate("Prüfe die Größe von /var/log — 日本語 🙂", p, [&](std::string_view piece) {
        CHECK(is_valid_utf8(piece));
        streamed += piece;
        ++n_pieces;
        return true;
    });
    REQUIRE(r);
    CHECK(n_pieces > 0);
    CHECK(streamed == r->text);
    CHECK(is_valid_utf8(r->text));
}

TEST_CASE("stop strings end the generation and are not emitted", "[engine][stop]") {
    SamplingParams p;
    p.temperature = 0;
    p.max_tokens = 40;
    auto full = session()->generate("how do I check disk usage", p);
    REQUIRE(full);
    REQUIRE(full->text.size() >= 6);
    // Stop at a substring the greedy run is known to produce.
    const std::string stop = full->text.substr(full->text.size() / 2, 3);
    p.stop = {stop};
    auto cut = session()->generate("how do I check disk usage", p);
    REQUIRE(cut);
    CHECK(cut->stop == StopReason::StopString);
    CHECK(cut->text == full->text.substr(0, full->text.find(stop)));
}

TEST_CASE("a callback returning false and the cancel flag both stop generation", "[engine][cancel]") {
    SamplingParams p;
    p.temperature = 0;
    p.max_tokens = 100;
    p.min_p = 0;
    int calls = 0;
    auto r = session()->generate("hello", p, [&](std::string_view) { return ++calls < 3; });
    REQUIRE(r);
    CHECK(r->stop == StopReason::CallbackStopped);
    CHECK(calls == 3);

    std::atomic<bool> cancel{false};
    int seen = 0;
    auto r2 = session()->generate("hello", p, [&](std::string_view) {
        if (++seen == 2) cancel = true;
        return true;
    }, &cancel);
    REQUIRE(r2);
    CHECK(r2->stop == StopReason::Cancelled);
    CHECK(r2->tokens.size() < 100);
}

TEST_CASE("the KV cache is reused across turns", "[engine][prefix]") {
    auto s = session();
    SamplingParams p;
    p.temperature = 0;
    p.max_tokens = 8;
    auto first = s->generate("<|system|>\nbe brief<|end|>\n<|user|>\nshow uptime<|end|>\n<|assistant|>\n", p);
    REQUIRE(first);
    CHECK(first->timings.n_reused == 0);
    auto second = s->generate("<|system|>\nbe brief<|end|>\n<|user|>\nshow uptime<|end|>\n<|assistant|>\nok<|end|>\n<|user|>\nand load<|end|>\n<|assistant|>\n", p);
    REQUIRE(second);
    CHECK(second->timings.n_reused >= 10);
    CHECK(second->timings.n_prompt < 20);
}

TEST_CASE("context overflow: error policy refuses, sliding window continues", "[engine][overflow]") {
    SessionOptions small;
    small.n_ctx = 32;
    std::vector<TokenId> long_prompt(40, 100);
    SamplingParams p;
    p.temperature = 0;
    p.max_tokens = 4;
    auto err = session(small)->generate_tokens(long_prompt, p);
    REQUIRE_FALSE(err);
    CHECK(err.error().code == ErrorCode::ContextFull);
    CHECK_THAT(err.error().message, Catch::Contains("context"));

    // Generation that runs into the end of the context stops with ContextFull under the error policy...
    std::vector<TokenId> prompt(28, 100);
    p.max_tokens = 20;
    p.min_p = 0;
    auto stopped = session(small)->generate_tokens(prompt, p);
    REQUIRE(stopped);
    if (stopped->stop != StopReason::EndOfText) CHECK(stopped->stop == StopReason::ContextFull);

    // ...and keeps going with the sliding window.
    SessionOptions sliding = small;
    sliding.overflow = OverflowPolicy::SlidingWindow;
    sliding.n_keep = 4;
    auto s = session(sliding);
    auto slid = s->generate_tokens(long_prompt, p);
    REQUIRE(slid);
    CHECK(s->n_past() <= 32);
}

TEST_CASE("bad parameters are refused with clear errors", "[engine][errors]") {
    SessionOptions bad;
    bad.n_ctx = -1;
    auto s = tiny()->new_session(bad);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == ErrorCode::InvalidArgument);
    auto empty = session()->generate_tokens({}, SamplingParams{});
    REQUIRE_FALSE(empty);
    CHECK_THAT(empty.error().message, Catch::Contains("empty prompt"));
    auto fmt = tiny()->format_chat({{"user", "hi"}}, true, "klingon");
    REQUIRE_FALSE(fmt);
    CHECK_THAT(fmt.error().message, Catch::Contains("unknown chat format"));
}
