// tokenizer/tokenizer.h - text <-> token ids for the engine: SentencePiece ("llama") and
// byte-level BPE ("gpt2") vocabularies as GGUF's tokenizer.ggml.* keys describe them, plus a
// streaming decoder that never cuts a UTF-8 character in half.
//
// Public header of the tokenizer module; tokenizer_*.cpp are private. Everything here is
// independent of the GGUF reader except Tokenizer::from_gguf, so the module can be tested on its
// own. Tokenizers are immutable after construction: encode/decode are const and thread-safe.
// Errors are thrown as sigma::Exception (InvalidArgument, BadFile, Unsupported, NotFound).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sigma {

namespace gguf {
class File;
}

// Token types as GGUF stores them in tokenizer.ggml.token_type (same values as SentencePiece).
enum class TokenType : int32_t {
    Normal = 1,
    Unknown = 2,
    Control = 3,      // <s>, </s>, <|eot_id|>...: never produced from plain text
    UserDefined = 4,  // added tokens matched as whole strings (<|im_start|>, <|user|>...)
    Unused = 5,
    Byte = 6,         // <0x00>..<0xFF>: SentencePiece byte fallback
};

// What GGUF's tokenizer.ggml.* keys hold. A plain copyable struct; tokens/scores/token_types are
// parallel arrays (scores and token_types may be empty: then 0.0 and Normal are assumed).
struct Vocab {
    std::string model;                 // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
    std::string pre;                   // gpt2 pre-tokenizer: "llama-bpe" (Llama-3), "qwen2", "gpt2", "default"
    std::vector<std::string> tokens;   // token text (SPM: with U+2581 for space; gpt2: byte-unicode mapped)
    std::vector<float> scores;         // SPM merge priority / log-probability; unused by gpt2
    std::vector<int32_t> token_types;  // TokenType values
    std::vector<std::string> merges;   // "a b" pairs in rank order, gpt2 only
    int32_t bos = -1, eos = -1, eot = -1, unk = -1, pad = -1;  // -1: not defined
    bool add_bos = true;               // tokenizer.ggml.add_bos_token
    bool add_eos = false;              // tokenizer.ggml.add_eos_token
    std::string chat_template;         // tokenizer.chat_template (jinja source), may be empty
};

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // Builds the tokenizer the vocabulary names. Throws Unsupported for an unknown model or
    // pre-tokenizer, BadFile for an inconsistent vocabulary (array sizes, bad merges, no <unk>).
    static std::unique_ptr<Tokenizer> create(const Vocab& vocab);
    // Reads tokenizer.ggml.* and tokenizer.chat_template; nullptr when the file has no
    // tokenizer.ggml.model key (the model then runs on token ids only).
    static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
    // Loads a SentencePiece .model file as is (its own normalizer included).
    // Throws NotFound / BadFile.
    static std::unique_ptr<Tokenizer> from_spm_file(const std::string& path);

    // Text (UTF-8, invalid bytes allowed) to ids. add_bos: add the special tokens the vocabulary
    // asks for (BOS when add_bos is set and bos defined; EOS likewise with add_eos); false adds
    // none. parse_special: control (and for BPE user-defined) token texts in `text` become those
    // tokens, longest first; otherwise they are tokenized as plain text. SentencePiece gives each
    // text fragment between special tokens its dummy-prefix space, as llama.cpp does.
    virtual std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const = 0;

    // Raw bytes of one token: byte tokens -> that byte, SPM U+2581 -> space, gpt2 byte-unicode
    // mapped back to bytes. Control tokens give "" (see token_text). Out-of-range ids throw
    // InvalidArgument. The bytes need not be valid UTF-8 on their own.
    virtual std::string token_bytes(int32_t id) const = 0;
    // Like token_bytes, but control tokens give their text ("<|eot_id|>"): for showing specials.
    std::string token_text(int32_t id) const;

    // Concatenation of token_bytes (token_text when render_special); SentencePiece drops the
    // dummy-prefix space of the first piece as sentencepiece does, so decode(encode(s)) == s.
    std::string decode(const std::vector<int32_t>& ids, bool render_special = false) const;

    int32_t n_vocab() const { return static_cast<int32_t>(m_vocab.tokens.size()); }
    int32_t bos() const { return m_vocab.bos; }
    int32_t eos() const { return m_vocab.eos; }
    // End of generation: eos, eot, and <|im_end|> / <|eot_id|> / <|eom_id|> / <|end|> /
    // <end_of_turn> / <|endoftext|> style tokens present in the vocabulary.
    bool is_eog(int32_t id) const;
    // Exact token text lookup (e.g. "<|user|>"); nullopt when absent.
    std::optional<int32_t> find_token(std::string_view text) const;
    const Vocab& vocab() const { return m_vocab; }
    TokenType token_type(int32_t id) const;

protected:
    // Validates array sizes and indexes the vocabulary. Throws BadFile.
    explicit Tokenizer(Vocab vocab);
    // Whether decode drops one leading space of the first visible piece (SentencePiece rule).
    virtual bool strips_leading_space() const { return false; }
    // Throws InvalidArgument unless 0 <= id < n_vocab().
    void check_id(int32_t id) const;
    // Splits `text` into runs of plain text and special tokens (control, plus user-defined when
    // `user_defined`; longest match first). Special-token fragments have token >= 0, empty text.
    // Without parse_special the whole text is one plain fragment.
    struct Fragment {
        int32_t token = -1;
        std::string_view text;
    };
    std::vector<Fragment> split_special(std::string_view text, bool parse_special, bool user_defined) const;
    // Bytes decode emits for `id`: token_bytes/token_text, minus the SentencePiece leading space
    // while `at_start` (cleared by the first visible piece).
    std::string decode_piece(int32_t id, bool& at_start, bool render_special) const;
    friend class StreamDecoder;

    // Hash that lets find() take a string_view without building a std::string.
    struct TextHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };

    Vocab m_vocab;
    std::unordered_map<std::string, int32_t, TextHash, std::equal_to<>> m_token_to_id;  // first id of each text
    std::vector<int32_t> m_specials;  // control/user-defined ids, longest text first
    std::vector<int32_t> m_eog;       // sorted end-of-generation ids
};

// Turns a token stream into text that never ends mid UTF-8 character. Holds a reference to the
// tokenizer, which must outlive it. Not thread-safe (one per stream).
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tokenizer) : m_tok(tokenizer) {}
    // Appends the token's bytes and returns the complete characters now available (possibly "").
    // Invalid bytes that can no longer start a valid character come out as U+FFFD.
    std::string push(int32_t id);
    // Whatever is left; an incomplete tail becomes U+FFFD. Resets the decoder.
    std::string flush();

private:
    const Tokenizer& m_tok;
    std::string m_pending;   // bytes not yet returned: an incomplete character at most
    bool m_at_start = true;  // SentencePiece: the first visible piece loses its leading space
};

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or truncated characters).
bool is_valid_utf8(std::string_view s);

}  // namespace sigma
