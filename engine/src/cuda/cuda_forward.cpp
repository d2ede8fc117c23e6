// cuda_forward.cpp - the CUDA forward pass of one session: the same steps as CpuForward
// (forward.cpp, SIGMA-GGUF.md section 2) with the same named operations (kernels/kernels.h).
//
// Decode (one token): a fused GEMV per projection group (the pre-norm or the SwiGLU gate is
// applied while the GEMV stages its input; residual adds are its epilogue), rope + KV store,
// the split-KV decode attention kernel (or the simple causal kernel for head sizes other than
// 64/128), logits and an on-GPU argmax. The whole step reads the token and position from device
// memory, so it is captured once per context bucket in a CUDA graph and replayed
// (SIGMA_CUDA_GRAPH=0 turns graphs off). The GEMVs and rope + KV store are launched with
// programmatic dependent launch, so each streams its first weights while its predecessor
// finishes (SIGMA_CUDA_PDL=0 turns it off).
// Prefill (several tokens): cuBLAS GEMMs (F16/BF16 operands, F32 accumulate and output; Q8_0
// matrices are dequantized to F16 in row chunks first) and the simple causal attention kernel.
// Activations are F32 throughout; the K and V caches are F16.
#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/device_model.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <utility>

namespace sigma::cuda {

namespace k = sigmaops::kernels;
using k::DType;

namespace {

constexpr int kMaxTokens = 128;                 // tokens per prefill pass (larger n is chunked)
constexpr int64_t kQ8ChunkElems = 16 << 20;     // F16 scratch for dequantized Q8_0 rows (32 MB)
constexpr DType kKvType = DType::F16;

bool fast_decode_heads(const Hparams& hp) {
    return (hp.d_qk == 64 || hp.d_qk == 128) && (hp.d_v == 64 || hp.d_v == 128);
}

cudaDataType_t cublas_type(DType t) { return t == DType::BF16 ? CUDA_R_16BF : CUDA_R_16F; }

// Device memory carved from one allocation.
class Arena {
public:
    void reserve(size_t bytes) { m_size += (bytes + 255) / 256 * 256; }
    void allocate() { SIGMA_CUDA(cudaMalloc(&m_base, m_size)); }
    template <class T>
    T* take(size_t count) {
        T* p = reinterpret_cast<T*>(static_cast<char*>(m_base) + m_used);
        m_used += (count * sizeof(T) + 255) / 256 * 256;
        return p;
    }
    ~Arena() { if (m_base) cudaFree(m_base); }
    size_t size() const { return m_size; }

private:
    void* m_base = nullptr;
    size_t m_size = 0, m_used = 0;
};

class CudaForward final : public ForwardBackend {
public:
    CudaForward(std::shared_ptr<const DeviceModel> model, int n_ctx, int selective_v)
        : m_model(std::move(model)), m_hp(m_model->hp), m_n_ctx(n_ctx), m_selective_v(selective_v) {
        const char* g = std::getenv("SIGMA_CUDA_GRAPH");
        m_use_graph = !(g && g[0] == '0');
        const char* pdl = std::getenv("SIGMA_CUDA_PDL");
        m_pdl = !(pdl && pdl[0] == '0');
        if (const char* gv = std::getenv("SIGMA_GEMV_VARIANT")) m_gemv_shape = std::atoi(gv);   // tuning only
        SIGMA_CUDA(cudaSetDevice(m_model->device));
        SIGMA_CUDA(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking));
        SIGMA_CUBLAS(cublasCreate(&m_blas));
        SIGMA_CUBLAS(cublasSetStream(m_blas, m_stream));
        SIGMA_CUDA(cudaMallocHost(&m_host_io, 4 * sizeof(int)));

        const Hparams& hp = m_hp;
        const size_t T = kMaxTokens, D = hp.d_model, F = hp.d_ff, A = hp.d_aug, V = hp.n_vocab;
        const size_t max_cols = std::max({D, F, A, size_t(hp.q_dim()), size_t(hp.o_dim())});
        const size_t k_layer = size_t(hp.n_k) * n_ctx * hp.d_qk, v_layer = size_t(hp.n_v) * n_ctx * hp.d_v;
        m_attn_ws_bytes = 0;
        if (fast_decode_heads(hp)) {
            k::DecodeAttentionParams ap = attention_params(0, 0);
            m_attn_ws_bytes = k::decode_attention_workspace_bytes(ap);
            if (m_selective_v > 0) {
                ap.top_k = m_selective_v;
                m_attn_ws_bytes = std::max(m_attn_ws_bytes, k::decode_attention_workspace_bytes(ap));
            }
            if (m_attn_ws_bytes == 0) throw Exception(ErrorCode::Unsupported, "CUDA backend: decode attention rejects this shape");
        }
        const size_t q8_scratch = size_t(std::min<int64_t>(m_model->max_q8_elems, kQ8ChunkElems));

