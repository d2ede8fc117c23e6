// Benchmark of the causal (prefill) attention kernels (kernels.h causal_attention) on the current
// GPU: one Sigma-1.5B layer (32 query heads, 16 V heads, d 64, F16 cache) and its GQA twin's K
// heads (4 or 16), 4096 tokens from position 0, the tensor-core FlashAttention-2 style kernel
// and the simple one. Timing: CUDA events around each call after 2 warm-ups, the median of 20
// calls (3 for the simple kernel). Correctness is tested in tests/gpu/test_gpu_causal_attention.cpp.
// Output: one JSON object per line on stdout (ms and TFLOP/s of the causal products).
// Usage: bench_causal_attention [--tokens N]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels.h"

namespace {

#define CHECK_CUDA(call)                                                                              \
    do {                                                                                              \
        const cudaError_t e_ = (call);                                                                \
        if (e_ != cudaSuccess) {                                                                      \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            std::exit(1);                                                                             \
        }                                                                                             \
    } while (0)

void check(const sigmaops::kernels::Status& s) {
    if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.error.c_str());
        std::exit(1);
    }
}

}  // namespace

int main(int argc, char** argv) {
    using sigmaops::kernels::CausalAttentionParams;
    using sigmaops::kernels::DType;
    int n = 4096;
    for (int i = 1; i < argc; ++i)
        if (!std::strcmp(argv[i], "--tokens") && i + 1 < argc) n = std::max(1, std::atoi(argv[++i]));
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        std::printf("{\"skipped\": \"no GPU\"}\n");
        return 0;
    }
    for (int n_k : {4, 16}) {
        const int n_q = 32, n_v = 16, d = 64;
        float *dq = nullptr, *dout = nullptr;
        void *dk = nullptr, *dv = nullptr;
        int* dpos = nullptr;
        CHECK_CUDA(cudaMalloc(reinterpret_cast<void**>(&dq), size_t(n) * n_q * d * 4));
        CHECK_CUDA(cudaMalloc(reinterpret_cast<void**>(&dout), size_t(n) * n_q * d * 4));
        CHECK_CUDA(cudaMalloc(&dk, size_t(n_k) * n * d * 2));
        CHECK_CUDA(cudaMalloc(&dv, size_t(n_v) * n * d * 2));
        CHECK_CUDA(cudaMalloc(reinterpret_cast<void**>(&dpos), 4));
        CHECK_CUDA(cudaMemset(dpos, 0, 4));
        check(sigmaops::kernels::fill_random({dq, DType::F32, (long long)n * n_q * d, 0.0f, 2.0f, 1, nullptr}));
        check(sigmaops::kernels::fill_random({dk, DType::F16, (long long)n_k * n * d, 0.0f, 1.0f, 2, nullptr}));
        check(sigmaops::kernels::fill_random({dv, DType::F16, (long long)n_v * n * d, 0.0f, 1.0f, 3, nullptr}));
        CausalAttentionParams p;
        p.n = n;
        p.pos0 = dpos;
        p.n_q = n_q;
        p.n_k = n_k;
        p.n_v = n_v;
        p.d_qk = d;
        p.d_v = d;
        p.max_ctx = n;
        p.q = dq;
        p.k_cache = dk;
        p.v_cache = dv;
        p.kv_type = DType::F16;
        p.out = dout;
        cudaEvent_t e0, e1;
        CHECK_CUDA(cudaEventCreate(&e0));
        CHECK_CUDA(cudaEventCreate(&e1));
        for (bool simple : {false, true}) {
            p.force_simple = simple;
            const int reps = simple ? 3 : 20;
            std::vector<float> ms;
            for (int i = 0; i < reps + 2; ++i) {
                CHECK_CUDA(cudaEventRecord(e0));
                check(sigmaops::kernels::causal_attention(p));
                CHECK_CUDA(cudaEventRecord(e1));
                CHECK_CUDA(cudaEventSynchronize(e1));
                float t = 0;
                CHECK_CUDA(cudaEventElapsedTime(&t, e0, e1));
                if (i >= 2) ms.push_back(t);
            }
            std::sort(ms.begin(), ms.end());
            const double med = ms[ms.size() / 2];
            const double flop = 2.0 * n_q * (d + d) * (double(n) * (n + 1) / 2);
            std::printf("{\"kind\": \"causal_attention\", \"kernel\": \"%s\", \"tokens\": %d, \"n_q\": %d, \"n_k\": %d, \"n_v\": %d, "
                        "\"d\": %d, \"kv\": \"F16\", \"ms\": %.4f, \"tflops\": %.2f}\n",
                        simple ? "simple" : "flash", n, n_q, n_k, n_v, d, med, flop / (med * 1e-3) / 1e12);
            std::fflush(stdout);
        }
        CHECK_CUDA(cudaEventDestroy(e0));
        CHECK_CUDA(cudaEventDestroy(e1));
        CHECK_CUDA(cudaFree(dq));
        CHECK_CUDA(cudaFree(dout));
        CHECK_CUDA(cudaFree(dk));
        CHECK_CUDA(cudaFree(dv));
        CHECK_CUDA(cudaFree(dpos));
    }
    return 0;
}
