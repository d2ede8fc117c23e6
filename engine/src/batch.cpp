// batch.cpp - BatchSession (sigma/batch.h): argument checks and the error boundary over a
// BatchBackend, and the two backends: the CPU one (the reference forward pass per sequence,
// one thread pool and one set of activations shared by all sequences, a KV cache each) and the
// CUDA one (cuda::BatchForward: every sequence in one CUDA graph per step).
#include "batch_backend.h"
#include "forward.h"
#ifdef SIGMA_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

#include <algorithm>
#include <string>
#include <vector>

namespace sigma {

namespace {

class CpuBatch final : public BatchBackend {
public:
    CpuBatch(const Hparams& hp, const Weights& w, int n_threads, int n_seq, int n_ctx, int selective_v)
        : m_hp(hp), m_fwd(hp, w, n_threads, selective_v), m_kv(size_t(n_seq)), m_logits(hp.n_vocab) {
        for (KvCache& kv : m_kv) kv.init(hp, n_ctx);
    }
    int prefill_chunk() const override { return 128; }   // as the CPU Session
    void prefill(int seq, const TokenId* tokens, int n, int pos0, float* logits) override {
        m_fwd.forward(tokens, n, pos0, m_kv[size_t(seq)], logits, false, Pass::Prompt);
    }
    void step(const TokenId* tokens, const int* pos, TokenId* next, float* logits) override {
        const size_t V = m_hp.n_vocab;
        for (size_t b = 0; b < m_kv.size(); ++b) {
            float* row = logits ? logits + b * V : m_logits.data();
            m_fwd.forward(&tokens[b], 1, pos[b], m_kv[b], row, false, Pass::Decode);
            next[b] = TokenId(std::max_element(row, row + V) - row);
        }
    }

private:
    const Hparams& m_hp;
    CpuForward m_fwd;
    std::vector<KvCache> m_kv;    // one per sequence
    std::vector<float> m_logits;  // (V) a step's logits when the caller wants none
};

#ifdef SIGMA_HAVE_CUDA
class CudaBatch final : public BatchBackend {
public:
    CudaBatch(std::shared_ptr<const cuda::DeviceModel> m, int n_seq, int n_ctx, int selective_v)
        : m_batch(cuda::new_cuda_batch_forward(std::move(m), n_seq, n_ctx, selective_v)) {}
    int prefill_chunk() const override { return m_batch->sequence(0).prefill_chunk(); }
    void prefill(int seq, const TokenId* tokens, int n, int pos0, float* logits) override {
        m_batch->sequence(seq).forward(tokens, n, pos0, logits, false, Pass::Prompt);
    }
    void step(const TokenId* tokens, const int* pos, TokenId* next, float* logits) override {
        m_batch->step(tokens, pos, next, logits);
    }

private:
    std::unique_ptr<cuda::BatchForward> m_batch;
};
#endif

class BatchSessionImpl final : public BatchSession {
public:
    BatchSessionImpl(std::shared_ptr<const void> owner, const Hparams& hp, std::unique_ptr<BatchBackend> backend, int n_seq,
                     int n_ctx)
        : m_owner(std::move(owner)), m_n_vocab(int(hp.n_vocab)), m_n_seq(n_seq), m_n_ctx(n_ctx), m_backend(std::move(backend)),
          m_scratch(hp.n_vocab) {}

    int n_seq() const override { return m_n_seq; }
    int n_ctx() const override { return m_n_ctx; }
    int n_vocab() const override { return m_n_vocab; }

