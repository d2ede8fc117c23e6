// The SIMD dot products against their scalar twins, over lengths that exercise every tail.
#include <catch2/catch.hpp>

#include "cpu/ops.h"
#include "cpu/simd.h"
#include "gguf/gguf.h"

#include <cmath>
#include <random>
#include <vector>

using namespace sigma;

TEST_CASE("SIMD dot products match the scalar reference", "[engine][simd]") {
    INFO("isa " << cpu::isa_name(cpu::detect_isa()));
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (int64_t n : {1, 7, 16, 31, 32, 33, 64, 100, 768, 2048}) {
        std::vector<float> w(n), x(n);
        for (auto& v : w) v = nd(rng);
        for (auto& v : x) v = nd(rng);
        std::vector<uint16_t> h(n), b(n);
        for (int64_t i = 0; i < n; ++i) { h[i] = gguf::fp32_to_fp16(w[i]); b[i] = gguf::fp32_to_bf16(w[i]); }
        const float tol = 1e-4f * float(n);
        CHECK(std::fabs(cpu::dot_f32(w.data(), x.data(), n) - cpu::ref::dot_f32(w.data(), x.data(), n)) < tol);
        CHECK(std::fabs(cpu::dot_f16(h.data(), x.data(), n) - cpu::ref::dot_f16(h.data(), x.data(), n)) < tol);
        CHECK(std::fabs(cpu::dot_bf16(b.data(), x.data(), n) - cpu::ref::dot_bf16(b.data(), x.data(), n)) < tol);
        if (n % 32) continue;
        // Four Q8_0 rows: single-row and four-row kernels agree with the scalar twin.
        const uint64_t stride = gguf::row_bytes(gguf::GgmlType::Q8_0, n);
        std::vector<uint8_t> q(4 * stride);
        std::vector<float> rowsf(4 * n);
        for (auto& v : rowsf) v = nd(rng);
        for (int r = 0; r < 4; ++r) gguf::quantize_row(gguf::GgmlType::Q8_0, &rowsf[r * n], &q[r * stride], n);
        float four[4];
        cpu::dot4_q8_0_f32(q.data(), stride, x.data(), n, four);
        for (int r = 0; r < 4; ++r) {
            const float ref = cpu::ref::dot_q8_0_f32(&q[r * stride], x.data(), n);
            CHECK(std::fabs(cpu::dot_q8_0_f32(&q[r * stride], x.data(), n) - ref) < tol);
            CHECK(std::fabs(four[r] - ref) < tol);
        }
        std::vector<cpu::BlockQ8> xq(n / 32);
        cpu::quantize_q8(x.data(), xq.data(), n);
        CHECK(std::fabs(cpu::dot_q8_0(q.data(), xq.data(), n) - cpu::ref::dot_q8_0(q.data(), xq.data(), n)) < tol);
    }
}

TEST_CASE("SIMD silu(g) * u matches std::exp over the float range", "[engine][simd]") {
    INFO("isa " << cpu::isa_name(cpu::detect_isa()));
    // Values from -120 to 120 (past exp's overflow point both ways), dense near 0, plus a
    // length that leaves a scalar tail.
    std::vector<float> g, u;
    for (float z = -120.f; z <= 120.f; z += 0.37f) g.push_back(z);
    for (float z = -4.f; z <= 4.f; z += 0.001f) g.push_back(z);
    g.push_back(0.f);
    g.push_back(-0.f);
    g.push_back(1e-30f);
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.f, 2.f);
    for (size_t i = 0; i < g.size(); ++i) u.push_back(nd(rng));
    std::vector<float> out = g;
    cpu::silu_mul(out.data(), u.data(), int64_t(out.size()));
    for (size_t i = 0; i < g.size(); ++i) {
        const double z = g[i], want = z / (1.0 + std::exp(-z)) * u[i];
        INFO("z " << z << " u " << u[i]);
        REQUIRE(std::isfinite(out[i]));
        CHECK(std::fabs(out[i] - want) <= 4e-7 * std::fabs(want) + 1e-30);
    }
}

TEST_CASE("16-bit activations: quantization error bound and Q8_0 kernels vs the scalar twin", "[engine][simd]") {
    INFO("isa " << cpu::isa_name(cpu::detect_isa()));
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (int64_t n : {32, 64, 96, 768, 2048}) {
        std::vector<float> x(n);
        for (auto& v : x) v = nd(rng) * (rng() % 4 == 0 ? 50.f : 1.f);   // blocks with outliers
        std::vector<int16_t, cpu::AlignedAllocator<int16_t>> q(n);
        std::vector<float> d(n / 32);
        cpu::quantize_q16(x.data(), q.data(), d.data(), n);
        for (int64_t b = 0; b < n / 32; ++b) {
            float amax = 0;
            for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
            for (int i = 0; i < 32; ++i) REQUIRE(std::fabs(q[b * 32 + i] * d[b] - x[b * 32 + i]) <= amax / 65534.f * 1.001f);
        }
        const uint64_t stride = gguf::row_bytes(gguf::GgmlType::Q8_0, n);
        std::vector<uint8_t> w(4 * stride);
        std::vector<float> rowsf(4 * n);
        for (auto& v : rowsf) v = nd(rng);
        for (int r = 0; r < 4; ++r) gguf::quantize_row(gguf::GgmlType::Q8_0, &rowsf[r * n], &w[r * stride], n);
        float four[4];
        cpu::dot4_q8_0_q16(w.data(), stride, q.data(), d.data(), n, four);
        for (int r = 0; r < 4; ++r) {
            const float ref16 = cpu::ref::dot_q8_0_q16(&w[r * stride], q.data(), d.data(), n);
            const float ref32 = cpu::ref::dot_q8_0_f32(&w[r * stride], x.data(), n);
            const float tol = 1e-4f * float(n);
            CHECK(std::fabs(cpu::dot_q8_0_q16(&w[r * stride], q.data(), d.data(), n) - ref16) < tol);
            CHECK(std::fabs(four[r] - ref16) < tol);
            // Against f32 activations only the rounding of x differs: at most sum |w_i| * amax_b / 65534.
            std::vector<float> wf(n);
            gguf::dequantize_row(gguf::GgmlType::Q8_0, &w[r * stride], wf.data(), n);
            double bound = 0;
            for (int64_t b = 0; b < n / 32; ++b)
                for (int i = 0; i < 32; ++i) bound += std::fabs(wf[b * 32 + i]) * d[b] * 0.5;
            CHECK(std::fabs(ref16 - ref32) <= bound * 1.01 + 1e-5 * n);
        }
    }
}
