// Per-op tolerance tests of the CUDA backend's forward-pass operations (kernels.h) against their
// CPU twins (engine/src/cpu/ops.h, gguf conversions), over grids of shapes and types, in the
// manner of llama.cpp's tests/test-backend-ops.cpp: the decode GEMV (F16/BF16/Q8_0; plain input,
// fused pre-norm and SwiGLU; bias and residual epilogues; 1-3 matrices per launch; every block
// shape; batched vectors), rmsnorm (with its F16/BF16 copy), rope + KV-cache store (rotate-half
// and interleaved, partial rotation, single- and per-sequence caches), silu_mul, embed, add,
// convert, Q8_0 dequantization, seq_lens and argmax. Decode attention, causal attention, the
// small GEMM and the sampler have their own test files.
//
// Tolerances come from the arithmetic, not from measurement:
// - Exact (bitwise): embed, dequant_rows, convert, add, argmax, seq_lens, the V-cache store and
//   the F16/BF16 copies of rmsnorm (compared with the rounding of the kernel's own F32 output):
//   both sides do the same single rounding of the same value.
// - GEMV: both sides multiply the same weight values with F32 accumulation, in different orders
//   (and the CPU's Q8_0 path on AVX-512 rounds the input to 16 bits per 32-block: <= 2^-16 of
//   the block's largest |x| per element). Bound: 5e-5 * sum_i |w_i x_i| (+ |bias| or |y| of the
//   epilogue); a summation-order difference is ~1e-7 of that, a dropped or doubled term of a
//   2048-wide row ~5e-4, a wrong row or scale ~1e-2.
// - rmsnorm: the GPU sums squares in F32 (at most cols/256 + 13 additions deep), the CPU in
//   double: <= 1e-5 relative.
// - rope: angles in double on both sides, rounded once to F32; rotations in F32 (the GPU may
//   fuse a multiply-add): <= 1e-6 * (|x0| + |x1|). The K cache adds one rounding to F16/BF16
//   (half an ulp: 2^-11 / 2^-8 relative, 2^-25 absolute for F16 subnormals).
// - silu_mul: expf within 2 ulp on both sides, then a division and a product: <= 2e-6 relative.
// Every case prints its largest error (and its ratio to the bound). Without a GPU every case
// prints "skipped: no GPU" and passes. SIGMAOPS_TEST_QUICK=1 runs smaller grids (for
// compute-sanitizer).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cpu/ops.h"
#include "cpu/threadpool.h"
#include "gguf/gguf.h"
#include "gpu_test_util.h"
#include "kernels.h"
#include "model.h"

namespace {

namespace k = sigmaops::kernels;
namespace gguf = sigma::gguf;
using k::DType;
using sigma::testing::have_gpu;
using sigma::testing::quick;

// ---- helpers -------------------------------------------------------------------------------

// Device memory for n elements of T, freed on scope exit.
template <class T>
class DevBuf {
public:
    explicit DevBuf(size_t n) : m_n(n) { CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&m_p), std::max<size_t>(n, 1) * sizeof(T))); }
    explicit DevBuf(const std::vector<T>& host) : DevBuf(host.size()) { upload(host); }
    ~DevBuf() { cudaFree(m_p); }
    DevBuf(const DevBuf&) = delete;
    DevBuf& operator=(const DevBuf&) = delete;
    T* get() const { return m_p; }
    void upload(const std::vector<T>& host) {
        REQUIRE(host.size() == m_n);
        CUDA_OK(cudaMemcpy(m_p, host.data(), m_n * sizeof(T), cudaMemcpyHostToDevice));
    }
    std::vector<T> download() const {
        std::vector<T> host(m_n);
        CUDA_OK(cudaMemcpy(host.data(), m_p, m_n * sizeof(T), cudaMemcpyDeviceToHost));
        return host;
    }

private:
    T* m_p = nullptr;
    size_t m_n;
};

// REQUIRE(cond) with a message built only when it fails (the loops below check millions of
// elements; an INFO per element would dominate the run time).
#define REQUIRE_OR(cond, msg) \
    do {                      \
        if (!(cond)) {        \
            INFO(msg);        \
            REQUIRE((cond));  \
        }                     \
    } while (0)

// Waits for the launched work and fails on an asynchronous error.
void sync_ok() {
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaGetLastError());
}

void launch_ok(const k::Status& s) {
    INFO(s.error);
    REQUIRE(s.ok());
}

std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> U(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = U(rng);
    return v;
}

gguf::GgmlType ggml_type(DType t) {
    switch (t) {
        case DType::F16: return gguf::GgmlType::F16;
        case DType::BF16: return gguf::GgmlType::BF16;
        case DType::Q8_0: return gguf::GgmlType::Q8_0;
        default: return gguf::GgmlType::F32;
    }
}

const char* type_name(DType t) {
    switch (t) {
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
        case DType::Q8_0: return "Q8_0";
        default: return "F32";
    }
}

