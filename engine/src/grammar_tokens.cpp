#include "grammar_tokens.h"

namespace sigma {

std::shared_ptr<const grammar::TokenTable> make_grammar_tokens(const Tokenizer& tok) {
    std::vector<grammar::TokenInfo> t(size_t(tok.n_vocab()));
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
        grammar::TokenInfo& info = t[size_t(id)];
        const TokenType type = tok.token_type(id);
        if (tok.is_eog(id)) {
            info.kind = grammar::TokenInfo::Kind::End;
            continue;
        }
        if (type != TokenType::Normal && type != TokenType::Byte) continue;
        info.kind = grammar::TokenInfo::Kind::Text;
        info.bytes = tok.token_bytes(id);
        std::string first = tok.decode({id});   // as the first visible piece (SentencePiece drops a space)
        if (first != info.bytes) {
            info.first_differs = true;
            info.first_bytes = std::move(first);
        }
    }
    return std::make_shared<const grammar::TokenTable>(std::move(t));
}

} // namespace sigma
