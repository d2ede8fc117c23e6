// Shared helpers for the architecture files: the key table reads and tensor declarations.
#include "model.h"

#include <sigma/expected.h>

#include <cstring>
#include <map>

namespace sigma {
namespace arch {

uint32_t get_u32(const gguf::File& f, const std::string& key, bool required, uint32_t def) {
    auto v = f.get_u32(key);
    if (!v) {
        if (required) throw Exception(ErrorCode::BadFile, "key " + key + " missing");
        return def;
    }
    return *v;
}

float get_f32(const gguf::File& f, const std::string& key, bool required, float def) {
    auto v = f.get_f32(key);
    if (!v) {
        if (required) throw Exception(ErrorCode::BadFile, "key " + key + " missing");
        return def;
    }
    return *v;
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

extern const ArchLoader k_arch_sigma;
extern const ArchLoader k_arch_llama;
extern const ArchLoader k_arch_qwen2;

const ArchLoader* find_arch(const std::string& name) {
    static const ArchLoader* all[] = {&k_arch_sigma, &k_arch_llama, &k_arch_qwen2};
    for (const ArchLoader* a : all)
        if (name == a->name) return a;
    return nullptr;
}

} // namespace sigma