        Arena& a = m_arena;
        for (size_t n : {T * D, T * D, T * hp.q_dim(), T * hp.k_dim(), T * hp.v_dim(), T * hp.o_dim(), T * F, T * F,
                         T * A, T * A, T * V})
            a.reserve(std::max<size_t>(n, 1) * sizeof(float));
        a.reserve(T * max_cols * 2);
        a.reserve(std::max<size_t>(q8_scratch, 1) * 2);
        a.reserve(T * sizeof(int) * 2 + 4 * sizeof(int));
        a.reserve(sizeof(unsigned long long));
        a.reserve(std::max<size_t>(m_attn_ws_bytes, 1));
        for (uint32_t l = 0; l < hp.n_layer; ++l) { a.reserve(k_layer * 2); a.reserve(v_layer * 2); }
        a.allocate();
        m_x = a.take<float>(T * D); m_a = a.take<float>(T * D);
        m_q = a.take<float>(T * hp.q_dim()); m_k = a.take<float>(T * hp.k_dim()); m_v = a.take<float>(T * hp.v_dim());
        m_o = a.take<float>(T * hp.o_dim()); m_g = a.take<float>(T * F); m_u = a.take<float>(T * F);
        m_ag = a.take<float>(std::max<size_t>(T * A, 1)); m_au = a.take<float>(std::max<size_t>(T * A, 1));
        m_logits = a.take<float>(T * V);
        m_xh = a.take<uint16_t>(T * max_cols);
        m_wh = a.take<uint16_t>(std::max<size_t>(q8_scratch, 1));
        m_tok = a.take<int>(T); m_seq = a.take<int>(T); m_pos = a.take<int>(4); m_next = m_pos + 1;
        m_argmax_key = a.take<unsigned long long>(1);
        m_attn_ws = a.take<char>(std::max<size_t>(m_attn_ws_bytes, 1));
        for (uint32_t l = 0; l < hp.n_layer; ++l) {
            m_kc.push_back(a.take<uint16_t>(k_layer));
            m_vc.push_back(a.take<uint16_t>(v_layer));
        }
        // The attention workspace starts zeroed (kernels.h); the caches are zeroed so a kernel
        // bug that read an unwritten position would read zeros, not stale data.
        SIGMA_CUDA(cudaMemsetAsync(m_argmax_key, 0, sizeof(unsigned long long), m_stream));
        SIGMA_CUDA(cudaMemsetAsync(m_attn_ws, 0, std::max<size_t>(m_attn_ws_bytes, 1), m_stream));
        for (uint32_t l = 0; l < hp.n_layer; ++l) {
            SIGMA_CUDA(cudaMemsetAsync(m_kc[l], 0, k_layer * 2, m_stream));
            SIGMA_CUDA(cudaMemsetAsync(m_vc[l], 0, v_layer * 2, m_stream));
        }
        SIGMA_CUDA(cudaStreamSynchronize(m_stream));
    }

    ~CudaForward() override {
        for (auto& [key, exec] : m_graphs) cudaGraphExecDestroy(exec);
        if (m_blas) cublasDestroy(m_blas);
        if (m_stream) cudaStreamDestroy(m_stream);
        if (m_host_io) cudaFreeHost(m_host_io);
    }