    Expected<TokenId> prefill(int seq, std::span<const TokenId> tokens, int pos0, std::span<float> last_logits) override {
        return catch_to_expected([&] {
            if (seq < 0 || seq >= m_n_seq)
                throw Exception(ErrorCode::InvalidArgument, "batch: sequence " + std::to_string(seq) + " of " + std::to_string(m_n_seq));
            if (tokens.empty()) throw Exception(ErrorCode::InvalidArgument, "batch: prefill of no tokens");
            if (pos0 < 0) throw Exception(ErrorCode::InvalidArgument, "batch: negative position " + std::to_string(pos0));
            if (pos0 > m_n_ctx || tokens.size() > size_t(m_n_ctx - pos0))
                throw Exception(ErrorCode::ContextFull, "batch: " + std::to_string(tokens.size()) + " tokens at position " +
                                                            std::to_string(pos0) + " do not fit the context of " + std::to_string(m_n_ctx));
            check_logits(last_logits, 1);
            for (TokenId t : tokens) check_id(t);
            float* out = last_logits.empty() ? m_scratch.data() : last_logits.data();
            // In prefill_chunk() pieces, as a Session's prompt; the last one leaves its logits.
            const size_t chunk = size_t(m_backend->prefill_chunk());
            for (size_t b = 0; b < tokens.size(); b += chunk) {
                const int n = int(std::min(chunk, tokens.size() - b));
                m_backend->prefill(seq, tokens.data() + b, n, pos0 + int(b), out);
            }
            return TokenId(std::max_element(out, out + m_n_vocab) - out);
        });
    }

    Expected<void> step(std::span<const TokenId> tokens, std::span<const int> pos, std::span<TokenId> next,
                        std::span<float> logits) override {
        return catch_to_expected([&] {
            if (tokens.size() != size_t(m_n_seq) || pos.size() != size_t(m_n_seq) || next.size() != size_t(m_n_seq))
                throw Exception(ErrorCode::InvalidArgument, "batch: step takes " + std::to_string(m_n_seq) +
                                                                " tokens, positions and next tokens (got " + std::to_string(tokens.size()) +
                                                                ", " + std::to_string(pos.size()) + ", " + std::to_string(next.size()) + ")");
            check_logits(logits, m_n_seq);
            for (int b = 0; b < m_n_seq; ++b) {
                check_id(tokens[size_t(b)]);
                if (pos[size_t(b)] < 0 || pos[size_t(b)] >= m_n_ctx)
                    throw Exception(ErrorCode::ContextFull, "batch: sequence " + std::to_string(b) + " at position " +
                                                                std::to_string(pos[size_t(b)]) + ", outside the context [0, " +
                                                                std::to_string(m_n_ctx) + ")");
            }
            m_backend->step(tokens.data(), pos.data(), next.data(), logits.empty() ? nullptr : logits.data());
        });
    }

private:
    void check_id(TokenId t) const {
        if (t < 0 || t >= m_n_vocab)
            throw Exception(ErrorCode::InvalidArgument, "batch: token id " + std::to_string(t) + " is outside the vocabulary [0, " +
                                                            std::to_string(m_n_vocab) + ")");
    }
    void check_logits(std::span<float> logits, int rows) const {
        if (!logits.empty() && logits.size() != size_t(rows) * size_t(m_n_vocab))
            throw Exception(ErrorCode::InvalidArgument, "batch: the logits span has " + std::to_string(logits.size()) +
                                                            " floats, not " + std::to_string(size_t(rows) * size_t(m_n_vocab)));
    }

    std::shared_ptr<const void> m_owner;   // the model whose weights the backend reads
    int m_n_vocab, m_n_seq, m_n_ctx;
    std::unique_ptr<BatchBackend> m_backend;
    std::vector<float> m_scratch;          // (V) prefill logits when the caller wants none
};

} // namespace

std::unique_ptr<BatchBackend> new_cpu_batch(const Hparams& hp, const Weights& w, int n_threads, int n_seq, int n_ctx,
                                            int selective_v) {
    return std::make_unique<CpuBatch>(hp, w, n_threads, n_seq, n_ctx, selective_v);
}

#ifdef SIGMA_HAVE_CUDA
std::unique_ptr<BatchBackend> new_cuda_batch(std::shared_ptr<const cuda::DeviceModel> m, int n_seq, int n_ctx, int selective_v) {
    return std::make_unique<CudaBatch>(std::move(m), n_seq, n_ctx, selective_v);
}
#endif

std::unique_ptr<BatchSession> new_batch_session(std::shared_ptr<const void> owner, const Hparams& hp,
                                                std::unique_ptr<BatchBackend> backend, int n_seq, int n_ctx) {
    return std::make_unique<BatchSessionImpl>(std::move(owner), hp, std::move(backend), n_seq, n_ctx);
}

} // namespace sigma
