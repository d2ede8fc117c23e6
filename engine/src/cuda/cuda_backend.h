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
// A session's forward backend with an n_ctx-position KV cache; selective_v as SessionOptions.
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
    // Sequence b as a single-sequence backend (prefill, decode, device sampling) over its cache.
    // Throws InvalidArgument for b outside 0..n_seq-1. Valid while this object lives.
    virtual ForwardBackend& sequence(int b) = 0;
    // One decode step of every sequence: tokens[b] at position pos[b] (sequence b's cache must
    // hold positions [0, pos[b])); next[b] = the argmax of its logits; when logits is non-null it
    // receives all of them, (n_seq, n_vocab) F32. Throws ContextFull for a position outside
    // [0, n_ctx) and InvalidArgument for a token outside the vocabulary, before any GPU work.
    virtual void step(const TokenId* tokens, const int* pos, TokenId* next, float* logits, int selective_v) = 0;
};
// n_seq in 1..64; selective_v as SessionOptions (0 or the k every step uses).
std::unique_ptr<BatchForward> new_cuda_batch_forward(std::shared_ptr<const DeviceModel> m, int n_seq, int n_ctx, int selective_v);

// ---- for benchmarks (bench/bench_forward.cpp) ---------------------------------------------
// A model of shape `hp` with random weights made on the GPU (no file): matrices of
// weight_type "F16", "BF16" or "Q8_0" uniform in +-1/sqrt(cols), norms near 1, untied output.
std::shared_ptr<const DeviceModel> random_model(const Hparams& hp, const std::string& weight_type, uint64_t seed);
// Weight bytes one decode step reads: every matrix except the embedding table (one row of it),
// plus the output matrix and the norms.
uint64_t decode_weight_bytes(const DeviceModel& m);
// Fills a CUDA backend's whole K and V caches with random values (so a decode step at position
// p can be timed without a p-token prefill). Throws InvalidArgument for a non-CUDA backend.
void fill_kv_random(ForwardBackend& backend, uint64_t seed);
void fill_kv_random(BatchForward& batch, uint64_t seed);   // every sequence's caches
// Device-to-device copy bandwidth of the current GPU, GB/s counting bytes read + written
// (1 GiB buffers, median of 20 copies after warm-up).
double measure_copy_gbps();
// Name of the current GPU ("NVIDIA H100 80GB HBM3"); throws Unsupported when there is none.
std::string device_name();
// cuBLAS bf16 GEMM throughput of the current GPU, FLOP/s: C (m, n) bf16 = A (m, k) . B (k, n),
// bf16 in, F32 accumulate (cublasGemmEx, CUBLAS_COMPUTE_32F), median of `reps` after warm-up.
double measure_gemm_flops(int m, int n, int k, int reps = 20);

} // namespace sigma::cuda
