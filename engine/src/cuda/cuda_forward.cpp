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
// finishes, and attention streams the earlier steps' cache rows (SIGMA_CUDA_PDL=0 turns it off).
// Prefill (several tokens): the whole prompt per pass (chunks of up to kPrefillTokens, capped by
// n_ctx; SIGMA_CUDA_PREFILL_CHUNK overrides, for tests): cuBLAS GEMMs over all the chunk's tokens
// (F16/BF16 operands, F32 accumulate and output; rmsnorm and silu_mul write the GEMM inputs in
// F16/BF16 directly; Q8_0 matrices are dequantized to F16 in row chunks first), rope + KV store,
// and the tensor-core FlashAttention-2 style causal kernel. The logits only for the rows asked
// (the last one in prefill), in pieces of kLogitRows.
// Sampling beyond greedy (forward_sample, sample_last): the sample kernel on the device logits
// right after the step; only the token id comes back.
// Activations are F32 between operations; the K and V caches are F16.
#include "cuda/bench_hooks.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/device_model.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <tuple>
#include <utility>

namespace sigma::cuda {

namespace k = sigmaops::kernels;
using k::DType;

namespace {

constexpr int kPrefillTokens = 4096;            // tokens per prefill pass (larger n is chunked)
constexpr int kLogitRows = 128;                 // logits rows per output GEMM (all_logits)
constexpr int64_t kQ8ChunkElems = 16 << 20;     // F16 scratch for dequantized Q8_0 rows (32 MB)
constexpr DType kKvType = DType::F16;
constexpr int kBucketStep = 4096;               // decode graph buckets past 4096 positions

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

// One session's decoder: n_seq sequences (1 for a Session), each with its own K/V cache. The
// ForwardBackend calls act on the selected sequence (select(); 0 by default); decode_batch()
// advances every sequence by one token in one step.
class CudaForward final : public ForwardBackend {
public:
    CudaForward(std::shared_ptr<const DeviceModel> model, int n_ctx, int selective_v, int n_seq = 1)
        : m_model(std::move(model)), m_hp(m_model->hp), m_n_ctx(n_ctx), m_selective_v(selective_v), m_n_seq(n_seq) {
        if (n_seq < 1 || n_seq > kMaxSeqs)
            throw Exception(ErrorCode::InvalidArgument, "CUDA backend: 1.." + std::to_string(kMaxSeqs) + " sequences per batch");
        const char* g = std::getenv("SIGMA_CUDA_GRAPH");
        m_use_graph = !(g && g[0] == '0');
        const char* pdl = std::getenv("SIGMA_CUDA_PDL");
        m_pdl = !(pdl && pdl[0] == '0');
        // Tuning only (bench_forward --gemv-shapes); a value the GEMV does not have is ignored.
        if (const char* gv = std::getenv("SIGMA_GEMV_VARIANT")) {
            const int v = std::atoi(gv);
            if (v >= 0 && v < k::kGemvShapes) m_gemv_shape = v;
        }
        // Batched decode's matrix products (tuning, bench_forward --batch): SIGMA_BATCH_GEMM=mma,
        // cublas or gemv instead of the default (auto), SIGMA_BATCH_GEMV_ROWS=8 for the batched
        // GEMV's 8-row blocks.
        if (const char* bg = std::getenv("SIGMA_BATCH_GEMM")) {
            const std::string v = bg;
            m_batch_mode = v == "cublas" ? BatchMode::Cublas : v == "gemv" ? BatchMode::Gemv : v == "mma" ? BatchMode::Mma : BatchMode::Auto;
        }
        if (const char* br = std::getenv("SIGMA_BATCH_GEMV_ROWS")) m_batch_shape = std::atoi(br) == 8 ? 1 : 0;
        // SIGMA_CUDA_SAMPLE_CUT=0: the sampler's one-block pass over the whole vocabulary instead
        // of the per-block top-k cut (bench_forward's A/B).
        const char* cut = std::getenv("SIGMA_CUDA_SAMPLE_CUT");
        m_sample_cut = !(cut && cut[0] == '0');
        // Decode attention's tuning knobs (SIGMAOPS_ATTN_*, benchmarks only), read once here.
        m_attn_knobs = k::decode_attention_knobs_from_env();
        SIGMA_CUDA(cudaSetDevice(m_model->device));
        SIGMA_CUDA(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking));
        SIGMA_CUBLAS(cublasCreate(&m_blas));
        SIGMA_CUBLAS(cublasSetStream(m_blas, m_stream));
        SIGMA_CUDA(cudaMallocHost(&m_host_io, 4 * sizeof(int)));
        SIGMA_CUDA(cudaMallocHost(&m_host_pen, size_t(n_ctx + 1) * sizeof(int)));
        SIGMA_CUDA(cudaMallocHost(&m_host_batch, size_t(2 * n_seq) * sizeof(int)));
        m_chunk = std::min(n_ctx, kPrefillTokens);
        if (const char* c = std::getenv("SIGMA_CUDA_PREFILL_CHUNK"); c && std::atoi(c) > 0) m_chunk = std::min(n_ctx, std::atoi(c));
        m_chunk = std::max(m_chunk, 1);

        const Hparams& hp = m_hp;
        // Activation rows: a prefill pass, or one row per sequence in a batched step.
        const size_t T = size_t(std::max(m_chunk, n_seq)), TL = std::max(size_t(std::min(m_chunk, kLogitRows)), size_t(n_seq));
        const size_t D = hp.d_model, F = hp.d_ff, A = hp.d_aug, V = hp.n_vocab;
        const size_t max_cols = std::max({D, F, A, size_t(hp.q_dim()), size_t(hp.o_dim())});
        m_k_seq = size_t(hp.n_k) * n_ctx * hp.d_qk;   // one sequence's cache per layer
        m_v_seq = size_t(hp.n_v) * n_ctx * hp.d_v;
        const size_t k_layer = m_k_seq * n_seq, v_layer = m_v_seq * n_seq;
        m_attn_ws_bytes = 0;
        if (fast_decode_heads(hp)) {
            for (int batch : {1, n_seq}) {
                k::DecodeAttentionParams ap = attention_params(0, 0);
                ap.batch = batch;
                for (int sv : {0, m_selective_v}) {
                    ap.selective_v = sv;
                    const size_t bytes = k::decode_attention_workspace_bytes(ap);
                    if (bytes == 0) throw Exception(ErrorCode::Unsupported, "CUDA backend: decode attention rejects this shape");
                    m_attn_ws_bytes = std::max(m_attn_ws_bytes, bytes);
                }
            }
        }
        const size_t q8_scratch = size_t(std::min<int64_t>(m_model->max_q8_elems, kQ8ChunkElems));

