// backend.h - what a Session asks of a compute backend: evaluate tokens against the backend's
// own KV cache and hand back logits. The CPU backend wraps CpuForward (forward.h, the readable
// reference); the CUDA backend lives in cuda/ (cuda/cuda_backend.h). Both implement the same
// named operations (cpu/ops.h, kernels/kernels.h) and are tested against each other.
#pragma once

#include "model.h"

#include <sigma/engine.h>

#include <cstdint>
#include <span>
#include <vector>

namespace sigma {

// What a forward() pass is for. Selective V (SessionOptions::selective_v, given to the backend
// when it is made) is a decode-time saving: it applies to decode steps and to positions scored as
// decode would score them (Session::logits, for perplexity), never to a prompt's prefill, which
// is compute-bound and attends fully.
enum class Pass {
    Prompt,   // prefill: full attention
    Decode,   // decode steps / decode-equivalent scoring: the session's selective V
};

// A draw the backend makes where the logits live (ForwardBackend::forward_sample, sample_last).
struct SampleRequest {
    const SamplingParams* params = nullptr;  // temperature, top_k, top_p, min_p, repeat_penalty
    uint64_t seed = 0;                       // the Sampler's seed
    uint64_t draw = 0;                       // index of this draw in the generation
    // The last repeat_last_n tokens of the context (a view into the caller's list, ids may
    // repeat); the repetition penalty applies to each distinct id once. Empty: no penalty.
    std::span<const TokenId> recent;
};

class ForwardBackend {
public:
    virtual ~ForwardBackend() = default;
    // Evaluates `n` tokens at positions [pos0, pos0 + n) against the cache (which must hold
    // positions [0, pos0)), storing their K/V. Writes host logits (n, V) when all_logits, else
    // the last position's (V). `pass` says whether selective V applies (see Pass).
    virtual void forward(const TokenId* tokens, int n, int pos0, float* logits, bool all_logits, Pass pass) = 0;
    // True when the backend takes the argmax and samples where the logits live
    // (forward_argmax, forward_sample, sample_last); a session asks once per generation.
    virtual bool samples_on_device() const { return false; }
    // Decodes one token at `pos` like forward(..., Pass::Decode) and returns the argmax of its
    // logits (greedy sampling) without copying them. Only where samples_on_device().
    virtual TokenId forward_argmax(TokenId /*token*/, int /*pos*/) { throw no_device_sampler(); }
    // Decodes one token at `pos` like forward(..., Pass::Decode) and samples the next one where
    // the logits live (SamplingParams semantics as sampling.h; the draw is a function of seed and
    // draw index, not the same numbers as the CPU Sampler's). Only where samples_on_device().
    virtual TokenId forward_sample(TokenId /*token*/, int /*pos*/, const SampleRequest& /*req*/) { throw no_device_sampler(); }
    // Samples from the logits of the last position the previous forward() evaluated, where they
    // live. Only where samples_on_device(); throws when no such logits are held.
    virtual TokenId sample_last(const SampleRequest& /*req*/) { throw no_device_sampler(); }
    // Tokens per forward() call the caller should batch a prompt into.
    virtual int prefill_chunk() const { return 128; }

private:
    static Exception no_device_sampler() {
        return Exception(ErrorCode::Unsupported, "this backend has no device sampler (samples_on_device() is false)");
    }
};

} // namespace sigma
