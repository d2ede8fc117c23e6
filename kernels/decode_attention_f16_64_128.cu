// Decode attention, one configuration: KV cache f16, d_qk 64, d_v 128 (see decode_attention.cuh).
#include "decode_attention.cuh"

namespace sigmaops::kernels::attn {
SIGMAOPS_DECODE_ATTENTION_CONFIG(__half, 64, 128)
}  // namespace sigmaops::kernels::attn