// The 16-bit pattern of f in t (F16 or BF16), rounded to nearest even (gguf's conversions,
// independent of CUDA's).
uint16_t bits16(float f, DType t) { return t == DType::F16 ? gguf::fp32_to_fp16(f) : gguf::fp32_to_bf16(f); }
float from_bits16(uint16_t b, DType t) { return t == DType::F16 ? gguf::fp16_to_fp32(b) : gguf::bf16_to_fp32(b); }

// Half an ulp of |v| in t: the error of one rounding to nearest (F16 subnormals: 2^-25).
double half_ulp(DType t, double v) {
    const double a = std::fabs(v);
    return t == DType::F16 ? std::max(a * std::ldexp(1.0, -11), std::ldexp(1.0, -25)) : a * std::ldexp(1.0, -8);
}

// A weight matrix (rows, cols) of one GGUF type on the host (gguf rows, what the CPU backend
// reads), its values as F32, and the same weights in the device layout (kernels.h
// DeviceMatrix: F16/BF16 as stored; Q8_0 as int8 quants + F16 scales).
struct Matrix {
    DType type;
    long long rows, cols;
    std::vector<uint8_t> gguf_bytes;
    std::vector<float> values;  // dequantized, (rows, cols)
    std::vector<uint8_t> dev_data, dev_scales;

    Matrix(DType t, long long r, long long c, uint32_t seed) : type(t), rows(r), cols(c) {
        const std::vector<float> src = uniform(size_t(r * c), seed, -1.0f, 1.0f);
        const uint64_t rb = gguf::row_bytes(ggml_type(t), c);
        gguf_bytes.resize(size_t(rb * r));
        values.resize(size_t(r * c));
        for (long long i = 0; i < r; ++i) {
            gguf::quantize_row(ggml_type(t), &src[size_t(i * c)], &gguf_bytes[size_t(i * rb)], c);
            gguf::dequantize_row(ggml_type(t), &gguf_bytes[size_t(i * rb)], &values[size_t(i * c)], c);
        }
        if (t != DType::Q8_0) {
            dev_data = gguf_bytes;
            return;
        }
        dev_data.resize(size_t(r * c));
        dev_scales.resize(size_t(r * (c / 32) * 2));
        for (long long i = 0; i < r; ++i) {
            const auto* blocks = reinterpret_cast<const gguf::Q8_0Block*>(&gguf_bytes[size_t(i * rb)]);
            for (long long b = 0; b < c / 32; ++b) {
                std::memcpy(&dev_data[size_t(i * c + b * 32)], blocks[b].qs, 32);
                std::memcpy(&dev_scales[size_t((i * (c / 32) + b) * 2)], &blocks[b].d, 2);
            }
        }
    }
    sigma::Tensor tensor() const {
        sigma::Tensor t;
        t.type = ggml_type(type);
        t.ne[0] = cols;
        t.ne[1] = rows;
        t.data = gguf_bytes.data();
        t.n_bytes = gguf_bytes.size();
        return t;
    }
};

// A Matrix uploaded: the DeviceMatrix the kernels take.
struct DevMatrix {
    DevBuf<uint8_t> data, scales;
    k::DeviceMatrix m;
    explicit DevMatrix(const Matrix& w)
        : data(w.dev_data), scales(w.dev_scales.empty() ? std::vector<uint8_t>(1) : w.dev_scales) {
        m.type = w.type;
        m.data = data.get();
        m.scales = w.type == DType::Q8_0 ? scales.get() : nullptr;
        m.rows = w.rows;
        m.cols = w.cols;
    }
};

sigma::cpu::ThreadPool& pool() {
    static sigma::cpu::ThreadPool p(0);
    return p;
}

// ---- GEMV ----------------------------------------------------------------------------------

enum class Epilogue { None, Bias, Accumulate };

struct GemvCase {
    DType type;
    std::vector<long long> rows;  // one entry per matrix (1..3)
    long long cols;
    k::GemvInput input = k::GemvInput::Plain;
    Epilogue epi = Epilogue::None;
    int shape = 0;
    int batch = 1;
};

std::string describe(const GemvCase& c) {
    std::string s = std::string(type_name(c.type)) + " cols " + std::to_string(c.cols) + " rows";
    for (long long r : c.rows) s += " " + std::to_string(r);
    s += c.input == k::GemvInput::Plain ? " plain" : (c.input == k::GemvInput::RmsNorm ? " rmsnorm" : " swiglu");
    s += c.epi == Epilogue::None ? "" : (c.epi == Epilogue::Bias ? " +bias" : " +=y");
    s += " shape " + std::to_string(c.shape) + " batch " + std::to_string(c.batch);
    return s;
}

