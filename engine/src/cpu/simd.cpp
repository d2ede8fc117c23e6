// Runtime-dispatched SIMD dot products. Each ISA variant is compiled with a function-level
// target attribute, so the library itself needs no -march flag and runs on any x86-64.
#include "cpu/simd.h"

#include "gguf/gguf.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SIGMA_X86 1
#endif

namespace sigma::cpu {

Isa detect_isa() {
    static const Isa isa = [] {
        Isa best = Isa::Scalar;
#ifdef SIGMA_X86
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
            best = Isa::Avx2;
        if (best == Isa::Avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl"))
            best = Isa::Avx512;
#endif
        if (const char* env = std::getenv("SIGMA_CPU_ISA")) {
            const std::string want = env;
            if (want == "scalar") best = Isa::Scalar;
            else if (want == "avx2" && best == Isa::Avx512) best = Isa::Avx2;
        }
        return best;
    }();
    return isa;
}

std::string isa_name(Isa isa) {
    switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
    }
}

// ---------------------------------------------------------------- scalar reference
namespace ref {
float dot_f32(const float* w, const float* x, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; ++i) s += w[i] * x[i];
    return s;
}
float dot_f16(const uint16_t* w, const float* x, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; ++i) s += gguf::fp16_to_fp32(w[i]) * x[i];
    return s;
}
float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; ++i) s += gguf::bf16_to_fp32(w[i]) * x[i];
    return s;
}
float dot_q8_0(const void* w_blocks, const BlockQ8* x, int64_t n) {
    const auto* w = static_cast<const gguf::Q8_0Block*>(w_blocks);
    float s = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        int32_t acc = 0;
        for (int i = 0; i < 32; ++i) acc += int32_t(w[b].qs[i]) * int32_t(x[b].qs[i]);
        s += float(acc) * gguf::fp16_to_fp32(w[b].d) * x[b].d;
    }
    return s;
}
float dot_q8_0_f32(const void* w_blocks, const float* x, int64_t n) {
    const auto* w = static_cast<const gguf::Q8_0Block*>(w_blocks);
    float s = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        float acc = 0;
        for (int i = 0; i < 32; ++i) acc += float(w[b].qs[i]) * x[b * 32 + i];
        s += acc * gguf::fp16_to_fp32(w[b].d);
    }
    return s;
}
void attn_accumulate(const float* v, int64_t stride, const float* p, const int* rows, int n, int d, float scale, float* o) {
    for (int i = 0; i < n; ++i) {
        const int j = rows ? rows[i] : i;
        const float w = p[j] * scale;
        const float* vj = v + j * stride;
        for (int c = 0; c < d; ++c) o[c] += w * vj[c];
    }
}

float dot_q8_0_q16(const void* w_blocks, const int16_t* xq, const float* xd, int64_t n) {
    const auto* w = static_cast<const gguf::Q8_0Block*>(w_blocks);
    float s = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        int32_t acc = 0;
        for (int i = 0; i < 32; ++i) acc += int32_t(w[b].qs[i]) * int32_t(xq[b * 32 + i]);
        s += float(acc) * (gguf::fp16_to_fp32(w[b].d) * xd[b]);
    }
    return s;
}
} // namespace ref

void quantize_q16(const float* x, int16_t* q, float* d, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b) {
        const float* v = x + b * 32;
        float amax = 0;
        for (int i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(v[i]));
        const float scale = amax / 32767.f, inv = scale > 0 ? 1.f / scale : 0.f;
        d[b] = scale;
        for (int i = 0; i < 32; ++i) q[b * 32 + i] = static_cast<int16_t>(std::lrintf(v[i] * inv));
    }
}

void quantize_q8(const float* x, BlockQ8* out, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b) {
        const float* v = x + b * 32;
        float amax = 0;
        for (int i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(v[i]));
        const float d = amax / 127.f, id = d > 0 ? 1.f / d : 0.f;
        out[b].d = d;
        for (int i = 0; i < 32; ++i) out[b].qs[i] = static_cast<int8_t>(std::lrintf(v[i] * id));
    }
}

