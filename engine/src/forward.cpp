// The CPU forward pass. Reads top to bottom like SIGMA-GGUF.md section 2; one comment per block.
#include "forward.h"

#include "cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sigma {

void KvCache::init(const Hparams& hp, int ctx) {
    n_ctx = ctx;
    k.reset();   // release the old buffers before taking new ones
    v.reset();
    k.reset(new float[size_t(hp.n_layer) * ctx * hp.k_dim()]);
    v.reset(new float[size_t(hp.n_layer) * ctx * hp.v_dim()]);
}

CpuForward::CpuForward(const Hparams& hp, const Weights& w, int n_threads, int selective_v)
    : m_hp(hp), m_w(w), m_selective_v(selective_v), m_pool(n_threads) {
    m_scores.resize(m_pool.size());
    m_order.resize(m_pool.size());
}

void CpuForward::forward(const TokenId* tokens, int n, int pos0, KvCache& kv, float* logits, bool all_logits,
                         Pass pass) {
    const Hparams& hp = m_hp;
    const int selective_v = pass == Pass::Decode ? m_selective_v : 0;
    const int64_t D = hp.d_model, F = hp.d_ff, A = hp.d_aug, T = n;
    m_x.resize(T * D); m_a.resize(T * D); m_proj.resize(T * D);
    m_q.resize(T * hp.q_dim()); m_k.resize(T * hp.k_dim()); m_v.resize(T * hp.v_dim()); m_o.resize(T * hp.o_dim());
    m_g.resize(T * F); m_u.resize(T * F);
    if (A > 0) { m_ag.resize(T * A); m_au.resize(T * A); }

    // x = token_embd[id]
    for (int64_t t = 0; t < T; ++t) cpu::embed(m_w.token_embd, tokens[t], &m_x[t * D]);
    // RoPE angles depend only on the position: once per token for all layers and heads.
    m_rope.resize(size_t(T) * hp.d_rot);
    for (int64_t t = 0; t < T; ++t) cpu::rope_angles(int(hp.d_rot), pos0 + int(t), hp.rope_base, &m_rope[t * hp.d_rot]);

    for (uint32_t l = 0; l < hp.n_layer; ++l) {
        const LayerWeights& L = m_w.layers[l];
        // a = rmsnorm(x) * attn_norm
        for (int64_t t = 0; t < T; ++t) cpu::rmsnorm(&m_x[t * D], L.attn_norm.f32(), &m_a[t * D], D, hp.eps);
        // q = W_q a (+ b_q), k = W_k a (+ b_k), v = W_v a (+ b_v)
        {
            const Tensor* w[3] = {&L.wq, &L.wk, &L.wv};
            float* y[3] = {m_q.data(), m_k.data(), m_v.data()};
            cpu::matmul_multi(m_pool, 3, w, m_a.data(), T, y, m_q8);
        }
        if (hp.qkv_bias) {
            for (int64_t t = 0; t < T; ++t) {
                cpu::add(&m_q[t * hp.q_dim()], L.bq.f32(), hp.q_dim());
                cpu::add(&m_k[t * hp.k_dim()], L.bk.f32(), hp.k_dim());
                cpu::add(&m_v[t * hp.v_dim()], L.bv.f32(), hp.v_dim());
            }
        }
        // augmented Q: q = W_q_down( silu(W_q_gate q) * (W_q_up q) )
        if (A > 0) {
            const Tensor* w[2] = {&L.wq_gate, &L.wq_up};
            float* y[2] = {m_ag.data(), m_au.data()};
            cpu::matmul_multi(m_pool, 2, w, m_q.data(), T, y, m_q8);
            cpu::silu_mul(m_ag.data(), m_au.data(), T * A);
            cpu::matmul(m_pool, L.wq_down, m_ag.data(), T, m_q.data(), m_q8);
        }
        // rope(q), rope(k); append k, v to the cache at their positions
        for (int64_t t = 0; t < T; ++t) {
            const int pos = pos0 + int(t);
            const float* cs = &m_rope[t * hp.d_rot];
            cpu::rope(&m_q[t * hp.q_dim()], hp.n_q, hp.d_qk, hp.d_rot, cs, hp.rope);
            cpu::rope(&m_k[t * hp.k_dim()], hp.n_k, hp.d_qk, hp.d_rot, cs, hp.rope);
            std::memcpy(kv.k_at(hp, l, pos), &m_k[t * hp.k_dim()], hp.k_dim() * sizeof(float));
            std::memcpy(kv.v_at(hp, l, pos), &m_v[t * hp.v_dim()], hp.v_dim() * sizeof(float));
        }
        // o_h = softmax(q_h . K_{h/(Hq/Hk)} / sqrt(Dk)) V_{h/(Hq/Hv)}, causal
        attention(l, n, pos0, kv, selective_v);
        // x = x + W_o concat(o)
        cpu::matmul(m_pool, L.wo, m_o.data(), T, m_proj.data(), m_q8);
        cpu::add(m_x.data(), m_proj.data(), T * D);
        // f = rmsnorm(x) * ffn_norm; x = x + W_down( silu(W_gate f) * (W_up f) )
        for (int64_t t = 0; t < T; ++t) cpu::rmsnorm(&m_x[t * D], L.ffn_norm.f32(), &m_a[t * D], D, hp.eps);
        {
            const Tensor* w[2] = {&L.w_gate, &L.w_up};
            float* y[2] = {m_g.data(), m_u.data()};
            cpu::matmul_multi(m_pool, 2, w, m_a.data(), T, y, m_q8);
        }
        cpu::silu_mul(m_g.data(), m_u.data(), T * F);
        cpu::matmul(m_pool, L.w_down, m_g.data(), T, m_proj.data(), m_q8);
        cpu::add(m_x.data(), m_proj.data(), T * D);
    }

    // logits = W_out rmsnorm(x) * output_norm   (all positions, or the last one)
    const int64_t first = all_logits ? 0 : T - 1;
    for (int64_t t = first; t < T; ++t) cpu::rmsnorm(&m_x[t * D], m_w.output_norm.f32(), &m_a[t * D], D, hp.eps);
    cpu::matmul(m_pool, m_w.output, &m_a[first * D], T - first, logits, m_q8);
}

