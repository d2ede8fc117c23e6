// cuda_backend.h - the engine's CUDA backend, as the rest of the engine sees it: plain C++, no
// CUDA types (engine.cpp includes it only when built with CUDA, SIGMA_HAVE_CUDA).
//
// DeviceModel: the weights uploaded once at Model::load and shared by every session (immutable).
//   F16/BF16 stay as they are; F32 tensors (and the types dequantized to F32 at load) become
//   F16, or BF16 for a tensor with a value beyond F16's range; Q8_0 is repacked for 16-byte
//   loads; norms and biases stay F32. See docs/architecture.md "CUDA backend" for the tolerance.
// A session's backend (new_cuda_forward): its own stream, cuBLAS handle, F16 K and V caches
//   (n_k*d_qk and n_v*d_v per token and layer), activations, and the decode step captured in
//   CUDA graphs.
// Errors: throws sigma::Exception naming the failing CUDA/cuBLAS call and its file:line, or
// ErrorCode::Unsupported for a shape the kernels do not handle.
#pragma once

#include "backend.h"
#include "model.h"

#include <cstdint>
#include <memory>
#include <string>

namespace sigma::cuda {

class DeviceModel;

// Uploads the weights to the current CUDA device. Throws Unsupported without a usable GPU.
std::shared_ptr<const DeviceModel> upload_model(const Hparams& hp, const Weights& w);
// "NVIDIA H100 80GB HBM3, 3.67 GB of weights (F16 x 182, Q8_0 x 0 ...)"
std::string describe(const DeviceModel& m);
// Checks the session options against what the kernels support (throws Unsupported).
void check_session(const DeviceModel& m, int n_ctx, int selective_v);
// A session's forward backend with an n_ctx-position KV cache; selective_v as SessionOptions
// (applied in decode steps and Pass::Decode passes, backend.h).
std::unique_ptr<ForwardBackend> new_cuda_forward(std::shared_ptr<const DeviceModel> m, int n_ctx, int selective_v);

// Several sequences decoded in lockstep (serving several conversations at once): one
// n_ctx-position KV cache per sequence; each is prefilled (and may be decoded) on its own through
// sequence(b), then step() advances all of them by one token in one CUDA graph: the matrix
// products as GEMMs with one row per sequence (cuBLAS for an F16/BF16 model, the tensor-core
// kernels.h small_gemm for a Q8_0 one; activations rounded to the weights' type as in prefill),
// the decode attention over the whole batch (each sequence at its own length). Not thread-safe:
// one caller at a time, like a ForwardBackend.
class BatchForward {
public:
    virtual ~BatchForward() = default;
    virtual int n_seq() const = 0;
    virtual int n_ctx() const = 0;
    // Sequence b as a single-sequence backend (prefill, decode, device sampling) over its cache.
    // Throws InvalidArgument for b outside 0..n_seq-1. Valid while this object lives.
    virtual ForwardBackend& sequence(int b) = 0;
    // One decode step of every sequence: tokens[b] at position pos[b] (sequence b's cache must
    // hold positions [0, pos[b])); next[b] = the argmax of its logits; when logits is non-null it
    // receives all of them, (n_seq, n_vocab) F32. Throws ContextFull for a position outside
    // [0, n_ctx) and InvalidArgument for a token outside the vocabulary, before any GPU work.
    // Selective V: the k given at construction.
    virtual void step(const TokenId* tokens, const int* pos, TokenId* next, float* logits) = 0;
};
// n_seq in 1..64; selective_v as SessionOptions (0 or the k every step uses).
std::unique_ptr<BatchForward> new_cuda_batch_forward(std::shared_ptr<const DeviceModel> m, int n_seq, int n_ctx, int selective_v);

} // namespace sigma::cuda