        Arena& a = m_arena;
        for (size_t n : {T * D, T * D, T * hp.q_dim(), T * hp.k_dim(), T * hp.v_dim(), T * hp.o_dim(), T * F, T * F,
                         T * A, T * A, TL * V})
            a.reserve(std::max<size_t>(n, 1) * sizeof(float));
        a.reserve(T * max_cols * 2);
        a.reserve(std::max<size_t>(q8_scratch, 1) * 2);
        a.reserve(T * max_cols * 2);
        a.reserve(T * sizeof(int));             // m_tok (each take rounds up to 256 bytes, so
        a.reserve(T * sizeof(int));             // m_seq  every buffer is reserved on its own)
        a.reserve(4 * sizeof(int));             // m_pos, m_next
        a.reserve(size_t(n_ctx + 1) * sizeof(int));
        a.reserve(sizeof(unsigned long long));
        a.reserve(size_t(n_seq) * sizeof(int));                  // m_bpos
        a.reserve(size_t(n_seq) * sizeof(int));                  // m_bnext
        a.reserve(size_t(n_seq) * sizeof(unsigned long long));   // m_bargmax_key
        m_sample_ws_bytes = k::sample_workspace_bytes(int(V));
        a.reserve(m_sample_ws_bytes);
        a.reserve(std::max<size_t>(m_attn_ws_bytes, 1));
        for (uint32_t l = 0; l < hp.n_layer; ++l) { a.reserve(k_layer * 2); a.reserve(v_layer * 2); }
        a.allocate();
        m_x = a.take<float>(T * D); m_a = a.take<float>(T * D);
        m_q = a.take<float>(T * hp.q_dim()); m_k = a.take<float>(T * hp.k_dim()); m_v = a.take<float>(T * hp.v_dim());
        m_o = a.take<float>(T * hp.o_dim()); m_g = a.take<float>(T * F); m_u = a.take<float>(T * F);
        m_ag = a.take<float>(std::max<size_t>(T * A, 1)); m_au = a.take<float>(std::max<size_t>(T * A, 1));
        m_logits = a.take<float>(TL * V);
        m_xh = a.take<uint16_t>(T * max_cols);
        m_xh2 = a.take<uint16_t>(T * max_cols);
        m_wh = a.take<uint16_t>(std::max<size_t>(q8_scratch, 1));
        m_tok = a.take<int>(T); m_seq = a.take<int>(T); m_pos = a.take<int>(4); m_next = m_pos + 1;
        m_pen = a.take<int>(size_t(n_ctx + 1));
        m_argmax_key = a.take<unsigned long long>(1);
        m_bpos = a.take<int>(size_t(n_seq));
        m_bnext = a.take<int>(size_t(n_seq));
        m_bargmax_key = a.take<unsigned long long>(size_t(n_seq));
        m_sample_ws = a.take<char>(m_sample_ws_bytes);
        m_attn_ws = a.take<char>(std::max<size_t>(m_attn_ws_bytes, 1));
        for (uint32_t l = 0; l < hp.n_layer; ++l) {
            m_kc.push_back(a.take<uint16_t>(k_layer));
            m_vc.push_back(a.take<uint16_t>(v_layer));
        }
        // The attention workspace starts zeroed (kernels.h); the caches are zeroed so a kernel
        // bug that read an unwritten position would read zeros, not stale data.
        SIGMA_CUDA(cudaMemsetAsync(m_argmax_key, 0, sizeof(unsigned long long), m_stream));
        SIGMA_CUDA(cudaMemsetAsync(m_bargmax_key, 0, size_t(n_seq) * sizeof(unsigned long long), m_stream));
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
        if (m_host_pen) cudaFreeHost(m_host_pen);
        if (m_host_batch) cudaFreeHost(m_host_batch);
    }

    static constexpr int kMaxSeqs = 64;
    int n_seq() const { return m_n_seq; }
    int n_ctx() const { return m_n_ctx; }
    // The sequence forward(), forward_argmax(), forward_sample() and sample_last() act on.
    void select(int seq) {
        if (seq < 0 || seq >= m_n_seq)
            throw Exception(ErrorCode::InvalidArgument, "CUDA backend: sequence " + std::to_string(seq) + " of " + std::to_string(m_n_seq));
        if (seq != m_cur) m_last_logits = nullptr;   // sample_last belongs to the sequence that made them
        m_cur = seq;
    }

    // One decode step of every sequence: token b at position pos[b] (its cache holds [0, pos[b])).
    // next[b] = the argmax of sequence b's logits; logits (n_seq, V) to the host when non-null.
    void decode_batch(const TokenId* tokens, const int* pos, TokenId* next, float* logits) {
        int max_pos = 0;
        for (int b = 0; b < m_n_seq; ++b) {
            if (pos[b] < 0 || pos[b] >= m_n_ctx)
                throw Exception(ErrorCode::ContextFull, "CUDA backend: sequence " + std::to_string(b) + " position " + std::to_string(pos[b]) + " beyond n_ctx");
            if (tokens[b] < 0 || uint32_t(tokens[b]) >= m_hp.n_vocab)
                throw Exception(ErrorCode::InvalidArgument, "CUDA backend: token id " + std::to_string(tokens[b]) + " outside the vocabulary");
            max_pos = std::max(max_pos, pos[b]);
            m_host_batch[b] = tokens[b];
            m_host_batch[m_n_seq + b] = pos[b];
        }
        m_last_logits = nullptr;
        SIGMA_CUDA(cudaMemcpyAsync(m_tok, m_host_batch, size_t(m_n_seq) * sizeof(int), cudaMemcpyHostToDevice, m_stream));
        SIGMA_CUDA(cudaMemcpyAsync(m_bpos, m_host_batch + m_n_seq, size_t(m_n_seq) * sizeof(int), cudaMemcpyHostToDevice, m_stream));
        run_step(bucket_for(max_pos), m_selective_v, true);
        SIGMA_CUDA(cudaMemcpyAsync(m_host_batch, m_bnext, size_t(m_n_seq) * sizeof(int), cudaMemcpyDeviceToHost, m_stream));
        if (logits)
            SIGMA_CUDA(cudaMemcpyAsync(logits, m_logits, size_t(m_n_seq) * m_hp.n_vocab * sizeof(float), cudaMemcpyDeviceToHost, m_stream));
        SIGMA_CUDA(cudaStreamSynchronize(m_stream));
        for (int b = 0; b < m_n_seq; ++b) next[b] = TokenId(m_host_batch[b]);
    }

