// tokenizer/tokenizer_spm.cpp - SentencePiece ("llama") tokenizer on top of libsentencepiece.
//
// A GGUF vocabulary holds only pieces, scores and types, so we rebuild a SentencePiece
// ModelProto the way Llama's tokenizer.model is set up (BPE, identity normalization, dummy
// prefix, whitespace escaped to U+2581 and not folded, whitespace-only pieces allowed, byte
// fallback when <0x00>..<0xFF> exist) and hand it to LoadFromSerializedProto. Debian ships no
// sentencepiece_model.pb.h, so the few fields we need are serialized by hand below.
// Decoding does not go through the library: token_bytes maps pieces to bytes directly.

#include "tokenizer/tokenizer_impl.h"

#include <sigma/expected.h>

#include <sentencepiece_processor.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace sigma::tokenizer_detail {

namespace {

constexpr std::string_view k_space_symbol = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

// ---- A minimal protobuf writer/reader for sentencepiece_model.proto ---------------------------
// Field numbers (sentencepiece_model.proto): ModelProto{pieces=1, trainer_spec=2,
// normalizer_spec=3}; SentencePiece{piece=1, score=2, type=3}; TrainerSpec{model_type=3,
// vocab_size=4, split_digits=25, allow_whitespace_only_pieces=26, byte_fallback=35, unk_id=40,
// bos_id=41, eos_id=42, pad_id=43}; NormalizerSpec{name=1, add_dummy_prefix=3,
// remove_extra_whitespaces=4, escape_whitespaces=5}.

void put_varint(std::string& out, uint64_t v) {
    while (v >= 0x80) {
        out += static_cast<char>((v & 0x7F) | 0x80);
        v >>= 7;
    }
    out += static_cast<char>(v);
}
void put_tag(std::string& out, uint32_t field, uint32_t wire) { put_varint(out, (uint64_t{field} << 3) | wire); }
void put_int(std::string& out, uint32_t field, int64_t v) {  // int32/enum/bool: negative as 10-byte varint
    put_tag(out, field, 0);
    put_varint(out, static_cast<uint64_t>(v));
}
void put_bytes(std::string& out, uint32_t field, std::string_view s) {
    put_tag(out, field, 2);
    put_varint(out, s.size());
    out.append(s);
}
void put_float(std::string& out, uint32_t field, float f) {
    put_tag(out, field, 5);
    char b[4];
    std::memcpy(b, &f, 4);  // protobuf floats are little-endian, as are our targets
    out.append(b, 4);
}

// Reads fields of one message; calls on_field(field, wire, varint_value, bytes). Returns false on
// malformed input.
template <typename F>
bool read_fields(std::string_view msg, F&& on_field) {
    size_t i = 0;
    const auto varint = [&](uint64_t& v) {
        v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (i >= msg.size()) return false;
            const auto c = static_cast<unsigned char>(msg[i++]);
            v |= uint64_t{c & 0x7Fu} << shift;
            if (c < 0x80) return true;
        }
        return false;
    };
    while (i < msg.size()) {
        uint64_t key = 0, v = 0;
        if (!varint(key)) return false;
        const auto wire = static_cast<uint32_t>(key & 7);
        std::string_view bytes;
        if (wire == 0) {
            if (!varint(v)) return false;
        } else if (wire == 1 || wire == 5) {
            const size_t n = wire == 1 ? 8 : 4;
            if (i + n > msg.size()) return false;
            bytes = msg.substr(i, n);
            i += n;
        } else if (wire == 2) {
            if (!varint(v) || v > msg.size() - i) return false;
            bytes = msg.substr(i, v);
            i += v;
        } else {
            return false;
        }
        on_field(static_cast<uint32_t>(key >> 3), wire, v, bytes);
    }
    return true;
}

// Parses "<0xAB>" into 0xAB; -1 if `piece` is not a byte piece.
int parse_byte_piece(std::string_view piece) {
    if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
    int v = 0;
    for (char c : piece.substr(3, 2)) {
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else return -1;
    }
    return v;
}

