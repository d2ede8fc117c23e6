// device_model.cpp - uploads a loaded model's weights to the GPU once (Model::load with
// Device::Cuda); every session on that model shares them.
//
// Storage on the device (see cuda_backend.h): F16 as stored. F32 matrices (and the K-quants,
// which the loader already expanded to F32) and BF16 matrices become F16 when every value fits
// its range (|w| <= 65504): F16 has the smaller rounding error (2^-11 relative vs BF16's 2^-8),
// BF16 -> F16 is exact for |w| >= 2^-14, and the prefill GEMMs then take F16 activations, whose
// rounding keeps the logits within 2e-2 of the CPU where BF16 activations did not (0.025-0.035
// measured on the BF16 fixtures). A matrix with a value beyond F16's range stays/becomes BF16.
// Q8_0 is repacked as int8 quants + F16 scales for 16-byte loads. Norms and biases stay F32.
#include "cuda/bench_hooks.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/device_model.h"

#include "gguf/gguf.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>

namespace sigma::cuda {

using sigmaops::kernels::DType;

DeviceModel::~DeviceModel() {
    if (arena) cudaFree(arena);   // no throw from a destructor; an error here has no one to tell
}

namespace {

constexpr uint64_t kAlign = 256;
uint64_t align_up(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// One weight to upload: its host view, and where its device pointers go.
struct Job {
    const Tensor* t;
    DeviceMatrix* matrix = nullptr;    // a matrix, or
    const float** vec = nullptr;       // an F32 vector (norm, bias)
    DType target = DType::F16;         // chosen device type of a matrix
    uint64_t off_data = 0, off_scales = 0, bytes = 0;
};

// Rows of `t` as F32 (any readable type), one row at a time.
void for_each_row_f32(const Tensor& t, const std::function<void(int64_t, const float*)>& fn) {
    std::vector<float> row(size_t(t.cols()));
    for (int64_t r = 0; r < t.rows(); ++r) {
        gguf::dequantize_row(t.type, t.row(r), row.data(), t.cols());
        fn(r, row.data());
    }
}

DType choose_type(const Tensor& t) {
    switch (t.type) {
    case gguf::GgmlType::F16: return DType::F16;
    case gguf::GgmlType::Q8_0: return DType::Q8_0;
    default: {   // F32 and BF16: F16 when every value fits (exact for BF16 down to 2^-14)
        bool fits_f16 = true;
        for_each_row_f32(t, [&](int64_t, const float* x) {
            for (int64_t c = 0; c < t.cols() && fits_f16; ++c)
                if (!(std::fabs(x[c]) <= 65504.0f)) fits_f16 = false;
        });
        return fits_f16 ? DType::F16 : DType::BF16;
    }
    }
}

// Host bytes of `t` in the device layout of `job.target` (data, then scales for Q8_0).
std::vector<uint8_t> convert(const Job& job, uint64_t& scales_at) {
    const Tensor& t = *job.t;
    const int64_t rows = t.rows(), cols = t.cols();
    std::vector<uint8_t> out;
    if (job.vec) {
        out.resize(size_t(rows * cols) * 4);
        for_each_row_f32(t, [&](int64_t r, const float* x) { std::memcpy(&out[size_t(r * cols) * 4], x, size_t(cols) * 4); });
        return out;
    }
    if (job.target == DType::Q8_0) {
        const int64_t nb = cols / 32;
        scales_at = align_up(uint64_t(rows * cols));
        out.resize(scales_at + uint64_t(rows * nb) * 2);
        for (int64_t r = 0; r < rows; ++r) {
            const auto* blocks = reinterpret_cast<const gguf::Q8_0Block*>(t.row(r));
            for (int64_t b = 0; b < nb; ++b) {
                std::memcpy(&out[size_t(r * cols + b * 32)], blocks[b].qs, 32);
                std::memcpy(&out[scales_at + size_t(r * nb + b) * 2], &blocks[b].d, 2);
            }
        }
        return out;
    }
    out.resize(size_t(rows * cols) * 2);
    const bool same = (job.target == DType::F16 && t.type == gguf::GgmlType::F16) ||
                      (job.target == DType::BF16 && t.type == gguf::GgmlType::BF16);
    if (same) {
        for (int64_t r = 0; r < rows; ++r) std::memcpy(&out[size_t(r * cols) * 2], t.row(r), size_t(cols) * 2);
        return out;
    }
    for_each_row_f32(t, [&](int64_t r, const float* x) {
        uint16_t* dst = reinterpret_cast<uint16_t*>(&out[size_t(r * cols) * 2]);
        for (int64_t c = 0; c < cols; ++c)
            dst[c] = job.target == DType::F16 ? gguf::fp32_to_fp16(x[c]) : gguf::fp32_to_bf16(x[c]);
    });
    return out;
}

const char* dtype_name(DType t) {
    switch (t) {
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::Q8_0: return "Q8_0";
    default: return "F32";
    }
}

} // namespace

std::shared_ptr<const DeviceModel> upload_model(const Hparams& hp, const Weights& w) {
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev < 1) {
        cudaGetLastError();   // clear the sticky "no device" error
        throw Exception(ErrorCode::Unsupported, "no CUDA device is available on this machine; use --device cpu");
    }
    // What the kernels handle (kernels.h): head sizes for attention, input widths for gemv.
    if (hp.d_qk > 256 || hp.d_v > 256)
        throw Exception(ErrorCode::Unsupported, "CUDA backend: head sizes d_qk=" + std::to_string(hp.d_qk) + " d_v=" +
                                                    std::to_string(hp.d_v) + " are not supported (at most 256)");
    for (uint32_t c : {hp.d_model, hp.d_ff, hp.d_aug, hp.q_dim(), hp.o_dim()})
        if (c > 40960)
            throw Exception(ErrorCode::Unsupported, "CUDA backend: matrix input width " + std::to_string(c) +
                                                        " is more than the decode GEMV stages (40960)");

