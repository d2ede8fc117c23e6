// kernels: CUDA kernels for the engine's CUDA backend.
// This is the module's one public header. It is plain C++ (no CUDA types): device pointers are
// `void*`/typed host pointers, streams are `void*` (a cudaStream_t), so the engine compiles
// without nvcc. Each launcher checks that the problem is supported and returns a Status that
// the caller must look at; it never throws and never aborts.
#pragma once

#include <cstddef>
#include <string>

namespace sigmaops::kernels {

// Element types of kernel inputs. Q8_0 is the GPU layout of ggml's Q8_0 (see DeviceMatrix).
enum class DType : int { F32 = 0, F16 = 1, BF16 = 2, Q8_0 = 3 };

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
// Full attention (selective_v == 0): split-KV ("flash-decoding"). One block serves all query
// heads of one K head (up to 8; larger groups are cut into tiles of <= 8 heads) for one slice of the
// cache, so each K row is read once per group and each V row once per V head; the last block of
// each group to finish combines the slices' partials by log-sum-exp. Where each V head of a tile
// serves <= 4 of its query heads (and the tile reads <= 4 V heads of 64, or 2 of 128), the
// products run on the tensor cores with q and p split into hi + lo halves (about fp32 accuracy).
//
// Selective V (selective_v > 0): scores for all keys (K read fully), softmax statistics over all keys,
// then per query head the selective_v keys by probability (histogram / radix select on the scores;
// ties: the lower position first, as the CPU forward pass), and out_h = sum over the selected t,
// in position order, of p_t * v_t, with p the softmax over ALL keys (not renormalised over the
// selection). With selective_v >= seq_len this equals full attention (and is computed as such when
// selective_v >= max_seq_len).
// selective_v_union: the query heads that share a V head use the union of their selective_v sets (each V row
// fetched once per V group, each head weighting every union row with its own p).
// Tuning knobs of decode_attention(), for benchmarks and tests. The defaults are what ships (the
// kernels measured in docs/benchmarks.md). The CUDA backend reads them from the environment once,
// when it is made (decode_attention_knobs_from_env); bench_attention starts from the same and
// sets them per variant; tests set them directly.
struct DecodeAttentionKnobs {
    bool old_kernels = false;        // SIGMAOPS_ATTN_OLD: the kernels before the tensor-core ones
    int split_pct = 100;             // SIGMAOPS_ATTN_SPLIT_PCT: tensor-core slices sized for this
                                     // % of one block per SM (10..1000)
    int chunk_pool = -1;             // SIGMAOPS_ATTN_DYN: full attention's chunk pool on (1) / off
                                     // (0); -1: by shape (<= 32 head tiles and >= 8192 keys)
    bool select_every_key = false;   // SIGMAOPS_ATTN_SEL_FULL: selective V's select without the
                                     // group maxima (passes over every key)
    int select_groups_from = 4096;   // SIGMAOPS_ATTN_SEL_MINLEN: the group-maximum select from
                                     // this many keys (1..2^30)
    int pdl_prefetch_bytes = 8192;   // SIGMAOPS_ATTN_PDL_PREFETCH: L2 prefetch per warp before the
                                     // PDL wait (0..1 MiB)
    bool trace = false;              // SIGMAOPS_ATTN_TRACE: block timestamps (decode_attention_trace)
};

// The knobs from the environment variables named above: a flag is on for any value but unset,
// empty or "0" (SIGMAOPS_ATTN_DYN: "0" off, any other value on); a number that is malformed
// ("12x", "lots") or out of its range keeps the default.
DecodeAttentionKnobs decode_attention_knobs_from_env();

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

    int selective_v = 0;             // 0 = full attention; > 0 = selective V with this many rows/head
    bool selective_v_union = false;  // selective V: union of the selective_v sets per V group

