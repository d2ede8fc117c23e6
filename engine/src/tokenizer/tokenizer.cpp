// tokenizer/tokenizer.cpp - what SentencePiece and byte-level BPE share: vocabulary checks and
// indexes, special-token splitting, decoding, end-of-generation ids, the streaming decoder, and
// the factories (create, from_gguf, from_spm_file).

#include "tokenizer/tokenizer.h"

#include "gguf/gguf.h"
#include "tokenizer/tokenizer_impl.h"

#include <sigma/expected.h>

#include <algorithm>

namespace sigma {

namespace tokenizer_detail {

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

int utf8_sequence_length(std::string_view s, size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 < 0x80) return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF) n = 2;
    else if (b0 >= 0xE0 && b0 <= 0xEF) { n = 3; if (b0 == 0xE0) lo = 0xA0; if (b0 == 0xED) hi = 0x9F; }
    else if (b0 >= 0xF0 && b0 <= 0xF4) { n = 4; if (b0 == 0xF0) lo = 0x90; if (b0 == 0xF4) hi = 0x8F; }
    else return 0;
    for (int k = 1; k < n; ++k) {
        if (i + k >= s.size()) return -1;
        const auto b = static_cast<unsigned char>(s[i + k]);
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return 0;
    }
    return n;
}

}  // namespace tokenizer_detail

using namespace tokenizer_detail;

namespace {

// Token texts that end a turn in the chat formats we know, besides the vocabulary's eos/eot.
constexpr std::string_view k_eog_texts[] = {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>",
                                            "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>"};

constexpr std::string_view k_replacement = "\xEF\xBF\xBD";  // U+FFFD

std::string id_error(const char* what, int32_t id, size_t n) {
    return std::string("tokenizer: ") + what + " " + std::to_string(id) + " is outside the vocabulary (" +
           std::to_string(n) + " tokens)";
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const int n = utf8_sequence_length(s, i);
        if (n <= 0) return false;
        i += static_cast<size_t>(n);
    }
    return true;
}

Tokenizer::Tokenizer(Vocab vocab) : m_vocab(std::move(vocab)) {
    const size_t n = m_vocab.tokens.size();
    if (n == 0) throw Exception(ErrorCode::BadFile, "tokenizer: the vocabulary is empty (tokenizer.ggml.tokens)");
    if (m_vocab.scores.empty()) m_vocab.scores.assign(n, 0.0f);
    if (m_vocab.token_types.empty()) m_vocab.token_types.assign(n, static_cast<int32_t>(TokenType::Normal));
    if (m_vocab.scores.size() != n || m_vocab.token_types.size() != n)
        throw Exception(ErrorCode::BadFile, "tokenizer: " + std::to_string(n) + " tokens but " +
                                                std::to_string(m_vocab.scores.size()) + " scores and " +
                                                std::to_string(m_vocab.token_types.size()) +
                                                " token types; the arrays must be parallel");
    const auto check = [n](const char* what, int32_t& id, bool required_in_range) {
        if (id < -1 || id >= static_cast<int32_t>(n)) {
            if (required_in_range) throw Exception(ErrorCode::BadFile, id_error(what, id, n));
            id = -1;  // a stale pad id is harmless: forget it
        }
    };
    check("bos_token_id", m_vocab.bos, true);
    check("eos_token_id", m_vocab.eos, true);
    check("eot_token_id", m_vocab.eot, true);
    check("unknown_token_id", m_vocab.unk, true);
    check("padding_token_id", m_vocab.pad, false);

    m_token_to_id.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        m_token_to_id.emplace(m_vocab.tokens[i], static_cast<int32_t>(i));  // first one wins
        const auto type = static_cast<TokenType>(m_vocab.token_types[i]);
        if ((type == TokenType::Control || type == TokenType::UserDefined) && !m_vocab.tokens[i].empty())
            m_specials.push_back(static_cast<int32_t>(i));
    }
    std::stable_sort(m_specials.begin(), m_specials.end(), [this](int32_t a, int32_t b) {
        return m_vocab.tokens[a].size() > m_vocab.tokens[b].size();
    });

    if (m_vocab.eos >= 0) m_eog.push_back(m_vocab.eos);
    if (m_vocab.eot >= 0) m_eog.push_back(m_vocab.eot);
    for (auto text : k_eog_texts)
        if (auto id = find_token(text)) m_eog.push_back(*id);
    std::sort(m_eog.begin(), m_eog.end());
    m_eog.erase(std::unique(m_eog.begin(), m_eog.end()), m_eog.end());
}

void Tokenizer::check_id(int32_t id) const {
    if (id < 0 || id >= n_vocab())
        throw Exception(ErrorCode::InvalidArgument, id_error("token id", id, m_vocab.tokens.size()));
}

TokenType Tokenizer::token_type(int32_t id) const {
    check_id(id);
    return static_cast<TokenType>(m_vocab.token_types[id]);
}

std::string Tokenizer::token_text(int32_t id) const {
    if (token_type(id) == TokenType::Control) return m_vocab.tokens[id];
    return token_bytes(id);
}

bool Tokenizer::is_eog(int32_t id) const { return std::binary_search(m_eog.begin(), m_eog.end(), id); }

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
    auto it = m_token_to_id.find(text);
    if (it == m_token_to_id.end()) return std::nullopt;
    return it->second;
}

