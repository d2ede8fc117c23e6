// Shared helpers for the architecture files (arch/arch.h): the key table and its reading,
// tensor declarations, hyperparameter checks.
#include "arch/arch.h"

#include <sigma/expected.h>

#include <cstring>
#include <iterator>

namespace sigma {
namespace arch {

namespace {

// Key -> name, in the order of enum class Key; "%s" is the architecture.
struct KeyName {
    Key key;
    const char* name;
};
constexpr KeyName kKeyNames[] = {
    {Key::GeneralArchitecture, "general.architecture"},
    {Key::GeneralName, "general.name"},
    {Key::ContextLength, "%s.context_length"},
    {Key::EmbeddingLength, "%s.embedding_length"},
    {Key::BlockCount, "%s.block_count"},
    {Key::FeedForwardLength, "%s.feed_forward_length"},
    {Key::AttentionHeadCount, "%s.attention.head_count"},
    {Key::AttentionHeadCountKv, "%s.attention.head_count_kv"},
    {Key::AttentionHeadCountK, "%s.attention.head_count_k"},
    {Key::AttentionHeadCountV, "%s.attention.head_count_v"},
    {Key::AttentionKeyLength, "%s.attention.key_length"},
    {Key::AttentionValueLength, "%s.attention.value_length"},
    {Key::AttentionAugmentedQLength, "%s.attention.augmented_q_length"},
    {Key::AttentionLayerNormRmsEps, "%s.attention.layer_norm_rms_epsilon"},
    {Key::RopeFreqBase, "%s.rope.freq_base"},
    {Key::RopeDimensionCount, "%s.rope.dimension_count"},
};
constexpr bool in_enum_order() {
    for (size_t i = 0; i < std::size(kKeyNames); ++i)
        if (size_t(kKeyNames[i].key) != i) return false;
    return true;
}
static_assert(in_enum_order() && std::size(kKeyNames) == size_t(Key::RopeDimensionCount) + 1,
              "kKeyNames lists every Key once, in enum order");

} // namespace

std::string key_name(Key key, std::string_view arch) {
    std::string name = kKeyNames[size_t(key)].name;
    if (const size_t at = name.find("%s"); at != std::string::npos) name.replace(at, 2, arch);
    return name;
}

void read_hparams(const gguf::File& f, std::span<const HparamKey> keys, Hparams& hp) {
    for (const HparamKey& k : keys) {
        const std::string name = key_name(k.key, hp.arch);
        if (k.u32) {
            if (auto v = f.get_u32(name)) hp.*k.u32 = *v;
            else if (k.need == Need::Required) throw Exception(ErrorCode::BadFile, "key " + name + " missing");
            else if (k.fallback) hp.*k.u32 = uint32_t(k.fallback(hp));
        } else {
            if (auto v = f.get_f32(name)) hp.*k.f32 = *v;
            else if (k.need == Need::Required) throw Exception(ErrorCode::BadFile, "key " + name + " missing");
            else if (k.fallback) hp.*k.f32 = float(k.fallback(hp));
        }
    }
}

static std::string shape_str(const int64_t* ne, int n) {
    std::string s = "[";
    for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

Tensor tensor(const gguf::File& f, Weights& w, const std::string& name, std::vector<int64_t> ne, bool required) {
    const gguf::TensorInfo* ti = f.find_tensor(name);
    Tensor t;
    t.name = name;
    if (!ti) {
        if (required) throw Exception(ErrorCode::BadFile, "tensor '" + name + "' missing");
        return t;
    }
    int64_t want[4] = {1, 1, 1, 1};
    for (size_t i = 0; i < ne.size() && i < 4; ++i) want[i] = ne[i];
    for (int i = 0; i < 4; ++i) {
        if (ti->ne[i] != want[i])
            throw Exception(ErrorCode::BadFile, "tensor '" + name + "' has shape " + shape_str(ti->ne, ti->n_dims) +
                                                    ", expected " + shape_str(want, (int)ne.size()));
    }
    if (!gguf::type_readable(ti->type))
        throw Exception(ErrorCode::Unsupported, "tensor '" + name + "' has type " + gguf::type_name(ti->type) +
                                                    ", which this engine cannot read (supported: F32, F16, BF16, "
                                                    "Q8_0, Q4_0, Q4_K, Q5_K, Q6_K)");
    std::memcpy(t.ne, ti->ne, sizeof t.ne);
    t.type = ti->type;
    t.data = ti->data;
    t.n_bytes = ti->n_bytes;
    using gguf::GgmlType;
    const bool computable = t.type == GgmlType::F32 || t.type == GgmlType::F16 || t.type == GgmlType::BF16 ||
                            t.type == GgmlType::Q8_0;
    // 1-D tensors (norms, biases) are always used as F32.
    if (!computable || (ti->n_dims == 1 && t.type != GgmlType::F32)) {
        const int64_t n = ti->n_elements();
        auto buf = std::make_unique<std::vector<uint8_t>>(static_cast<size_t>(n) * sizeof(float));
        float* dst = reinterpret_cast<float*>(buf->data());
        const int64_t row = t.ne[0];
        const uint64_t stride = gguf::row_bytes(t.type, row);
        for (int64_t r = 0; r < n / row; ++r) gguf::dequantize_row(t.type, ti->data + r * stride, dst + r * row, row);
        t.type = GgmlType::F32;
        t.data = buf->data();
        t.n_bytes = buf->size();
        w.owned.push_back(std::move(buf));
    }
    return t;
}

void validate(const Hparams& hp) {
    auto need = [](bool ok, const std::string& what) {
        if (!ok) throw Exception(ErrorCode::BadFile, what);
    };
    need(hp.d_model > 0 && hp.n_layer > 0 && hp.d_ff > 0, "d_model, block_count and feed_forward_length must be > 0");
    need(hp.n_q > 0 && hp.n_k > 0 && hp.n_v > 0, "head counts must be > 0");
    need(hp.n_q % hp.n_k == 0, "head_count (" + std::to_string(hp.n_q) + ") must be a multiple of the K head count (" +
                                   std::to_string(hp.n_k) + ")");
    need(hp.n_q % hp.n_v == 0, "head_count (" + std::to_string(hp.n_q) + ") must be a multiple of the V head count (" +
                                   std::to_string(hp.n_v) + ")");
    need(hp.d_qk > 0 && hp.d_v > 0, "head sizes must be > 0");
    need(hp.d_rot % 2 == 0 && hp.d_rot <= hp.d_qk, "rope.dimension_count must be even and <= key_length");
    need(hp.n_layer <= 4096 && hp.d_model <= 65536 && hp.n_q <= 4096, "hyperparameters out of range");
}

} // namespace arch

} // namespace sigma