    void forward(const TokenId* tokens, int n, int pos0, float* logits, bool all_logits, int selective_v) override {
        check_selective(selective_v);
        if (pos0 < 0 || pos0 + n > m_n_ctx) throw Exception(ErrorCode::ContextFull, "CUDA backend: positions beyond n_ctx");
        const size_t V = m_hp.n_vocab;
        if (n == 1) {
            decode(tokens[0], pos0, selective_v);
            SIGMA_CUDA(cudaMemcpyAsync(logits, m_logits, V * sizeof(float), cudaMemcpyDeviceToHost, m_stream));
            SIGMA_CUDA(cudaStreamSynchronize(m_stream));
            return;
        }
        for (int b = 0; b < n; b += kMaxTokens) {
            const int nb = std::min(kMaxTokens, n - b);
            const bool last_chunk = b + nb == n;
            if (!all_logits && !last_chunk) { prefill(tokens + b, nb, pos0 + b, false, selective_v, nullptr); continue; }
            prefill(tokens + b, nb, pos0 + b, all_logits, selective_v, all_logits ? logits + size_t(b) * V : logits);
        }
    }

    // Random K and V in the whole cache (benchmarks: decode at position p without a prefill).
    void fill_kv_random(uint64_t seed) {
        const size_t k_layer = size_t(m_hp.n_k) * m_n_ctx * m_hp.d_qk, v_layer = size_t(m_hp.n_v) * m_n_ctx * m_hp.d_v;
        for (uint32_t l = 0; l < m_hp.n_layer; ++l) {
            SIGMA_KERNEL(k::fill_random({m_kc[l], kKvType, (long long)k_layer, 0.0f, 1.0f, seed * 7919 + 2 * l, m_stream}));
            SIGMA_KERNEL(k::fill_random({m_vc[l], kKvType, (long long)v_layer, 0.0f, 1.0f, seed * 7919 + 2 * l + 1, m_stream}));
        }
        SIGMA_CUDA(cudaStreamSynchronize(m_stream));
    }

    std::optional<TokenId> forward_argmax(TokenId token, int pos, int selective_v) override {
        check_selective(selective_v);
        if (pos < 0 || pos >= m_n_ctx) throw Exception(ErrorCode::ContextFull, "CUDA backend: position beyond n_ctx");
        decode(token, pos, selective_v);
        SIGMA_CUDA(cudaMemcpyAsync(&m_host_io[2], m_next, sizeof(int), cudaMemcpyDeviceToHost, m_stream));
        SIGMA_CUDA(cudaStreamSynchronize(m_stream));
        return TokenId(m_host_io[2]);
    }

private:
    void check_selective(int selective_v) const {
        if (selective_v > 0 && selective_v != m_selective_v)
            throw Exception(ErrorCode::InvalidArgument, "CUDA backend: selective_v differs from the session's");
    }

    // ---- decode: one token, everything on the device, graph-capturable ----------------------

    void decode(TokenId token, int pos, int selective_v) {
        m_host_io[0] = token;
        m_host_io[1] = pos;
        SIGMA_CUDA(cudaMemcpyAsync(m_tok, &m_host_io[0], sizeof(int), cudaMemcpyHostToDevice, m_stream));
        SIGMA_CUDA(cudaMemcpyAsync(m_pos, &m_host_io[1], sizeof(int), cudaMemcpyHostToDevice, m_stream));
        // The split-KV kernel sizes its slices from an upper bound on the keys: one graph per
        // power-of-two bucket of the context.
        int bucket = 256;
        while (bucket < pos + 1) bucket *= 2;
        bucket = std::min(bucket, m_n_ctx);
        if (!m_use_graph) { enqueue_decode(bucket, selective_v); return; }
        const auto key = std::make_pair(bucket, selective_v);
        auto it = m_graphs.find(key);
        if (it == m_graphs.end()) it = m_graphs.emplace(key, capture(bucket, selective_v)).first;
        SIGMA_CUDA(cudaGraphLaunch(it->second, m_stream));
    }

    cudaGraphExec_t capture(int bucket, int selective_v) {
        SIGMA_CUDA(cudaStreamBeginCapture(m_stream, cudaStreamCaptureModeThreadLocal));
        cudaGraph_t graph = nullptr;
        try {
            enqueue_decode(bucket, selective_v);
        } catch (...) {
            cudaStreamEndCapture(m_stream, &graph);
            if (graph) cudaGraphDestroy(graph);
            throw;
        }
        SIGMA_CUDA(cudaStreamEndCapture(m_stream, &graph));
        cudaGraphExec_t exec = nullptr;
        const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
        cudaGraphDestroy(graph);
        SIGMA_CUDA(e);
        return exec;
    }