std::vector<Tokenizer::Fragment> Tokenizer::split_special(std::string_view text, bool parse_special,
                                                          bool user_defined) const {
    std::vector<Fragment> out;
    if (!parse_special || m_specials.empty()) {
        if (!text.empty()) out.push_back({-1, text});
        return out;
    }
    bool first_byte[256] = {};
    for (int32_t id : m_specials) first_byte[static_cast<unsigned char>(m_vocab.tokens[id][0])] = true;
    size_t plain_start = 0;
    for (size_t i = 0; i < text.size();) {
        int32_t hit = -1;
        if (first_byte[static_cast<unsigned char>(text[i])]) {
            for (int32_t id : m_specials) {  // longest first
                if (!user_defined && m_vocab.token_types[id] != static_cast<int32_t>(TokenType::Control)) continue;
                if (text.compare(i, m_vocab.tokens[id].size(), m_vocab.tokens[id]) == 0) { hit = id; break; }
            }
        }
        if (hit < 0) { ++i; continue; }
        if (i > plain_start) out.push_back({-1, text.substr(plain_start, i - plain_start)});
        out.push_back({hit, {}});
        i += m_vocab.tokens[hit].size();
        plain_start = i;
    }
    if (plain_start < text.size()) out.push_back({-1, text.substr(plain_start)});
    return out;
}

std::string Tokenizer::decode_piece(int32_t id, bool& at_start, bool render_special) const {
    std::string bytes = render_special ? token_text(id) : token_bytes(id);
    if (at_start && !bytes.empty()) {
        at_start = false;
        const auto type = token_type(id);
        if (strips_leading_space() && bytes[0] == ' ' &&
            (type == TokenType::Normal || type == TokenType::UserDefined || type == TokenType::Unused))
            bytes.erase(0, 1);
    }
    return bytes;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
    std::string out;
    bool at_start = true;
    for (int32_t id : ids) out += decode_piece(id, at_start, render_special);
    return out;
}

std::string StreamDecoder::push(int32_t id) {
    m_pending += m_tok.decode_piece(id, m_at_start, false);
    std::string out;
    size_t i = 0;
    while (i < m_pending.size()) {
        const int n = utf8_sequence_length(m_pending, i);
        if (n < 0) break;  // incomplete: wait for more bytes
        if (n == 0) { out += k_replacement; ++i; continue; }
        out.append(m_pending, i, static_cast<size_t>(n));
        i += static_cast<size_t>(n);
    }
    m_pending.erase(0, i);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out = m_pending.empty() ? std::string() : std::string(k_replacement);
    m_pending.clear();
    m_at_start = true;
    return out;
}

std::unique_ptr<Tokenizer> Tokenizer::create(const Vocab& vocab) {
    if (vocab.model == "llama") return make_spm(vocab);
    if (vocab.model == "gpt2") return make_bpe(vocab);
    throw Exception(ErrorCode::Unsupported, "tokenizer: model '" + vocab.model +
                                                "' is not supported (tokenizer.ggml.model must be 'llama' "
                                                "for SentencePiece or 'gpt2' for byte-level BPE)");
}

std::unique_ptr<Tokenizer> Tokenizer::from_spm_file(const std::string& path) { return load_spm_file(path); }

static std::unique_ptr<Tokenizer> from_gguf_keys(const gguf::File& file);

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
    try {
        return from_gguf_keys(file);
    } catch (const Exception& e) {
        rethrow_with_stage("loading the tokenizer from " + file.path() + " (tokenizer.ggml.* keys)", e);
    }
}

// from_gguf without the error stage: reads the keys into a Vocab and builds the tokenizer.
static std::unique_ptr<Tokenizer> from_gguf_keys(const gguf::File& file) {
    auto model = file.get_string("tokenizer.ggml.model");
    if (!model || *model == "none") return nullptr;
    Vocab v;
    v.model = *model;
    v.pre = file.get_string("tokenizer.ggml.pre").value_or("default");
    v.tokens = file.get_string_array("tokenizer.ggml.tokens").value_or(std::vector<std::string>{});
    v.scores = file.get_f32_array("tokenizer.ggml.scores").value_or(std::vector<float>{});
    v.token_types = file.get_i32_array("tokenizer.ggml.token_type").value_or(std::vector<int32_t>{});
    v.merges = file.get_string_array("tokenizer.ggml.merges").value_or(std::vector<std::string>{});
    const auto id = [&file](const char* key) {
        auto x = file.get_u32(key);
        return x ? static_cast<int32_t>(*x) : -1;
    };
    v.bos = id("tokenizer.ggml.bos_token_id");
    v.eos = id("tokenizer.ggml.eos_token_id");
    v.eot = id("tokenizer.ggml.eot_token_id");
    v.unk = id("tokenizer.ggml.unknown_token_id");
    v.pad = id("tokenizer.ggml.padding_token_id");
    // llama.cpp's defaults when the key is absent: SentencePiece and Llama-3 add BOS.
    v.add_bos = file.get_bool("tokenizer.ggml.add_bos_token").value_or(v.model == "llama" || v.pre == "llama-bpe");
    v.add_eos = file.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
    v.chat_template = file.get_string("tokenizer.chat_template").value_or("");
    return Tokenizer::create(v);
}

}  // namespace sigma
