// sampling.h - picks the next token from logits: greedy, temperature, top-k, top-p, min-p and a
// repetition penalty, with a seeded generator so a seed reproduces a generation exactly.
#pragma once

#include <sigma/engine.h>

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace sigma {

class Sampler {
public:
    explicit Sampler(const SamplingParams& params);
    // `logits` (n_vocab) is modified (penalties, temperature). `recent` are the last tokens of the
    // context (prompt + generated), a view into the caller's list; the repetition penalty applies
    // to the last repeat_last_n of them.
    TokenId sample(float* logits, int n_vocab, std::span<const TokenId> recent);
    uint64_t seed() const { return m_seed; }

private:
    SamplingParams m_p;
    uint64_t m_seed;
    std::mt19937_64 m_rng;
    std::vector<std::pair<float, TokenId>> m_cand;
};

} // namespace sigma
