// types.cpp - ggml tensor types: the type table, half/bfloat16 conversion, and row conversion
// between F32 and the storage types.
//
// The block layouts and the arithmetic follow ggml's definitions (ggml-common.h block_* structs,
// ggml-quants.c dequantize_row_* and quantize_row_*_ref) so that a file dequantizes here to the
// same floats as in llama.cpp. Blocks are read byte-wise, so rows need no particular alignment.
// Tuned for clarity, not speed: fast paths belong to the CPU backend and are tested against this.
#include "gguf/gguf.h"

#include "sigma/expected.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace sigma::gguf {

namespace {

struct TypeTraits {
    GgmlType type;
    const char* name;
    int64_t block_size;
    int64_t block_bytes;
    bool readable;
};

// Sizes from ggml-common.h: QK4_0 = QK8_0 = 32, QK_K = 256.
constexpr TypeTraits kTypes[] = {
    {GgmlType::F32, "F32", 1, 4, true},
    {GgmlType::F16, "F16", 1, 2, true},
    {GgmlType::Q4_0, "Q4_0", 32, 2 + 16, true},
    {GgmlType::Q4_1, "Q4_1", 32, 2 + 2 + 16, false},
    {GgmlType::Q5_0, "Q5_0", 32, 2 + 4 + 16, false},
    {GgmlType::Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16, false},
    {GgmlType::Q8_0, "Q8_0", 32, 2 + 32, true},
    {GgmlType::Q8_1, "Q8_1", 32, 2 + 2 + 32, false},
    {GgmlType::Q2_K, "Q2_K", 256, 16 + 64 + 2 + 2, false},
    {GgmlType::Q3_K, "Q3_K", 256, 32 + 64 + 12 + 2, false},
    {GgmlType::Q4_K, "Q4_K", 256, 2 + 2 + 12 + 128, true},
    {GgmlType::Q5_K, "Q5_K", 256, 2 + 2 + 12 + 32 + 128, true},
    {GgmlType::Q6_K, "Q6_K", 256, 128 + 64 + 16 + 2, true},
    {GgmlType::Q8_K, "Q8_K", 256, 4 + 256 + 2 * 16, false},
    {GgmlType::BF16, "BF16", 1, 2, true},
};

const TypeTraits* traits(GgmlType type) {
    for (const auto& t : kTypes)
        if (t.type == type) return &t;
    return nullptr;
}

const TypeTraits& traits_or_throw(GgmlType type) {
    const TypeTraits* t = traits(type);
    if (!t)
        throw Exception(ErrorCode::Unsupported,
                        "unknown ggml tensor type id " + std::to_string(static_cast<uint32_t>(type)));
    return *t;
}

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
void wr16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v); p[1] = static_cast<uint8_t>(v >> 8); }

