// The model seam (agents/llm): the local engine behind llm.h on a real tiny model file - loading
// with and without a GPU, what a card says, completions with token accounting, cancellation from
// another thread, a constraint the local engine cannot apply, and bad files.
#include <catch2/catch.hpp>

#include "engine_test_util.h"

#include <llm/llm.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace sigmaops;

namespace {

std::shared_ptr<llm::Model> tiny(llm::Device device = llm::Device::Cpu, std::string* note = nullptr) {
    llm::LoadOptions o;
    o.device = device;
    auto m = llm::load_local(sigma::testing::tiny_chat_model(), o);
    REQUIRE(m);
    if (note) *note = m->fallback_note;
    return m->model;
}

} // namespace

TEST_CASE("llm: a local model's card says what it is and where it runs", "[llm]") {
    auto m = tiny();
    const llm::ModelCard& c = m->card();
    CHECK(c.architecture == "sigma");
    CHECK(c.backend == "cpu");
    CHECK(c.has_tokenizer);
    CHECK(c.n_vocab > 0);
    CHECK(c.n_params > 0);
    CHECK(c.weight_bytes > 0);
    CHECK(c.load_ms >= 0);
    CHECK(c.display_name() == (c.name.empty() ? c.path : c.name));
    bool has_heads = false;
    for (const auto& [k, v] : c.details) has_heads |= k == "heads q/k/v" && !v.empty();
    CHECK(has_heads);
}

TEST_CASE("llm: Device::Auto loads once, on the GPU when it can, else the CPU with the reason", "[llm]") {
    std::string note;
    auto m = tiny(llm::Device::Auto, &note);
    const llm::EngineInfo e = llm::engine_info();
    INFO("backend " << m->card().backend << ", note: " << note);
    if (!e.cuda_built) {
        CHECK(m->card().backend == "cpu");
        CHECK(note.empty());   // nothing was tried, so nothing to explain
    } else if (m->card().backend == "cpu") {
        CHECK_FALSE(note.empty());   // a CUDA build on a machine without a usable GPU says why
        CHECK_THAT(note, Catch::StartsWith("running on the CPU: "));
    } else {
        CHECK(m->card().backend == "cuda");
        CHECK(note.empty());
    }
    // Device::Cuda never falls back.
    llm::LoadOptions cuda;
    cuda.device = llm::Device::Cuda;
    auto strict = llm::load_local(sigma::testing::tiny_chat_model(), cuda);
    if (m->card().backend == "cpu") {
        REQUIRE_FALSE(strict);
        CHECK(strict.error().code == ErrorCode::Unsupported);
    }
}

TEST_CASE("llm: a broken or missing file fails on every device, without a fallback", "[llm]") {
    namespace fs = std::filesystem;
    const fs::path bad = fs::temp_directory_path() / ("sigmaops-llm-bad-" + std::to_string(::getpid()) + ".gguf");
    std::ofstream(bad) << "not a gguf file";
    for (llm::Device d : {llm::Device::Cpu, llm::Device::Auto}) {
        llm::LoadOptions o;
        o.device = d;
        auto m = llm::load_local(bad.string(), o);
        REQUIRE_FALSE(m);
        CHECK(m.error().code == ErrorCode::BadFile);
        CHECK_THAT(m.error().message, Catch::Contains(bad.string()));
        auto missing = llm::load_local((bad.string() + ".nope"), o);
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code == ErrorCode::NotFound);
    }
    fs::remove(bad);
}

TEST_CASE("llm: chat and complete stream text and account for tokens", "[llm]") {
    auto m = tiny();
    auto ctx = m->new_context({});
    REQUIRE(ctx);
    llm::Sampling s;
    s.temperature = 0;
    s.max_tokens = 8;
    std::string streamed;
    auto r = (*ctx)->chat({{"system", "be brief"}, {"user", "disk full?"}}, s, [&](std::string_view p) {
        streamed += p;
        return true;
    });
    REQUIRE(r);
    CHECK(streamed == r->text);
    CHECK(r->usage.n_prompt > 0);
    CHECK(r->usage.n_generated == int(r->tokens.size()));
    CHECK(r->usage.n_generated <= 8);
    // The same chat again reuses the cached prompt.
    auto again = (*ctx)->chat({{"system", "be brief"}, {"user", "disk full?"}}, s);
    REQUIRE(again);
    CHECK(again->usage.n_reused > 0);
    CHECK(again->text == r->text);   // greedy: the same answer
    // Raw tokens and logits.
    auto toks = m->tokenize("df -h", true, false);
    REQUIRE(toks);
    auto logits = (*ctx)->logits(*toks);
    REQUIRE(logits);
    CHECK(logits->size() == toks->size() * m->card().n_vocab);
    auto bos = m->bos();
    REQUIRE(bos);
    CHECK((*toks)[0] == *bos);
}

TEST_CASE("llm: cancel() from another thread stops a completion with the text so far", "[llm]") {
    auto m = tiny();
    auto ctx = m->new_context({});
    REQUIRE(ctx);
    llm::Sampling s;
    s.temperature = 0;
    s.repeat_penalty = 1;
    s.max_tokens = 200;
    std::atomic<int> pieces{0};
    auto r = (*ctx)->complete("tell me about systemd units", s, [&](std::string_view) {
        if (++pieces == 3) {
            std::thread([&] { (*ctx)->cancel(); }).join();
        }
        return true;
    });
    REQUIRE(r);
    if (r->stop != llm::StopReason::EndOfText) {
        CHECK(r->stop == llm::StopReason::Cancelled);
        CHECK(r->usage.n_generated < 200);
    }
    // A cancel() before a call is forgotten when the next call starts.
    (*ctx)->cancel();
    s.max_tokens = 4;
    auto next = (*ctx)->complete("ls", s);
    REQUIRE(next);
    CHECK(next->stop != llm::StopReason::Cancelled);
}

TEST_CASE("llm: a constraint the local engine cannot apply is refused, not ignored", "[llm]") {
    auto m = tiny();
    auto ctx = m->new_context({});
    REQUIRE(ctx);
    llm::Constraint json;
    json.kind = llm::Constraint::Kind::JsonSchema;
    json.text = R"({"$ref":"#/definitions/answer"})";   // a schema feature the grammar conversion lacks
    auto r = (*ctx)->complete("x", llm::Sampling{}, {}, json);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::Unsupported);
}

TEST_CASE("llm: every stop reason has a name", "[llm]") {
    using R = llm::StopReason;
    for (R r : {R::MaxTokens, R::EndOfText, R::StopString, R::Cancelled, R::CallbackStopped, R::ContextFull})
        CHECK(std::string(llm::stop_reason_text(r)) != "?");
    CHECK(std::string(llm::stop_reason_text(R::ContextFull)) == "context full");
}
