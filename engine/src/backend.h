// backend.h - what a Session asks of a compute backend: evaluate tokens against the backend's
// own KV cache and hand back logits. The CPU backend wraps CpuForward (forward.h, the readable
// reference); the CUDA backend lives in cuda/ (cuda/cuda_backend.h). Both implement the same
// named operations (cpu/ops.h, kernels/kernels.h) and are tested against each other.
#pragma once

#include "model.h"

#include <sigma/engine.h>

#include <optional>

namespace sigma {

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
};

} // namespace sigma
