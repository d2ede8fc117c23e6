// Engine-level helpers of the GPU tests (tests/gpu/test_gpu_forward.cpp, test_gpu_batch.cpp): small
// generated models loaded through the engine's internals (for driving a backend directly),
// deterministic token ids and a NaN-propagating max difference.
#pragma once

#include "gpu_test_util.h"
#include "gguf/gguf.h"
#include "model.h"
#include "tiny_model.h"

#include <sigma/engine.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace sigma::testing {

// A model loaded through the engine's internals, for driving a backend step by step.
struct Loaded {
    std::unique_ptr<sigma::gguf::File> file;
    sigma::Hparams hp;
    sigma::Weights w;
};

inline Loaded load_internal(const std::string& path) {
    Loaded m;
    m.file = sigma::gguf::File::open(path);
    const sigma::ArchLoader* arch = sigma::find_arch(*m.file->get_string("general.architecture"));
    REQUIRE(arch);
    m.hp = arch->load_hparams(*m.file);
    arch->load_weights(*m.file, m.hp, m.w);
    m.hp.n_vocab = uint32_t(m.w.token_embd.rows());
    return m;
}

// A 2-layer generated model (d_model 256), written once per process into the temp directory.
inline std::string generated_model(const std::string& type, bool aug, uint32_t n_q, uint32_t n_k, uint32_t n_v, uint32_t d) {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("sigmaops-gpu-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string name = "sigma-" + type + (aug ? "-aug" : "") + "-" + std::to_string(n_q) + "-" + std::to_string(n_k) +
                             "-" + std::to_string(n_v) + "-" + std::to_string(d) + ".gguf";
    const std::filesystem::path p = dir / name;
    if (!std::filesystem::exists(p)) {
        sigma::testing::TinyModelSpec spec;
        spec.n_layer = 2; spec.d_model = 256; spec.d_ff = 512;
        spec.n_q = n_q; spec.n_k = n_k; spec.n_v = n_v; spec.d_qk = d; spec.d_v = d;
        spec.d_aug = aug ? 384 : 0;
        spec.n_ctx = 1024;
        spec.weight_type = type;
        spec.seed = 11;
        sigma::testing::write_tiny_model(p.string(), spec);
    }
    return p.string();
}

// max |a - b| over n values; NaN anywhere gives NaN (a failure against any bound).
inline double max_abs_diff(const float* a, const float* b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; ++i) {
        const double d = std::fabs(double(a[i]) - double(b[i]));
        if (!(d <= m)) m = d;   // NaN propagates as a failure
    }
    return m;
}

// n deterministic token ids below vocab (salt picks the sequence).
inline std::vector<sigma::TokenId> some_tokens(int n, int vocab, int salt) {
    std::vector<sigma::TokenId> t;
    for (int i = 0; i < n; ++i) t.push_back(sigma::TokenId((i * 37 + 11 + salt * 101 + (i * i) % 13) % vocab));
    return t;
}

}  // namespace sigma::testing
