// The "llama" architecture as written by llama.cpp's converters: GQA (n_k == n_v = head_count_kv),
// d_qk == d_v, RoPE on interleaved pairs (Q/K weights were permuted by the converter), no biases.
// Mapped onto the DiffQKV engine with n_k == n_v and no augmented Q.
#include "model.h"

#include <sigma/expected.h>

namespace sigma {

// Shared by llama and qwen2 (qwen2.cpp): the keys are the same under another prefix.
Hparams gqa_hparams(const gguf::File& f, const std::string& a) {
    using arch::get_f32;
    using arch::get_u32;
    Hparams hp;
    hp.arch = a;
    hp.n_ctx_train = get_u32(f, a + ".context_length", true);
    hp.d_model = get_u32(f, a + ".embedding_length", true);
    hp.n_layer = get_u32(f, a + ".block_count", true);
    hp.d_ff = get_u32(f, a + ".feed_forward_length", true);
    hp.n_q = get_u32(f, a + ".attention.head_count", true);
    hp.n_k = get_u32(f, a + ".attention.head_count_kv", false, hp.n_q);
    hp.n_v = hp.n_k;
    if (hp.n_q == 0) throw Exception(ErrorCode::BadFile, "key " + a + ".attention.head_count is 0");
    hp.d_qk = get_u32(f, a + ".attention.key_length", false, hp.d_model / hp.n_q);
    hp.d_v = get_u32(f, a + ".attention.value_length", false, hp.d_qk);
    hp.eps = get_f32(f, a + ".attention.layer_norm_rms_epsilon", true);
    hp.rope_base = get_f32(f, a + ".rope.freq_base", false, 10000.f);
    hp.d_rot = get_u32(f, a + ".rope.dimension_count", false, hp.d_qk);
    arch::validate(hp);
    return hp;
}

void gqa_weights(const gguf::File& f, const Hparams& hp, Weights& w) {
    const int64_t D = hp.d_model, F = hp.d_ff;
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
        L.wk = arch::tensor(f, w, p + "attn_k.weight", {D, hp.k_dim()});
        L.wv = arch::tensor(f, w, p + "attn_v.weight", {D, hp.v_dim()});
        if (hp.qkv_bias) {
            L.bq = arch::tensor(f, w, p + "attn_q.bias", {hp.q_dim()});
            L.bk = arch::tensor(f, w, p + "attn_k.bias", {hp.k_dim()});
            L.bv = arch::tensor(f, w, p + "attn_v.bias", {hp.v_dim()});
        }
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

static Hparams llama_hparams(const gguf::File& f) {
    Hparams hp = gqa_hparams(f, "llama");
    hp.rope = RopeStyle::Interleaved;
    return hp;
}

extern const ArchLoader k_arch_llama;
const ArchLoader k_arch_llama{"llama", llama_hparams, gqa_weights};

} // namespace sigma