    // y_m = W_m . in for matrices sharing the input; one launch per weight type present.
    void gemv(std::initializer_list<std::pair<const DeviceMatrix*, float*>> outs, std::initializer_list<const float*> biases,
              k::GemvInput input, const float* x, const float* x2, const float* norm, bool accumulate) {
        std::vector<std::pair<const DeviceMatrix*, float*>> mats(outs);
        std::vector<const float*> bias(biases);
        bias.resize(mats.size(), nullptr);
        std::vector<bool> done(mats.size(), false);
        for (size_t i = 0; i < mats.size(); ++i) {
            if (done[i]) continue;
            k::GemvParams p;
            p.input = input; p.x = x; p.x2 = x2; p.norm = norm; p.eps = m_hp.eps;
            p.accumulate = accumulate; p.stream = m_stream; p.pdl = m_pdl; p.shape = m_gemv_shape;
            for (size_t j = i; j < mats.size() && p.n_mat < 3; ++j) {
                if (done[j] || mats[j].first->type != mats[i].first->type) continue;
                p.w[p.n_mat] = *mats[j].first; p.y[p.n_mat] = mats[j].second; p.bias[p.n_mat] = bias[j];
                ++p.n_mat;
                done[j] = true;
            }
            SIGMA_KERNEL(k::gemv(p));
        }
    }

    k::DecodeAttentionParams attention_params(int l, int max_seq_len) const {
        k::DecodeAttentionParams p;
        p.batch = 1; p.n_q = int(m_hp.n_q); p.n_k = int(m_hp.n_k); p.n_v = int(m_hp.n_v);
        p.d_qk = int(m_hp.d_qk); p.d_v = int(m_hp.d_v); p.max_ctx = m_n_ctx; p.max_seq_len = max_seq_len;
        p.q = m_q; p.q_type = DType::F32;
        p.k_cache = m_kc.empty() ? nullptr : m_kc[size_t(l)];
        p.v_cache = m_vc.empty() ? nullptr : m_vc[size_t(l)];
        p.kv_type = kKvType; p.seq_lens = m_seq; p.out = m_o;
        p.workspace = m_attn_ws; p.workspace_bytes = m_attn_ws_bytes; p.stream = m_stream;
        return p;
    }

    k::CausalAttentionParams causal_params(int l, int n) const {
        k::CausalAttentionParams p;
        p.n = n; p.pos0 = m_pos;
        p.n_q = int(m_hp.n_q); p.n_k = int(m_hp.n_k); p.n_v = int(m_hp.n_v);
        p.d_qk = int(m_hp.d_qk); p.d_v = int(m_hp.d_v); p.max_ctx = m_n_ctx;
        p.q = m_q; p.k_cache = m_kc[size_t(l)]; p.v_cache = m_vc[size_t(l)]; p.kv_type = kKvType;
        p.out = m_o; p.stream = m_stream;
        return p;
    }

    k::RopeStoreParams rope_params(int l, int n) const {
        k::RopeStoreParams p;
        p.n = n; p.pos0 = m_pos;
        p.n_q = int(m_hp.n_q); p.n_k = int(m_hp.n_k); p.n_v = int(m_hp.n_v);
        p.d_qk = int(m_hp.d_qk); p.d_v = int(m_hp.d_v); p.d_rot = int(m_hp.d_rot);
        p.base = m_hp.rope_base; p.interleaved = m_hp.rope == RopeStyle::Interleaved;
        p.q = m_q; p.k = m_k; p.v = m_v; p.k_cache = m_kc[size_t(l)]; p.v_cache = m_vc[size_t(l)];
        p.kv_type = kKvType; p.max_ctx = m_n_ctx; p.stream = m_stream;
        p.pdl = m_pdl && n == 1;
        return p;
    }

