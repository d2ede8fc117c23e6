// batch_backend.h - what a BatchSession (sigma/batch.h) computes through: n_seq sequences, each
// with its own KV cache, prefilled one at a time and stepped together. The CPU one runs the
// reference forward pass (forward.h) per sequence; the CUDA one wraps cuda::BatchForward.
// Arguments are checked by the BatchSession before they get here (the CUDA batch checks again).
// Errors: throws sigma::Exception.
#pragma once

#include "model.h"

#include <sigma/batch.h>

#include <memory>

namespace sigma {

#ifdef SIGMA_HAVE_CUDA
namespace cuda { class DeviceModel; }
#endif

class BatchBackend {
public:
    virtual ~BatchBackend() = default;
    // Tokens per prefill() call the caller should split a prompt into.
    virtual int prefill_chunk() const = 0;
    // Sequence seq: n tokens at positions [pos0, pos0 + n) as a prompt (Pass::Prompt, full
    // attention); the last position's logits (V) to host `logits`.
    virtual void prefill(int seq, const TokenId* tokens, int n, int pos0, float* logits) = 0;
    // One decode step of every sequence (Pass::Decode: the batch's selective V): tokens[b] at
    // pos[b]; next[b] = the argmax of its logits; logits (n_seq, V) to
    // the host when non-null.
    virtual void step(const TokenId* tokens, const int* pos, TokenId* next, float* logits) = 0;
};

std::unique_ptr<BatchBackend> new_cpu_batch(const Hparams& hp, const Weights& w, int n_threads, int n_seq, int n_ctx,
                                            int selective_v);
#ifdef SIGMA_HAVE_CUDA
std::unique_ptr<BatchBackend> new_cuda_batch(std::shared_ptr<const cuda::DeviceModel> m, int n_seq, int n_ctx,
                                             int selective_v);
#endif

// The public face over a backend; `owner` keeps the model (weights, hparams) alive.
std::unique_ptr<BatchSession> new_batch_session(std::shared_ptr<const void> owner, const Hparams& hp,
                                                std::unique_ptr<BatchBackend> backend, int n_seq, int n_ctx);

} // namespace sigma