// Runs one GEMV on the GPU and its CPU twin (the CPU backend's ops: rmsnorm or silu_mul on the
// input, then matmul, then the epilogue as forward.cpp adds it); returns the largest
// |gpu - cpu| / bound over all outputs (must be <= 1) and the largest |gpu - cpu| in *max_err.
double run_gemv(const GemvCase& c, double* max_err) {
    INFO(describe(c));
    const int n_mat = int(c.rows.size()), B = c.batch;
    const long long C = c.cols;
    const uint32_t seed = uint32_t(C * 7 + c.rows[0] * 131 + int(c.type) * 17 + int(c.input) * 5 + int(c.epi) + B * 1009);
    const std::vector<float> x = uniform(size_t(B * C), seed + 1, -2.0f, 2.0f);
    const std::vector<float> x2 = uniform(size_t(C), seed + 2, -2.0f, 2.0f);
    const std::vector<float> norm = uniform(size_t(C), seed + 3, 0.5f, 1.5f);
    const float eps = 1e-5f;
    // The input the matrices see, as the CPU forward pass computes it.
    std::vector<float> in(x);
    if (c.input == k::GemvInput::RmsNorm) sigma::cpu::rmsnorm(x.data(), norm.data(), in.data(), C, eps);
    if (c.input == k::GemvInput::SwiGLU) sigma::cpu::silu_mul(in.data(), x2.data(), C);

    std::vector<Matrix> W;
    std::vector<std::unique_ptr<DevMatrix>> dW;
    std::vector<std::vector<float>> bias, y0, cpu_y;
    std::vector<std::unique_ptr<DevBuf<float>>> d_bias, d_y;
    sigma::cpu::MatmulScratch scratch;
    k::GemvParams p;
    p.n_mat = n_mat;
    p.input = c.input;
    p.accumulate = c.epi == Epilogue::Accumulate;
    p.eps = eps;
    p.shape = c.shape;
    p.batch = B;
    for (int m = 0; m < n_mat; ++m) {
        const long long R = c.rows[size_t(m)];
        W.emplace_back(c.type, R, C, seed + 10 + uint32_t(m));
        bias.push_back(uniform(size_t(R), seed + 20 + uint32_t(m), -1.0f, 1.0f));
        y0.push_back(c.epi == Epilogue::Accumulate ? uniform(size_t(B * R), seed + 30 + uint32_t(m), -4.0f, 4.0f)
                                                   : std::vector<float>(size_t(B * R), 1e30f));  // must be overwritten
        std::vector<float> y(size_t(B * R));
        const sigma::Tensor t = W.back().tensor();
        sigma::cpu::matmul(pool(), t, in.data(), B, y.data(), scratch);
        for (int b = 0; b < B; ++b) {
            float* yb = &y[size_t(b * R)];
            if (c.epi == Epilogue::Bias) sigma::cpu::add(yb, bias.back().data(), R);
            if (c.epi == Epilogue::Accumulate) {
                std::vector<float> acc(&y0.back()[size_t(b * R)], &y0.back()[size_t(b * R)] + R);
                sigma::cpu::add(acc.data(), yb, R);
                std::copy(acc.begin(), acc.end(), yb);
            }
        }
        cpu_y.push_back(std::move(y));
        dW.push_back(std::make_unique<DevMatrix>(W.back()));
        d_bias.push_back(std::make_unique<DevBuf<float>>(bias.back()));
        d_y.push_back(std::make_unique<DevBuf<float>>(y0.back()));
        p.w[m] = dW.back()->m;
        p.y[m] = d_y.back()->get();
        p.bias[m] = c.epi == Epilogue::Bias ? d_bias.back()->get() : nullptr;
    }
    DevBuf<float> d_x(x), d_x2(x2), d_norm(norm);
    p.x = d_x.get();
    p.x2 = c.input == k::GemvInput::SwiGLU ? d_x2.get() : nullptr;
    p.norm = c.input == k::GemvInput::RmsNorm ? d_norm.get() : nullptr;
    launch_ok(k::gemv(p));
    sync_ok();

    double worst = 0, err_max = 0;
    for (int m = 0; m < n_mat; ++m) {
        const long long R = c.rows[size_t(m)];
        const std::vector<float> gpu = d_y[size_t(m)]->download();
        for (int b = 0; b < B; ++b)
            for (long long r = 0; r < R; ++r) {
                double bound = 0;
                const float* wr = &W[size_t(m)].values[size_t(r * C)];
                const float* xb = &in[size_t(b * C)];
                for (long long i = 0; i < C; ++i) bound += std::fabs(double(wr[i]) * xb[i]);
                if (c.epi == Epilogue::Bias) bound += std::fabs(bias[size_t(m)][size_t(r)]);
                if (c.epi == Epilogue::Accumulate) bound += std::fabs(y0[size_t(m)][size_t(b * R + r)]);
                bound = 5e-5 * bound + 1e-30;
                const size_t i = size_t(b * R + r);
                const double err = std::fabs(double(gpu[i]) - cpu_y[size_t(m)][i]);
                REQUIRE_OR(err <= bound, "matrix " << m << " vector " << b << " row " << r << ": gpu " << gpu[i] << " cpu "
                                                   << cpu_y[size_t(m)][i] << " bound " << bound);
                worst = std::max(worst, err / bound);
                err_max = std::max(err_max, err);
            }
    }
    if (max_err) *max_err = err_max;
    return worst;
}

}  // namespace