    void enqueue_decode(int max_seq_len, int selective_v) {
        const Hparams& hp = m_hp;
        const DeviceModel& M = *m_model;
        using k::GemvInput;
        // x = token_embd[id]
        SIGMA_KERNEL(k::embed({M.token_embd, m_tok, 1, m_x, m_stream}));
        SIGMA_KERNEL(k::fill_seq_lens({m_pos, 1, m_seq, m_stream}));
        for (uint32_t l = 0; l < hp.n_layer; ++l) {
            const DeviceLayer& L = M.layers[l];
            // q, k, v = W_{q,k,v} rmsnorm(x) * attn_norm (+ bias)
            gemv({{&L.wq, m_q}, {&L.wk, m_k}, {&L.wv, m_v}}, {L.bq, L.bk, L.bv}, GemvInput::RmsNorm, m_x, nullptr,
                 L.attn_norm, false);
            // augmented Q: q = W_q_down( silu(W_q_gate q) * (W_q_up q) )
            if (hp.d_aug > 0) {
                gemv({{&L.wq_gate, m_ag}, {&L.wq_up, m_au}}, {}, GemvInput::Plain, m_q, nullptr, nullptr, false);
                gemv({{&L.wq_down, m_q}}, {}, GemvInput::SwiGLU, m_ag, m_au, nullptr, false);
            }
            // rope(q), rope(k); k, v into the cache at pos
            SIGMA_KERNEL(k::rope_store(rope_params(int(l), 1)));
            // o = attention over positions 0..pos
            if (fast_decode_heads(hp)) {
                k::DecodeAttentionParams ap = attention_params(int(l), max_seq_len);
                ap.top_k = selective_v;
                SIGMA_KERNEL(k::decode_attention(ap));
            } else {
                SIGMA_KERNEL(k::causal_attention(causal_params(int(l), 1)));
            }
            // x += W_o o
            gemv({{&L.wo, m_x}}, {}, GemvInput::Plain, m_o, nullptr, nullptr, true);
            // g, u = W_{gate,up} rmsnorm(x) * ffn_norm; x += W_down silu(g) * u
            gemv({{&L.w_gate, m_g}, {&L.w_up, m_u}}, {}, GemvInput::RmsNorm, m_x, nullptr, L.ffn_norm, false);
            gemv({{&L.w_down, m_x}}, {}, GemvInput::SwiGLU, m_g, m_u, nullptr, true);
        }
        // logits = W_out rmsnorm(x) * output_norm; next = argmax(logits)
        gemv({{&M.output, m_logits}}, {}, GemvInput::RmsNorm, m_x, nullptr, M.output_norm, false);
        SIGMA_KERNEL(k::argmax({m_logits, int(hp.n_vocab), m_next, m_argmax_key, m_stream}));
    }

    // ---- prefill: T tokens, cuBLAS -------------------------------------------------------------

    // Y (T, rows) F32 = X (T, cols) F32 . W^T, or Y += when accumulate.
    void gemm(const DeviceMatrix& W, const float* X, int T, float* Y, bool accumulate) {
        const DType ct = W.type == DType::BF16 ? DType::BF16 : DType::F16;
        SIGMA_KERNEL(k::convert({X, m_xh, ct, (long long)T * W.cols, m_stream}));
        const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
        const int rows = int(W.rows), cols = int(W.cols);
        if (W.type != DType::Q8_0) {
            SIGMA_CUBLAS(cublasGemmEx(m_blas, CUBLAS_OP_T, CUBLAS_OP_N, rows, T, cols, &alpha, W.data, cublas_type(ct), cols,
                                      m_xh, cublas_type(ct), cols, &beta, Y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT));
            return;
        }
        const int64_t chunk = std::max<int64_t>(1, kQ8ChunkElems / W.cols);
        for (int64_t r0 = 0; r0 < W.rows; r0 += chunk) {
            const int nr = int(std::min<int64_t>(chunk, W.rows - r0));
            SIGMA_KERNEL(k::dequant_rows({W, r0, nr, m_wh, m_stream}));
            SIGMA_CUBLAS(cublasGemmEx(m_blas, CUBLAS_OP_T, CUBLAS_OP_N, nr, T, cols, &alpha, m_wh, CUDA_R_16F, cols, m_xh,
                                      CUDA_R_16F, cols, &beta, Y + r0, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT));
        }
    }

