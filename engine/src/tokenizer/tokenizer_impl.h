// tokenizer/tokenizer_impl.h - private seams between tokenizer.cpp and the two implementations.
#pragma once

#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sigma::tokenizer_detail {

// SentencePiece from a GGUF-style vocabulary (tokenizer_spm.cpp). Throws BadFile/Unsupported.
std::unique_ptr<Tokenizer> make_spm(const Vocab& vocab);
// SentencePiece from a .model file, kept as is (tokenizer_spm.cpp). Throws NotFound/BadFile.
std::unique_ptr<Tokenizer> load_spm_file(const std::string& path);
// Byte-level BPE (tokenizer_bpe.cpp). Throws BadFile/Unsupported.
std::unique_ptr<Tokenizer> make_bpe(const Vocab& vocab);

// Appends the UTF-8 encoding of code point `cp` (assumed valid) to `out`.
void append_utf8(std::string& out, uint32_t cp);
// Length of the UTF-8 sequence starting at s[i] if it is complete and valid, 0 if invalid,
// -1 if s ends before the sequence does (it may still complete).
int utf8_sequence_length(std::string_view s, size_t i);

}  // namespace sigma::tokenizer_detail
