// tiny_model.h - writes small Sigma GGUF models with random weights and a real SentencePiece
// tokenizer. Used by the tests (a real model file through every layer) and by sigmaops-mkmodel,
// which makes the development model the app runs until a trained one ships.
#pragma once

#include <cstdint>
#include <string>

namespace sigma::testing {

struct TinyModelSpec {
    uint32_t n_layer = 2, d_model = 64, d_ff = 128;
    uint32_t n_q = 8, n_k = 2, n_v = 4, d_qk = 16, d_v = 16, d_aug = 96;
    uint32_t n_ctx = 512;
    std::string weight_type = "F32";   // F32, F16, BF16, Q8_0
    uint64_t seed = 1;
    std::string name = "sigma-tiny-random";
    std::string spm_model;             // SentencePiece .model; "" = no tokenizer keys
};

// Writes the model; throws sigma::Exception on failure.
void write_tiny_model(const std::string& path, const TinyModelSpec& spec);

} // namespace sigma::testing