TEST_CASE("gemv equals the CPU's matmul over types, widths, fused inputs and epilogues", "[gpu][ops][gemv]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    // Widths: 64 (less than one 16-byte step per thread), 100 (not a multiple of 8: the scalar
    // path; F16/BF16 only), 2080 (one full 2048-wide step and a partial one), 6144 (Sigma's d_ff).
    const std::vector<long long> widths = quick() ? std::vector<long long>{64, 100, 2080} : std::vector<long long>{64, 100, 2080, 6144};
    // Row sets: one row (blocks clamp the rest), and three matrices of uneven heights in one
    // launch (Q, K and V).
    const std::vector<std::vector<long long>> row_sets = quick() ? std::vector<std::vector<long long>>{{37, 5, 16}}
                                                                 : std::vector<std::vector<long long>>{{1}, {37, 5, 16}, {300}};
    double worst = 0, err = 0;
    int n = 0;
    for (DType t : {DType::F16, DType::BF16, DType::Q8_0})
        for (long long cols : widths) {
            if (t == DType::Q8_0 && cols % 32 != 0) continue;
            for (const auto& rows : row_sets)
                for (k::GemvInput in : {k::GemvInput::Plain, k::GemvInput::RmsNorm, k::GemvInput::SwiGLU})
                    for (Epilogue e : {Epilogue::None, Epilogue::Bias, Epilogue::Accumulate}) {
                        GemvCase c{t, rows, cols, in, e};
                        double case_err = 0;
                        worst = std::max(worst, run_gemv(c, &case_err));
                        err = std::max(err, case_err);
                        ++n;
                    }
        }
    std::cout << "gemv: " << n << " cases, max |gpu - cpu| " << err << ", max error / bound " << worst << std::endl;
}

TEST_CASE("gemv: every block shape and batched vectors equal the CPU's matmul", "[gpu][ops][gemv]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    double worst = 0, err = 0;
    int n = 0;
    auto run = [&](const GemvCase& c) {
        double case_err = 0;
        worst = std::max(worst, run_gemv(c, &case_err));
        err = std::max(err, case_err);
        ++n;
    };
    // Block shapes 0..7 (GemvParams::shape), a width past one step of 128- and 256-thread
    // blocks (pipelined shapes load the next step early).
    for (DType t : {DType::F16, DType::BF16, DType::Q8_0})
        for (int shape = 0; shape < k::kGemvShapes; ++shape)
            for (k::GemvInput in : {k::GemvInput::Plain, k::GemvInput::RmsNorm}) {
                if (quick() && in != k::GemvInput::Plain) continue;
                run(GemvCase{t, {70, 9}, 4160, in, Epilogue::Bias, shape});
            }
    // Batched decode: 2..8 vectors per weight read (Plain input), 4- and 8-row blocks.
    for (DType t : {DType::F16, DType::BF16, DType::Q8_0})
        for (int shape : {0, 1})
            for (int batch : {2, 5, 8})
                for (long long cols : {64LL, 100LL, 2080LL})
                    for (Epilogue e : {Epilogue::None, Epilogue::Bias, Epilogue::Accumulate}) {
                        if (t == DType::Q8_0 && cols % 32 != 0) continue;
                        if (quick() && (batch == 5 || e == Epilogue::Bias)) continue;
                        run(GemvCase{t, {19, 6}, cols, k::GemvInput::Plain, e, shape, batch});
                    }
    std::cout << "gemv shapes and batches: " << n << " cases, max |gpu - cpu| " << err << ", max error / bound " << worst
              << std::endl;
}

TEST_CASE("rmsnorm equals the CPU's, and its F16/BF16 copy is the rounding of its F32 output", "[gpu][ops][rmsnorm]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    double worst = 0;
    int n = 0;
    for (int rows : {1, 3, 7})
        for (int cols : {1, 64, 100, 2048, 6144})
            for (int lp = 0; lp < 3; ++lp)  // 0: F32 only, 1: + F16, 2: + BF16
                for (float eps : {1e-5f, 1e-6f}) {
                    if (quick() && (rows == 7 || eps != 1e-5f)) continue;
                    INFO("rows " << rows << " cols " << cols << " lp " << lp << " eps " << eps);
                    const uint32_t seed = uint32_t(rows * 1000 + cols + lp * 7);
                    // Rows of different scales, one of them large enough to saturate F16.
                    std::vector<float> x = uniform(size_t(rows) * cols, seed, -1.0f, 1.0f);
                    for (int r = 0; r < rows; ++r)
                        for (int c = 0; c < cols; ++c) x[size_t(r) * cols + c] *= std::pow(10.0f, float(r % 3) - 1.0f);
                    std::vector<float> w = uniform(size_t(cols), seed + 1, -2.0f, 2.0f);
                    if (cols > 1) w[1] = 1e5f;
                    const DType lp_type = lp == 2 ? DType::BF16 : DType::F16;
                    DevBuf<float> dx(x), dw(w), dout(size_t(rows) * cols);
                    DevBuf<uint16_t> dlp(size_t(rows) * cols);
                    k::RmsNormParams p;
                    p.x = dx.get();
                    p.w = dw.get();
                    p.out = dout.get();
                    p.rows = rows;
                    p.cols = cols;
                    p.eps = eps;
                    p.out_lp = lp ? dlp.get() : nullptr;
                    p.lp_type = lp_type;
                    launch_ok(k::rmsnorm(p));
                    sync_ok();
                    const std::vector<float> gpu = dout.download();
                    const std::vector<uint16_t> gpu_lp = dlp.download();
                    std::vector<float> cpu(size_t(rows) * cols);
                    for (int r = 0; r < rows; ++r)
                        sigma::cpu::rmsnorm(&x[size_t(r) * cols], w.data(), &cpu[size_t(r) * cols], cols, eps);
                    for (size_t i = 0; i < cpu.size(); ++i) {
                        const double bound = 1e-5 * std::fabs(cpu[i]) + 1e-30;
                        const double err = std::fabs(double(gpu[i]) - cpu[i]);
                        REQUIRE_OR(err <= bound, "element " << i << ": gpu " << gpu[i] << " cpu " << cpu[i]);
                        worst = std::max(worst, err / bound);
                        if (lp) {
                            const float sat = lp_type == DType::F16 ? std::min(std::max(gpu[i], -65504.0f), 65504.0f) : gpu[i];
                            REQUIRE_OR(gpu_lp[i] == bits16(sat, lp_type), "element " << i << ": gpu F32 " << gpu[i] << ", copy bits "
                                                                                      << gpu_lp[i]);
                        }
                    }
                    ++n;
                }
    std::cout << "rmsnorm: " << n << " cases, max error / bound " << worst << std::endl;
}

