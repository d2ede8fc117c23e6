// kernels: CUDA kernels for the engine's CUDA backend.
// This is the module's one public header. It is plain C++ (no CUDA types): device pointers are
// `void*`/typed host pointers, streams are `void*` (a cudaStream_t), so the engine compiles
// without nvcc. Each launcher checks that the problem is supported and returns a Status that
// the caller must look at; it never throws and never aborts.
#pragma once

#include <cstddef>
#include <string>

namespace sigmaops::kernels {

// Element types of kernel inputs.
enum class DType : int { F32 = 0, F16 = 1, BF16 = 2 };

// Result of a launcher: empty `error` means the kernel was launched (asynchronously) without a
// launch error. The message names the launcher and what was wrong.
struct [[nodiscard]] Status {
    std::string error;
    bool ok() const { return error.empty(); }
};

// ------------------------------------------------------------------------------------------
// Decode attention for DiffQKV (one new query token per sequence, any n_q/n_k/n_v).
//
// Heads form contiguous groups (SIGMA-GGUF.md section 1): query head h scores against K head
// h / (n_q/n_k) and reads V head h / (n_q/n_v). n_k and n_v must divide n_q.
//
// Layouts (all row-major, device memory, rows 16-byte aligned):
//   q        [batch][n_q][d_qk]         F32 or BF16
//   k_cache  [batch][n_k][max_ctx][d_qk] F16 or BF16 (position t of sequence b at [b][kh][t])
//   v_cache  [batch][n_v][max_ctx][d_v]  same type as k_cache
//   seq_lens [batch] int32 on the device, 0 <= seq_lens[b] <= max_ctx (keys 0..len-1 attend)
//   out      [batch][n_q][d_v]          F32; a sequence of length 0 gets zeros
// Supported: d_qk and d_v in {64, 128}; q F32/BF16; KV F16/BF16; max_ctx <= 2^30 / d.
//
// Full attention (top_k == 0): split-KV ("flash-decoding"). One block serves all query heads of
// one K head (up to 8; larger groups are cut into tiles of <= 8 heads) for one slice of the
// cache, so each K row is read once per group and each V row once per V head; a fused second
// pass (the last block of each group) combines the slices' partials by log-sum-exp.
//
// Selective V (top_k > 0): scores for all keys (K read fully), softmax statistics over all keys,
// then per query head the top_k keys by probability (radix select on the score bits), and
// out_h = sum over the selected t of p_t * v_t, with p the softmax over ALL keys (not
// renormalised over the selection). With top_k >= seq_len this equals full attention.
// top_k_union: the query heads that share a V head use the union of their top_k sets (each V row
// fetched once per V group, each head weighting every union row with its own p).
struct DecodeAttentionParams {
    int batch = 0;        // sequences
    int n_q = 0;          // query heads
    int n_k = 0;          // key heads (divides n_q)
    int n_v = 0;          // value heads (divides n_q)
    int d_qk = 0;         // Q/K head size: 64 or 128
    int d_v = 0;          // V head size: 64 or 128
    int max_ctx = 0;      // cache capacity per sequence (positions)
    int max_seq_len = 0;  // host-side upper bound on seq_lens[]; 0 = max_ctx. Sizes the split.
    float scale = 0.0f;   // score scale; 0 = 1/sqrt(d_qk)

    const void* q = nullptr;        // (batch, n_q, d_qk)
    DType q_type = DType::F32;      // F32 or BF16
    const void* k_cache = nullptr;  // (batch, n_k, max_ctx, d_qk)
    const void* v_cache = nullptr;  // (batch, n_v, max_ctx, d_v)
    DType kv_type = DType::BF16;    // F16 or BF16
    const int* seq_lens = nullptr;  // (batch) device int32
    float* out = nullptr;           // (batch, n_q, d_v)

    int top_k = 0;             // 0 = full attention; > 0 = selective V with this many rows/head
    bool top_k_union = false;  // selective V: union of the top_k sets per V group

    // Scratch from decode_attention_workspace_bytes(). It must be zero-filled once after
    // allocation (cudaMemset); every call leaves it ready for the next. One workspace must not
    // be used by two launches that may run concurrently.
    void* workspace = nullptr;
    std::size_t workspace_bytes = 0;
    void* stream = nullptr;  // cudaStream_t; nullptr = default stream
};

// Bytes of workspace decode_attention() needs for these shapes, max_seq_len, top_k and the
// current device (the split depends on its multiprocessor count). 0 if unsupported.
std::size_t decode_attention_workspace_bytes(const DecodeAttentionParams& p);

// Launches decode attention on p.stream. Returns an error (and launches nothing) for
// unsupported shapes/types, null or misaligned pointers, or a too-small workspace; returns the
// CUDA error string if a launch fails. Asynchronous: synchronize before reading p.out.
Status decode_attention(const DecodeAttentionParams& p);

}  // namespace sigmaops::kernels