    // Scratch from decode_attention_workspace_bytes(). It must be zero-filled once after
    // allocation (cudaMemset); every call leaves it ready for the next. One workspace must not
    // be used by two launches that may run concurrently. Calls of different shapes (batch,
    // selective_v) may share one workspace sized for the largest while batch * n_k * ceil(n_q / n_k / 8)
    // <= 4096 (the counters live in a fixed region at its start).
    void* workspace = nullptr;
    std::size_t workspace_bytes = 0;
    // Programmatic dependent launch (sm_90; see GemvParams::pdl): the first kernel may start
    // while the previous kernel on the stream (a kernel, e.g. rope) is still running.
    // Before it waits for that kernel it reads only seq_lens (L2-coherent loads) and the K/V
    // rows at positions < seq_len - 1, streaming the first of them into registers and the L2;
    // q, the row at seq_len - 1, the workspace and out are touched only after the wait. So the
    // caller must have written seq_lens and the older rows before the previous kernel started
    // (the engine writes seq_lens before the step's first PDL kernel). Later kernels of the
    // call (selective V) are chained the same way. Only the tensor-core kernels use it; the
    // others are launched without the attribute.
    bool pdl = false;
    void* stream = nullptr;  // cudaStream_t; nullptr = default stream
    // Tuning knobs (benchmarks, tests). The workspace size depends on them: query it with the
    // knobs the calls will use.
    DecodeAttentionKnobs knobs;
};

// Bytes of workspace decode_attention() needs for these shapes, max_seq_len, selective_v and the
// current device (the split depends on its multiprocessor count), and knobs. 0 if unsupported.
std::size_t decode_attention_workspace_bytes(const DecodeAttentionParams& p);

// How decode_attention() would run p (its knobs included) on a GPU with `sms` multiprocessors,
// without one: the launcher's plan (for tests and benchmarks). `error` is set, and the rest left
// at zero, when the shapes are unsupported.
struct DecodeAttentionPlanInfo {
    std::string error;
    bool tensor_cores = false;       // the tensor-core kernels (decode_attention_fast.cuh)
    bool pdl = false;                // launched with programmatic dependent launch
    bool chunk_pool = false;         // full attention takes chunks from a pool (knobs.chunk_pool)
    int head_tiles = 0;              // head tiles per K head
    int tile_heads = 0;              // query heads per tile
    int splits = 0;                  // cache slices per (sequence, head tile) (knobs.split_pct)
    int pdl_prefetch_bytes = 0;      // L2 prefetch per warp before the PDL wait
    bool group_max_select = false;   // selective V's select from group maxima (knobs.select_every_key)
    int group_max_min_len = 0;       // ... from this many keys (knobs.select_groups_from)
    std::size_t workspace_bytes = 0; // what decode_attention_workspace_bytes() says on such a GPU
};
DecodeAttentionPlanInfo decode_attention_plan(const DecodeAttentionParams& p, int sms);

// Launches decode attention on p.stream. Returns an error (and launches nothing) for
// unsupported shapes/types, null or misaligned pointers, or a too-small workspace; returns the
// CUDA error string if a launch fails. Asynchronous: synchronize before reading p.out.
Status decode_attention(const DecodeAttentionParams& p);

// Diagnostics (bench_attention --trace): in a call with knobs.trace, the tensor-core kernels record %globaltimer at fixed points of each block
// (kDecodeTraceSlots per block; split-KV / scores blocks first, then the select+gather blocks
// from kDecodeTraceSelectBase; the select blocks' slots kDecodeTraceCountSlot and after hold
// counts, not times: groups and candidates of the group-maximum path). Copies the last call's
// records into host (synchronizes the device) and clears the buffer; returns the entries
// copied, or -1 if tracing was never enabled.
constexpr int kDecodeTraceSlots = 16;
constexpr int kDecodeTraceCountSlot = 14;
constexpr int kDecodeTraceSelectBase = 4096 * kDecodeTraceSlots;
constexpr int kDecodeTraceEntries = 2 * kDecodeTraceSelectBase;
int decode_attention_trace(unsigned long long* host, int max_entries);

// ------------------------------------------------------------------------------------------
// Forward-pass operations of the engine's CUDA backend (engine/src/cuda/cuda_forward.cpp).
// The same named operations as the CPU backend (engine/src/cpu/ops.h has the list with both
// backends' names): embed, rmsnorm, matmul (here gemv for one token, small_gemm or cuBLAS for
// a batch), rope (+ the KV-cache store), silu_mul, add, attention, and argmax. All pointers are device memory; every
// launcher is asynchronous on `stream` and returns an error instead of launching for shapes it
// does not handle. Positions are read from device memory (`pos0`) so a decode step can be
// captured once in a CUDA graph and replayed at every position.
//
// Weight matrices on the device: (rows = outputs, cols = inputs), row-major.
//   F16 / BF16: rows * cols elements.
//   Q8_0: ggml's blocks of 32 (one F16 scale + 32 int8) repacked for 16-byte loads: `data` holds
//         the int8 quants (rows, cols) and `scales` the F16 scales (rows, cols/32); value = q * d.

