// arch/arch.h - what the architecture files share: the table of GGUF hyperparameter keys, the
// reading of an architecture's keys into Hparams, tensor declarations, and one struct per
// architecture (its file arch/<name>.cpp), which the registry (arch/registry.cpp) lists.
// After llama.cpp's src/llama-arch.cpp (key enum -> "%s.attention.head_count_kv" names) and
// src/models/models.h (one declaration per architecture).
//
// The registry is a table in one file rather than objects that register themselves at static
// initialisation: sigma_engine is a static library, and the linker drops an archive member
// nothing refers to, so a self-registering architecture file would silently vanish.
// Errors: throw sigma::Exception (BadFile, Unsupported) naming the key or tensor.
#pragma once

#include "model.h"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sigma::arch {

// Every GGUF metadata key the engine reads (key_name gives its name).
enum class Key {
    GeneralArchitecture,       // general.architecture
    GeneralName,               // general.name
    ContextLength,             // %s.context_length
    EmbeddingLength,           // %s.embedding_length
    BlockCount,                // %s.block_count
    FeedForwardLength,         // %s.feed_forward_length
    AttentionHeadCount,        // %s.attention.head_count
    AttentionHeadCountKv,      // %s.attention.head_count_kv   (llama, qwen2: K and V heads)
    AttentionHeadCountK,       // %s.attention.head_count_k    (sigma: K heads)
    AttentionHeadCountV,       // %s.attention.head_count_v    (sigma: V heads)
    AttentionKeyLength,        // %s.attention.key_length
    AttentionValueLength,      // %s.attention.value_length
    AttentionAugmentedQLength, // %s.attention.augmented_q_length  (sigma)
    AttentionLayerNormRmsEps,  // %s.attention.layer_norm_rms_epsilon
    RopeFreqBase,              // %s.rope.freq_base
    RopeDimensionCount,        // %s.rope.dimension_count
};

// The key's name in a file of architecture `arch` ("%s" replaced): key_name(Key::
// AttentionHeadCountK, "sigma") == "sigma.attention.head_count_k".
std::string key_name(Key key, std::string_view arch);

enum class Need { Required, Optional };

// One hyperparameter an architecture reads: the key, whether a file must have it, the Hparams
// field it fills (u32 or f32), and for an optional key the value when the file lacks it, as a
// function of the fields read before it in the table (null: leave the field's default).
struct HparamKey {
    Key key;
    Need need;
    uint32_t Hparams::*u32 = nullptr;
    float Hparams::*f32 = nullptr;
    double (*fallback)(const Hparams& hp) = nullptr;
};
constexpr HparamKey u32_key(Key key, Need need, uint32_t Hparams::*field, double (*fallback)(const Hparams&) = nullptr) {
    return {key, need, field, nullptr, fallback};
}
constexpr HparamKey f32_key(Key key, Need need, float Hparams::*field, double (*fallback)(const Hparams&) = nullptr) {
    return {key, need, nullptr, field, fallback};
}

// Reads `keys` in table order into hp under the prefix hp.arch. Throws BadFile for a required
// key that is missing ("key sigma.attention.head_count_k missing").
void read_hparams(const gguf::File& f, std::span<const HparamKey> keys, Hparams& hp);

// Looks up tensor `name`, checks its shape is exactly `ne` (GGUF order) and its type is usable;
// converts types the CPU does not compute on to F32 into w.owned. Empty tensor when optional and absent.
Tensor tensor(const gguf::File& f, Weights& w, const std::string& name, std::vector<int64_t> ne, bool required = true);
void validate(const Hparams& hp);   // head counts divide, sizes non-zero, d_rot even and <= d_qk

// ---- the architectures (one file each; the registry lists them) ---------------------------
// Each: its general.architecture name, hparams() (the key table read plus what the file format
// implies) and weights() (the tensors by name and shape).

// arch/sigma.cpp: DiffQKV attention with optional augmented Q (SIGMA-GGUF.md).
struct Sigma {
    static constexpr const char* name = "sigma";
    static Hparams hparams(const gguf::File& f);
    static void weights(const gguf::File& f, const Hparams& hp, Weights& w);
};
// arch/llama.cpp: llama.cpp's "llama" (GQA, interleaved RoPE).
struct Llama {
    static constexpr const char* name = "llama";
    static Hparams hparams(const gguf::File& f);
    static void weights(const gguf::File& f, const Hparams& hp, Weights& w);
};
// arch/qwen2.cpp: llama.cpp's "qwen2" (GQA with Q/K/V biases, rotate-half RoPE).
struct Qwen2 {
    static constexpr const char* name = "qwen2";
    static Hparams hparams(const gguf::File& f);
    static void weights(const gguf::File& f, const Hparams& hp, Weights& w);
};

// Shared by the GQA architectures (arch/llama.cpp): the keys and tensors of llama.cpp's
// converters under the prefix `name`.
Hparams gqa_hparams(const gguf::File& f, const char* name);
void gqa_weights(const gguf::File& f, const Hparams& hp, Weights& w);

} // namespace sigma::arch