namespace {

struct RopeCase {
    int n, n_q, n_k, n_v, d_qk, d_v, d_rot;
    bool interleaved, per_sequence;
    DType kv;
    int pos0;
};

// rope + KV store on the GPU against cpu::rope_angles + cpu::rope (q and k) and the cache rows
// rounded to the cache type; every cache element the call must not write keeps its sentinel.
// Returns the largest error / bound.
double run_rope(const RopeCase& c) {
    INFO("n " << c.n << " heads " << c.n_q << "/" << c.n_k << "/" << c.n_v << " d " << c.d_qk << "/" << c.d_v << " d_rot "
              << c.d_rot << (c.interleaved ? " interleaved" : " rotate-half") << (c.per_sequence ? " per-sequence" : "")
              << " " << type_name(c.kv) << " pos0 " << c.pos0);
    const int max_ctx = c.pos0 + c.n + 2;
    const int n_seq = c.per_sequence ? c.n : 1;
    const uint32_t seed = uint32_t(c.n * 31 + c.d_qk * 7 + c.d_rot + c.pos0 + c.n_q * 3 + (c.interleaved ? 1 : 0));
    const size_t qn = size_t(c.n_q) * c.d_qk, kn = size_t(c.n_k) * c.d_qk, vn = size_t(c.n_v) * c.d_v;
    const std::vector<float> q = uniform(c.n * qn, seed, -3.0f, 3.0f);
    const std::vector<float> kx = uniform(c.n * kn, seed + 1, -3.0f, 3.0f);
    std::vector<float> v = uniform(c.n * vn, seed + 2, -3.0f, 3.0f);
    v[0] = 1e-6f;  // an F16 subnormal
    // Positions: pos0 + t for one sequence; per sequence, sequence t at its own position.
    std::vector<int> pos(size_t(c.n));
    for (int t = 0; t < c.n; ++t) pos[size_t(t)] = c.per_sequence ? c.pos0 + (t * 37) % (c.n + 1) : c.pos0 + t;
    const uint16_t sentinel = 0x1234;
    const size_t kcn = size_t(n_seq) * c.n_k * max_ctx * c.d_qk, vcn = size_t(n_seq) * c.n_v * max_ctx * c.d_v;
    DevBuf<float> dq(q), dk(kx), dv(v);
    DevBuf<uint16_t> dkc(std::vector<uint16_t>(kcn, sentinel)), dvc(std::vector<uint16_t>(vcn, sentinel));
    DevBuf<int> dpos(c.per_sequence ? pos : std::vector<int>{c.pos0});
    k::RopeParams p;
    p.n = c.n;
    p.pos0 = dpos.get();
    p.n_q = c.n_q;
    p.n_k = c.n_k;
    p.n_v = c.n_v;
    p.d_qk = c.d_qk;
    p.d_v = c.d_v;
    p.d_rot = c.d_rot;
    p.base = 10000.0f;
    p.interleaved = c.interleaved;
    p.q = dq.get();
    p.k = dk.get();
    p.v = dv.get();
    p.k_cache = dkc.get();
    p.v_cache = dvc.get();
    p.kv_type = c.kv;
    p.max_ctx = max_ctx;
    p.per_sequence = c.per_sequence;
    launch_ok(k::rope(p));
    sync_ok();
    const std::vector<float> gq = dq.download();
    const std::vector<uint16_t> gkc = dkc.download(), gvc = dvc.download();

    // The CPU twin.
    const sigma::RopeStyle style = c.interleaved ? sigma::RopeStyle::Interleaved : sigma::RopeStyle::RotateHalf;
    std::vector<float> cq(q), ck(kx), cs(size_t(std::max(c.d_rot, 2)));
    for (int t = 0; t < c.n; ++t) {
        sigma::cpu::rope_angles(c.d_rot, pos[size_t(t)], 10000.0f, cs.data());
        sigma::cpu::rope(&cq[t * qn], c.n_q, c.d_qk, c.d_rot, cs.data(), style);
        sigma::cpu::rope(&ck[t * kn], c.n_k, c.d_qk, c.d_rot, cs.data(), style);
    }
    // Bound of a rotated element: 1e-6 * (|x0| + |x1|) of its pair (the input's values).
    auto pair_mag = [&](const float* x, int d) {
        if (d >= c.d_rot) return 0.0;
        const int half = c.d_rot / 2;
        const int partner = c.interleaved ? (d % 2 == 0 ? d + 1 : d - 1) : (d < half ? d + half : d - half);
        return std::fabs(double(x[d])) + std::fabs(double(x[partner]));
    };
    double worst = 0;
    for (int t = 0; t < c.n; ++t)
        for (int h = 0; h < c.n_q; ++h)
            for (int d = 0; d < c.d_qk; ++d) {
                const size_t i = t * qn + size_t(h) * c.d_qk + d;
                const double bound = 1e-6 * pair_mag(&q[t * qn + size_t(h) * c.d_qk], d) + 1e-30;
                const double err = std::fabs(double(gq[i]) - cq[i]);
                REQUIRE_OR(err <= bound, "q token " << t << " head " << h << " d " << d << ": gpu " << gq[i] << " cpu " << cq[i]);
                worst = std::max(worst, err / bound);
            }
    std::vector<char> k_written(kcn, 0), v_written(vcn, 0);
    for (int t = 0; t < c.n; ++t) {
        const size_t seq = c.per_sequence ? size_t(t) : 0;
        for (int h = 0; h < c.n_k; ++h)
            for (int d = 0; d < c.d_qk; ++d) {
                const size_t ci = ((seq * c.n_k + h) * max_ctx + pos[size_t(t)]) * c.d_qk + d;
                const double ref = ck[t * kn + size_t(h) * c.d_qk + d];
                const double rot = 1e-6 * pair_mag(&kx[t * kn + size_t(h) * c.d_qk], d);
                const double bound = half_ulp(c.kv, std::fabs(ref) + rot) + rot;
                const double got = from_bits16(gkc[ci], c.kv);
                REQUIRE_OR(std::fabs(got - ref) <= bound,
                           "k cache token " << t << " head " << h << " d " << d << ": gpu " << got << " cpu " << ref);
                worst = std::max(worst, std::fabs(got - ref) / bound);
                k_written[ci] = 1;
            }
        for (int h = 0; h < c.n_v; ++h)
            for (int d = 0; d < c.d_v; ++d) {
                const size_t ci = ((seq * c.n_v + h) * max_ctx + pos[size_t(t)]) * c.d_v + d;
                REQUIRE_OR(gvc[ci] == bits16(v[t * vn + size_t(h) * c.d_v + d], c.kv),
                           "v cache token " << t << " head " << h << " d " << d);
                v_written[ci] = 1;
            }
    }
    for (size_t i = 0; i < kcn; ++i) REQUIRE_OR(k_written[i] || gkc[i] == sentinel, "k cache element " << i << " written by mistake");
    for (size_t i = 0; i < vcn; ++i) REQUIRE_OR(v_written[i] || gvc[i] == sentinel, "v cache element " << i << " written by mistake");
    return worst;
}

}  // namespace