struct DeviceMatrix {
    DType type = DType::F16;        // F16, BF16 or Q8_0
    const void* data = nullptr;     // (rows, cols) elements, or Q8_0 quants
    const void* scales = nullptr;   // Q8_0 only: (rows, cols/32) F16
    long long rows = 0;             // outputs
    long long cols = 0;             // inputs (Q8_0: a multiple of 32)
};

// What a gemv stages as its input vector (in shared memory, F32).
enum class GemvInput : int {
    Plain,    // x
    RmsNorm,  // x / sqrt(mean(x^2) + eps) * norm   (the pre-norm fused into the projection)
    SwiGLU,   // silu(x) * x2                        (the MLP's gate fused into its down matrix)
};

// y_m (rows_m) = W_m (rows_m, cols) . in (cols) for up to 3 matrices of one type and one input
// width (e.g. Q, K and V), in one launch; epilogue: + bias_m, or y_m += (residual) when
// accumulate. One token (decode). Supported: F16/BF16 any cols <= 40960 (16-byte loads when
// cols % 8 == 0; then x, x2 and norm must be 16-byte aligned), Q8_0 cols % 32 == 0.
struct GemvParams {
    int n_mat = 0;                   // 1..3
    DeviceMatrix w[3];
    float* y[3] = {nullptr, nullptr, nullptr};
    const float* bias[3] = {nullptr, nullptr, nullptr};  // (rows_m) or null
    bool accumulate = false;         // y += W in (bias must be null)
    GemvInput input = GemvInput::Plain;
    const float* x = nullptr;        // (cols); SwiGLU: the gate
    const float* x2 = nullptr;       // SwiGLU: the up projection (cols)
    const float* norm = nullptr;     // RmsNorm: weight (cols)
    float eps = 1e-5f;
    // Programmatic dependent launch (sm_90): the kernel may start while the previous kernel on
    // the stream is still running; it streams its first weights and then waits for that kernel
    // before reading x, x2, norm or y. Only for launches whose predecessor is a kernel.
    bool pdl = false;
    // Block shape (rows per block, threads, pipelining, how warps combine; gemv.cuh kShapes): 0
    // is the tuned default, 1..kGemvShapes-1 exist for benchmarks (the CUDA backend reads
    // SIGMA_GEMV_VARIANT; 7 is the default shape with the previous per-row warp reduction).
    int shape = 0;
    // Batched decode: `batch` input vectors (1..kGemvMaxBatch), x (batch, cols) and every y
    // (batch, rows_m), row-major. Each weight is read once for all of them, by a kernel of its
    // own: the input must be Plain (normalize it first), and `shape` 0 or 1 picks 4 or 8 rows
    // per block.
    int batch = 1;
    void* stream = nullptr;
};
Status gemv(const GemvParams& p);
constexpr int kGemvShapes = 8;   // GemvParams::shape is 0..kGemvShapes-1
constexpr int kGemvMaxBatch = 8; // GemvParams::batch is 1..kGemvMaxBatch

// Y (n, rows) F32 = X (n, cols) . W^T (or Y += when accumulate) for a few input rows: the
// matrix products of a batched decode step (one row per sequence), on the tensor cores, every
// weight read once. n in 1..16; W F16, BF16 or Q8_0 with cols a multiple of 32; X row-major
// (n, cols) in BF16 for BF16 weights, else F16 (the activations rounded, as for cuBLAS in
// prefill); X and W's data 16-byte aligned. The sum over columns is in a fixed order
// (deterministic). See small_gemm.cu for the layout.
struct SmallGemmParams {
    DeviceMatrix w;
    const void* x = nullptr;
    DType x_type = DType::F16;
    int n = 0;
    float* y = nullptr;
    bool accumulate = false;
    void* stream = nullptr;
    // Programmatic dependent launch: the blocks prefetch their first weights into the L2, then
    // wait for the previous kernel before reading x or y.
    bool pdl = false;
};
Status small_gemm(const SmallGemmParams& p);

// out (n, cols) F32 = rows ids[0..n) of the table (F16, BF16 or Q8_0). ids are device int32
// and must be valid rows (the engine checks token ids before they reach the GPU).
struct EmbedParams {
    DeviceMatrix table;
    const int* ids = nullptr;
    int n = 0;
    float* out = nullptr;
    void* stream = nullptr;
};
Status embed(const EmbedParams& p);