void CpuForward::attention(int l, int n, int pos0, KvCache& kv, int selective_v) {
    const Hparams& hp = m_hp;
    const int Hq = hp.n_q, Dk = hp.d_qk, Dv = hp.d_v;
    const float scale = 1.0f / std::sqrt(float(Dk));
    // One task per (token, query head).
    m_pool.parallel_for(int64_t(n) * Hq, [&](int64_t b, int64_t e, int thread) {
        std::vector<float>& s = m_scores[thread];
        std::vector<int>& order = m_order[thread];
        s.resize(kv.n_ctx);
        for (int64_t task = b; task < e; ++task) {
            const int t = int(task / Hq), h = int(task % Hq);
            const int n_keys = pos0 + t + 1;
            const int kh = h / int(hp.q_per_k()), vh = h / int(hp.q_per_v());
            const float* q = &m_q[size_t(t) * hp.q_dim() + size_t(h) * Dk];
            // s_j = q . k_j / sqrt(Dk); p = softmax(s)
            cpu::attn_scores(kv.k_at(hp, l, 0) + kh * Dk, hp.k_dim(), q, Dk, n_keys, scale, s.data());
            const float smax = *std::max_element(s.begin(), s.begin() + n_keys);
            const float inv = float(1.0 / cpu::attn_exp(s.data(), n_keys, smax));
            // o_h = sum_j p_j v_j
            float* o = &m_o[size_t(t) * hp.o_dim() + size_t(h) * Dv];
            std::fill(o, o + Dv, 0.f);
            const float* v0 = kv.v_at(hp, l, 0) + vh * Dv;
            if (selective_v > 0 && selective_v < n_keys) {
                // Selective V: only the k rows with the largest probabilities, in position order.
                order.resize(n_keys);
                for (int j = 0; j < n_keys; ++j) order[j] = j;
                std::nth_element(order.begin(), order.begin() + selective_v, order.end(),
                                 [&](int x, int y) { return s[x] > s[y] || (s[x] == s[y] && x < y); });
                std::sort(order.begin(), order.begin() + selective_v);
                cpu::attn_accumulate(v0, hp.v_dim(), s.data(), order.data(), selective_v, Dv, inv, o);
            } else {
                cpu::attn_accumulate(v0, hp.v_dim(), s.data(), nullptr, n_keys, Dv, inv, o);
            }
        }
    });
}

} // namespace sigma