#ifdef SIGMA_X86
// ---------------------------------------------------------------- AVX2 + FMA + F16C
__attribute__((target("avx2,fma,f16c"))) static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma,f16c"))) static float dot_f32_avx2(const float* w, const float* x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; ++i) s += w[i] * x[i];
    return s;
}

__attribute__((target("avx2,fma,f16c"))) static float dot_f16_avx2(const uint16_t* w, const float* x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i + 8)));
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; ++i) s += gguf::fp16_to_fp32(w[i]) * x[i];
    return s;
}

__attribute__((target("avx2,fma,f16c"))) static float dot_bf16_avx2(const uint16_t* w, const float* x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i wi = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i))), 16);
        a0 = _mm256_fmadd_ps(_mm256_castsi256_ps(wi), _mm256_loadu_ps(x + i), a0);
    }
    float s = hsum256(a0);
    for (; i < n; ++i) s += gguf::bf16_to_fp32(w[i]) * x[i];
    return s;
}

__attribute__((target("avx2,fma,f16c"))) static inline __m256 q8_block_avx2(const gguf::Q8_0Block& w, const BlockQ8& x,
                                                                         __m256i ones) {
    const __m256i qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs));
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
    // |w| * sign(x, w): unsigned x signed bytes, pairs summed to i16, then to i32.
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(qw, qw), _mm256_sign_epi8(qx, qw));
    const __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones));
    return _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(w.d) * x.d), p);
}

__attribute__((target("avx2,fma,f16c"))) static float dot_q8_0_avx2(const void* w_blocks, const BlockQ8* x, int64_t n) {
    const auto* w = static_cast<const gguf::Q8_0Block*>(w_blocks);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    const int64_t nb = n / 32;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        acc0 = _mm256_add_ps(acc0, q8_block_avx2(w[b], x[b], ones));
        acc1 = _mm256_add_ps(acc1, q8_block_avx2(w[b + 1], x[b + 1], ones));
    }
    for (; b < nb; ++b) acc0 = _mm256_add_ps(acc0, q8_block_avx2(w[b], x[b], ones));
    return hsum256(_mm256_add_ps(acc0, acc1));
}

// ---------------------------------------------------------------- AVX-512
// GCC 12 reports the intrinsics' internal _mm512_undefined_ps() as uninitialized when they are
// inlined here (a known false positive), so the warning is off for the AVX-512 functions only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"))) static float dot_f32_avx512(const float* w, const float* x, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; ++i) s += w[i] * x[i];
    return s;
}

__attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"))) static float dot_f16_avx512(const uint16_t* w, const float* x, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i)));
        __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 16)));
        a0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + i + 16), a1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; ++i) s += gguf::fp16_to_fp32(w[i]) * x[i];
    return s;
}

__attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"))) static float dot_bf16_avx512(const uint16_t* w, const float* x, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512i w0 = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))), 16);
        __m512i w1 = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 16))), 16);
        a0 = _mm512_fmadd_ps(_mm512_castsi512_ps(w0), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_castsi512_ps(w1), _mm512_loadu_ps(x + i + 16), a1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; ++i) s += gguf::bf16_to_fp32(w[i]) * x[i];
    return s;
}

// Q8_0 weights against f32 activations: weights widened to f32 in registers, so the only
// rounding is the weights' own (matches the reference within F32 accumulation error).
__attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"))) static float dot_q8_0_f32_avx512(const void* w_blocks, const float* x,
                                                                                     int64_t n) {
    const auto* w = static_cast<const gguf::Q8_0Block*>(w_blocks);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].qs));
        const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].qs + 16));
        const __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo));
        const __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi));
        const __m512 p = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + b * 32 + 16), _mm512_mul_ps(w0, _mm512_loadu_ps(x + b * 32)));
        const __m512 d = _mm512_set1_ps(_cvtsh_ss(w[b].d));
        if (b & 1) acc1 = _mm512_fmadd_ps(d, p, acc1);
        else acc0 = _mm512_fmadd_ps(d, p, acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

__attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"))) static inline __m512 q8_block_f32_avx512(
    const gguf::Q8_0Block& blk, __m512 x0, __m512 x1, __m512 acc) {
    const __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs))));
    const __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs + 16))));
    const __m512 p = _mm512_fmadd_ps(w1, x1, _mm512_mul_ps(w0, x0));
    return _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(blk.d)), p, acc);
}

