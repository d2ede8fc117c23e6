// tokenizer/tokenizer_bpe.cpp - byte-level BPE ("gpt2" model): GPT-2's byte<->unicode mapping,
// merges ranked by their order, and the pre-tokenizer regex of each model family run by PCRE2
// (UTF + UCP so \p{L}, \p{N} and \s are Unicode-aware, as in HF tokenizers).
//
// Tuned for prompt-sized inputs: specials are cut out first, each regex piece is merged with a
// priority queue over a linked list of symbols (O(n log n) per piece), no cache.

#include "tokenizer/tokenizer_impl.h"

#include <sigma/expected.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <optional>
#include <queue>
#include <unordered_map>

namespace sigma::tokenizer_detail {

namespace {

// Pre-tokenizer regexes, as in the models' tokenizer.json (and llama.cpp's llama-vocab.cpp).
constexpr const char* k_regex_llama3 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* k_regex_qwen2 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* k_regex_gpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

struct PreTokenizer {
    const char* regex;
    bool ignore_merges;  // a piece that is itself a token is taken whole (Llama-3)
};

// Maps tokenizer.ggml.pre to its regex; nullopt for names we do not implement.
std::optional<PreTokenizer> pre_tokenizer_for(const std::string& pre) {
    if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3" || pre == "smaug-bpe" || pre == "dbrx")
        return PreTokenizer{k_regex_llama3, true};
    if (pre == "qwen2" || pre == "deepseek-r1-qwen") return PreTokenizer{k_regex_qwen2, false};
    if (pre.empty() || pre == "default" || pre == "gpt2") return PreTokenizer{k_regex_gpt2, false};
    return std::nullopt;
}

// GPT-2's table: printable bytes map to themselves, the others to U+0100 upwards.
std::array<uint32_t, 256> byte_to_codepoint_table() {
    std::array<uint32_t, 256> t{};
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        t[b] = printable ? b : next++;
    }
    return t;
}

class BpeTokenizer final : public Tokenizer {
public:
    BpeTokenizer(Vocab vocab, PreTokenizer pre) : Tokenizer(std::move(vocab)), m_ignore_merges(pre.ignore_merges) {
        const auto table = byte_to_codepoint_table();
        for (int b = 0; b < 256; ++b) {
            std::string s;
            append_utf8(s, table[b]);
            m_codepoint_to_byte.emplace(table[b], static_cast<uint8_t>(b));
            auto id = find_token(s);
            m_byte_token[b] = id ? *id : m_vocab.unk;
            m_byte_text[b] = std::move(s);
        }
        m_merges.reserve(m_vocab.merges.size());
        std::string joined;
        for (size_t rank = 0; rank < m_vocab.merges.size(); ++rank) {
            const std::string_view m = m_vocab.merges[rank];
            const size_t sp = m.find(' ', 1);  // a merge side is never empty; the first may be " "
            auto a = sp == std::string::npos ? std::nullopt : find_token(m.substr(0, sp));
            auto b = sp == std::string::npos ? std::nullopt : find_token(m.substr(sp + 1));
            std::optional<int32_t> ab;
            if (a && b) {
                joined.assign(m.substr(0, sp));
                joined.append(m.substr(sp + 1));
                ab = find_token(joined);
            }
            if (!ab)
                throw Exception(ErrorCode::BadFile, "BPE merge " + std::to_string(rank) + " '" + std::string(m) +
                                                        "' does not join two tokens of the vocabulary into a third");
            m_merges.emplace(pair_key(*a, *b), Merge{static_cast<int32_t>(rank), *ab});
        }
        int err = 0;
        PCRE2_SIZE err_offset = 0;
        m_regex = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pre.regex), PCRE2_ZERO_TERMINATED,
                                PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_offset, nullptr);
        if (!m_regex) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            throw Exception(ErrorCode::Generic, std::string("BPE pre-tokenizer regex does not compile: ") +
                                                    reinterpret_cast<char*>(msg));
        }
        pcre2_jit_compile(m_regex, PCRE2_JIT_COMPLETE);  // optional speed-up; falls back to the interpreter
    }
    ~BpeTokenizer() override { pcre2_code_free(m_regex); }
    BpeTokenizer(const BpeTokenizer&) = delete;
    BpeTokenizer& operator=(const BpeTokenizer&) = delete;

    std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const override {
        std::vector<int32_t> out;
        if (add_bos && m_vocab.add_bos && m_vocab.bos >= 0) out.push_back(m_vocab.bos);
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(m_regex, nullptr);
        if (!md) throw std::bad_alloc();
        for (const auto& frag : split_special(text, parse_special, true)) {
            if (frag.token >= 0) {
                out.push_back(frag.token);
                continue;
            }
            // Bytes no match covers (invalid UTF-8) become pieces of their own.
            const auto subject = reinterpret_cast<PCRE2_SPTR>(frag.text.data());
            size_t pos = 0;
            while (pos < frag.text.size()) {
                const int rc = pcre2_match(m_regex, subject, frag.text.size(), pos, 0, md, nullptr);
                if (rc < 0) {
                    encode_piece(frag.text.substr(pos), out);
                    break;
                }
                const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
                if (ov[0] > pos) encode_piece(frag.text.substr(pos, ov[0] - pos), out);
                size_t end = ov[1];
                if (end == ov[0]) ++end;  // empty match cannot happen with our regexes; never loop
                if (end > ov[0]) encode_piece(frag.text.substr(ov[0], end - ov[0]), out);
                pos = end;
            }
        }
        pcre2_match_data_free(md);
        if (add_bos && m_vocab.add_eos && m_vocab.eos >= 0) out.push_back(m_vocab.eos);
        return out;
    }

    std::string token_bytes(int32_t id) const override {
        const auto type = token_type(id);
        const std::string& text = m_vocab.tokens[id];
        if (type == TokenType::Control) return {};
        if (type == TokenType::UserDefined) return text;  // added tokens are stored as raw text
        std::string out;
        out.reserve(text.size());
        for (size_t i = 0; i < text.size();) {
            const int n = utf8_sequence_length(text, i);
            if (n <= 0) {  // not UTF-8: pass the byte through
                out += text[i++];
                continue;
            }
            uint32_t cp = static_cast<unsigned char>(text[i]) & (n == 1 ? 0x7F : n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
            for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
            auto it = m_codepoint_to_byte.find(cp);
            if (it != m_codepoint_to_byte.end()) out += static_cast<char>(it->second);
            else out.append(text, i, static_cast<size_t>(n));
            i += static_cast<size_t>(n);
        }
        return out;
    }

private:
    struct Merge {
        int32_t rank;
        int32_t result;
    };
    static uint64_t pair_key(int32_t a, int32_t b) {
        return (uint64_t{static_cast<uint32_t>(a)} << 32) | static_cast<uint32_t>(b);
    }

    // Merges one pre-tokenized piece (raw bytes) and appends its ids.
    void encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
        if (m_ignore_merges) {
            std::string mapped;
            for (unsigned char c : piece) mapped += m_byte_text[c];
            if (auto id = find_token(mapped); id && token_type(*id) != TokenType::Control) {
                out.push_back(*id);
                return;
            }
        }
        // Symbols form a linked list; the queue holds candidate pairs (rank, left position),
        // lowest rank first and leftmost among equals, as HF tokenizers merges them.
        struct Symbol {
            int32_t id;
            int32_t prev, next;
        };
        std::vector<Symbol> sym;
        sym.reserve(piece.size());
        for (unsigned char c : piece) {
            const int32_t i = static_cast<int32_t>(sym.size());
            sym.push_back({m_byte_token[c], i - 1, i + 1});
        }
        if (!sym.empty()) sym.back().next = -1;
        struct Candidate {
            int32_t rank, left, left_id, right_id;
            bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
        };
        std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
        const auto push = [&](int32_t left) {
            if (left < 0 || sym[left].next < 0) return;
            const int32_t right = sym[left].next;
            auto it = m_merges.find(pair_key(sym[left].id, sym[right].id));
            if (it != m_merges.end()) queue.push({it->second.rank, left, sym[left].id, sym[right].id});
        };
        for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) push(i);
        while (!queue.empty()) {
            const Candidate c = queue.top();
            queue.pop();
            Symbol& l = sym[c.left];
            if (l.id != c.left_id || l.next < 0 || sym[l.next].id != c.right_id) continue;  // stale
            const int32_t r = l.next;
            l.id = m_merges.at(pair_key(c.left_id, c.right_id)).result;
            l.next = sym[r].next;
            if (l.next >= 0) sym[l.next].prev = c.left;
            sym[r].id = -2;  // dead
            push(l.prev);
            push(c.left);
        }
        for (int32_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next)
            if (sym[i].id >= 0) out.push_back(sym[i].id);
    }

    bool m_ignore_merges;
    std::unordered_map<uint64_t, Merge> m_merges;          // (left id, right id) -> rank, result
    std::unordered_map<uint32_t, uint8_t> m_codepoint_to_byte;
    std::array<int32_t, 256> m_byte_token{};               // id of each single byte (unk/-1 if absent)
    std::array<std::string, 256> m_byte_text;             // byte-unicode text of each byte
    pcre2_code* m_regex = nullptr;
};

}  // namespace

std::unique_ptr<Tokenizer> make_bpe(const Vocab& vocab) {
    auto pre = pre_tokenizer_for(vocab.pre);
    if (!pre)
        throw Exception(ErrorCode::Unsupported, "BPE pre-tokenizer '" + vocab.pre +
                                                    "' (tokenizer.ggml.pre) is not supported; supported: "
                                                    "llama-bpe, qwen2, gpt2/default");
    return std::make_unique<BpeTokenizer>(vocab, *pre);
}

}  // namespace sigma::tokenizer_detail