// Serializes the ModelProto for `v` (see file comment). Throws BadFile when SentencePiece could
// not accept the vocabulary (no unknown piece).
std::string build_model_proto(const Vocab& v) {
    const size_t n = v.tokens.size();
    std::string proto;
    int32_t unk = -1;
    int n_bytes = 0;
    std::unordered_set<std::string_view> seen;
    for (size_t i = 0; i < n; ++i) {
        auto type = v.token_types.empty() ? 1 : v.token_types[i];
        std::string piece = v.tokens[i];
        if (type == static_cast<int32_t>(TokenType::Unknown) && unk < 0) unk = static_cast<int32_t>(i);
        if (type == static_cast<int32_t>(TokenType::Byte) && parse_byte_piece(piece) >= 0) ++n_bytes;
        // SentencePiece rejects empty and duplicate pieces; keep the id, make the piece unreachable.
        if (piece.empty() || !seen.insert(v.tokens[i]).second) {
            piece = "\x01<sigma-unused-" + std::to_string(i) + ">";
            type = static_cast<int32_t>(TokenType::Unused);
        }
        if (type < 1 || type > 6) type = static_cast<int32_t>(TokenType::Normal);
        std::string sp;
        put_bytes(sp, 1, piece);
        put_float(sp, 2, v.scores.empty() ? 0.0f : v.scores[i]);
        put_int(sp, 3, type);
        put_bytes(proto, 1, sp);
    }
    if (unk < 0) unk = v.unk;
    if (unk < 0)
        throw Exception(ErrorCode::BadFile,
                        "SentencePiece vocabulary has no unknown token (no token_type 2 and no unknown_token_id)");
    if (v.token_types.empty() || v.token_types[unk] != static_cast<int32_t>(TokenType::Unknown)) {
        // Mark the declared unknown id as such: SentencePiece needs exactly one.
        proto.clear();
        Vocab fixed = v;
        if (fixed.token_types.empty()) fixed.token_types.assign(n, 1);
        fixed.token_types[unk] = static_cast<int32_t>(TokenType::Unknown);
        return build_model_proto(fixed);
    }
    std::string trainer;
    put_int(trainer, 3, 2);  // model_type = BPE (Llama); scores rank merges
    put_int(trainer, 4, static_cast<int64_t>(n));
    put_int(trainer, 26, 1);  // allow_whitespace_only_pieces
    put_int(trainer, 35, n_bytes == 256 ? 1 : 0);  // byte_fallback
    put_int(trainer, 40, unk);
    put_int(trainer, 41, v.bos);
    put_int(trainer, 42, v.eos);
    put_int(trainer, 43, v.pad);
    put_bytes(proto, 2, trainer);
    std::string normalizer;
    put_bytes(normalizer, 1, "identity");
    put_int(normalizer, 3, 1);  // add_dummy_prefix
    put_int(normalizer, 4, 0);  // remove_extra_whitespaces: keep whitespace runs
    put_int(normalizer, 5, 1);  // escape_whitespaces
    put_bytes(proto, 3, normalizer);
    return proto;
}

class SpmTokenizer final : public Tokenizer {
public:
    SpmTokenizer(Vocab vocab, std::unique_ptr<sentencepiece::SentencePieceProcessor> sp)
        : Tokenizer(std::move(vocab)), m_sp(std::move(sp)) {}

    std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const override {
        std::vector<int32_t> out;
        if (add_bos && m_vocab.add_bos && m_vocab.bos >= 0) out.push_back(m_vocab.bos);
        // Only control tokens are cut out here: SentencePiece itself matches user-defined pieces.
        // Like llama.cpp, each text fragment gets the dummy-prefix space.
        std::vector<int> ids;
        for (const auto& frag : split_special(text, parse_special, false)) {
            if (frag.token >= 0) {
                out.push_back(frag.token);
                continue;
            }
            const auto status = m_sp->Encode(frag.text, &ids);
            if (!status.ok()) throw Exception(ErrorCode::Generic, "SentencePiece encode failed: " + status.ToString());
            out.insert(out.end(), ids.begin(), ids.end());
        }
        if (add_bos && m_vocab.add_eos && m_vocab.eos >= 0) out.push_back(m_vocab.eos);
        return out;
    }