    int prefill_chunk() const override { return m_chunk; }

    void forward(const TokenId* tokens, int n, int pos0, float* logits, bool all_logits, Pass pass) override {
        const int selective_v = pass == Pass::Decode ? m_selective_v : 0;
        if (pos0 < 0 || pos0 + n > m_n_ctx) throw Exception(ErrorCode::ContextFull, "CUDA backend: positions beyond n_ctx");
        const size_t V = m_hp.n_vocab;
        m_last_logits = nullptr;
        if (n == 1) {
            decode(tokens[0], pos0, selective_v);
            SIGMA_CUDA(cudaMemcpyAsync(logits, m_logits, V * sizeof(float), cudaMemcpyDeviceToHost, m_stream));
            SIGMA_CUDA(cudaStreamSynchronize(m_stream));
            m_last_logits = m_logits;
            return;
        }
        for (int b = 0; b < n; b += m_chunk) {
            const int nb = std::min(m_chunk, n - b);
            const bool last_chunk = b + nb == n;
            if (!all_logits && !last_chunk) { prefill(tokens + b, nb, pos0 + b, false, selective_v, nullptr); continue; }
            prefill(tokens + b, nb, pos0 + b, all_logits, selective_v, all_logits ? logits + size_t(b) * V : logits);
        }
    }

    // Random K and V in the whole cache (benchmarks: decode at position p without a prefill).
    void fill_kv_random(uint64_t seed) {
        const size_t k_layer = m_k_seq * m_n_seq, v_layer = m_v_seq * m_n_seq;
        for (uint32_t l = 0; l < m_hp.n_layer; ++l) {
            SIGMA_KERNEL(k::fill_random({m_kc[l], kKvType, (long long)k_layer, 0.0f, 1.0f, seed * 7919 + 2 * l, m_stream}));
            SIGMA_KERNEL(k::fill_random({m_vc[l], kKvType, (long long)v_layer, 0.0f, 1.0f, seed * 7919 + 2 * l + 1, m_stream}));
        }
        SIGMA_CUDA(cudaStreamSynchronize(m_stream));
    }

    bool samples_on_device() const override { return true; }

    TokenId forward_argmax(TokenId token, int pos) override {
        if (pos < 0 || pos >= m_n_ctx) throw Exception(ErrorCode::ContextFull, "CUDA backend: position beyond n_ctx");
        decode(token, pos, m_selective_v);
        m_last_logits = nullptr;   // forward_argmax's logits are not promised to sample_last
        SIGMA_CUDA(cudaMemcpyAsync(&m_host_io[2], m_next, sizeof(int), cudaMemcpyDeviceToHost, m_stream));
        SIGMA_CUDA(cudaStreamSynchronize(m_stream));
        return TokenId(m_host_io[2]);
    }

    TokenId forward_sample(TokenId token, int pos, const SampleRequest& req) override {
        if (pos < 0 || pos >= m_n_ctx) throw Exception(ErrorCode::ContextFull, "CUDA backend: position beyond n_ctx");
        decode(token, pos, m_selective_v);
        m_last_logits = m_logits;
        return sample_device(req);
    }

    TokenId sample_last(const SampleRequest& req) override {
        if (!m_last_logits)
            throw Exception(ErrorCode::InvalidArgument, "CUDA backend: no logits to sample (sampled already, or none evaluated)");
        return sample_device(req);
    }

private:
    // The sample kernel on m_last_logits (modified by the penalty); waits for the token id.
    TokenId sample_device(const SampleRequest& req) {
        if (!req.params) throw Exception(ErrorCode::InvalidArgument, "CUDA backend: sample request without parameters");
        const SamplingParams& sp = *req.params;
        // The penalty's distinct ids, sorted in the pinned buffer (the kernel takes each id once).
        int n_pen = 0;
        if (sp.repeat_penalty != 1.0f && !req.recent.empty()) {
            const size_t n = std::min<size_t>(req.recent.size(), size_t(m_n_ctx + 1));
            std::copy(req.recent.end() - n, req.recent.end(), m_host_pen);
            std::sort(m_host_pen, m_host_pen + n);
            n_pen = int(std::unique(m_host_pen, m_host_pen + n) - m_host_pen);
        }
        const bool penalty = n_pen > 0;
        if (penalty) {
            SIGMA_CUDA(cudaMemcpyAsync(m_pen, m_host_pen, size_t(n_pen) * sizeof(int), cudaMemcpyHostToDevice, m_stream));
        }
        k::SampleParams p;
        p.logits = m_last_logits; p.n_vocab = int(m_hp.n_vocab);
        p.penalty_ids = penalty ? m_pen : nullptr; p.n_penalty = penalty ? n_pen : 0;
        p.repeat_penalty = penalty ? sp.repeat_penalty : 1.0f;
        p.temperature = sp.temperature; p.top_k = sp.top_k;
        p.top_p = std::clamp(sp.top_p, 1e-6f, 1.0f); p.min_p = std::clamp(sp.min_p, 0.0f, 1.0f);
        p.seed = req.seed; p.draw = req.draw; p.out = m_next; p.stream = m_stream;
        if (m_sample_cut) { p.workspace = m_sample_ws; p.workspace_bytes = m_sample_ws_bytes; }
        SIGMA_KERNEL(k::sample(p));
        SIGMA_CUDA(cudaMemcpyAsync(&m_host_io[2], m_next, sizeof(int), cudaMemcpyDeviceToHost, m_stream));
        SIGMA_CUDA(cudaStreamSynchronize(m_stream));
        m_last_logits = nullptr;   // penalised in place: not sampled twice
        return TokenId(m_host_io[2]);
    }

    // ---- decode: one token, everything on the device, graph-capturable ----------------------

