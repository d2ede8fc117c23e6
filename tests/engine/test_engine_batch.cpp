// The public batched decode (sigma/batch.h) on the CPU against single-sequence decode: n
// sequences with prompts of different lengths, prefilled one by one and stepped together
// greedily, must produce the tokens a Session generates greedily for each prompt alone (the same
// forward pass, so the same tokens), and every step's logits must match the Session's logits of
// the same positions. Covered: Sigma (DiffQKV, augmented Q, Q8_0), llama and qwen2 fixtures,
// selective V, a sequence prefilled further between steps, and bad arguments, which must leave
// the caches intact.
#include <catch2/catch.hpp>

#include "engine_test_util.h"

#include <sigma/batch.h>
#include <sigma/engine.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace sigma;

namespace {

std::shared_ptr<Model> load(const std::string& path) {
    auto m = Model::load(path);
    REQUIRE(m);
    return *m;
}

std::string fixture(const std::string& name) { return std::string(SIGMAOPS_FIXTURES) + "/models/" + name; }

std::vector<TokenId> some_tokens(int n, int vocab, int salt) {
    std::vector<TokenId> t;
    for (int i = 0; i < n; ++i) t.push_back(TokenId((i * 37 + 11 + salt * 101 + (i * i) % 13) % vocab));
    return t;
}

double max_abs_diff(const float* a, const float* b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; ++i) {
        const double d = std::fabs(double(a[i]) - double(b[i]));
        if (!(d <= m)) m = d;   // NaN propagates as a failure
    }
    return m;
}

SamplingParams greedy(int max_tokens) {
    SamplingParams p;
    p.temperature = 0;
    p.repeat_penalty = 1.0f;
    p.max_tokens = max_tokens;
    return p;
}

// Prefills n_seq prompts, takes `steps` greedy steps, and compares each sequence with a Session:
// the tokens exactly, the logits within `tol` (a one-row step and the Session's many-row pass
// differ only in summation order, and for Q8_0 in how the activations are quantized per pass).
void check_against_sessions(Model& model, int n_seq, int selective_v, int steps, double tol = 1e-4) {
    SessionOptions so;
    so.n_ctx = 96;
    so.selective_v = selective_v;
    auto batch = model.new_batch(n_seq, so);
    REQUIRE(batch);
    BatchSession& bs = **batch;
    REQUIRE(bs.n_seq() == n_seq);
    REQUIRE(bs.n_ctx() == 96);
    const int V = bs.n_vocab();
    REQUIRE(V == int(model.info().n_vocab));

    std::vector<std::vector<TokenId>> seqs;   // prompt + generated, per sequence
    std::vector<size_t> n_prompt;
    std::vector<TokenId> tok(static_cast<size_t>(n_seq)), next(tok.size());
    std::vector<int> pos(tok.size());
    std::vector<std::vector<float>> step_logits(tok.size());   // (steps, V) per sequence
    for (int b = 0; b < n_seq; ++b) {
        seqs.push_back(some_tokens(2 + 9 * b, V, b));
        n_prompt.push_back(seqs.back().size());
        auto first = bs.prefill(b, seqs.back());
        REQUIRE(first);
        tok[size_t(b)] = *first;
        pos[size_t(b)] = int(seqs.back().size());
    }
    std::vector<float> all(static_cast<size_t>(n_seq) * size_t(V));
    for (int s = 0; s < steps; ++s) {
        REQUIRE(bs.step(tok, pos, next, all));
        for (int b = 0; b < n_seq; ++b) {
            seqs[size_t(b)].push_back(tok[size_t(b)]);
            step_logits[size_t(b)].insert(step_logits[size_t(b)].end(), all.begin() + ptrdiff_t(b) * V,
                                          all.begin() + ptrdiff_t(b + 1) * V);
            ++pos[size_t(b)];
        }
        tok = next;
    }
    for (int b = 0; b < n_seq; ++b) {
        INFO("sequence " << b << " selective_v " << selective_v);
        const std::vector<TokenId>& seq = seqs[size_t(b)];
        const std::vector<TokenId> prompt(seq.begin(), seq.begin() + ptrdiff_t(n_prompt[size_t(b)]));
        std::vector<TokenId> generated(seq.begin() + ptrdiff_t(n_prompt[size_t(b)]), seq.end());
        generated.push_back(tok[size_t(b)]);
        // The Session's greedy tokens (it stops early at an end-of-generation token).
        auto session = model.new_session(so);
        REQUIRE(session);
        auto ref = (*session)->generate_tokens(prompt, greedy(steps + 1));
        REQUIRE(ref);
        REQUIRE(ref->tokens.size() <= generated.size());
        CHECK(std::equal(ref->tokens.begin(), ref->tokens.end(), generated.begin()));
        if (selective_v > 0) continue;   // logits() applies selective V to the prompt too
        // Every step's logits against the Session's logits of the same positions.
        auto lref = (*session)->logits(seq);
        REQUIRE(lref);
        const size_t first = n_prompt[size_t(b)];
        double err = 0;
        for (int s = 0; s < steps; ++s)
            err = std::max(err, max_abs_diff(&step_logits[size_t(b)][size_t(s) * size_t(V)],
                                             &(*lref)[(first + size_t(s)) * size_t(V)], size_t(V)));
        CHECK(err <= tol);
    }
}

} // namespace