// out (rows, cols) = x / sqrt(mean(x^2) + eps) * w, row by row (sum of squares in F32); when
// out_lp is set, the same values also as lp_type (F16 saturating, or BF16): a GEMM's input
// without a separate convert (prefill).
struct RmsNormParams {
    const float* x = nullptr;
    const float* w = nullptr;
    float* out = nullptr;
    int rows = 0;
    int cols = 0;
    float eps = 1e-5f;
    void* stream = nullptr;
    void* out_lp = nullptr;          // (rows, cols) or null
    DType lp_type = DType::F16;      // F16 or BF16
    bool pdl = false;                // programmatic dependent launch (waits before reading x)
};
Status rmsnorm(const RmsNormParams& p);

// For n tokens at positions *pos0 + t: rotates the first d_rot dims of every Q head (in place)
// and K head (rotate-half pairs (i, i + d_rot/2), or interleaved pairs (2i, 2i+1)), frequency
// base^(-2i/d_rot), angles in double as the CPU does; then stores K and V rows into the caches
// k_cache (n_k, max_ctx, d_qk) and v_cache (n_v, max_ctx, d_v) of kv_type (F16 or BF16).
struct RopeParams {
    int n = 0;
    const int* pos0 = nullptr;       // device int32
    int n_q = 0, n_k = 0, n_v = 0, d_qk = 0, d_v = 0, d_rot = 0;
    float base = 10000.0f;
    bool interleaved = false;
    float* q = nullptr;              // (n, n_q*d_qk)
    const float* k = nullptr;        // (n, n_k*d_qk)
    const float* v = nullptr;        // (n, n_v*d_v)
    void* k_cache = nullptr;
    void* v_cache = nullptr;
    DType kv_type = DType::F16;
    int max_ctx = 0;
    bool pdl = false;                // programmatic dependent launch (see GemvParams::pdl)
    // Batched decode: token t belongs to sequence t of caches laid out (n, n_kv, max_ctx, d), at
    // position pos0[t] (pos0 then holds n positions). Otherwise the n tokens are one sequence
    // at positions *pos0 + t of caches (n_kv, max_ctx, d).
    bool per_sequence = false;
    void* stream = nullptr;
};
Status rope(const RopeParams& p);

// g (n) = silu(g) * u; when out_lp is set, the result goes there as lp_type (F16 saturating, or
// BF16) instead, and g is left as it was (prefill: straight into the down projection's input).
struct SiluMulParams {
    float* g = nullptr;
    const float* u = nullptr;
    long long n = 0;
    void* stream = nullptr;
    void* out_lp = nullptr;          // (n) or null
    DType lp_type = DType::F16;      // F16 or BF16
    bool pdl = false;                // programmatic dependent launch (waits before reading)
};
Status silu_mul(const SiluMulParams& p);

// y (rows, cols) += b (cols) on every row (a bias; rows 1: any elementwise y += b).
struct AddParams {
    float* y = nullptr;
    const float* b = nullptr;
    int rows = 0;
    int cols = 0;
    void* stream = nullptr;
};
Status add(const AddParams& p);

// out (n) of out_type = x (n) F32; F16 saturates at +-65504 (an F16 GEMM input never becomes inf).
struct ConvertParams {
    const float* x = nullptr;
    void* out = nullptr;
    DType out_type = DType::F16;     // F16 or BF16
    long long n = 0;
    void* stream = nullptr;
    bool pdl = false;                // programmatic dependent launch (waits before reading x)
};
Status convert(const ConvertParams& p);

// out (n_rows, cols) F16 = rows [row0, row0 + n_rows) of a Q8_0 matrix (for cuBLAS in prefill).
struct DequantParams {
    DeviceMatrix w;
    long long row0 = 0, n_rows = 0;
    void* out = nullptr;
    void* stream = nullptr;
};
Status dequant_rows(const DequantParams& p);

// seq_lens[t] = *pos0 + t + 1 for t < n (the key counts decode_attention reads); with
// per_sequence, seq_lens[t] = pos0[t] + 1 (batched decode: one position per sequence).
struct SeqLensParams {
    const int* pos0 = nullptr;
    int n = 0;
    int* seq_lens = nullptr;
    void* stream = nullptr;
    bool per_sequence = false;
};
Status fill_seq_lens(const SeqLensParams& p);