TEST_CASE("rope + KV store equals cpu::rope and the cache rows rounded to F16/BF16", "[gpu][ops][rope]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    double worst = 0;
    int n = 0;
    struct Heads { int n_q, n_k, n_v, d_qk, d_v; };
    // Sigma's DiffQKV (32/4/16, d 64), a d_v wider than d_qk, a GQA shape with 128-wide heads,
    // and odd head sizes (the causal kernel's).
    const std::vector<Heads> heads = {{32, 4, 16, 64, 64}, {4, 2, 1, 64, 128}, {8, 2, 2, 128, 128}, {6, 3, 2, 96, 40}};
    for (const Heads& hd : heads)
        for (int rot : {0, 1, 2})  // d_rot = d_qk, d_qk / 2, 0
            for (bool inter : {false, true})
                for (DType kv : {DType::F16, DType::BF16})
                    for (int mode = 0; mode < 3; ++mode) {  // decode (n 1), prefill (n 5), per-sequence (n 4)
                        const int d_rot = rot == 0 ? hd.d_qk : (rot == 1 ? (hd.d_qk / 2) & ~1 : 0);
                        if (quick() && (rot != 0 || kv == DType::BF16)) continue;
                        // 70000: angles far past 2 pi (the cache then holds 70K rows: one small shape only)
                        for (int pos0 : {0, 1000, 70000}) {
                            if (pos0 == 70000 && (hd.n_q != 4 || mode == 2)) continue;
                            if (quick() && pos0 == 1000) continue;
                            const int nt = mode == 0 ? 1 : (mode == 1 ? 5 : 4);
                            worst = std::max(worst, run_rope({nt, hd.n_q, hd.n_k, hd.n_v, hd.d_qk, hd.d_v, d_rot, inter,
                                                              mode == 2, kv, pos0}));
                            ++n;
                        }
                    }
    std::cout << "rope + KV store: " << n << " cases, max error / bound " << worst << std::endl;
}