// Four consecutive Q8_0 rows against one f32 vector: x is loaded once per block for all four
// rows, and the four reductions are amortized over the row length.
__attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"))) static void dot4_q8_0_f32_avx512(const uint8_t* w, uint64_t stride,
                                                                                             const float* x, int64_t n, float* out) {
    const auto* r0 = reinterpret_cast<const gguf::Q8_0Block*>(w);
    const auto* r1 = reinterpret_cast<const gguf::Q8_0Block*>(w + stride);
    const auto* r2 = reinterpret_cast<const gguf::Q8_0Block*>(w + 2 * stride);
    const auto* r3 = reinterpret_cast<const gguf::Q8_0Block*>(w + 3 * stride);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
        const __m512 x0 = _mm512_loadu_ps(x + b * 32), x1 = _mm512_loadu_ps(x + b * 32 + 16);
        a0 = q8_block_f32_avx512(r0[b], x0, x1, a0);
        a1 = q8_block_f32_avx512(r1[b], x0, x1, a1);
        a2 = q8_block_f32_avx512(r2[b], x0, x1, a2);
        a3 = q8_block_f32_avx512(r3[b], x0, x1, a3);
    }
    out[0] = _mm512_reduce_add_ps(a0);
    out[1] = _mm512_reduce_add_ps(a1);
    out[2] = _mm512_reduce_add_ps(a2);
    out[3] = _mm512_reduce_add_ps(a3);
}

// exp(x) for x <= 88.7 (larger inputs are clamped there): Cody-Waite range reduction
// x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial for e^r (Cephes expf coefficients), then
// 2^n by scalef, which also flushes very negative inputs to 0.
__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) static inline __m512 exp_avx512(__m512 x) {
    x = _mm512_min_ps(x, _mm512_set1_ps(88.7f));
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
    return _mm512_scalef_ps(p, n);
}

__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) static int64_t silu_mul_avx512(float* g, const float* u, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 z = _mm512_loadu_ps(g + i);
        const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), z));
        const __m512 s = _mm512_div_ps(z, _mm512_add_ps(_mm512_set1_ps(1.f), e));
        _mm512_storeu_ps(g + i, _mm512_mul_ps(s, _mm512_loadu_ps(u + i)));
    }
    return i;
}

__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) static void attn_scores_avx512(const float* k, int64_t stride, const float* q,
                                                                                     int d, int n, float scale, float* s) {
    if (d == 64) {   // the common head size: q stays in registers
        const __m512 q0 = _mm512_loadu_ps(q), q1 = _mm512_loadu_ps(q + 16), q2 = _mm512_loadu_ps(q + 32),
                     q3 = _mm512_loadu_ps(q + 48);
        for (int j = 0; j < n; ++j) {
            const float* kj = k + j * stride;
            const __m512 a = _mm512_fmadd_ps(_mm512_loadu_ps(kj), q0, _mm512_mul_ps(_mm512_loadu_ps(kj + 16), q1));
            const __m512 b = _mm512_fmadd_ps(_mm512_loadu_ps(kj + 32), q2, _mm512_mul_ps(_mm512_loadu_ps(kj + 48), q3));
            s[j] = _mm512_reduce_add_ps(_mm512_add_ps(a, b)) * scale;
        }
        return;
    }
    for (int j = 0; j < n; ++j) s[j] = dot_f32_avx512(k + j * stride, q, d) * scale;
}

__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) static double attn_exp_avx512(float* s, int n, float smax) {
    const __m512 m = _mm512_set1_ps(smax);
    __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(s + j), m));
        _mm512_storeu_ps(s + j, e);
        acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    double sum = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
    for (; j < n; ++j) { s[j] = std::exp(s[j] - smax); sum += s[j]; }
    return sum;
}

