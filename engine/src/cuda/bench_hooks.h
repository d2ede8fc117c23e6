// bench_hooks.h - measurement helpers beside the CUDA backend, for benchmarks
// (bench/bench_forward.cpp) and the GPU bandwidth the CLI reports (sigma::gpu_copy_bandwidth):
// random-weight models made on the GPU, random KV caches, and the GPU's copy and GEMM rates.
// Plain C++, no CUDA types; built with the CUDA backend (SIGMA_HAVE_CUDA).
// Errors: throws sigma::Exception naming the failing CUDA/cuBLAS call, Unsupported without a GPU.
#pragma once

#include "cuda/cuda_backend.h"

#include <cstdint>
#include <memory>
#include <string>

namespace sigma::cuda {

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
