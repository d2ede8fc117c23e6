// sigma/batch.h - batched decode: several sequences of one model advanced together, one token
// each per step (a server holding several conversations at once).
//
// A BatchSession (Model::new_batch) holds n_seq sequences, each with its own KV cache of n_ctx
// positions. A sequence is filled by prefill() (a prompt, or more tokens after what it holds);
// step() then advances every sequence by one token. On Device::Cuda a step is one CUDA graph:
// the matrix products as GEMMs with one row per sequence, the decode attention over the whole
// batch (each sequence at its own length), an argmax per sequence; on the CPU the sequences are
// stepped one after another through the reference forward pass.
// SessionOptions: n_ctx per sequence (0 = as a Session), selective_v as a Session's (applied by
// step(), not by prefill(), as a Session's decode and prompt). overflow and n_keep do not apply:
// positions are the caller's, and a position beyond n_ctx is an error.
// Greedy decoding needs nothing but step()'s next tokens; other sampling asks for the logits.
//
// Thread-safety: a BatchSession belongs to one thread at a time, like a Session.
// Errors: every call returns sigma::Expected; nothing here throws. A call rejected for its
// arguments (sequence index, positions, token ids, span sizes) leaves every cache as it was.
#pragma once

#include <sigma/engine.h>

#include <span>

namespace sigma {

class BatchSession {
public:
    static constexpr int kMaxSeqs = 64;   // n_seq is 1..kMaxSeqs

    virtual ~BatchSession() = default;
    virtual int n_seq() const = 0;
    virtual int n_ctx() const = 0;        // positions per sequence
    virtual int n_vocab() const = 0;

    // Evaluates `tokens` at positions [pos0, pos0 + tokens.size()) of sequence `seq`, whose cache
    // must hold positions [0, pos0) (pos0 = 0 starts the sequence afresh). Returns the argmax of
    // the last position's logits; `last_logits`, when not empty, must have n_vocab() floats and
    // receives those logits. Errors: InvalidArgument (seq, empty tokens, a token id outside the
    // vocabulary, pos0 < 0, a logits span of another size), ContextFull (past n_ctx).
    virtual Expected<TokenId> prefill(int seq, std::span<const TokenId> tokens, int pos0 = 0,
                                      std::span<float> last_logits = {}) = 0;

    // One decode step of every sequence: tokens[b] at position pos[b] (sequence b's cache must
    // hold positions [0, pos[b])). next[b] receives the argmax of sequence b's logits; `logits`,
    // when not empty, must have n_seq() * n_vocab() floats and receives all of them, row b for
    // sequence b. tokens, pos and next have n_seq() elements. Errors: InvalidArgument (span
    // sizes, token ids), ContextFull (a position outside [0, n_ctx)).
    virtual Expected<void> step(std::span<const TokenId> tokens, std::span<const int> pos, std::span<TokenId> next,
                                std::span<float> logits = {}) = 0;
};

} // namespace sigma
