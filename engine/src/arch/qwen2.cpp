// The "qwen2" architecture as written by llama.cpp's converters: GQA with biases on the Q, K and V
// projections, RoPE rotate-half ("NEOX"), mapped onto the engine with n_k == n_v.
#include "arch/arch.h"

namespace sigma {

namespace arch {

Hparams Qwen2::hparams(const gguf::File& f) {
    Hparams hp = gqa_hparams(f, name);
    hp.rope = RopeStyle::RotateHalf;
    hp.qkv_bias = true;
    return hp;
}

void Qwen2::weights(const gguf::File& f, const Hparams& hp, Weights& w) { gqa_weights(f, hp, w); }

} // namespace arch
} // namespace sigma
