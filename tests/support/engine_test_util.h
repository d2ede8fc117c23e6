// engine_test_util.h - a real, small Sigma model with a SentencePiece tokenizer, written once per
// test process into a temp dir (tools/mkmodel). Random weights: text is gibberish, but every code
// path (tokenize, prefill, decode, sampling, streaming, history) runs for real.
#pragma once

#include "tiny_model.h"

#include <filesystem>
#include <string>
#include <unistd.h>

namespace sigma::testing {

inline std::string tiny_chat_model(const std::string& weight_type = "F32") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("sigmaops-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path p = dir / ("tiny-" + weight_type + ".gguf");
    if (!fs::exists(p)) {
        TinyModelSpec spec;
        spec.weight_type = weight_type;
        spec.spm_model = std::string(SIGMAOPS_FIXTURES) + "/tokenizer/spm.model";
        spec.n_ctx = 256;
        write_tiny_model(p.string(), spec);
    }
    return p.string();
}

} // namespace sigma::testing