// Causal attention for n query tokens at positions *pos0 + t, each against cache keys
// 0..pos (the cache must already hold them, see rope), any DiffQKV head layout. Prefill
// (a whole prompt, or a chunk continuing after an existing cache) and decode for head sizes the
// split-KV decode kernel does not handle.
// d_qk, d_v in {64, 128} (q/out 8-byte, caches 16-byte aligned): FlashAttention-2 style on
// tensor cores (mma.sync m16n8k16, F32 accumulate and softmax; Q and P rounded to the cache's
// type for the products). Other head sizes up to 256, or force_simple: a simple F32 kernel
// (one warp per token and head).
// Supported: d_qk, d_v <= 256; KV F16/BF16; n_q <= 65535.
struct CausalAttentionParams {
    int n = 0;
    const int* pos0 = nullptr;       // device int32
    int n_q = 0, n_k = 0, n_v = 0, d_qk = 0, d_v = 0, max_ctx = 0;
    float scale = 0.0f;              // 0 = 1/sqrt(d_qk)
    const float* q = nullptr;        // (n, n_q*d_qk)
    const void* k_cache = nullptr;   // (n_k, max_ctx, d_qk)
    const void* v_cache = nullptr;   // (n_v, max_ctx, d_v)
    DType kv_type = DType::F16;
    float* out = nullptr;            // (n, n_q*d_v)
    void* stream = nullptr;
    bool force_simple = false;       // the simple kernel even where the tensor-core one applies
};
// Whether causal_attention(p) takes the tensor-core kernel.
bool causal_attention_uses_flash(const CausalAttentionParams& p);
Status causal_attention(const CausalAttentionParams& p);

// *out = the index of the largest of x[0..n) (the first one on ties; NaN never wins). Two
// launches: many blocks fold (value, index) into one 64-bit key with atomicMax on `scratch`,
// then one thread decodes it and zeroes `scratch` again. `scratch` (one 64-bit word per row)
// must be zero before the first call; every call leaves it zero. rows > 1: x is (rows, n) and
// out[r] the argmax of row r (batched decode).
struct ArgmaxParams {
    const float* x = nullptr;
    int n = 0;
    int* out = nullptr;
    unsigned long long* scratch = nullptr;
    void* stream = nullptr;
    int rows = 1;
};
Status argmax(const ArgmaxParams& p);

// Picks the next token from logits on the device, with the CPU sampler's semantics
// (engine/src/sampling.cpp): repetition penalty on `penalty_ids` (divide positive logits,
// multiply negative ones; modifies `logits`), then argmax when temperature <= 0, else
// softmax(l / temperature) cut to the top_k largest (0 = off), to p >= min_p * p_max, to the
// shortest prefix (largest first, lower index first on ties) whose mass reaches top_p, and one
// draw from what is left. The draw is a pure function of (seed, draw): the same logits, seed and
// draw give the same token. One block; only *out (device int32) is written besides the penalty.
// Supported: any n_vocab; top_p in (0, 1]; min_p in [0, 1]; repeat_penalty > 0.
struct SampleParams {
    float* logits = nullptr;             // (n_vocab) F32, device
    int n_vocab = 0;
    const int* penalty_ids = nullptr;    // (n_penalty) distinct token ids, device int32
    int n_penalty = 0;
    float repeat_penalty = 1.0f;         // 1 = off
    float temperature = 0.0f;            // <= 0: argmax
    int top_k = 0;                       // 0 = off
    float top_p = 1.0f;                  // 1 = off
    float min_p = 0.0f;                  // 0 = off
    unsigned long long seed = 0;
    unsigned long long draw = 0;         // index of this draw in the generation
    int* out = nullptr;                  // device int32
    void* stream = nullptr;
    // Scratch of sample_workspace_bytes(n_vocab) bytes, or null. With it, and 0 < top_k <= 64
    // (temperature > 0), the vocabulary is first cut to each 1024-logit block's top_k by the
    // whole GPU (the same token as without it, in a fraction of the time for a 128K vocabulary);
    // without it one block reads the whole vocabulary about 14 times.
    void* workspace = nullptr;
    std::size_t workspace_bytes = 0;
    const int* index_map = nullptr;      // internal (the candidate pass); must be null
};
Status sample(const SampleParams& p);
std::size_t sample_workspace_bytes(int n_vocab);

// out (n) = offset + scale * u, u uniform in [-1, 1) from a counter hash of (seed, i): random
// weights made on the GPU for benchmarks. type F32, F16, BF16, or Q8_0 meaning int8 quants
// round(127 * u) (offset and scale ignored).
struct FillRandomParams {
    void* out = nullptr;
    DType type = DType::F16;
    long long n = 0;
    float offset = 0.0f;
    float scale = 1.0f;
    unsigned long long seed = 1;
    void* stream = nullptr;
};
Status fill_random(const FillRandomParams& p);

}  // namespace sigmaops::kernels