TEST_CASE("CPU batched decode equals each sequence decoded alone", "[engine][batch]") {
    for (const char* name : {"sigma_augq_f32.gguf", "sigma_gqa_f32.gguf", "sigma_augq_q8_0.gguf", "llama_f32.gguf", "qwen2_f32.gguf"}) {
        INFO(name);
        auto model = load(fixture(name));
        check_against_sessions(*model, 3, 0, 6, std::string(name).find("q8_0") != std::string::npos ? 1e-3 : 1e-4);
    }
}

TEST_CASE("CPU batched decode with selective V equals a selective-V session", "[engine][batch][selective-v]") {
    auto model = load(testing::tiny_chat_model());
    check_against_sessions(*model, 4, 3, 8);
    check_against_sessions(*model, 1, 1, 4);
}

TEST_CASE("a sequence prefilled further between steps continues as if it had been decoded", "[engine][batch]") {
    auto model = load(fixture("sigma_augq_f32.gguf"));
    SessionOptions so;
    so.n_ctx = 64;
    auto batch = model->new_batch(2, so);
    REQUIRE(batch);
    BatchSession& bs = **batch;
    const int V = bs.n_vocab();
    const std::vector<TokenId> p0 = some_tokens(5, V, 1), p1 = some_tokens(3, V, 2), more = some_tokens(4, V, 3);
    REQUIRE(bs.prefill(0, p0));
    REQUIRE(bs.prefill(1, p1));
    // Sequence 1 takes four more prompt tokens at positions 3..6; then both step.
    std::vector<float> last(static_cast<size_t>(V));
    auto t1 = bs.prefill(1, more, 3, last);
    REQUIRE(t1);
    CHECK(*t1 == TokenId(std::max_element(last.begin(), last.end()) - last.begin()));
    std::vector<TokenId> tok = {7, *t1}, next(2);
    std::vector<int> pos = {5, 7};
    std::vector<float> all(static_cast<size_t>(2 * V));
    REQUIRE(bs.step(tok, pos, next, all));
    std::vector<TokenId> seq1 = p1;
    seq1.insert(seq1.end(), more.begin(), more.end());
    seq1.push_back(*t1);
    auto session = model->new_session(so);
    REQUIRE(session);
    auto ref = (*session)->logits(seq1);
    REQUIRE(ref);
    CHECK(max_abs_diff(&all[size_t(V)], &(*ref)[(seq1.size() - 1) * size_t(V)], size_t(V)) <= 1e-4);
}

TEST_CASE("batched decode rejects bad arguments and keeps its caches", "[engine][batch][errors]") {
    auto model = load(fixture("sigma_gqa_f32.gguf"));
    SessionOptions so;
    so.n_ctx = 32;
    CHECK(model->new_batch(0, so).error().code == ErrorCode::InvalidArgument);
    CHECK(model->new_batch(BatchSession::kMaxSeqs + 1, so).error().code == ErrorCode::InvalidArgument);
    SessionOptions neg = so;
    neg.selective_v = -1;
    CHECK(model->new_batch(2, neg).error().code == ErrorCode::InvalidArgument);

    auto batch = model->new_batch(2, so);
    REQUIRE(batch);
    BatchSession& bs = **batch;
    const int V = bs.n_vocab();
    const std::vector<TokenId> prompt = some_tokens(6, V, 4);
    std::vector<float> small(3);
    CHECK(bs.prefill(2, prompt).error().code == ErrorCode::InvalidArgument);
    CHECK(bs.prefill(-1, prompt).error().code == ErrorCode::InvalidArgument);
    CHECK(bs.prefill(0, std::vector<TokenId>{}).error().code == ErrorCode::InvalidArgument);
    CHECK(bs.prefill(0, std::vector<TokenId>{1, TokenId(V)}).error().code == ErrorCode::InvalidArgument);
    CHECK(bs.prefill(0, prompt, -1).error().code == ErrorCode::InvalidArgument);
    CHECK(bs.prefill(0, prompt, 30).error().code == ErrorCode::ContextFull);
    CHECK(bs.prefill(0, prompt, 0, small).error().code == ErrorCode::InvalidArgument);
    for (int b = 0; b < 2; ++b) REQUIRE(bs.prefill(b, prompt));

    std::vector<TokenId> good = {5, 6}, next(2), short_next(1);
    std::vector<int> at = {6, 6};
    auto code = [](const Expected<void>& r) { return r ? ErrorCode::Generic : r.error().code; };
    CHECK(code(bs.step(good, std::vector<int>{6, 32}, next)) == ErrorCode::ContextFull);
    CHECK(code(bs.step(good, std::vector<int>{-1, 6}, next)) == ErrorCode::ContextFull);
    CHECK(code(bs.step(std::vector<TokenId>{5, TokenId(V)}, at, next)) == ErrorCode::InvalidArgument);
    CHECK(code(bs.step(std::vector<TokenId>{-1, 6}, at, next)) == ErrorCode::InvalidArgument);
    CHECK(code(bs.step(good, at, short_next)) == ErrorCode::InvalidArgument);
    CHECK(code(bs.step(good, at, next, small)) == ErrorCode::InvalidArgument);

    // Nothing above reached the caches: the next good step matches a session's logits.
    std::vector<float> all(static_cast<size_t>(2 * V));
    REQUIRE(bs.step(good, at, next, all));
    std::vector<TokenId> seq = prompt;
    seq.push_back(6);
    auto session = model->new_session(so);
    REQUIRE(session);
    auto ref = (*session)->logits(seq);
    REQUIRE(ref);
    CHECK(max_abs_diff(&all[size_t(V)], &(*ref)[(seq.size() - 1) * size_t(V)], size_t(V)) <= 1e-4);
}
