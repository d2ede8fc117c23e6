// The "qwen2" architecture as written by llama.cpp's converters: GQA with biases on the Q, K and V
// projections, RoPE rotate-half ("NEOX"), mapped onto the engine with n_k == n_v.
#include "model.h"

namespace sigma {

Hparams gqa_hparams(const gguf::File& f, const std::string& a);
void gqa_weights(const gguf::File& f, const Hparams& hp, Weights& w);

static Hparams qwen2_hparams(const gguf::File& f) {
    Hparams hp = gqa_hparams(f, "qwen2");
    hp.rope = RopeStyle::RotateHalf;
    hp.qkv_bias = true;
    return hp;
}

extern const ArchLoader k_arch_qwen2;
const ArchLoader k_arch_qwen2{"qwen2", qwen2_hparams, gqa_weights};

} // namespace sigma
