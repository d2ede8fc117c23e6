// grammar_tokens.h - the vocabulary of a tokenizer as constrained decoding sees it: each token's
// bytes, what it shows as the first piece of a generation, and which tokens end one. Built once
// per model (ModelImpl::grammar_tokens) and by the grammar benchmark.
#pragma once

#include "grammar/grammar.h"
#include "tokenizer/tokenizer.h"

#include <memory>

namespace sigma {

// Normal and byte tokens are text; end-of-generation tokens end; every other token (control,
// unknown, user-defined such as <|user|>) is never allowed under a grammar.
std::shared_ptr<const grammar::TokenTable> make_grammar_tokens(const Tokenizer& tok);

} // namespace sigma
