#include "tiny_model.h"

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

#include <sigma/expected.h>

#include <cmath>
#include <random>
#include <vector>

namespace sigma::testing {

void write_tiny_model(const std::string& path, const TinyModelSpec& s) {
    using gguf::GgmlType;
    GgmlType wt = GgmlType::F32;
    if (s.weight_type == "F16") wt = GgmlType::F16;
    else if (s.weight_type == "BF16") wt = GgmlType::BF16;
    else if (s.weight_type == "Q8_0") wt = GgmlType::Q8_0;
    else if (s.weight_type != "F32") throw Exception(ErrorCode::InvalidArgument, "unknown weight type " + s.weight_type);

    gguf::Writer w;
    uint32_t n_vocab = 256;
    std::unique_ptr<Tokenizer> tok;
    if (!s.spm_model.empty()) {
        tok = Tokenizer::from_spm_file(s.spm_model);
        const Vocab& v = tok->vocab();
        n_vocab = uint32_t(v.tokens.size());
        w.set_string("tokenizer.ggml.model", "llama");
        w.set_string_array("tokenizer.ggml.tokens", v.tokens);
        w.set_f32_array("tokenizer.ggml.scores", v.scores);
        w.set_i32_array("tokenizer.ggml.token_type", v.token_types);
        if (v.bos >= 0) w.set_u32("tokenizer.ggml.bos_token_id", uint32_t(v.bos));
        if (v.eos >= 0) w.set_u32("tokenizer.ggml.eos_token_id", uint32_t(v.eos));
        if (v.unk >= 0) w.set_u32("tokenizer.ggml.unknown_token_id", uint32_t(v.unk));
        w.set_bool("tokenizer.ggml.add_bos_token", true);
    }
    w.set_string("general.architecture", "sigma");
    w.set_string("general.name", s.name);
    w.set_u32("sigma.context_length", s.n_ctx);
    w.set_u32("sigma.embedding_length", s.d_model);
    w.set_u32("sigma.block_count", s.n_layer);
    w.set_u32("sigma.feed_forward_length", s.d_ff);
    w.set_u32("sigma.attention.head_count", s.n_q);
    w.set_u32("sigma.attention.head_count_k", s.n_k);
    w.set_u32("sigma.attention.head_count_v", s.n_v);
    w.set_u32("sigma.attention.key_length", s.d_qk);
    w.set_u32("sigma.attention.value_length", s.d_v);
    w.set_u32("sigma.attention.augmented_q_length", s.d_aug);
    w.set_f32("sigma.attention.layer_norm_rms_epsilon", 1e-5f);
    w.set_f32("sigma.rope.freq_base", 10000.f);

    std::mt19937_64 rng(s.seed);
    auto add = [&](const std::string& name, std::vector<int64_t> ne, bool norm) {
        int64_t n = 1;
        for (auto d : ne) n *= d;
        std::vector<float> data(static_cast<size_t>(n));
        if (norm) {
            std::normal_distribution<float> nd(1.0f, 0.05f);
            for (auto& x : data) x = nd(rng);
            w.add_tensor_f32(name, GgmlType::F32, ne, data.data());
        } else {
            std::normal_distribution<float> nd(0.0f, 1.0f / std::sqrt(float(ne[0])));
            for (auto& x : data) x = nd(rng);
            w.add_tensor_f32(name, wt, ne, data.data());
        }
    };
    const int64_t D = s.d_model, qd = int64_t(s.n_q) * s.d_qk;
    add("token_embd.weight", {D, n_vocab}, false);
    for (uint32_t l = 0; l < s.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        add(p + "attn_norm.weight", {D}, true);
        add(p + "attn_q.weight", {D, qd}, false);
        if (s.d_aug) {
            add(p + "attn_q_gate.weight", {qd, s.d_aug}, false);
            add(p + "attn_q_up.weight", {qd, s.d_aug}, false);
            add(p + "attn_q_down.weight", {s.d_aug, qd}, false);
        }
        add(p + "attn_k.weight", {D, int64_t(s.n_k) * s.d_qk}, false);
        add(p + "attn_v.weight", {D, int64_t(s.n_v) * s.d_v}, false);
        add(p + "attn_output.weight", {int64_t(s.n_q) * s.d_v, D}, false);
        add(p + "ffn_norm.weight", {D}, true);
        add(p + "ffn_gate.weight", {D, s.d_ff}, false);
        add(p + "ffn_up.weight", {D, s.d_ff}, false);
        add(p + "ffn_down.weight", {s.d_ff, D}, false);
    }
    add("output_norm.weight", {D}, true);
    add("output.weight", {D, n_vocab}, false);
    w.write(path);
}

} // namespace sigma::testing