    std::string token_bytes(int32_t id) const override {
        switch (token_type(id)) {
        case TokenType::Control: return {};
        case TokenType::Unknown: return " \xE2\x81\x87 ";  // SentencePiece's unk surface " ⁇ "
        case TokenType::Byte: {
            const int b = parse_byte_piece(m_vocab.tokens[id]);
            if (b >= 0) return std::string(1, static_cast<char>(b));
            break;
        }
        default: break;
        }
        const std::string& piece = m_vocab.tokens[id];
        std::string out;
        out.reserve(piece.size());
        for (size_t i = 0; i < piece.size();) {
            if (piece.compare(i, k_space_symbol.size(), k_space_symbol) == 0) {
                out += ' ';
                i += k_space_symbol.size();
            } else {
                out += piece[i++];
            }
        }
        return out;
    }

protected:
    bool strips_leading_space() const override { return true; }

private:
    std::unique_ptr<sentencepiece::SentencePieceProcessor> m_sp;
};

}  // namespace

std::unique_ptr<Tokenizer> make_spm(const Vocab& vocab) {
    if (vocab.tokens.empty()) throw Exception(ErrorCode::BadFile, "SentencePiece vocabulary is empty");
    if (!vocab.scores.empty() && vocab.scores.size() != vocab.tokens.size())
        throw Exception(ErrorCode::BadFile, "SentencePiece vocabulary: scores and tokens differ in length");
    if (!vocab.token_types.empty() && vocab.token_types.size() != vocab.tokens.size())
        throw Exception(ErrorCode::BadFile, "SentencePiece vocabulary: token types and tokens differ in length");
    auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
    const auto status = sp->LoadFromSerializedProto(build_model_proto(vocab));
    if (!status.ok())
        throw Exception(ErrorCode::BadFile, "SentencePiece rejected the vocabulary: " + status.ToString());
    Vocab v = vocab;
    if (v.unk < 0) v.unk = sp->unk_id();
    return std::make_unique<SpmTokenizer>(std::move(v), std::move(sp));
}

std::unique_ptr<Tokenizer> load_spm_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Exception(ErrorCode::NotFound, "SentencePiece model " + path + " cannot be opened");
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string data = buf.str();

    auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
    const auto status = sp->LoadFromSerializedProto(data);
    if (!status.ok())
        throw Exception(ErrorCode::BadFile, "SentencePiece model " + path + " is not valid: " + status.ToString() +
                                                " (expected a .model file written by spm_train)");
    // The Vocab mirrors the pieces exactly (types included, which the processor API cannot tell
    // for user-defined pieces), so token_bytes/find_token/is_eog work as for a GGUF vocabulary.
    Vocab v;
    v.model = "llama";
    v.pre = "default";
    read_fields(data, [&](uint32_t field, uint32_t wire, uint64_t, std::string_view bytes) {
        if (field != 1 || wire != 2) return;
        std::string piece;
        float score = 0.0f;
        int32_t type = 1;
        read_fields(bytes, [&](uint32_t f, uint32_t w, uint64_t x, std::string_view b) {
            if (f == 1 && w == 2) piece = std::string(b);
            else if (f == 2 && w == 5) std::memcpy(&score, b.data(), 4);
            else if (f == 3 && w == 0) type = static_cast<int32_t>(x);
        });
        v.tokens.push_back(std::move(piece));
        v.scores.push_back(score);
        v.token_types.push_back(type);
    });
    if (static_cast<int>(v.tokens.size()) != sp->GetPieceSize())
        throw Exception(ErrorCode::BadFile, "SentencePiece model " + path + ": cannot read its pieces");
    v.bos = sp->bos_id();
    v.eos = sp->eos_id();
    v.unk = sp->unk_id();
    v.pad = sp->pad_id();
    return std::make_unique<SpmTokenizer>(std::move(v), std::move(sp));
}

}  // namespace sigma::tokenizer_detail