    auto m = std::make_shared<DeviceModel>();
    m->hp = hp;
    SIGMA_CUDA(cudaGetDevice(&m->device));
    cudaDeviceProp prop{};
    SIGMA_CUDA(cudaGetDeviceProperties(&prop, m->device));
    m->gpu_name = prop.name;

    // Pass 1: choose types, lay the arena out.
    std::vector<Job> jobs;
    auto matrix = [&](const Tensor& t, DeviceMatrix& dm) {
        if (t.empty()) return;
        Job j{&t};
        j.matrix = &dm;
        j.target = choose_type(t);
        jobs.push_back(j);
    };
    auto vec = [&](const Tensor& t, const float*& p) {
        if (t.empty()) return;
        Job j{&t};
        j.vec = &p;
        jobs.push_back(j);
    };
    matrix(w.token_embd, m->token_embd);
    vec(w.output_norm, m->output_norm);
    if (!w.tied) matrix(w.output, m->output);
    m->layers.resize(w.layers.size());
    for (size_t l = 0; l < w.layers.size(); ++l) {
        const LayerWeights& L = w.layers[l];
        DeviceLayer& D = m->layers[l];
        vec(L.attn_norm, D.attn_norm); vec(L.ffn_norm, D.ffn_norm);
        vec(L.bq, D.bq); vec(L.bk, D.bk); vec(L.bv, D.bv);
        matrix(L.wq, D.wq); matrix(L.wk, D.wk); matrix(L.wv, D.wv); matrix(L.wo, D.wo);
        matrix(L.wq_gate, D.wq_gate); matrix(L.wq_up, D.wq_up); matrix(L.wq_down, D.wq_down);
        matrix(L.w_gate, D.w_gate); matrix(L.w_up, D.w_up); matrix(L.w_down, D.w_down);
    }
    uint64_t total = 0;
    for (Job& j : jobs) {
        const uint64_t n = uint64_t(j.t->rows() * j.t->cols());
        j.off_data = total;
        if (j.vec) j.bytes = n * 4;
        else if (j.target == DType::Q8_0) j.bytes = align_up(n) + n / 32 * 2;
        else j.bytes = n * 2;
        total += align_up(j.bytes);
    }
    m->bytes = total;
    SIGMA_CUDA(cudaMalloc(&m->arena, total));

