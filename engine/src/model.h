// model.h - the engine's in-memory model: hyperparameters read through one key table, and the
// weights as views into the memory-mapped GGUF file (zero-copy), per SIGMA-GGUF.md.
//
// Dimension letters used in shape comments throughout the engine:
//   D = d_model, F = d_ff, A = d_aug, V = n_vocab, L = n_layer, T = tokens in a batch, C = n_ctx
//   Hq = n_q, Hk = n_k, Hv = n_v, Dk = d_qk (Q and K head size), Dv = d_v (V head size)
// Weight shapes are written as torch-style (out, in): a GGUF tensor with ne = [in, out] is `out`
// rows of `in` contiguous elements.
#pragma once

#include "gguf/gguf.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sigma {

enum class RopeStyle {
    RotateHalf,   // pairs (i, i + d_rot/2): sigma, qwen2 (ggml "NEOX")
    Interleaved,  // pairs (2i, 2i + 1): llama as converted by llama.cpp (ggml "NORM")
};

// One plain copyable struct; derived values are small const methods.
struct Hparams {
    std::string arch;          // "sigma", "llama", "qwen2"
    uint32_t n_ctx_train = 0;  // trained context length
    uint32_t d_model = 0;      // residual width D
    uint32_t n_layer = 0;      // L
    uint32_t d_ff = 0;         // SwiGLU inner width F
    uint32_t n_q = 0;          // query heads Hq
    uint32_t n_k = 0;          // key heads Hk (divides Hq)
    uint32_t n_v = 0;          // value heads Hv (divides Hq)
    uint32_t d_qk = 0;         // Q/K head size Dk
    uint32_t d_v = 0;          // V head size Dv
    uint32_t d_aug = 0;        // augmented-Q MLP width A; 0 = none
    float eps = 1e-5f;         // RMSNorm epsilon
    float rope_base = 10000.f; // RoPE frequency base
    uint32_t d_rot = 0;        // rotated dims per head (<= Dk, even)
    RopeStyle rope = RopeStyle::RotateHalf;
    bool qkv_bias = false;     // qwen2: biases on Q, K, V projections
    uint32_t n_vocab = 0;      // V (from token_embd)

    uint32_t q_dim() const { return n_q * d_qk; }   // width of the Q projection
    uint32_t k_dim() const { return n_k * d_qk; }   // width of one token's K cache row
    uint32_t v_dim() const { return n_v * d_v; }    // width of one token's V cache row
    uint32_t o_dim() const { return n_q * d_v; }    // input width of the output projection
    uint32_t q_per_k() const { return n_q / n_k; }  // query heads sharing one K head
    uint32_t q_per_v() const { return n_q / n_v; }  // query heads sharing one V head
};

// A weight tensor: a view into the mapped file, or into `owned` after dequantizing a type the
// CPU kernels do not compute on directly (Q4_0, Q4_K, Q5_K, Q6_K become F32).
struct Tensor {
    std::string name;
    gguf::GgmlType type = gguf::GgmlType::F32;
    int64_t ne[4] = {1, 1, 1, 1};
    const uint8_t* data = nullptr;
    uint64_t n_bytes = 0;

    int64_t cols() const { return ne[0]; }   // inputs (contiguous)
    int64_t rows() const { return ne[1]; }   // outputs
    uint64_t row_stride() const { return gguf::row_bytes(type, ne[0]); }
    const uint8_t* row(int64_t r) const { return data + r * row_stride(); }
    const float* f32() const { return reinterpret_cast<const float*>(data); }
    bool empty() const { return data == nullptr; }
};

struct LayerWeights {
    Tensor attn_norm;   // (D)
    Tensor wq;          // (Hq*Dk, D)
    Tensor bq, bk, bv;  // (Hq*Dk), (Hk*Dk), (Hv*Dv) - qwen2 only
    Tensor wq_gate;     // (A, Hq*Dk)   augmented Q, only if d_aug > 0
    Tensor wq_up;       // (A, Hq*Dk)
    Tensor wq_down;     // (Hq*Dk, A)
    Tensor wk;          // (Hk*Dk, D)
    Tensor wv;          // (Hv*Dv, D)
    Tensor wo;          // (D, Hq*Dv)
    Tensor ffn_norm;    // (D)
    Tensor w_gate;      // (F, D)
    Tensor w_up;        // (F, D)
    Tensor w_down;      // (D, F)
};

struct Weights {
    Tensor token_embd;  // (V, D): row t is token t's embedding
    std::vector<LayerWeights> layers;
    Tensor output_norm; // (D)
    Tensor output;      // (V, D); == token_embd when tied
    bool tied = false;
    std::vector<std::unique_ptr<std::vector<uint8_t>>> owned;  // storage of converted tensors
};

// Reads hyperparameters (through the key table, arch/arch.h) and declares tensors for one
// architecture (engine/src/arch/<name>.cpp). Throws sigma::Exception with the key/tensor name.
struct ArchLoader {
    const char* name;   // general.architecture
    Hparams (*load_hparams)(const gguf::File& file);
    void (*load_weights)(const gguf::File& file, const Hparams& hp, Weights& w);
};
// The registry (arch/registry.cpp): the loader for general.architecture `name`, nullptr if unknown.
const ArchLoader* find_arch(const std::string& name);
std::string arch_names();   // "sigma, llama, qwen2"

} // namespace sigma
