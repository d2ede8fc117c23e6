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
