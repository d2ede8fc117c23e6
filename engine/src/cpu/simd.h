// simd.h - dot products between one weight row (F32, F16, BF16 or Q8_0) and f32/Q8 activations,
// with the instruction set picked once at run time (AVX-512, AVX2+FMA+F16C, or scalar).
// These are the hot loops of CPU decode; everything else in the CPU backend is plain C++.
#pragma once

#include <cstdint>
#include <string>

namespace sigma::cpu {

// Activations quantized for Q8_0 weights: same blocks of 32 but with an f32 scale.
struct BlockQ8 {
    float d;
    int8_t qs[32];
};

enum class Isa { Scalar, Avx2, Avx512 };
Isa detect_isa();                 // cached; SIGMA_CPU_ISA=scalar|avx2|avx512 overrides (for tests)
std::string isa_name(Isa isa);

// n is a multiple of 32 for Q8_0; any n for the others.
float dot_f32(const float* w, const float* x, int64_t n);
float dot_f16(const uint16_t* w, const float* x, int64_t n);
float dot_bf16(const uint16_t* w, const float* x, int64_t n);
float dot_q8_0(const void* w_blocks, const BlockQ8* x, int64_t n);      // activations quantized too (faster, less exact)
float dot_q8_0_f32(const void* w_blocks, const float* x, int64_t n);     // activations kept in f32 (the default)
// out[i] = dot_q8_0_f32(w + i * stride, x, n) for i < 4, sharing the loads of x.
void dot4_q8_0_f32(const uint8_t* w, uint64_t stride, const float* x, int64_t n, float* out);
void quantize_q8(const float* x, BlockQ8* out, int64_t n);   // n multiple of 32

// Activations as 16-bit integers with one f32 scale per block of 32 (q = round(x / d), d = max|x| /
// 32767): relative error <= 2^-16 of the block's largest value, far inside the engine's
// tolerances, and it lets a Q8_0 row be multiplied with integer multiply-adds (vpmaddwd) instead
// of widening every weight to f32 - half the instructions per block on AVX-512.
bool have_q16_path();   // AVX-512BW available: dot_q8_0_q16 is the fast path for Q8_0 weights
void quantize_q16(const float* x, int16_t* q, float* d, int64_t n);   // n multiple of 32; q 64-byte aligned
float dot_q8_0_q16(const void* w_blocks, const int16_t* xq, const float* xd, int64_t n);
// out[i] = dot_q8_0_q16(w + i * stride, xq, xd, n) for i < 4, sharing the loads of xq.
void dot4_q8_0_q16(const uint8_t* w, uint64_t stride, const int16_t* xq, const float* xd, int64_t n, float* out);
// g[i] = silu(g[i]) * u[i] for the leading elements the SIMD path handles; returns how many
// (0 without AVX-512); the caller finishes the tail in scalar code.
int64_t silu_mul_simd(float* g, const float* u, int64_t n);

// Attention inner loops over one head (rows of the K or V cache are `stride` floats apart):
// s[j] = scale * dot(k + j * stride, q, d) for j < n
void attn_scores(const float* k, int64_t stride, const float* q, int d, int n, float scale, float* s);
// s[j] = exp(s[j] - smax) for j < n; returns the sum (accumulated in double)
double attn_exp(float* s, int n, float smax);
// o[0..d) += sum over the listed rows (rows == nullptr: rows 0..n-1) of p[row] * scale * v[row]
void attn_accumulate(const float* v, int64_t stride, const float* p, const int* rows, int n, int d, float scale, float* o);

// The scalar reference versions, for tests of the SIMD ones.
namespace ref {
float dot_f32(const float* w, const float* x, int64_t n);
float dot_f16(const uint16_t* w, const float* x, int64_t n);
float dot_bf16(const uint16_t* w, const float* x, int64_t n);
float dot_q8_0(const void* w_blocks, const BlockQ8* x, int64_t n);
float dot_q8_0_f32(const void* w_blocks, const float* x, int64_t n);
float dot_q8_0_q16(const void* w_blocks, const int16_t* xq, const float* xd, int64_t n);
void attn_accumulate(const float* v, int64_t stride, const float* p, const int* rows, int n, int d, float scale, float* o);
}

} // namespace sigma::cpu