TEST_CASE("silu_mul equals the CPU's, in place and into an F16/BF16 copy", "[gpu][ops][silu_mul]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    double worst = 0;
    int cases = 0;
    for (long long n : {1LL, 37LL, 256LL, 4097LL, 100000LL})
        for (int lp = 0; lp < 3; ++lp) {
            if (quick() && n == 100000) continue;
            INFO("n " << n << " lp " << lp);
            const DType lp_type = lp == 2 ? DType::BF16 : DType::F16;
            std::vector<float> g = uniform(size_t(n), uint32_t(n + lp), -12.0f, 12.0f);
            const std::vector<float> u = uniform(size_t(n), uint32_t(n + 99), -2.0f, 2.0f);
            g[0] = 0.0f;
            DevBuf<float> dg(g), du(u);
            DevBuf<uint16_t> dlp(static_cast<size_t>(n));
            k::SiluMulParams p;
            p.g = dg.get();
            p.u = du.get();
            p.n = n;
            p.out_lp = lp ? dlp.get() : nullptr;
            p.lp_type = lp_type;
            launch_ok(k::silu_mul(p));
            sync_ok();
            std::vector<float> cpu(g);
            sigma::cpu::silu_mul(cpu.data(), u.data(), n);
            const std::vector<float> gpu_g = dg.download();
            const std::vector<uint16_t> gpu_lp = dlp.download();
            for (size_t i = 0; i < size_t(n); ++i) {
                const double rel = 2e-6 * std::fabs(cpu[i]) + 1e-30;
                if (!lp) {
                    const double err = std::fabs(double(gpu_g[i]) - cpu[i]);
                    REQUIRE_OR(err <= rel, "element " << i << ": g " << g[i] << " u " << u[i] << " gpu " << gpu_g[i] << " cpu " << cpu[i]);
                    worst = std::max(worst, err / rel);
                } else {
                    REQUIRE_OR(std::memcmp(&gpu_g[i], &g[i], 4) == 0, "element " << i << ": g changed");  // g is left as it was
                    const double got = from_bits16(gpu_lp[i], lp_type);
                    const double bound = half_ulp(lp_type, std::fabs(cpu[i]) + rel) + rel;
                    REQUIRE_OR(std::fabs(got - cpu[i]) <= bound, "element " << i << ": g " << g[i] << " u " << u[i] << " gpu copy "
                                                                          << got << " cpu " << cpu[i]);
                    worst = std::max(worst, std::fabs(got - cpu[i]) / bound);
                }
            }
            ++cases;
        }
    std::cout << "silu_mul: " << cases << " cases, max error / bound " << worst << std::endl;
}

TEST_CASE("embed equals the CPU's row dequantization exactly", "[gpu][ops][embed]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    int cases = 0;
    for (DType t : {DType::F16, DType::BF16, DType::Q8_0})
        for (long long cols : {32LL, 100LL, 2048LL}) {
            if (t == DType::Q8_0 && cols % 32 != 0) continue;
            INFO(type_name(t) << " cols " << cols);
            const long long vocab = 300;
            const Matrix table(t, vocab, cols, uint32_t(cols + int(t)));
            const DevMatrix dt(table);
            const std::vector<int> ids = {0, 299, 17, 17, 256, 1};  // first, last, repeated
            DevBuf<int> dids(ids);
            DevBuf<float> dout(ids.size() * size_t(cols));
            launch_ok(k::embed({dt.m, dids.get(), int(ids.size()), dout.get(), nullptr}));
            sync_ok();
            const std::vector<float> gpu = dout.download();
            const sigma::Tensor tt = table.tensor();
            std::vector<float> cpu(static_cast<size_t>(cols));
            for (size_t j = 0; j < ids.size(); ++j) {
                sigma::cpu::embed(tt, ids[j], cpu.data());
                INFO("id " << ids[j]);
                REQUIRE(std::memcmp(cpu.data(), &gpu[j * size_t(cols)], size_t(cols) * 4) == 0);
            }
            ++cases;
        }
    std::cout << "embed: " << cases << " cases, exact" << std::endl;
}

