// Decode attention, one configuration: KV cache bf16, d_qk 64, d_v 64 (see decode_attention.cuh).
#include "decode_attention.cuh"

namespace sigmaops::kernels::attn {
SIGMAOPS_DECODE_ATTENTION_CONFIG(__nv_bfloat16, 64, 64)
}  // namespace sigmaops::kernels::attn