__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) static void attn_accumulate_avx512(const float* v, int64_t stride, const float* p,
                                                                                         const int* rows, int n, int d, float scale,
                                                                                         float* o) {
    if (d == 64) {
        __m512 o0 = _mm512_loadu_ps(o), o1 = _mm512_loadu_ps(o + 16), o2 = _mm512_loadu_ps(o + 32), o3 = _mm512_loadu_ps(o + 48);
        for (int i = 0; i < n; ++i) {
            const int j = rows ? rows[i] : i;
            const float* vj = v + j * stride;
            const __m512 w = _mm512_set1_ps(p[j] * scale);
            o0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(vj), o0);
            o1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(vj + 16), o1);
            o2 = _mm512_fmadd_ps(w, _mm512_loadu_ps(vj + 32), o2);
            o3 = _mm512_fmadd_ps(w, _mm512_loadu_ps(vj + 48), o3);
        }
        _mm512_storeu_ps(o, o0); _mm512_storeu_ps(o + 16, o1); _mm512_storeu_ps(o + 32, o2); _mm512_storeu_ps(o + 48, o3);
        return;
    }
    ref::attn_accumulate(v, stride, p, rows, n, d, scale, o);
}

__attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"))) static float dot_q8_0_q16_avx512(const void* w_blocks, const int16_t* xq,
                                                                                     const float* xd, int64_t n) {
    const auto* w = static_cast<const gguf::Q8_0Block*>(w_blocks);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    const int64_t nb = n / 32;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs)));
        const __m512i w1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b + 1].qs)));
        const __m512i s0 = _mm512_madd_epi16(w0, _mm512_load_si512(xq + b * 32));
        const __m512i s1 = _mm512_madd_epi16(w1, _mm512_load_si512(xq + b * 32 + 32));
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(w[b].d) * xd[b]), _mm512_cvtepi32_ps(s0), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(w[b + 1].d) * xd[b + 1]), _mm512_cvtepi32_ps(s1), acc1);
    }
    if (b < nb) {
        const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs)));
        const __m512i s0 = _mm512_madd_epi16(w0, _mm512_load_si512(xq + b * 32));
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(w[b].d) * xd[b]), _mm512_cvtepi32_ps(s0), acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// Four consecutive Q8_0 rows against one 16-bit activation row (prefill): x is loaded once per
// block for all four rows.
__attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"))) static void dot4_q8_0_q16_avx512(const uint8_t* w, uint64_t stride,
                                                                                     const int16_t* xq, const float* xd, int64_t n,
                                                                                     float* out) {
    const gguf::Q8_0Block* r[4];
    for (int i = 0; i < 4; ++i) r[i] = reinterpret_cast<const gguf::Q8_0Block*>(w + i * stride);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t b = 0; b < n / 32; ++b) {
        const __m512i x = _mm512_load_si512(xq + b * 32);
        const float dx = xd[b];
        for (int i = 0; i < 4; ++i) {
            const __m512i wi = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r[i][b].qs)));
            acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(r[i][b].d) * dx), _mm512_cvtepi32_ps(_mm512_madd_epi16(wi, x)), acc[i]);
        }
    }
    for (int i = 0; i < 4; ++i) out[i] = _mm512_reduce_add_ps(acc[i]);
}

#pragma GCC diagnostic pop

__attribute__((target("avx2,fma,f16c"))) static float dot_q8_0_f32_avx2(const void* w_blocks, const float* x, int64_t n) {
    const auto* w = static_cast<const gguf::Q8_0Block*>(w_blocks);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
        __m256 p = _mm256_setzero_ps();
        for (int k = 0; k < 32; k += 8) {
            const __m256 wk = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w[b].qs + k))));
            p = _mm256_fmadd_ps(wk, _mm256_loadu_ps(x + b * 32 + k), p);
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(w[b].d)), p, acc);
    }
    return hsum256(acc);
}
#endif

int64_t silu_mul_simd(float* g, const float* u, int64_t n) {
#ifdef SIGMA_X86
    if (detect_isa() == Isa::Avx512) return silu_mul_avx512(g, u, n);
#endif
    (void)g, (void)u, (void)n;
    return 0;
}

