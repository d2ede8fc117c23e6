// The "sigma" architecture: DiffQKV attention (separate Q/K/V head counts and sizes) with optional
// augmented Q, per SIGMA-GGUF.md sections 3-4. RoPE: rotate-half, no weight permutation.
#include "arch/arch.h"

#include <sigma/expected.h>

namespace sigma {

namespace arch {

namespace {

double d_qk_of(const Hparams& hp) { return hp.d_qk; }

// SIGMA-GGUF.md section 3: every key required except augmented Q (0 = none) and the rotated
// dimensions (default: the whole Q/K head).
constexpr HparamKey kKeys[] = {
    u32_key(Key::ContextLength, Need::Required, &Hparams::n_ctx_train),
    u32_key(Key::EmbeddingLength, Need::Required, &Hparams::d_model),
    u32_key(Key::BlockCount, Need::Required, &Hparams::n_layer),
    u32_key(Key::FeedForwardLength, Need::Required, &Hparams::d_ff),
    u32_key(Key::AttentionHeadCount, Need::Required, &Hparams::n_q),
    u32_key(Key::AttentionHeadCountK, Need::Required, &Hparams::n_k),
    u32_key(Key::AttentionHeadCountV, Need::Required, &Hparams::n_v),
    u32_key(Key::AttentionKeyLength, Need::Required, &Hparams::d_qk),
    u32_key(Key::AttentionValueLength, Need::Required, &Hparams::d_v),
    u32_key(Key::AttentionAugmentedQLength, Need::Optional, &Hparams::d_aug),
    f32_key(Key::AttentionLayerNormRmsEps, Need::Required, &Hparams::eps),
    f32_key(Key::RopeFreqBase, Need::Required, &Hparams::rope_base),
    u32_key(Key::RopeDimensionCount, Need::Optional, &Hparams::d_rot, d_qk_of),
};

} // namespace

Hparams Sigma::hparams(const gguf::File& f) {
    Hparams hp;
    hp.arch = name;
    read_hparams(f, kKeys, hp);
    hp.rope = RopeStyle::RotateHalf;
    validate(hp);
    return hp;
}

void Sigma::weights(const gguf::File& f, const Hparams& hp, Weights& w) {
    const int64_t D = hp.d_model, F = hp.d_ff, A = hp.d_aug;
    const gguf::TensorInfo* emb = f.find_tensor("token_embd.weight");
    if (!emb) throw Exception(ErrorCode::BadFile, "tensor 'token_embd.weight' missing");
    const int64_t V = emb->ne[1];
    w.token_embd = tensor(f, w, "token_embd.weight", {D, V});
    w.layers.resize(hp.n_layer);
    for (uint32_t l = 0; l < hp.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        LayerWeights& L = w.layers[l];
        L.attn_norm = tensor(f, w, p + "attn_norm.weight", {D});
        L.wq = tensor(f, w, p + "attn_q.weight", {D, hp.q_dim()});
        if (A > 0) {
            L.wq_gate = tensor(f, w, p + "attn_q_gate.weight", {hp.q_dim(), A});
            L.wq_up = tensor(f, w, p + "attn_q_up.weight", {hp.q_dim(), A});
            L.wq_down = tensor(f, w, p + "attn_q_down.weight", {A, hp.q_dim()});
        }
        L.wk = tensor(f, w, p + "attn_k.weight", {D, hp.k_dim()});
        L.wv = tensor(f, w, p + "attn_v.weight", {D, hp.v_dim()});
        L.wo = tensor(f, w, p + "attn_output.weight", {hp.o_dim(), D});
        L.ffn_norm = tensor(f, w, p + "ffn_norm.weight", {D});
        L.w_gate = tensor(f, w, p + "ffn_gate.weight", {D, F});
        L.w_up = tensor(f, w, p + "ffn_up.weight", {D, F});
        L.w_down = tensor(f, w, p + "ffn_down.weight", {F, D});
    }
    w.output_norm = tensor(f, w, "output_norm.weight", {D});
    w.output = tensor(f, w, "output.weight", {D, V}, false);
    w.tied = w.output.empty();
    if (w.tied) w.output = w.token_embd;
}

} // namespace arch
} // namespace sigma