    void decode(TokenId token, int pos, int selective_v) {
        m_host_io[0] = token;
        m_host_io[1] = pos;
        SIGMA_CUDA(cudaMemcpyAsync(m_tok, &m_host_io[0], sizeof(int), cudaMemcpyHostToDevice, m_stream));
        SIGMA_CUDA(cudaMemcpyAsync(m_pos, &m_host_io[1], sizeof(int), cudaMemcpyHostToDevice, m_stream));
        // The attention kernels size their slices (and selective V its shared-memory score
        // cache) from an upper bound on the keys: one graph per bucket of the context, powers of
        // two up to 4096, then multiples of 4096 (a power-of-two bucket just past 32K would size
        // everything for 64K: selective V then lost its shared-memory score cache and slowed).
        run_step(bucket_for(pos), selective_v, false);
    }

    int bucket_for(int pos) const {
        int bucket = 256;
        while (bucket < pos + 1 && bucket < kBucketStep) bucket *= 2;
        if (bucket < pos + 1) bucket = (pos + 1 + kBucketStep - 1) / kBucketStep * kBucketStep;
        return std::min(bucket, m_n_ctx);
    }

    // The decode step (batched: every sequence) from its CUDA graph, captured on first use. A
    // single-sequence graph holds the selected sequence's cache addresses, so it is keyed by it.
    void run_step(int bucket, int selective_v, bool batched) {
        if (!m_use_graph) { enqueue_step(bucket, selective_v, batched); return; }
        const auto key = std::make_tuple(bucket, selective_v, batched ? -1 : m_cur);
        auto it = m_graphs.find(key);
        if (it == m_graphs.end()) it = m_graphs.emplace(key, capture(bucket, selective_v, batched)).first;
        SIGMA_CUDA(cudaGraphLaunch(it->second, m_stream));
    }

    void enqueue_step(int bucket, int selective_v, bool batched) {
        if (batched) enqueue_decode_batch(bucket, selective_v);
        else enqueue_decode(bucket, selective_v);
    }

