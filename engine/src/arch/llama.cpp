// The "llama" architecture as written by llama.cpp's converters: GQA (n_k == n_v = head_count_kv),
// d_qk == d_v, RoPE on interleaved pairs (Q/K weights were permuted by the converter), no biases.
// Mapped onto the DiffQKV engine with n_k == n_v and no augmented Q.
#include "arch/arch.h"

#include <sigma/expected.h>

namespace sigma {

namespace arch {

namespace {

double n_q_of(const Hparams& hp) { return hp.n_q; }
double head_size_of(const Hparams& hp) { return hp.n_q ? hp.d_model / hp.n_q : 0; }
double d_qk_of(const Hparams& hp) { return hp.d_qk; }

// llama.cpp's converters: K/V head count defaults to the Q heads (MHA), head sizes to
// d_model / n_q, the RoPE base to 10000, the rotated dimensions to the whole head.
constexpr HparamKey kKeys[] = {
    u32_key(Key::ContextLength, Need::Required, &Hparams::n_ctx_train),
    u32_key(Key::EmbeddingLength, Need::Required, &Hparams::d_model),
    u32_key(Key::BlockCount, Need::Required, &Hparams::n_layer),
    u32_key(Key::FeedForwardLength, Need::Required, &Hparams::d_ff),
    u32_key(Key::AttentionHeadCount, Need::Required, &Hparams::n_q),
    u32_key(Key::AttentionHeadCountKv, Need::Optional, &Hparams::n_k, n_q_of),
    u32_key(Key::AttentionKeyLength, Need::Optional, &Hparams::d_qk, head_size_of),
    u32_key(Key::AttentionValueLength, Need::Optional, &Hparams::d_v, d_qk_of),
    f32_key(Key::AttentionLayerNormRmsEps, Need::Required, &Hparams::eps),
    f32_key(Key::RopeFreqBase, Need::Optional, &Hparams::rope_base, [](const Hparams&) { return 10000.0; }),
    u32_key(Key::RopeDimensionCount, Need::Optional, &Hparams::d_rot, d_qk_of),
};

} // namespace

Hparams gqa_hparams(const gguf::File& f, const char* name) {
    Hparams hp;
    hp.arch = name;
    read_hparams(f, kKeys, hp);
    if (hp.n_q == 0) throw Exception(ErrorCode::BadFile, "key " + key_name(Key::AttentionHeadCount, name) + " is 0");
    hp.n_v = hp.n_k;   // one K/V head count
    validate(hp);
    return hp;
}

void gqa_weights(const gguf::File& f, const Hparams& hp, Weights& w) {
    const int64_t D = hp.d_model, F = hp.d_ff;
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
        L.wk = tensor(f, w, p + "attn_k.weight", {D, hp.k_dim()});
        L.wv = tensor(f, w, p + "attn_v.weight", {D, hp.v_dim()});
        if (hp.qkv_bias) {
            L.bq = tensor(f, w, p + "attn_q.bias", {hp.q_dim()});
            L.bk = tensor(f, w, p + "attn_k.bias", {hp.k_dim()});
            L.bv = tensor(f, w, p + "attn_v.bias", {hp.v_dim()});
        }
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

Hparams Llama::hparams(const gguf::File& f) {
    Hparams hp = gqa_hparams(f, name);
    hp.rope = RopeStyle::Interleaved;
    return hp;
}

void Llama::weights(const gguf::File& f, const Hparams& hp, Weights& w) { gqa_weights(f, hp, w); }

} // namespace arch
} // namespace sigma