    void prefill(const TokenId* tokens, int n, int pos0, bool all_logits, int selective_v, float* logits) {
        const Hparams& hp = m_hp;
        const DeviceModel& M = *m_model;
        const int D = int(hp.d_model), F = int(hp.d_ff), A = int(hp.d_aug);
        static_assert(sizeof(TokenId) == sizeof(int));
        SIGMA_CUDA(cudaMemcpyAsync(m_tok, tokens, size_t(n) * sizeof(int), cudaMemcpyHostToDevice, m_stream));
        m_host_io[1] = pos0;
        SIGMA_CUDA(cudaMemcpyAsync(m_pos, &m_host_io[1], sizeof(int), cudaMemcpyHostToDevice, m_stream));
        // x = token_embd[id]
        SIGMA_KERNEL(k::embed({M.token_embd, m_tok, n, m_x, m_stream}));
        SIGMA_KERNEL(k::fill_seq_lens({m_pos, n, m_seq, m_stream}));
        for (uint32_t l = 0; l < hp.n_layer; ++l) {
            const DeviceLayer& L = M.layers[l];
            // a = rmsnorm(x) * attn_norm; q, k, v = W a (+ b)
            SIGMA_KERNEL(k::rmsnorm({m_x, L.attn_norm, m_a, n, D, hp.eps, m_stream}));
            gemm(L.wq, m_a, n, m_q, false);
            gemm(L.wk, m_a, n, m_k, false);
            gemm(L.wv, m_a, n, m_v, false);
            if (hp.qkv_bias) {
                SIGMA_KERNEL(k::add_bias({m_q, L.bq, n, int(hp.q_dim()), m_stream}));
                SIGMA_KERNEL(k::add_bias({m_k, L.bk, n, int(hp.k_dim()), m_stream}));
                SIGMA_KERNEL(k::add_bias({m_v, L.bv, n, int(hp.v_dim()), m_stream}));
            }
            // augmented Q
            if (A > 0) {
                gemm(L.wq_gate, m_q, n, m_ag, false);
                gemm(L.wq_up, m_q, n, m_au, false);
                SIGMA_KERNEL(k::silu_mul({m_ag, m_au, (long long)n * A, m_stream}));
                gemm(L.wq_down, m_ag, n, m_q, false);
            }
            // rope; k, v into the cache
            SIGMA_KERNEL(k::rope_store(rope_params(int(l), n)));
            // causal attention (selective V: the decode kernel once per query token)
            if (selective_v > 0) {
                for (int t = 0; t < n; ++t) {
                    k::DecodeAttentionParams ap = attention_params(int(l), pos0 + n);
                    ap.top_k = selective_v;
                    ap.q = m_q + size_t(t) * hp.q_dim();
                    ap.seq_lens = m_seq + t;
                    ap.out = m_o + size_t(t) * hp.o_dim();
                    SIGMA_KERNEL(k::decode_attention(ap));
                }
            } else {
                SIGMA_KERNEL(k::causal_attention(causal_params(int(l), n)));
            }
            // x += W_o o
            gemm(L.wo, m_o, n, m_x, true);
            // x += W_down( silu(W_gate f) * (W_up f) ), f = rmsnorm(x) * ffn_norm
            SIGMA_KERNEL(k::rmsnorm({m_x, L.ffn_norm, m_a, n, D, hp.eps, m_stream}));
            gemm(L.w_gate, m_a, n, m_g, false);
            gemm(L.w_up, m_a, n, m_u, false);
            SIGMA_KERNEL(k::silu_mul({m_g, m_u, (long long)n * F, m_stream}));
            gemm(L.w_down, m_g, n, m_x, true);
        }
        if (!logits) return;
        // logits = W_out rmsnorm(x) * output_norm (all positions, or the last one)
        const int first = all_logits ? 0 : n - 1, rows = n - first;
        SIGMA_KERNEL(k::rmsnorm({m_x + size_t(first) * D, M.output_norm, m_a, rows, D, hp.eps, m_stream}));
        gemm(M.output, m_a, rows, m_logits, false);
        SIGMA_CUDA(cudaMemcpyAsync(logits, m_logits, size_t(rows) * hp.n_vocab * sizeof(float), cudaMemcpyDeviceToHost,
                                   m_stream));
        SIGMA_CUDA(cudaStreamSynchronize(m_stream));
    }

