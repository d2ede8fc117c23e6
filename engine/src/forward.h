// forward.h - the CPU forward pass: the engine's readable reference (SIGMA-GGUF.md section 2),
// and the KV cache it fills. Fast paths (CUDA) are tested against this.
#pragma once

#include "backend.h"
#include "cpu/ops.h"
#include "cpu/threadpool.h"
#include "cpu/simd.h"
#include "model.h"

#include <sigma/engine.h>

#include <memory>
#include <vector>

namespace sigma {

// Separate K and V caches, sized per token n_k*d_qk and n_v*d_v (the DiffQKV saving).
// The buffers are left uninitialized (only positions already written are ever read), so a large
// context costs no up-front zeroing: the OS maps pages as tokens first reach them.
struct KvCache {
    int n_ctx = 0;
    std::unique_ptr<float[]> k;   // (L, C, Hk*Dk)
    std::unique_ptr<float[]> v;   // (L, C, Hv*Dv)
    void init(const Hparams& hp, int n_ctx);
    float* k_at(const Hparams& hp, int l, int pos) { return k.get() + (size_t(l) * n_ctx + pos) * hp.k_dim(); }
    float* v_at(const Hparams& hp, int l, int pos) { return v.get() + (size_t(l) * n_ctx + pos) * hp.v_dim(); }
    static uint64_t bytes_per_token(const Hparams& hp) { return uint64_t(hp.n_layer) * (hp.k_dim() + hp.v_dim()) * sizeof(float); }
};

class CpuForward {
public:
    // selective_v > 0: in Pass::Decode passes each query head sums only its top-k V rows
    // (SessionOptions::selective_v).
    CpuForward(const Hparams& hp, const Weights& w, int n_threads, int selective_v = 0);
    // Evaluates `n` tokens at positions [pos0, pos0 + n) against the cache (which must hold
    // positions [0, pos0)), storing their K/V. Writes logits (n, V) when all_logits, else the
    // last position's (V). `pass`: whether selective V applies (backend.h Pass).
    void forward(const TokenId* tokens, int n, int pos0, KvCache& kv, float* logits, bool all_logits, Pass pass);
    int n_threads() const { return m_pool.size(); }

private:
    void attention(int l, int n, int pos0, KvCache& kv, int selective_v);
    const Hparams& m_hp;
    const Weights& m_w;
    const int m_selective_v;    // top-k V rows per head in Pass::Decode; 0 = full attention
    cpu::ThreadPool m_pool;
    cpu::MatmulScratch m_q8;
    // Activations for a batch of T tokens.
    std::vector<float> m_x;     // (T, D) residual stream
    std::vector<float> m_a;     // (T, D) normed input
    std::vector<float> m_q;     // (T, Hq*Dk)
    std::vector<float> m_ag, m_au; // (T, A) augmented-Q gate / up
    std::vector<float> m_k;     // (T, Hk*Dk)
    std::vector<float> m_v;     // (T, Hv*Dv)
    std::vector<float> m_o;     // (T, Hq*Dv) attention output
    std::vector<float> m_proj;  // (T, D)
    std::vector<float> m_g, m_u;// (T, F)
    std::vector<float> m_rope;  // (T, d_rot) cos/sin pairs per position
    std::vector<std::vector<float>> m_scores;  // per thread (C)
    std::vector<std::vector<int>> m_order;     // per thread (C), selective V
};

} // namespace sigma
