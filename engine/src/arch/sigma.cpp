// The "sigma" architecture: DiffQKV attention (separate Q/K/V head counts and sizes) with optional
// augmented Q, per SIGMA-GGUF.md sections 3-4. RoPE: rotate-half, no weight permutation.
#include "model.h"

#include <sigma/expected.h>

namespace sigma {

static Hparams sigma_hparams(const gguf::File& f) {
    using arch::get_f32;
    using arch::get_u32;
    Hparams hp;
    hp.arch = "sigma";
    hp.n_ctx_train = get_u32(f, "sigma.context_length", true);
    hp.d_model = get_u32(f, "sigma.embedding_length", true);
    hp.n_layer = get_u32(f, "sigma.block_count", true);
    hp.d_ff = get_u32(f, "sigma.feed_forward_length", true);
    hp.n_q = get_u32(f, "sigma.attention.head_count", true);
    hp.n_k = get_u32(f, "sigma.attention.head_count_k", true);
    hp.n_v = get_u32(f, "sigma.attention.head_count_v", true);
    hp.d_qk = get_u32(f, "sigma.attention.key_length", true);
    hp.d_v = get_u32(f, "sigma.attention.value_length", true);
    hp.d_aug = get_u32(f, "sigma.attention.augmented_q_length", false, 0);
    hp.eps = get_f32(f, "sigma.attention.layer_norm_rms_epsilon", true);
    hp.rope_base = get_f32(f, "sigma.rope.freq_base", true);
    hp.d_rot = get_u32(f, "sigma.rope.dimension_count", false, hp.d_qk);
    hp.rope = RopeStyle::RotateHalf;
    arch::validate(hp);
    return hp;
}

static void sigma_weights(const gguf::File& f, const Hparams& hp, Weights& w) {
    const int64_t D = hp.d_model, F = hp.d_ff, A = hp.d_aug;
    const gguf::TensorInfo* emb = f.find_tensor("token_embd.weight");
    if (!emb) throw Exception(ErrorCode::BadFile, "tensor 'token_embd.weight' missing");
    const int64_t V = emb->ne[1];
    w.token_embd = arch::tensor(f, w, "token_embd.weight", {D, V});
    w.layers.resize(hp.n_layer);
    for (uint32_t l = 0; l < hp.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        LayerWeights& L = w.layers[l];
        L.attn_norm = arch::tensor(f, w, p + "attn_norm.weight", {D});
        L.wq = arch::tensor(f, w, p + "attn_q.weight", {D, hp.q_dim()});
        if (A > 0) {
            L.wq_gate = arch::tensor(f, w, p + "attn_q_gate.weight", {hp.q_dim(), A});
            L.wq_up = arch::tensor(f, w, p + "attn_q_up.weight", {hp.q_dim(), A});
            L.wq_down = arch::tensor(f, w, p + "attn_q_down.weight", {A, hp.q_dim()});
        }
        L.wk = arch::tensor(f, w, p + "attn_k.weight", {D, hp.k_dim()});
        L.wv = arch::tensor(f, w, p + "attn_v.weight", {D, hp.v_dim()});
        L.wo = arch::tensor(f, w, p + "attn_output.weight", {hp.o_dim(), D});
        L.ffn_norm = arch::tensor(f, w, p + "ffn_norm.weight", {D});
        L.w_gate = arch::tensor(f, w, p + "ffn_gate.weight", {D, F});
        L.w_up = arch::tensor(f, w, p + "ffn_up.weight", {D, F});
        L.w_down = arch::tensor(f, w, p + "ffn_down.weight", {F, D});
    }
    w.output_norm = arch::tensor(f, w, "output_norm.weight", {D});
    w.output = arch::tensor(f, w, "output.weight", {D, V}, false);
    w.tied = w.output.empty();
    if (w.tied) w.output = w.token_embd;
}

extern const ArchLoader k_arch_sigma;
const ArchLoader k_arch_sigma{"sigma", sigma_hparams, sigma_weights};

} // namespace sigma