    cudaGraphExec_t capture(int bucket, int selective_v, bool batched) {
        SIGMA_CUDA(cudaStreamBeginCapture(m_stream, cudaStreamCaptureModeThreadLocal));
        cudaGraph_t graph = nullptr;
        try {
            enqueue_step(bucket, selective_v, batched);
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
    // batch > 0: the inputs and outputs are (batch, width) row-major, one row per sequence
    // (launches of up to kGemvMaxBatch rows each; every launch reads the weights once).
    void gemv(std::initializer_list<std::pair<const DeviceMatrix*, float*>> outs, std::initializer_list<const float*> biases,
              k::GemvInput input, const float* x, const float* x2, const float* norm, bool accumulate, int batch = 1) {
        std::vector<std::pair<const DeviceMatrix*, float*>> mats(outs);
        std::vector<const float*> bias(biases);
        bias.resize(mats.size(), nullptr);
        const long long cols = mats.front().first->cols;
        for (int b0 = 0; b0 < batch; b0 += k::kGemvMaxBatch) {
            const int nb = std::min(k::kGemvMaxBatch, batch - b0);
            std::vector<bool> done(mats.size(), false);
            for (size_t i = 0; i < mats.size(); ++i) {
                if (done[i]) continue;
                k::GemvParams p;
                p.input = input; p.x = x + b0 * cols; p.x2 = x2 ? x2 + b0 * cols : nullptr; p.norm = norm; p.eps = m_hp.eps;
                p.accumulate = accumulate; p.stream = m_stream; p.pdl = m_pdl; p.batch = nb;
                p.shape = nb > 1 ? m_batch_shape : m_gemv_shape;
                for (size_t j = i; j < mats.size() && p.n_mat < 3; ++j) {
                    if (done[j] || mats[j].first->type != mats[i].first->type) continue;
                    p.w[p.n_mat] = *mats[j].first; p.y[p.n_mat] = mats[j].second + b0 * mats[j].first->rows;
                    p.bias[p.n_mat] = bias[j];
                    ++p.n_mat;
                    done[j] = true;
                }
                SIGMA_KERNEL(k::gemv(p));
            }
        }
    }

    k::DecodeAttentionParams attention_params(int l, int max_seq_len) const {
        k::DecodeAttentionParams p;
        p.batch = 1; p.n_q = int(m_hp.n_q); p.n_k = int(m_hp.n_k); p.n_v = int(m_hp.n_v);
        p.d_qk = int(m_hp.d_qk); p.d_v = int(m_hp.d_v); p.max_ctx = m_n_ctx; p.max_seq_len = max_seq_len;
        p.q = m_q; p.q_type = DType::F32;
        p.k_cache = m_kc.empty() ? nullptr : kc(l);
        p.v_cache = m_vc.empty() ? nullptr : vc(l);
        p.kv_type = kKvType; p.seq_lens = m_seq; p.out = m_o;
        p.workspace = m_attn_ws; p.workspace_bytes = m_attn_ws_bytes; p.stream = m_stream;
        p.knobs = m_attn_knobs;   // the workspace was sized with the same knobs
        return p;
    }

    k::CausalAttentionParams causal_params(int l, int n) const {
        k::CausalAttentionParams p;
        p.n = n; p.pos0 = m_pos;
        p.n_q = int(m_hp.n_q); p.n_k = int(m_hp.n_k); p.n_v = int(m_hp.n_v);
        p.d_qk = int(m_hp.d_qk); p.d_v = int(m_hp.d_v); p.max_ctx = m_n_ctx;
        p.q = m_q; p.k_cache = kc(l); p.v_cache = vc(l); p.kv_type = kKvType;
        p.out = m_o; p.stream = m_stream;
        return p;
    }

    // Layer l's caches of sequence `seq` (default: the selected one).
    uint16_t* kc(int l, int seq = -1) const { return m_kc[size_t(l)] + size_t(seq < 0 ? m_cur : seq) * m_k_seq; }
    uint16_t* vc(int l, int seq = -1) const { return m_vc[size_t(l)] + size_t(seq < 0 ? m_cur : seq) * m_v_seq; }

    k::RopeParams rope_params(int l, int n) const {
        k::RopeParams p;
        p.n = n; p.pos0 = m_pos;
        p.n_q = int(m_hp.n_q); p.n_k = int(m_hp.n_k); p.n_v = int(m_hp.n_v);
        p.d_qk = int(m_hp.d_qk); p.d_v = int(m_hp.d_v); p.d_rot = int(m_hp.d_rot);
        p.base = m_hp.rope_base; p.interleaved = m_hp.rope == RopeStyle::Interleaved;
        p.q = m_q; p.k = m_k; p.v = m_v; p.k_cache = kc(l); p.v_cache = vc(l);
        p.kv_type = kKvType; p.max_ctx = m_n_ctx; p.stream = m_stream;
        p.pdl = m_pdl && n == 1;
        return p;
    }

    void enqueue_decode(int max_seq_len, int selective_v) {
        const Hparams& hp = m_hp;
        const DeviceModel& M = *m_model;
        using k::GemvInput;
        // x = token_embd[id]
        // seq_lens first, by plain launches: every PDL kernel of the step starts after embed has
        // started, so it may read seq_lens (and pos) before its griddepcontrol.wait.
        SIGMA_KERNEL(k::fill_seq_lens({m_pos, 1, m_seq, m_stream}));
        SIGMA_KERNEL(k::embed({M.token_embd, m_tok, 1, m_x, m_stream}));
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
            SIGMA_KERNEL(k::rope(rope_params(int(l), 1)));
            // o = attention over positions 0..pos
            if (fast_decode_heads(hp)) {
                k::DecodeAttentionParams ap = attention_params(int(l), max_seq_len);
                ap.selective_v = selective_v;
                // PDL: the kernels stream the cache rows of earlier steps (complete: one graph per
                // step) and read seq_lens (written before embed) before waiting on rope,
                // which writes q and this step's K/V row.
                ap.pdl = m_pdl;
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

    // ---- batched decode: one token of every sequence, the same kernels with a batch dimension -

    void enqueue_decode_batch(int max_seq_len, int selective_v) {
        const Hparams& hp = m_hp;
        const DeviceModel& M = *m_model;
        using k::GemvInput;
        const int B = m_n_seq;
        const int D = int(hp.d_model), F = int(hp.d_ff), A = int(hp.d_aug);
        // The matrix products: prefill's GEMM halves (activations rounded to the weights' type),
        // by default (auto) through cuBLAS for a model of F16/BF16 matrices and through the
        // tensor-core small GEMM (kernels/small_gemm.cu) for a Q8_0 one (judged by its first
        // Q projection; each mode as a whole is what test_gpu_batch checks): the faster of the two
        // for each weight type in the H100 measurements (docs/benchmarks.md, "Batched decode";
        // cuBLAS would first dequantize Q8_0). For comparison:
        // SIGMA_BATCH_GEMM=mma (small GEMM for every type), cublas (Q8_0 then takes the batched
        // GEMV) or gemv (the batched FMA GEMV, F32 activations).
        const bool blas = m_batch_mode != BatchMode::Gemv && !(m_batch_mode == BatchMode::Cublas && M.layers[0].wq.type == DType::Q8_0);
        m_small_gemm = m_batch_mode == BatchMode::Mma || (m_batch_mode == BatchMode::Auto && M.layers[0].wq.type == DType::Q8_0);
        struct Reset { bool& f; ~Reset() { f = false; } } reset{m_small_gemm};   // prefill keeps cuBLAS
        auto norm = [&](const float* x, const float* w) {   // m_a = rmsnorm(x) * w, B rows
            SIGMA_KERNEL(k::rmsnorm({x, w, m_a, B, D, hp.eps, m_stream}));
        };
        auto silu = [&](float* g, const float* u, int width) {   // g = silu(g) * u in place
            SIGMA_KERNEL(k::silu_mul({g, u, (long long)B * width, m_stream}));
        };
        auto mat = [&](std::initializer_list<std::pair<const DeviceMatrix*, float*>> outs, std::initializer_list<const float*> biases,
                       const float* x, bool accumulate) {
            gemv(outs, biases, GemvInput::Plain, x, nullptr, nullptr, accumulate, B);
        };
        // seq_lens (pos[b] + 1) first, by plain launches, as in enqueue_decode.
        SIGMA_KERNEL(k::fill_seq_lens({m_bpos, B, m_seq, m_stream, true}));
        SIGMA_KERNEL(k::embed({M.token_embd, m_tok, B, m_x, m_stream}));
        for (uint32_t l = 0; l < hp.n_layer; ++l) {
            const DeviceLayer& L = M.layers[l];
            // q, k, v = W rmsnorm(x) * attn_norm (+ b); augmented Q
            if (blas) {
                qkv_gemms(L, B);
            } else {
                norm(m_x, L.attn_norm);
                mat({{&L.wq, m_q}, {&L.wk, m_k}, {&L.wv, m_v}}, {L.bq, L.bk, L.bv}, m_a, false);
                if (A > 0) {
                    mat({{&L.wq_gate, m_ag}, {&L.wq_up, m_au}}, {}, m_q, false);
                    silu(m_ag, m_au, A);
                    mat({{&L.wq_down, m_q}}, {}, m_ag, false);
                }
            }
            // rope(q), rope(k); token b's k, v into sequence b's cache at pos[b]
            k::RopeParams rp = rope_params(int(l), B);
            rp.pos0 = m_bpos; rp.per_sequence = true; rp.pdl = m_pdl;
            rp.k_cache = kc(int(l), 0); rp.v_cache = vc(int(l), 0);
            SIGMA_KERNEL(k::rope(rp));
            if (fast_decode_heads(hp)) {
                k::DecodeAttentionParams ap = attention_params(int(l), max_seq_len);
                ap.batch = B; ap.k_cache = kc(int(l), 0); ap.v_cache = vc(int(l), 0);
                ap.selective_v = selective_v;
                ap.pdl = m_pdl;
                SIGMA_KERNEL(k::decode_attention(ap));
            } else {
                // Other head sizes: the causal kernel, one query token per sequence.
                for (int b = 0; b < B; ++b) {
                    k::CausalAttentionParams cp = causal_params(int(l), 1);
                    cp.pos0 = m_bpos + b; cp.k_cache = kc(int(l), b); cp.v_cache = vc(int(l), b);
                    cp.q = m_q + size_t(b) * hp.q_dim(); cp.out = m_o + size_t(b) * hp.o_dim();
                    SIGMA_KERNEL(k::causal_attention(cp));
                }
            }
            // x += W_o o; x += W_down( silu(W_gate f) * (W_up f) ), f = rmsnorm(x) * ffn_norm
            if (blas) {
                out_ffn_gemms(L, B);
            } else {
                mat({{&L.wo, m_x}}, {}, m_o, true);
                norm(m_x, L.ffn_norm);
                mat({{&L.w_gate, m_g}, {&L.w_up, m_u}}, {}, m_a, false);
                silu(m_g, m_u, F);
                mat({{&L.w_down, m_x}}, {}, m_g, true);
            }
        }
        // logits = W_out rmsnorm(x) * output_norm; next[b] = argmax of row b
        if (blas) {
            gemm(M.output, norm_input(m_x, M.output_norm, B, M.output), B, m_logits, false);
        } else {
            norm(m_x, M.output_norm);
            mat({{&M.output, m_logits}}, {}, m_a, false);
        }
        k::ArgmaxParams amp{m_logits, int(hp.n_vocab), m_bnext, m_bargmax_key, m_stream};
        amp.rows = B;
        SIGMA_KERNEL(k::argmax(amp));
    }

    // ---- prefill: T tokens, cuBLAS GEMMs + the tensor-core causal attention -------------------

    static DType compute_type(const DeviceMatrix& W) { return W.type == DType::BF16 ? DType::BF16 : DType::F16; }

    // A GEMM input: X (T, cols) F32 with, optionally, its F16/BF16 copy Xh of type xh_type.
    struct Input {
        const float* x = nullptr;
        const void* xh = nullptr;
        DType xh_type = DType::F16;
    };

    // Y (T, rows) F32 = X (T, cols) . W^T, or Y += when accumulate. Uses X's low-precision copy
    // when its type is W's compute type, else converts X into m_xh2.
    void gemm(const DeviceMatrix& W, Input X, int T, float* Y, bool accumulate) {
        const DType ct = compute_type(W);
        const void* xh = X.xh;
        if (!xh || X.xh_type != ct) {
            k::ConvertParams cp{X.x, m_xh2, ct, (long long)T * W.cols, m_stream};
            cp.pdl = m_small_gemm && m_pdl;   // the batched step is one PDL chain; prefill launches plainly
            SIGMA_KERNEL(k::convert(cp));
            xh = m_xh2;
        }
        if (m_small_gemm && T <= 64 && W.cols % 32 == 0) {
            // A batched decode step: the tensor-core small GEMM, 16 rows of X per launch.
            for (int b0 = 0; b0 < T; b0 += 16) {
                k::SmallGemmParams sp;
                sp.w = W; sp.x = static_cast<const uint16_t*>(xh) + size_t(b0) * W.cols; sp.x_type = ct;
                sp.n = std::min(16, T - b0); sp.y = Y + size_t(b0) * W.rows; sp.accumulate = accumulate;
                sp.stream = m_stream; sp.pdl = m_pdl;
                SIGMA_KERNEL(k::small_gemm(sp));
            }
            return;
        }
        const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
        const int rows = int(W.rows), cols = int(W.cols);
        if (W.type != DType::Q8_0) {
            SIGMA_CUBLAS(cublasGemmEx(m_blas, CUBLAS_OP_T, CUBLAS_OP_N, rows, T, cols, &alpha, W.data, cublas_type(ct), cols,
                                      xh, cublas_type(ct), cols, &beta, Y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT));
            return;
        }
        const int64_t chunk = std::max<int64_t>(1, kQ8ChunkElems / W.cols);
        for (int64_t r0 = 0; r0 < W.rows; r0 += chunk) {
            const int nr = int(std::min<int64_t>(chunk, W.rows - r0));
            SIGMA_KERNEL(k::dequant_rows({W, r0, nr, m_wh, m_stream}));
            SIGMA_CUBLAS(cublasGemmEx(m_blas, CUBLAS_OP_T, CUBLAS_OP_N, nr, T, cols, &alpha, m_wh, CUDA_R_16F, cols, xh,
                                      CUDA_R_16F, cols, &beta, Y + r0, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT));
        }
    }

    // out = rmsnorm(x) * w (F32) and its copy in `consumer`'s compute type (m_xh).
    Input norm_input(const float* x, const float* w, int n, const DeviceMatrix& consumer) {
        const DType ct = compute_type(consumer);
        k::RmsNormParams rp{x, w, m_a, n, int(m_hp.d_model), m_hp.eps, m_stream};
        rp.out_lp = m_xh; rp.lp_type = ct; rp.pdl = m_small_gemm && m_pdl;
        SIGMA_KERNEL(k::rmsnorm(rp));
        return {m_a, m_xh, ct};
    }

    // silu(g) * u into m_xh in `consumer`'s compute type (g is left as it was).
    Input swiglu_input(float* g, const float* u, long long count, const DeviceMatrix& consumer) {
        const DType ct = compute_type(consumer);
        k::SiluMulParams sp{g, u, count, m_stream};
        sp.out_lp = m_xh; sp.lp_type = ct; sp.pdl = m_small_gemm && m_pdl;
        SIGMA_KERNEL(k::silu_mul(sp));
        return {nullptr, m_xh, ct};
    }

    // The GEMM half of a layer before attention, for T rows (prefill tokens or batched
    // sequences): a = rmsnorm(x) * attn_norm; q, k, v = W a (+ b); augmented Q:
    // q = W_q_down( silu(W_q_gate q) * (W_q_up q) ).
    void qkv_gemms(const DeviceLayer& L, int T) {
        const Hparams& hp = m_hp;
        const Input a = norm_input(m_x, L.attn_norm, T, L.wq);
        gemm(L.wq, a, T, m_q, false);
        gemm(L.wk, a, T, m_k, false);
        gemm(L.wv, a, T, m_v, false);
        if (hp.qkv_bias) {
            SIGMA_KERNEL(k::add({m_q, L.bq, T, int(hp.q_dim()), m_stream}));
            SIGMA_KERNEL(k::add({m_k, L.bk, T, int(hp.k_dim()), m_stream}));
            SIGMA_KERNEL(k::add({m_v, L.bv, T, int(hp.v_dim()), m_stream}));
        }
        if (hp.d_aug > 0) {
            gemm(L.wq_gate, {m_q, nullptr, DType::F16}, T, m_ag, false);
            gemm(L.wq_up, {m_q, m_xh2, compute_type(L.wq_gate)}, T, m_au, false);   // m_xh2 holds q now
            gemm(L.wq_down, swiglu_input(m_ag, m_au, (long long)T * hp.d_aug, L.wq_down), T, m_q, false);
        }
    }

    // ... and after attention: x += W_o o; x += W_down( silu(W_gate f) * (W_up f) ),
    // f = rmsnorm(x) * ffn_norm.
    void out_ffn_gemms(const DeviceLayer& L, int T) {
        gemm(L.wo, {m_o, nullptr, DType::F16}, T, m_x, true);
        const Input f = norm_input(m_x, L.ffn_norm, T, L.w_gate);
        gemm(L.w_gate, f, T, m_g, false);
        gemm(L.w_up, f, T, m_u, false);
        gemm(L.w_down, swiglu_input(m_g, m_u, (long long)T * m_hp.d_ff, L.w_down), T, m_x, true);
    }

    void prefill(const TokenId* tokens, int n, int pos0, bool all_logits, int selective_v, float* logits) {
        const Hparams& hp = m_hp;
        const DeviceModel& M = *m_model;
        const int D = int(hp.d_model);
        static_assert(sizeof(TokenId) == sizeof(int));
        SIGMA_CUDA(cudaMemcpyAsync(m_tok, tokens, size_t(n) * sizeof(int), cudaMemcpyHostToDevice, m_stream));
        m_host_io[1] = pos0;
        SIGMA_CUDA(cudaMemcpyAsync(m_pos, &m_host_io[1], sizeof(int), cudaMemcpyHostToDevice, m_stream));
        // x = token_embd[id]
        SIGMA_KERNEL(k::embed({M.token_embd, m_tok, n, m_x, m_stream}));
        SIGMA_KERNEL(k::fill_seq_lens({m_pos, n, m_seq, m_stream}));
        for (uint32_t l = 0; l < hp.n_layer; ++l) {
            const DeviceLayer& L = M.layers[l];
            qkv_gemms(L, n);
            // rope; k, v into the cache
            SIGMA_KERNEL(k::rope(rope_params(int(l), n)));
            // causal attention (selective V: the decode kernel once per query token)
            if (selective_v > 0) {
                for (int t = 0; t < n; ++t) {
                    k::DecodeAttentionParams ap = attention_params(int(l), pos0 + n);
                    ap.selective_v = selective_v;
                    ap.q = m_q + size_t(t) * hp.q_dim();
                    ap.seq_lens = m_seq + t;
                    ap.out = m_o + size_t(t) * hp.o_dim();
                    SIGMA_KERNEL(k::decode_attention(ap));
                }
            } else {
                SIGMA_KERNEL(k::causal_attention(causal_params(int(l), n)));
            }
            out_ffn_gemms(L, n);
        }
        if (!logits) return;
        // logits = W_out rmsnorm(x) * output_norm (all positions, or the last one), in pieces
        // of kLogitRows rows.
        const int first = all_logits ? 0 : n - 1;
        for (int r0 = first; r0 < n; r0 += kLogitRows) {
            const int rows = std::min(kLogitRows, n - r0);
            const Input o = norm_input(m_x + size_t(r0) * D, M.output_norm, rows, M.output);
            gemm(M.output, o, rows, m_logits, false);
            float* dst = all_logits ? logits + size_t(r0) * hp.n_vocab : logits;
            SIGMA_CUDA(cudaMemcpyAsync(dst, m_logits, size_t(rows) * hp.n_vocab * sizeof(float), cudaMemcpyDeviceToHost,
                                       m_stream));
            m_last_logits = m_logits + size_t(rows - 1) * hp.n_vocab;
        }
        SIGMA_CUDA(cudaStreamSynchronize(m_stream));
    }

    std::shared_ptr<const DeviceModel> m_model;
    const Hparams& m_hp;
    int m_n_ctx;
    int m_selective_v;                  // top-k V rows per head in decode steps (SessionOptions); 0 = off
    int m_n_seq = 1;                    // sequences (each its own cache); batched decode steps them all
    int m_cur = 0;                      // the sequence the single-sequence calls act on
    size_t m_k_seq = 0, m_v_seq = 0;    // elements of one sequence's K / V cache per layer
    bool m_use_graph = true;
    bool m_pdl = true;                  // programmatic dependent launch in decode (SIGMA_CUDA_PDL=0: off)
    bool m_sample_cut = true;           // the sampler's per-block top-k cut (SIGMA_CUDA_SAMPLE_CUT=0: off)
    k::DecodeAttentionKnobs m_attn_knobs;  // decode attention's tuning knobs (SIGMAOPS_ATTN_*)
    int m_gemv_shape = 0;               // GEMV block shape (kernels.h GemvParams::shape)
    int m_batch_shape = 0;              // the batched GEMV's shape (0: 4 rows per block, 1: 8)
    enum class BatchMode { Auto, Mma, Cublas, Gemv };
    BatchMode m_batch_mode = BatchMode::Auto;  // batched decode's matrix products (SIGMA_BATCH_GEMM)
    bool m_small_gemm = false;          // gemm() may take small_gemm (set while a batched step is enqueued)
    cudaStream_t m_stream = nullptr;
    cublasHandle_t m_blas = nullptr;
    int* m_host_io = nullptr;                  // pinned: token, pos, next token
    int* m_host_batch = nullptr;               // pinned: tokens / next tokens (n_seq), positions (n_seq)
    int *m_bpos = nullptr, *m_bnext = nullptr; // batched step: positions, next tokens (n_seq)
    unsigned long long* m_bargmax_key = nullptr;   // argmax scratch per sequence
    char* m_sample_ws = nullptr;               // the sampler's candidate cut (k::sample_workspace_bytes)
    size_t m_sample_ws_bytes = 0;
    Arena m_arena;
    int m_chunk = 1;                           // tokens per prefill pass
    int* m_host_pen = nullptr;                 // pinned: repetition-penalty ids (n_ctx + 1)
    int* m_pen = nullptr;                      // device copy of them
    float* m_last_logits = nullptr;            // the last position's logits on the device, or null
    // Activations, (T, width) F32 with T <= m_chunk; logits (min(T, kLogitRows), V).
    float *m_x = nullptr, *m_a = nullptr;      // (T, D) residual stream, normed input
    float *m_q = nullptr, *m_k = nullptr, *m_v = nullptr;  // (T, Hq*Dk), (T, Hk*Dk), (T, Hv*Dv)
    float *m_o = nullptr;                      // (T, Hq*Dv)
    float *m_g = nullptr, *m_u = nullptr;      // (T, F)
    float *m_ag = nullptr, *m_au = nullptr;    // (T, A)
    float *m_logits = nullptr;                 // (min(T, kLogitRows), V)
    uint16_t* m_xh = nullptr;                  // (T, max cols) F16/BF16 GEMM input (rmsnorm, silu_mul)
    uint16_t* m_xh2 = nullptr;                 // (T, max cols) F16/BF16 GEMM input (convert)
    uint16_t* m_wh = nullptr;                  // Q8_0 rows dequantized to F16 for cuBLAS
    int *m_tok = nullptr, *m_seq = nullptr, *m_pos = nullptr, *m_next = nullptr;
    unsigned long long* m_argmax_key = nullptr; // argmax scratch, zero between steps
    char* m_attn_ws = nullptr;
    size_t m_attn_ws_bytes = 0;
    std::vector<uint16_t*> m_kc, m_vc;         // per layer (n_seq, Hk, C, Dk), (n_seq, Hv, C, Dv) F16
    // (bucket, selective_v, sequence or -1 for the batched step) -> decode step
    std::map<std::tuple<int, int, int>, cudaGraphExec_t> m_graphs;
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

double measure_gemm_flops(int m, int n, int k, int reps) {
    void *a = nullptr, *b = nullptr, *c = nullptr;
    SIGMA_CUDA(cudaMalloc(&a, size_t(m) * k * 2));
    SIGMA_CUDA(cudaMalloc(&b, size_t(k) * n * 2));
    SIGMA_CUDA(cudaMalloc(&c, size_t(m) * n * 2));
    SIGMA_KERNEL(k::fill_random({a, DType::BF16, (long long)m * k, 0.0f, 1.0f, 11, nullptr}));
    SIGMA_KERNEL(k::fill_random({b, DType::BF16, (long long)k * n, 0.0f, 1.0f, 12, nullptr}));
    cublasHandle_t h = nullptr;
    SIGMA_CUBLAS(cublasCreate(&h));
    cudaEvent_t e0, e1;
    SIGMA_CUDA(cudaEventCreate(&e0));
    SIGMA_CUDA(cudaEventCreate(&e1));
    const float alpha = 1.0f, beta = 0.0f;
    std::vector<float> ms;
    for (int i = 0; i < reps + 3; ++i) {
        SIGMA_CUDA(cudaEventRecord(e0));
        SIGMA_CUBLAS(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, a, CUDA_R_16BF, m, b, CUDA_R_16BF, k, &beta, c,
                                  CUDA_R_16BF, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        SIGMA_CUDA(cudaEventRecord(e1));
        SIGMA_CUDA(cudaEventSynchronize(e1));
        float t = 0;
        SIGMA_CUDA(cudaEventElapsedTime(&t, e0, e1));
        if (i >= 3) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cublasDestroy(h);
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
    return 2.0 * double(m) * n * k / (double(ms[ms.size() / 2]) * 1e-3);
}

std::unique_ptr<ForwardBackend> new_cuda_forward(std::shared_ptr<const DeviceModel> m, int n_ctx, int selective_v) {
    check_session(*m, n_ctx, selective_v);
    return std::make_unique<CudaForward>(std::move(m), n_ctx, selective_v);
}

namespace {

// Sequence b of a batched CudaForward as a ForwardBackend: selects it, then forwards the call.
class SequenceView final : public ForwardBackend {
public:
    SequenceView(CudaForward& f, int b) : m_f(f), m_b(b) {}
    void forward(const TokenId* tokens, int n, int pos0, float* logits, bool all_logits, Pass pass) override {
        m_f.select(m_b);
        m_f.forward(tokens, n, pos0, logits, all_logits, pass);
    }
    bool samples_on_device() const override { return true; }
    TokenId forward_argmax(TokenId token, int pos) override {
        m_f.select(m_b);
        return m_f.forward_argmax(token, pos);
    }
    TokenId forward_sample(TokenId token, int pos, const SampleRequest& req) override {
        m_f.select(m_b);
        return m_f.forward_sample(token, pos, req);
    }
    TokenId sample_last(const SampleRequest& req) override {
        m_f.select(m_b);
        return m_f.sample_last(req);
    }
    int prefill_chunk() const override { return m_f.prefill_chunk(); }

private:
    CudaForward& m_f;
    int m_b;
};

class CudaBatchForward final : public BatchForward {
public:
    CudaBatchForward(std::shared_ptr<const DeviceModel> m, int n_seq, int n_ctx, int selective_v)
        : m_f(std::move(m), n_ctx, selective_v, n_seq) {
        for (int b = 0; b < n_seq; ++b) m_views.push_back(std::make_unique<SequenceView>(m_f, b));
    }
    int n_seq() const override { return m_f.n_seq(); }
    int n_ctx() const override { return m_f.n_ctx(); }
    ForwardBackend& sequence(int b) override {
        if (b < 0 || b >= n_seq())
            throw Exception(ErrorCode::InvalidArgument, "batch: sequence " + std::to_string(b) + " of " + std::to_string(n_seq()));
        return *m_views[size_t(b)];
    }
    void step(const TokenId* tokens, const int* pos, TokenId* next, float* logits) override {
        m_f.decode_batch(tokens, pos, next, logits);
    }
    CudaForward& forward() { return m_f; }

private:
    CudaForward m_f;
    std::vector<std::unique_ptr<SequenceView>> m_views;
};

} // namespace

std::unique_ptr<BatchForward> new_cuda_batch_forward(std::shared_ptr<const DeviceModel> m, int n_seq, int n_ctx, int selective_v) {
    check_session(*m, n_ctx, selective_v);
    return std::make_unique<CudaBatchForward>(std::move(m), n_seq, n_ctx, selective_v);
}

void fill_kv_random(BatchForward& batch, uint64_t seed) {
    auto* f = dynamic_cast<CudaBatchForward*>(&batch);
    if (!f) throw Exception(ErrorCode::InvalidArgument, "fill_kv_random: not a CUDA batch");
    f->forward().fill_kv_random(seed);
}

} // namespace sigma::cuda