uint32_t f2u(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
float u2f(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// Converts a float already in [lo, hi] (after ggml's arithmetic) to an integer; NaN -> 0. ggml
// casts directly; the clamp only matters for non-finite inputs, where a plain cast is UB.
int to_int_clamped(float v, int lo, int hi) {
    if (std::isnan(v)) return 0;
    if (v < static_cast<float>(lo)) return lo;
    if (v > static_cast<float>(hi)) return hi;
    return static_cast<int>(v);
}

void check_blocks(GgmlType type, int64_t n, const char* what) {
    const TypeTraits& t = traits_or_throw(type);
    if (n < 0 || n % t.block_size != 0)
        throw Exception(ErrorCode::InvalidArgument,
                        std::string(what) + ": " + std::to_string(n) + " elements of " + t.name +
                            " is not a multiple of its block size " + std::to_string(t.block_size));
}

// ggml's get_scale_min_k4: the 12 scale bytes of a Q4_K/Q5_K block pack eight 6-bit scales and
// eight 6-bit mins. Sub-blocks 0-3 use the low 6 bits of bytes 0-3 (scale) and 4-7 (min);
// sub-blocks 4-7 take their low 4 bits from bytes 8-11 and their top 2 bits from the top bits of
// bytes 0-3 (scale) and 4-7 (min).
void scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Q4_0 block (18 bytes): d (half), qs[16]. Element j (j < 16) is the low nibble of qs[j], element
// j + 16 the high nibble; value = (nibble - 8) * d.
void dequant_q4_0(const uint8_t* b, float* y) {
    const float d = fp16_to_fp32(rd16(b));
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
        y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
        y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
}

// Q8_0 block (34 bytes): d (half), qs[32] (int8); value = q * d.
void dequant_q8_0(const uint8_t* b, float* y) {
    const float d = fp16_to_fp32(rd16(b));
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

// Q4_K block (144 bytes): d, dmin (half), scales[12], qs[128]. Eight sub-blocks of 32; each
// 64-element chunk uses 32 bytes of qs: low nibbles for the first 32, high nibbles for the next.
// value = d * scale * q - dmin * min.
void dequant_q4_k(const uint8_t* b, float* y) {
    const float d = fp16_to_fp32(rd16(b));
    const float dmin = fp16_to_fp32(rd16(b + 2));
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    int is = 0;
    for (int j = 0; j < 256; j += 64) {
        int sc, m;
        scale_min_k4(is + 0, scales, &sc, &m);
        const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
        scale_min_k4(is + 1, scales, &sc, &m);
        const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
        for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
        q += 32;
        is += 2;
    }
}

// Q5_K block (176 bytes): d, dmin (half), scales[12], qh[32], qs[128]. As Q4_K, plus a fifth
// bit per element from qh: chunk c (0..3) uses bit 2c of qh[l] for its first 32 elements and
// bit 2c+1 for the next 32.
void dequant_q5_k(const uint8_t* b, float* y) {
    const float d = fp16_to_fp32(rd16(b));
    const float dmin = fp16_to_fp32(rd16(b + 2));
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* ql = b + 48;
    int is = 0;
    unsigned u1 = 1, u2 = 2;
    for (int j = 0; j < 256; j += 64) {
        int sc, m;
        scale_min_k4(is + 0, scales, &sc, &m);
        const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
        scale_min_k4(is + 1, scales, &sc, &m);
        const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
        for (int l = 0; l < 32; ++l)
            *y++ = d1 * static_cast<float>((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
        for (int l = 0; l < 32; ++l)
            *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        ql += 32;
        is += 2;
        u1 <<= 2;
        u2 <<= 2;
    }
}

// Q6_K block (210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d
// (half). Two halves of 128 elements; in each, element l + 32k (k = 0..3) takes its low nibble
// from ql[l] (k = 0, 2: low/high nibble) or ql[l + 32] (k = 1, 3) and bits 2k..2k+1 of qh[l];
// value = d * scale[16-element group] * (q - 32).
void dequant_q6_k(const uint8_t* b, float* y) {
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = fp16_to_fp32(rd16(b + 208));
    for (int n = 0; n < 256; n += 128) {
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
            y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
            y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
            y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

// ggml's quantize_row_q8_0_ref: d = max|x| / 127, q = round(x / d).
void quant_q8_0(const float* x, uint8_t* b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr16(b, fp32_to_fp16(d));
    for (int j = 0; j < 32; ++j)
        b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(to_int_clamped(std::round(x[j] * id), -128, 127)));
}

// ggml's quantize_row_q4_0_ref: d = (value of largest magnitude) / -8, q = min(15, (int)(x/d + 8.5)).
void quant_q4_0(const float* x, uint8_t* b) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr16(b, fp32_to_fp16(d));
    for (int j = 0; j < 16; ++j) {
        const int xi0 = std::min(15, to_int_clamped(x[j] * id + 8.5f, 0, 127));
        const int xi1 = std::min(15, to_int_clamped(x[j + 16] * id + 8.5f, 0, 127));
        b[2 + j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
}

} // namespace

bool type_known(uint32_t id) { return traits(static_cast<GgmlType>(id)) != nullptr; }

const char* type_name(GgmlType type) {
    const TypeTraits* t = traits(type);
    return t ? t->name : "unknown";
}

bool type_readable(GgmlType type) {
    const TypeTraits* t = traits(type);
    return t && t->readable;
}

int64_t block_size(GgmlType type) { return traits_or_throw(type).block_size; }
int64_t block_bytes(GgmlType type) { return traits_or_throw(type).block_bytes; }

uint64_t row_bytes(GgmlType type, int64_t n) {
    check_blocks(type, n, "row_bytes");
    const TypeTraits& t = traits_or_throw(type);
    const uint64_t n_blocks = static_cast<uint64_t>(n / t.block_size);
    const uint64_t bb = static_cast<uint64_t>(t.block_bytes);
    if (n_blocks > std::numeric_limits<uint64_t>::max() / bb)
        throw Exception(ErrorCode::InvalidArgument, "row_bytes: size of " + std::to_string(n) +
                                                        " elements of " + t.name + " overflows");
    return n_blocks * bb;
}

float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    if (exp == 0) {
        if (mant == 0) return u2f(sign);
        // Subnormal: normalize the mantissa into an F32 normal.
        uint32_t e = 127 - 15 + 1;
        while (!(mant & 0x400u)) {
            mant <<= 1;
            --e;
        }
        mant &= 0x3FFu;
        return u2f(sign | (e << 23) | (mant << 13));
    }
    if (exp == 31) return u2f(sign | 0x7F800000u | (mant << 13));   // inf, NaN (payload kept)
    return u2f(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

uint16_t fp32_to_fp16(float f) {
    const uint32_t u = f2u(f);
    const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
    const uint32_t x = u & 0x7FFFFFFFu;
    if (x > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((x >> 13) & 0x1FFu));   // NaN, quiet
    if (x >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);   // >= 65520 rounds to inf
    const uint32_t e = x >> 23;
    if (e < 113) {
        // Result is a half subnormal (or zero): units of 2^-24. value = m * 2^(e - 150).
        if (e < 102) return sign;   // below 2^-25: rounds to zero
        const uint32_t m = (x & 0x7FFFFFu) | 0x800000u;
        const uint32_t shift = 126 - e;   // 14..24
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) ++r;   // may carry into the smallest normal
        return static_cast<uint16_t>(sign | r);
    }
    uint32_t r = ((e - 112) << 10) | ((x >> 13) & 0x3FFu);
    const uint32_t rem = x & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) ++r;   // carry into the exponent is correct
    return static_cast<uint16_t>(sign | r);
}

float bf16_to_fp32(uint16_t h) { return u2f(static_cast<uint32_t>(h) << 16); }

uint16_t fp32_to_bf16(float f) {
    const uint32_t u = f2u(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 64);   // NaN, quiet
    return static_cast<uint16_t>((u + (0x7FFFu + ((u >> 16) & 1))) >> 16);
}

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
    check_blocks(type, n, "dequantize_row");
    const TypeTraits& t = traits_or_throw(type);
    if (!t.readable)
        throw Exception(ErrorCode::Unsupported,
                        std::string("dequantize_row: tensor type ") + t.name + " is not supported by this build");
    const uint8_t* s = static_cast<const uint8_t*>(src);
    const int64_t n_blocks = n / t.block_size;
    switch (type) {
    case GgmlType::F32: std::memcpy(dst, s, static_cast<size_t>(n) * 4); break;
    case GgmlType::F16: for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(rd16(s + 2 * i)); break;
    case GgmlType::BF16: for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(rd16(s + 2 * i)); break;
    case GgmlType::Q4_0: for (int64_t i = 0; i < n_blocks; ++i) dequant_q4_0(s + 18 * i, dst + 32 * i); break;
    case GgmlType::Q8_0: for (int64_t i = 0; i < n_blocks; ++i) dequant_q8_0(s + 34 * i, dst + 32 * i); break;
    case GgmlType::Q4_K: for (int64_t i = 0; i < n_blocks; ++i) dequant_q4_k(s + 144 * i, dst + 256 * i); break;
    case GgmlType::Q5_K: for (int64_t i = 0; i < n_blocks; ++i) dequant_q5_k(s + 176 * i, dst + 256 * i); break;
    case GgmlType::Q6_K: for (int64_t i = 0; i < n_blocks; ++i) dequant_q6_k(s + 210 * i, dst + 256 * i); break;
    default: break;   // not readable: rejected above
    }
}

void quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
    check_blocks(type, n, "quantize_row");
    uint8_t* d = static_cast<uint8_t*>(dst);
    switch (type) {
    case GgmlType::F32: std::memcpy(d, src, static_cast<size_t>(n) * 4); break;
    case GgmlType::F16: for (int64_t i = 0; i < n; ++i) wr16(d + 2 * i, fp32_to_fp16(src[i])); break;
    case GgmlType::BF16: for (int64_t i = 0; i < n; ++i) wr16(d + 2 * i, fp32_to_bf16(src[i])); break;
    case GgmlType::Q8_0: for (int64_t i = 0; i < n / 32; ++i) quant_q8_0(src + 32 * i, d + 34 * i); break;
    case GgmlType::Q4_0: for (int64_t i = 0; i < n / 32; ++i) quant_q4_0(src + 32 * i, d + 18 * i); break;
    default:
        throw Exception(ErrorCode::Unsupported, std::string("quantize_row: cannot convert F32 to ") +
                                                    type_name(type) + " (supported: F32, F16, BF16, Q8_0, Q4_0)");
    }
}

} // namespace sigma::gguf