    // Pass 2: convert on the host, copy.
    char* base = static_cast<char*>(m->arena);
    for (Job& j : jobs) {
        uint64_t scales_at = 0;
        const std::vector<uint8_t> bytes = convert(j, scales_at);
        SIGMA_CUDA(cudaMemcpy(base + j.off_data, bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
        if (j.vec) {
            *j.vec = reinterpret_cast<const float*>(base + j.off_data);
            continue;
        }
        DeviceMatrix& dm = *j.matrix;
        dm.type = j.target;
        dm.rows = j.t->rows();
        dm.cols = j.t->cols();
        dm.data = base + j.off_data;
        dm.scales = j.target == DType::Q8_0 ? base + j.off_data + scales_at : nullptr;
        if (j.target == DType::Q8_0) m->max_q8_elems = std::max<int64_t>(m->max_q8_elems, dm.rows * dm.cols);
        const std::string src = gguf::type_name(j.t->type), dst = dtype_name(j.target);
        m->stored_as[src == dst ? dst : src + "->" + dst]++;
    }
    if (w.tied) m->output = m->token_embd;
    return m;
}

std::string describe(const DeviceModel& m) {
    std::ostringstream s;
    s << m.gpu_name << ", " << double(m.bytes) / 1e9 << " GB of weights (";
    bool first = true;
    for (const auto& [k, n] : m.stored_as) { s << (first ? "" : ", ") << k << " x" << n; first = false; }
    s << "), KV cache F16";
    return s.str();
}

namespace {
uint64_t matrix_bytes(const DeviceMatrix& w) {
    if (!w.data) return 0;
    const uint64_t n = uint64_t(w.rows * w.cols);
    return w.type == DType::Q8_0 ? n + n / 32 * 2 : n * 2;
}
} // namespace

uint64_t decode_weight_bytes(const DeviceModel& m) {
    const Hparams& hp = m.hp;
    uint64_t b = matrix_bytes(m.output) + uint64_t(hp.d_model) * 4 * (2 * hp.n_layer + 1);
    b += matrix_bytes(m.token_embd) / std::max<uint64_t>(1, uint64_t(m.token_embd.rows));
    for (const DeviceLayer& L : m.layers)
        for (const DeviceMatrix* w : {&L.wq, &L.wq_gate, &L.wq_up, &L.wq_down, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up,
                                      &L.w_down})
            b += matrix_bytes(*w);
    if (hp.qkv_bias) b += uint64_t(hp.q_dim() + hp.k_dim() + hp.v_dim()) * 4 * hp.n_layer;
    return b;
}

std::shared_ptr<const DeviceModel> random_model(const Hparams& hp, const std::string& weight_type, uint64_t seed) {
    DType wt;
    if (weight_type == "F16") wt = DType::F16;
    else if (weight_type == "BF16") wt = DType::BF16;
    else if (weight_type == "Q8_0") wt = DType::Q8_0;
    else throw Exception(ErrorCode::InvalidArgument, "random_model: weight type must be F16, BF16 or Q8_0");
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev < 1) {
        cudaGetLastError();
        throw Exception(ErrorCode::Unsupported, "no CUDA device is available on this machine");
    }
    auto m = std::make_shared<DeviceModel>();
    m->hp = hp;
    SIGMA_CUDA(cudaGetDevice(&m->device));
    cudaDeviceProp prop{};
    SIGMA_CUDA(cudaGetDeviceProperties(&prop, m->device));
    m->gpu_name = prop.name;

    struct M { DeviceMatrix* w; int64_t rows, cols; uint64_t off; };
    struct Vv { const float** p; int64_t n; uint64_t off; };
    std::vector<M> mats;
    std::vector<Vv> vecs;
    const int64_t D = hp.d_model, F = hp.d_ff, A = hp.d_aug, V = hp.n_vocab;
    m->layers.resize(hp.n_layer);
    mats.push_back({&m->token_embd, V, D, 0});
    mats.push_back({&m->output, V, D, 0});
    vecs.push_back({&m->output_norm, D, 0});
    for (DeviceLayer& L : m->layers) {
        vecs.push_back({&L.attn_norm, D, 0});
        vecs.push_back({&L.ffn_norm, D, 0});
        mats.push_back({&L.wq, hp.q_dim(), D, 0});
        if (A > 0) {
            mats.push_back({&L.wq_gate, A, hp.q_dim(), 0});
            mats.push_back({&L.wq_up, A, hp.q_dim(), 0});
            mats.push_back({&L.wq_down, hp.q_dim(), A, 0});
        }
        mats.push_back({&L.wk, hp.k_dim(), D, 0});
        mats.push_back({&L.wv, hp.v_dim(), D, 0});
        mats.push_back({&L.wo, D, hp.o_dim(), 0});
        mats.push_back({&L.w_gate, F, D, 0});
        mats.push_back({&L.w_up, F, D, 0});
        mats.push_back({&L.w_down, D, F, 0});
    }
    uint64_t total = 0;
    for (M& x : mats) {
        x.off = total;
        const uint64_t n = uint64_t(x.rows * x.cols);
        total += wt == DType::Q8_0 ? align_up(n) + align_up(n / 32 * 2) : align_up(n * 2);
    }
    for (Vv& v : vecs) { v.off = total; total += align_up(uint64_t(v.n) * 4); }
    m->bytes = total;
    SIGMA_CUDA(cudaMalloc(&m->arena, total));
    char* base = static_cast<char*>(m->arena);
    namespace kn = sigmaops::kernels;
    uint64_t salt = seed * 1000003;
    for (M& x : mats) {
        DeviceMatrix& w = *x.w;
        w.type = wt; w.rows = x.rows; w.cols = x.cols; w.data = base + x.off;
        const float s = 1.0f / std::sqrt(float(x.cols));
        const long long n = x.rows * x.cols;
        if (wt == DType::Q8_0) {
            w.scales = base + x.off + align_up(uint64_t(n));
            SIGMA_KERNEL(kn::fill_random({const_cast<void*>(w.data), DType::Q8_0, n, 0.0f, 1.0f, ++salt, nullptr}));
            SIGMA_KERNEL(kn::fill_random({const_cast<void*>(w.scales), DType::F16, n / 32, s / 127.0f, 0.0f, ++salt, nullptr}));
        } else {
            SIGMA_KERNEL(kn::fill_random({const_cast<void*>(w.data), wt, n, 0.0f, s, ++salt, nullptr}));
        }
        if (wt == DType::Q8_0) m->max_q8_elems = std::max<int64_t>(m->max_q8_elems, n);
        m->stored_as[std::string(dtype_name(wt)) + " (random)"]++;
    }
    for (Vv& v : vecs) {
        *v.p = reinterpret_cast<const float*>(base + v.off);
        SIGMA_KERNEL(kn::fill_random({base + v.off, DType::F32, v.n, 1.0f, 0.1f, ++salt, nullptr}));
    }
    SIGMA_CUDA(cudaDeviceSynchronize());
    return m;
}

} // namespace sigma::cuda