TEST_CASE("convert and dequant_rows round exactly as the CPU's conversions", "[gpu][ops][convert]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    // convert: F32 -> F16 (saturating at +-65504) / BF16, round to nearest even.
    for (DType t : {DType::F16, DType::BF16})
        for (long long n : {1LL, 1000LL, 65537LL}) {
            INFO(type_name(t) << " n " << n);
            std::vector<float> x = uniform(size_t(n), uint32_t(n), -3.0f, 3.0f);
            const std::vector<float> special = {0.0f, -0.0f, 1e-7f, -3e-8f, 65504.0f, 65519.0f, 65520.0f, -1e6f, 1e6f,
                                                1.0f + std::ldexp(1.0f, -11), 1.0f + std::ldexp(1.0f, -8), 3e38f};
            for (size_t i = 0; i < special.size() && i < x.size(); ++i) x[i] = special[i];
            if (n > 1000) x[500] = t == DType::F16 ? std::numeric_limits<float>::infinity() : 1.5f;
            DevBuf<float> dx(x);
            DevBuf<uint16_t> dout(static_cast<size_t>(n));
            k::ConvertParams p;
            p.x = dx.get();
            p.out = dout.get();
            p.out_type = t;
            p.n = n;
            launch_ok(k::convert(p));
            sync_ok();
            const std::vector<uint16_t> gpu = dout.download();
            for (size_t i = 0; i < size_t(n); ++i) {
                const float sat = t == DType::F16 ? std::min(std::max(x[i], -65504.0f), 65504.0f) : x[i];
                REQUIRE_OR(gpu[i] == bits16(sat, t), "x " << x[i] << ": gpu bits " << gpu[i]);
            }
        }
    // dequant_rows: rows [row0, row0 + n_rows) of a Q8_0 matrix as F16.
    for (long long cols : {32LL, 96LL, 2048LL})
        for (long long row0 : {0LL, 5LL})
            for (long long n_rows : {1LL, 32LL}) {
                INFO("cols " << cols << " row0 " << row0 << " n_rows " << n_rows);
                const Matrix w(DType::Q8_0, 40, cols, uint32_t(cols * 3 + row0));
                const DevMatrix dw(w);
                DevBuf<uint16_t> dout(size_t(n_rows * cols));
                launch_ok(k::dequant_rows({dw.m, row0, n_rows, dout.get(), nullptr}));
                sync_ok();
                const std::vector<uint16_t> gpu = dout.download();
                for (long long i = 0; i < n_rows * cols; ++i)
                    REQUIRE_OR(gpu[size_t(i)] == gguf::fp32_to_fp16(w.values[size_t(row0 * cols + i)]), "element " << i);
            }
    std::cout << "convert, dequant_rows: exact" << std::endl;
}

TEST_CASE("add, seq_lens and argmax equal their CPU twins exactly", "[gpu][ops][add][argmax]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    // add: y (rows, cols) += b (cols), the CPU adding b to each row.
    for (int rows : {1, 5})
        for (int cols : {1, 300, 3072}) {
            INFO("add rows " << rows << " cols " << cols);
            const std::vector<float> y = uniform(size_t(rows) * cols, uint32_t(rows + cols), -5.0f, 5.0f);
            const std::vector<float> b = uniform(size_t(cols), uint32_t(cols), -5.0f, 5.0f);
            DevBuf<float> dy(y), db(b);
            launch_ok(k::add({dy.get(), db.get(), rows, cols, nullptr}));
            sync_ok();
            std::vector<float> cpu(y);
            for (int r = 0; r < rows; ++r) sigma::cpu::add(&cpu[size_t(r) * cols], b.data(), cols);
            const std::vector<float> gpu = dy.download();
            REQUIRE(std::memcmp(gpu.data(), cpu.data(), cpu.size() * 4) == 0);
        }
    // seq_lens: one sequence at positions pos0 + t, or one position per sequence.
    {
        DevBuf<int> dpos(std::vector<int>{7, 0, 41}), dlens(3);
        launch_ok(k::fill_seq_lens({dpos.get(), 3, dlens.get(), nullptr, false}));
        sync_ok();
        CHECK(dlens.download() == std::vector<int>{8, 9, 10});
        launch_ok(k::fill_seq_lens({dpos.get(), 3, dlens.get(), nullptr, true}));
        sync_ok();
        CHECK(dlens.download() == std::vector<int>{8, 1, 42});
    }
    // argmax: the first index of the largest value; NaN never wins; the scratch is left zero.
    for (int rows : {1, 3})
        for (int n : {1, 1000, 128256}) {
            INFO("argmax rows " << rows << " n " << n);
            std::vector<float> x = uniform(size_t(rows) * n, uint32_t(rows * 7 + n), -100.0f, 100.0f);
            for (int r = 0; r < rows; ++r) {
                float* xr = &x[size_t(r) * n];
                if (n > 10) {
                    xr[n - 3] = 500.0f;                       // a tie: the lower index wins
                    xr[(n / 2 + r) % n] = 500.0f;
                    xr[1] = std::numeric_limits<float>::quiet_NaN();
                    xr[2] = std::numeric_limits<float>::infinity() * (r == 2 ? 1.0f : -1.0f);
                }
            }
            DevBuf<float> dx(x);
            DevBuf<int> dout(static_cast<size_t>(rows));
            DevBuf<unsigned long long> scratch(std::vector<unsigned long long>(size_t(rows), 0));
            k::ArgmaxParams p;
            p.x = dx.get();
            p.n = n;
            p.out = dout.get();
            p.scratch = scratch.get();
            p.rows = rows;
            launch_ok(k::argmax(p));
            sync_ok();
            const std::vector<int> gpu = dout.download();
            for (int r = 0; r < rows; ++r) {
                const float* xr = &x[size_t(r) * n];
                int best = -1;
                for (int i = 0; i < n; ++i)
                    if (!std::isnan(xr[i]) && (best < 0 || xr[i] > xr[best])) best = i;
                CHECK(gpu[size_t(r)] == best);
            }
            CHECK(scratch.download() == std::vector<unsigned long long>(size_t(rows), 0));
        }
    std::cout << "add, seq_lens, argmax: exact" << std::endl;
}
