// test_gguf_types.cpp - tensor type conversions: half/bfloat16 edge cases, Q8_0/Q4_0 quantization
// error bounds, and dequantization of hand-built Q4_0/Q4_K/Q5_K/Q6_K blocks whose expected values
// were worked out by hand from the ggml block definitions (see the comment above each block).
#include <catch2/catch.hpp>

#include "gguf/gguf.h"
#include "sigma/expected.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace sigma::gguf;

namespace {
float f(uint32_t u) { float x; std::memcpy(&x, &u, 4); return x; }
uint32_t u(float x) { uint32_t v; std::memcpy(&v, &x, 4); return v; }
void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }
} // namespace

TEST_CASE("type table matches ggml", "[gguf][types]") {
    CHECK(std::string(type_name(GgmlType::Q8_0)) == "Q8_0");
    CHECK(std::string(type_name(GgmlType::BF16)) == "BF16");
    CHECK(std::string(type_name(static_cast<GgmlType>(4))) == "unknown");
    CHECK(block_size(GgmlType::F32) == 1);
    CHECK(block_bytes(GgmlType::Q4_0) == 18);
    CHECK(block_bytes(GgmlType::Q8_0) == 34);
    CHECK(block_bytes(GgmlType::Q2_K) == 84);
    CHECK(block_bytes(GgmlType::Q3_K) == 110);
    CHECK(block_bytes(GgmlType::Q4_K) == 144);
    CHECK(block_bytes(GgmlType::Q5_K) == 176);
    CHECK(block_bytes(GgmlType::Q6_K) == 210);
    CHECK(block_bytes(GgmlType::Q8_K) == 292);
    CHECK(block_size(GgmlType::Q6_K) == 256);
    CHECK(row_bytes(GgmlType::Q8_0, 64) == 68);
    CHECK(row_bytes(GgmlType::F16, 3) == 6);
    CHECK_THROWS_AS(row_bytes(GgmlType::Q8_0, 33), sigma::Exception);
    CHECK_THROWS_AS(block_size(static_cast<GgmlType>(99)), sigma::Exception);
    CHECK(type_readable(GgmlType::Q6_K));
    CHECK_FALSE(type_readable(GgmlType::Q2_K));
}

TEST_CASE("fp16 conversion edge cases", "[gguf][types]") {
    CHECK(fp16_to_fp32(0x3C00) == 1.0f);
    CHECK(fp16_to_fp32(0x0001) == std::ldexp(1.0f, -24));          // smallest subnormal
    CHECK(fp16_to_fp32(0x03FF) == std::ldexp(1023.0f, -24));       // largest subnormal
    CHECK(fp16_to_fp32(0x0400) == std::ldexp(1.0f, -14));          // smallest normal
    CHECK(fp16_to_fp32(0x7BFF) == 65504.0f);
    CHECK(std::isinf(fp16_to_fp32(0x7C00)));
    CHECK(fp16_to_fp32(0xFC00) == -std::numeric_limits<float>::infinity());
    CHECK(std::isnan(fp16_to_fp32(0x7E00)));
    CHECK(std::signbit(fp16_to_fp32(0x8000)));

    CHECK(fp32_to_fp16(1.0f) == 0x3C00);
    CHECK(fp32_to_fp16(-0.0f) == 0x8000);
    CHECK(fp32_to_fp16(65504.0f) == 0x7BFF);
    CHECK(fp32_to_fp16(65519.99f) == 0x7BFF);
    CHECK(fp32_to_fp16(65520.0f) == 0x7C00);                         // ties to even -> overflow
    CHECK(fp32_to_fp16(1e10f) == 0x7C00);
    CHECK(fp32_to_fp16(-std::numeric_limits<float>::infinity()) == 0xFC00);
    const uint16_t nan = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
    CHECK((nan & 0x7C00) == 0x7C00);
    CHECK((nan & 0x03FF) != 0);
    CHECK(fp32_to_fp16(f(0x7F800001)) != 0x7C00);                     // signalling NaN stays NaN
    // Round to nearest, ties to even.
    CHECK(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);      // tie: 0x3C00 is even
    CHECK(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);  // tie: 0x3C02 is even
    CHECK(fp32_to_fp16(1.0f + std::ldexp(1.2f, -11)) == 0x3C01);      // above the tie
    // Subnormals.
    CHECK(fp32_to_fp16(std::ldexp(1.0f, -24)) == 0x0001);
    CHECK(fp32_to_fp16(std::ldexp(1.0f, -25)) == 0x0000);             // tie with 0 -> even
    CHECK(fp32_to_fp16(std::ldexp(1.0001f, -25)) == 0x0001);
    CHECK(fp32_to_fp16(std::ldexp(3.0f, -25)) == 0x0002);             // 1.5 ulp: tie -> even
    CHECK(fp32_to_fp16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)) == 0x0400);   // carries into normal
    CHECK(fp32_to_fp16(std::ldexp(1.0f, -30)) == 0x0000);
    CHECK(fp32_to_fp16(-std::ldexp(1.0f, -24)) == 0x8001);
    // Every finite half survives a round trip; every NaN stays NaN.
    for (uint32_t h = 0; h < 65536; ++h) {
        const float x = fp16_to_fp32(uint16_t(h));
        if (std::isnan(x)) CHECK(std::isnan(fp16_to_fp32(fp32_to_fp16(x))));
        else if (fp32_to_fp16(x) != h) FAIL("fp16 round trip failed for 0x" << std::hex << h);
    }
}