void attn_scores(const float* k, int64_t stride, const float* q, int d, int n, float scale, float* s) {
#ifdef SIGMA_X86
    if (detect_isa() == Isa::Avx512) return attn_scores_avx512(k, stride, q, d, n, scale, s);
#endif
    for (int j = 0; j < n; ++j) s[j] = dot_f32(k + j * stride, q, d) * scale;
}

double attn_exp(float* s, int n, float smax) {
#ifdef SIGMA_X86
    if (detect_isa() == Isa::Avx512) return attn_exp_avx512(s, n, smax);
#endif
    double sum = 0;
    for (int j = 0; j < n; ++j) { s[j] = std::exp(s[j] - smax); sum += s[j]; }
    return sum;
}

void attn_accumulate(const float* v, int64_t stride, const float* p, const int* rows, int n, int d, float scale, float* o) {
#ifdef SIGMA_X86
    if (detect_isa() == Isa::Avx512) return attn_accumulate_avx512(v, stride, p, rows, n, d, scale, o);
#endif
    ref::attn_accumulate(v, stride, p, rows, n, d, scale, o);
}

float dot_q8_0_f32(const void* w, const float* x, int64_t n) {
#ifdef SIGMA_X86
    switch (detect_isa()) {
    case Isa::Avx512: return dot_q8_0_f32_avx512(w, x, n);
    case Isa::Avx2: return dot_q8_0_f32_avx2(w, x, n);
    default: break;
    }
#endif
    return ref::dot_q8_0_f32(w, x, n);
}

void dot4_q8_0_f32(const uint8_t* w, uint64_t stride, const float* x, int64_t n, float* out) {
#ifdef SIGMA_X86
    if (detect_isa() == Isa::Avx512) return dot4_q8_0_f32_avx512(w, stride, x, n, out);
#endif
    for (int i = 0; i < 4; ++i) out[i] = dot_q8_0_f32(w + i * stride, x, n);
}

float dot_f32(const float* w, const float* x, int64_t n) {
#ifdef SIGMA_X86
    switch (detect_isa()) {
    case Isa::Avx512: return dot_f32_avx512(w, x, n);
    case Isa::Avx2: return dot_f32_avx2(w, x, n);
    default: break;
    }
#endif
    return ref::dot_f32(w, x, n);
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
#ifdef SIGMA_X86
    switch (detect_isa()) {
    case Isa::Avx512: return dot_f16_avx512(w, x, n);
    case Isa::Avx2: return dot_f16_avx2(w, x, n);
    default: break;
    }
#endif
    return ref::dot_f16(w, x, n);
}

float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
#ifdef SIGMA_X86
    switch (detect_isa()) {
    case Isa::Avx512: return dot_bf16_avx512(w, x, n);
    case Isa::Avx2: return dot_bf16_avx2(w, x, n);
    default: break;
    }
#endif
    return ref::dot_bf16(w, x, n);
}

bool have_q16_path() {
#ifdef SIGMA_X86
    return detect_isa() == Isa::Avx512;
#else
    return false;
#endif
}

float dot_q8_0_q16(const void* w, const int16_t* xq, const float* xd, int64_t n) {
#ifdef SIGMA_X86
    if (detect_isa() == Isa::Avx512) return dot_q8_0_q16_avx512(w, xq, xd, n);
#endif
    return ref::dot_q8_0_q16(w, xq, xd, n);
}

void dot4_q8_0_q16(const uint8_t* w, uint64_t stride, const int16_t* xq, const float* xd, int64_t n, float* out) {
#ifdef SIGMA_X86
    if (detect_isa() == Isa::Avx512) return dot4_q8_0_q16_avx512(w, stride, xq, xd, n, out);
#endif
    for (int i = 0; i < 4; ++i) out[i] = ref::dot_q8_0_q16(w + i * stride, xq, xd, n);
}

float dot_q8_0(const void* w, const BlockQ8* x, int64_t n) {
#ifdef SIGMA_X86
    if (detect_isa() != Isa::Scalar) return dot_q8_0_avx2(w, x, n);
#endif
    return ref::dot_q8_0(w, x, n);
}

} // namespace sigma::cpu