    std::shared_ptr<const DeviceModel> m_model;
    const Hparams& m_hp;
    int m_n_ctx;
    int m_selective_v;
    bool m_use_graph = true;
    bool m_pdl = true;                  // programmatic dependent launch in decode (SIGMA_CUDA_PDL=0: off)
    int m_gemv_shape = 0;               // GEMV block shape (kernels.h GemvParams::shape)
    cudaStream_t m_stream = nullptr;
    cublasHandle_t m_blas = nullptr;
    int* m_host_io = nullptr;                  // pinned: token, pos, next token
    Arena m_arena;
    // Activations, (T, width) F32 with T <= kMaxTokens.
    float *m_x = nullptr, *m_a = nullptr;      // (T, D) residual stream, normed input
    float *m_q = nullptr, *m_k = nullptr, *m_v = nullptr;  // (T, Hq*Dk), (T, Hk*Dk), (T, Hv*Dv)
    float *m_o = nullptr;                      // (T, Hq*Dv)
    float *m_g = nullptr, *m_u = nullptr;      // (T, F)
    float *m_ag = nullptr, *m_au = nullptr;    // (T, A)
    float *m_logits = nullptr;                 // (T, V)
    uint16_t* m_xh = nullptr;                  // (T, max cols) F16/BF16 GEMM input
    uint16_t* m_wh = nullptr;                  // Q8_0 rows dequantized to F16 for cuBLAS
    int *m_tok = nullptr, *m_seq = nullptr, *m_pos = nullptr, *m_next = nullptr;
    unsigned long long* m_argmax_key = nullptr; // argmax scratch, zero between steps
    char* m_attn_ws = nullptr;
    size_t m_attn_ws_bytes = 0;
    std::vector<uint16_t*> m_kc, m_vc;         // per layer (Hk, C, Dk), (Hv, C, Dv) F16
    std::map<std::pair<int, int>, cudaGraphExec_t> m_graphs;   // (bucket, selective_v) -> decode step
};

} // namespace

void check_session(const DeviceModel& m, int n_ctx, int selective_v) {
    const Hparams& hp = m.hp;
    if (selective_v > 0 && !fast_decode_heads(hp))
        throw Exception(ErrorCode::Unsupported, "CUDA backend: selective V needs head sizes of 64 or 128 (this model has d_qk=" +
                                                    std::to_string(hp.d_qk) + ", d_v=" + std::to_string(hp.d_v) +
                                                    "); use --device cpu");
    if (fast_decode_heads(hp) && int64_t(n_ctx) * std::max(hp.d_qk, hp.d_v) > (int64_t(1) << 30))
        throw Exception(ErrorCode::Unsupported, "CUDA backend: n_ctx " + std::to_string(n_ctx) + " is too large");
}

void fill_kv_random(ForwardBackend& backend, uint64_t seed) {
    auto* f = dynamic_cast<CudaForward*>(&backend);
    if (!f) throw Exception(ErrorCode::InvalidArgument, "fill_kv_random: not a CUDA backend");
    f->fill_kv_random(seed);
}

std::string device_name() {
    int dev = 0, n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        cudaGetLastError();
        throw Exception(ErrorCode::Unsupported, "no CUDA GPU is visible (cudaGetDeviceCount found none)");
    }
    SIGMA_CUDA(cudaGetDevice(&dev));
    cudaDeviceProp prop{};
    SIGMA_CUDA(cudaGetDeviceProperties(&prop, dev));
    return prop.name;
}

double measure_copy_gbps() {
    (void)device_name();   // a clear error when there is no GPU
    const size_t bytes = size_t(1) << 30;
    void *a = nullptr, *b = nullptr;
    SIGMA_CUDA(cudaMalloc(&a, bytes));
    SIGMA_CUDA(cudaMalloc(&b, bytes));
    cudaEvent_t e0, e1;
    SIGMA_CUDA(cudaEventCreate(&e0));
    SIGMA_CUDA(cudaEventCreate(&e1));
    SIGMA_KERNEL(k::fill_random({a, DType::F32, (long long)(bytes / 4), 0.0f, 1.0f, 5, nullptr}));
    std::vector<float> ms;
    for (int i = 0; i < 23; ++i) {
        SIGMA_CUDA(cudaEventRecord(e0));
        SIGMA_CUDA(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
        SIGMA_CUDA(cudaEventRecord(e1));
        SIGMA_CUDA(cudaEventSynchronize(e1));
        float t = 0;
        SIGMA_CUDA(cudaEventElapsedTime(&t, e0, e1));
        if (i >= 3) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaFree(a);
    cudaFree(b);
    return 2.0 * double(bytes) / (double(ms[ms.size() / 2]) * 1e-3) / 1e9;
}

std::unique_ptr<ForwardBackend> new_cuda_forward(std::shared_ptr<const DeviceModel> m, int n_ctx, int selective_v) {
    check_session(*m, n_ctx, selective_v);
    return std::make_unique<CudaForward>(std::move(m), n_ctx, selective_v);
}

} // namespace sigma::cuda