TEST_CASE("bf16 conversion edge cases", "[gguf][types]") {
    CHECK(fp32_to_bf16(1.0f) == 0x3F80);
    CHECK(bf16_to_fp32(0x3F80) == 1.0f);
    CHECK(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3F80);       // tie: even
    CHECK(fp32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3F82);   // tie: even
    CHECK(fp32_to_bf16(1.0f + std::ldexp(1.5f, -8)) == 0x3F81);
    CHECK(fp32_to_bf16(std::numeric_limits<float>::infinity()) == 0x7F80);
    CHECK(fp32_to_bf16(std::numeric_limits<float>::max()) == 0x7F80);  // rounds up to inf, like ggml
    CHECK(fp32_to_bf16(f(0x7F800001)) == 0x7FC0);                     // signalling NaN -> quiet NaN
    CHECK(std::isnan(bf16_to_fp32(fp32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
    CHECK(fp32_to_bf16(-0.0f) == 0x8000);
    CHECK(fp32_to_bf16(f(0x00010000)) == 0x0001);                     // subnormal kept
    CHECK(bf16_to_fp32(0x0001) == f(0x00010000));
    for (uint32_t h = 0; h < 65536; ++h) {
        const float x = bf16_to_fp32(uint16_t(h));
        if (std::isnan(x)) CHECK(std::isnan(bf16_to_fp32(fp32_to_bf16(x))));
        else if (fp32_to_bf16(x) != h) FAIL("bf16 round trip failed for 0x" << std::hex << h);
    }
    CHECK(u(bf16_to_fp32(0xC000)) == 0xC0000000u);
}

TEST_CASE("Q8_0 quantization follows ggml's reference and stays within its error bound", "[gguf][types]") {
    // x = j - 16: amax 16, d = 16/127, q = round(x * 127/16).
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = float(j - 16);
    Q8_0Block b{};
    quantize_row(GgmlType::Q8_0, x, &b, 32);
    CHECK(b.d == fp32_to_fp16(16.0f / 127.0f));
    CHECK(b.qs[0] == -127);
    CHECK(b.qs[16] == 0);
    CHECK(b.qs[31] == 119);   // round(15 * 7.9375) = round(119.06)
    CHECK(b.qs[17] == 8);     // round(7.9375)

    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
    const int n = 32 * 64;
    std::vector<float> src(n), back(n);
    for (float& v : src) v = dist(rng);
    std::vector<Q8_0Block> q(n / 32);
    quantize_row(GgmlType::Q8_0, src.data(), q.data(), n);
    dequantize_row(GgmlType::Q8_0, q.data(), back.data(), n);
    for (int blk = 0; blk < n / 32; ++blk) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(src[blk * 32 + j]));
        const float d = amax / 127.0f;
        // |x - q*d16| <= d/2 (rounding) + 127 * |d - d16| (half precision of d, <= d * 2^-11).
        const float bound = d * (0.5f + 127.0f / 2048.0f) + 1e-7f;
        for (int j = 0; j < 32; ++j) REQUIRE(std::fabs(src[blk * 32 + j] - back[blk * 32 + j]) <= bound);
    }

    // An all-zero block quantizes to d = 0 and zeros.
    float zeros[32] = {};
    quantize_row(GgmlType::Q8_0, zeros, &b, 32);
    CHECK(b.d == 0);
    CHECK(b.qs[5] == 0);
    CHECK_THROWS_AS(quantize_row(GgmlType::Q8_0, zeros, &b, 31), sigma::Exception);
    CHECK_THROWS_AS(quantize_row(GgmlType::Q6_K, zeros, &b, 256), sigma::Exception);
}

TEST_CASE("Q4_0 quantization follows ggml's reference", "[gguf][types]") {
    // x = j - 16: value of largest magnitude -16, d = -16 / -8 = 2, q = min(15, (int)(x/2 + 8.5)).
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = float(j - 16);
    uint8_t b[18];
    quantize_row(GgmlType::Q4_0, x, b, 32);
    float y[32];
    dequantize_row(GgmlType::Q4_0, b, y, 32);
    CHECK(y[0] == -16.0f);   // q = 0
    CHECK(y[1] == -14.0f);   // -15/2 + 8.5 = 1 -> (1 - 8) * 2
    CHECK(y[2] == -14.0f);   // -14/2 + 8.5 = 1.5 -> 1
    CHECK(y[16] == 0.0f);    // 8
    CHECK(y[31] == 14.0f);   // 15/2 + 8.5 = 16 -> clamped to 15
    for (int j = 0; j < 32; ++j) CHECK(std::fabs(x[j] - y[j]) <= 2.0f);
}

TEST_CASE("F16 and BF16 rows round-trip through quantize_row/dequantize_row", "[gguf][types]") {
    const float src[4] = {1.0f, -2.5f, 65504.0f, std::ldexp(1.0f, -24)};
    uint16_t h[4];
    float back[4];
    quantize_row(GgmlType::F16, src, h, 4);
    dequantize_row(GgmlType::F16, h, back, 4);
    for (int i = 0; i < 4; ++i) CHECK(back[i] == src[i]);
    quantize_row(GgmlType::BF16, src, h, 4);
    dequantize_row(GgmlType::BF16, h, back, 4);
    CHECK(back[0] == 1.0f);
    CHECK(back[1] == -2.5f);
    CHECK(back[2] == 65536.0f);   // 65504 needs 11 significant bits; bf16 has 8
}

TEST_CASE("hand-built Q4_0 block", "[gguf][types]") {
    // d = 0.5. qs[0] = 0x3A: element 0 = (0xA - 8) * 0.5 = 1, element 16 = (3 - 8) * 0.5 = -2.5.
    // qs[15] = 0xF0: element 15 = (0 - 8) * 0.5 = -4, element 31 = (15 - 8) * 0.5 = 3.5.
    // Other qs = 0x88: 0.
    uint8_t b[18];
    put16(b, 0x3800);
    std::memset(b + 2, 0x88, 16);
    b[2 + 0] = 0x3A;
    b[2 + 15] = 0xF0;
    float y[32];
    dequantize_row(GgmlType::Q4_0, b, y, 32);
    CHECK(y[0] == 1.0f);
    CHECK(y[16] == -2.5f);
    CHECK(y[15] == -4.0f);
    CHECK(y[31] == 3.5f);
    CHECK(y[7] == 0.0f);
}

namespace {
// Shared Q4_K/Q5_K scales: d = 0.5, dmin = 0.25, and 12 scale bytes giving
//   sub-block 0: scale 5, min 3    (bytes 0 and 4, low 6 bits)
//   sub-block 1: scale 2, min 1    (bytes 1 and 5)
//   sub-block 4: scale 2 | (1 << 4) = 18 (byte 8 low nibble, byte 0 top bits 01),
//                min   7 | (2 << 4) = 39 (byte 8 high nibble, byte 4 top bits 10)
//   every other sub-block: scale 0, min 0.
void fill_k4_header(uint8_t* b) {
    put16(b, 0x3800);       // d = 0.5
    put16(b + 2, 0x3400);   // dmin = 0.25
    uint8_t* s = b + 4;
    std::memset(s, 0, 12);
    s[0] = 0x45;   // 0b01'000101
    s[4] = 0x83;   // 0b10'000011
    s[8] = 0x72;
    s[1] = 2;
    s[5] = 1;
}
} // namespace

TEST_CASE("hand-built Q4_K block", "[gguf][types]") {
    // Sub-block 0 (elements 0-31, low nibbles of qs[0..31]):  0.5*5*q - 0.25*3 = 2.5q - 0.75.
    // Sub-block 1 (elements 32-63, high nibbles of qs[0..31]): 0.5*2*q - 0.25*1 = q - 0.25.
    // Sub-block 4 (elements 128-159, low nibbles of qs[64..95]): 0.5*18*q - 0.25*39 = 9q - 9.75.
    uint8_t b[144];
    fill_k4_header(b);
    uint8_t* qs = b + 16;
    std::memset(qs, 0, 128);
    qs[0] = 0x93;    // element 0: q 3 -> 6.75;   element 32: q 9 -> 8.75
    qs[64] = 0x0B;   // element 128: q 11 -> 89.25; element 160 (sub-block 5, scale 0): 0
    float y[256];
    dequantize_row(GgmlType::Q4_K, b, y, 256);
    CHECK(y[0] == 6.75f);
    CHECK(y[1] == -0.75f);
    CHECK(y[32] == 8.75f);
    CHECK(y[33] == -0.25f);
    CHECK(y[128] == 89.25f);
    CHECK(y[129] == -9.75f);
    CHECK(y[160] == 0.0f);
    CHECK(y[255] == 0.0f);
}

TEST_CASE("hand-built Q5_K block", "[gguf][types]") {
    // Same scales as the Q4_K block. The fifth bit of element l of 64-element chunk c comes from
    // qh[l % 32]: bit 2c for the chunk's first 32 elements, bit 2c+1 for the next 32.
    uint8_t b[176];
    fill_k4_header(b);
    uint8_t* qh = b + 16;
    uint8_t* ql = b + 48;
    std::memset(qh, 0, 32);
    std::memset(ql, 0, 128);
    qh[0] = 0x11;   // bit 0: element 0 +16; bit 4: element 128 (chunk 2, first half) +16
    qh[1] = 0x02;   // bit 1: element 33 (chunk 0, second half) +16
    ql[0] = 0x93;
    ql[1] = 0x20;
    ql[64] = 0x0B;
    float y[256];
    dequantize_row(GgmlType::Q5_K, b, y, 256);
    CHECK(y[0] == 46.75f);    // 2.5 * (3 + 16) - 0.75
    CHECK(y[1] == -0.75f);    // 2.5 * 0 - 0.75
    CHECK(y[32] == 8.75f);    // 9 - 0.25 (bit 1 of qh[0] clear)
    CHECK(y[33] == 17.75f);   // (2 + 16) - 0.25
    CHECK(y[128] == 233.25f); // 9 * (11 + 16) - 9.75
    CHECK(y[160] == 0.0f);
}

TEST_CASE("hand-built Q6_K block", "[gguf][types]") {
    // d = 0.25; scales sc[0] = 3, sc[1] = 7, sc[2] = -2, sc[4] = 5, sc[6] = 1, sc[8] = -4.
    // First 128 elements, l < 32: element l + 32k takes bits 2k..2k+1 of qh[l] as its top bits and
    //   k = 0: ql[l] low nibble, k = 1: ql[l+32] low, k = 2: ql[l] high, k = 3: ql[l+32] high;
    //   q - 32 times d * sc[l/16 + 2k].
    // ql[0] = 0x5A, ql[32] = 0x3C, qh[0] = 0xE6 (bit pairs from low: 2, 1, 2, 3):
    //   element 0:  (0xA | 2<<4) - 32 = 10  -> 0.25 * 3 * 10 = 7.5
    //   element 32: (0xC | 1<<4) - 32 = -4  -> 0.25 * -2 * -4 = 2
    //   element 64: (0x5 | 2<<4) - 32 = 5   -> 0.25 * 5 * 5 = 6.25
    //   element 96: (0x3 | 3<<4) - 32 = 19  -> 0.25 * 1 * 19 = 4.75
    //   element 16: all zero bits: -32      -> 0.25 * 7 * -32 = -56
    //   element 1:  -32 with sc[0]          -> -24
    // Second 128: ql+64, qh+32, sc+8. ql[64] = 0x0F, qh[32] = 0x03:
    //   element 128: (0xF | 3<<4) - 32 = 31 -> 0.25 * -4 * 31 = -31
    uint8_t b[210];
    std::memset(b, 0, sizeof b);
    uint8_t* ql = b;
    uint8_t* qh = b + 128;
    int8_t* sc = reinterpret_cast<int8_t*>(b + 192);
    put16(b + 208, 0x3400);
    sc[0] = 3; sc[1] = 7; sc[2] = -2; sc[4] = 5; sc[6] = 1; sc[8] = -4;
    ql[0] = 0x5A; ql[32] = 0x3C; qh[0] = 0xE6;
    ql[64] = 0x0F; qh[32] = 0x03;
    float y[256];
    dequantize_row(GgmlType::Q6_K, b, y, 256);
    CHECK(y[0] == 7.5f);
    CHECK(y[32] == 2.0f);
    CHECK(y[64] == 6.25f);
    CHECK(y[96] == 4.75f);
    CHECK(y[16] == -56.0f);
    CHECK(y[1] == -24.0f);
    CHECK(y[128] == -31.0f);
}

TEST_CASE("dequantize_row rejects unsupported types and partial blocks", "[gguf][types]") {
    uint8_t b[256] = {};
    float y[256];
    CHECK_THROWS_AS(dequantize_row(GgmlType::Q2_K, b, y, 256), sigma::Exception);
    CHECK_THROWS_AS(dequantize_row(GgmlType::Q8_0, b, y, 16), sigma::Exception);
    CHECK_THROWS_AS(dequantize_row(static_cast<GgmlType>(77), b, y, 1), sigma::Exception);
}
