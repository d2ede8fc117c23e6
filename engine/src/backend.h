// backend.h - what a Session asks of a compute backend: evaluate tokens against the backend's
// own KV cache and hand back logits. The CPU backend wraps CpuForward (forward.h, the readable
// reference); the CUDA backend lives in cuda/ (cuda/cuda_backend.h). Both implement the same
// named operations (cpu/ops.h, kernels/kernels.h) and are tested against each other.
#pragma once

#include "model.h"

#include <sigma/engine.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace sigma {

// A draw the backend makes where the logits live (ForwardBackend::forward_sample).
struct SampleRequest {
    const SamplingParams* params = nullptr;  // temperature, top_k, top_p, min_p, repeat_penalty
    uint64_t seed = 0;                       // the Sampler's seed
    uint64_t draw = 0;                       // index of this draw in the generation
    std::vector<TokenId> penalty_ids;        // distinct ids of the last repeat_last_n context tokens
};

class ForwardBackend {
public:
    virtual ~ForwardBackend() = default;
    // Evaluates `n` tokens at positions [pos0, pos0 + n) against the cache (which must hold
    // positions [0, pos0)), storing their K/V. Writes host logits (n, V) when all_logits, else
    // the last position's (V). selective_v > 0: each query head sums only its top-k V rows.
    virtual void forward(const TokenId* tokens, int n, int pos0, float* logits, bool all_logits, int selective_v) = 0;
    // Evaluates one token at `pos` like forward() and returns the argmax of its logits (greedy
    // sampling) where the logits live, without copying them; nullopt when the backend offers
    // nothing faster than forward() + a host-side argmax (the CPU).
    virtual std::optional<TokenId> forward_argmax(TokenId /*token*/, int /*pos*/, int /*selective_v*/) {
        return std::nullopt;
    }
    // Evaluates one token at `pos` like forward() and samples the next one where the logits live
    // (SamplingParams semantics as sampling.h; the draw is a function of seed and draw index, not
    // the same numbers as the CPU Sampler's). nullopt: the backend has no device sampler.
    virtual std::optional<TokenId> forward_sample(TokenId /*token*/, int /*pos*/, int /*selective_v*/,
                                                  const SampleRequest& /*req*/) {
        return std::nullopt;
    }
    // Samples from the logits of the last position the previous forward() evaluated, where they
    // live; nullopt if the backend has no device sampler or no such logits.
    virtual std::optional<TokenId> sample_last(const SampleRequest& /*req*/) { return std::nullopt; }
    // Tokens per forward() call the caller should batch a prompt into.
    virtual int prefill_chunk() const { return 128; }
};

} // namespace sigma
