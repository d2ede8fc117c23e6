// sigmaops-mkmodel - writes a small Sigma model with random weights and the SentencePiece
// tokenizer given, so every layer of the app can run before a trained model ships.
//   sigmaops-mkmodel --out FILE [--spm FILE] [--layers N] [--d-model N] [--type F32|F16|BF16|Q8_0] [--seed S]
#include "tiny_model.h"

#include <sigma/expected.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
    sigma::testing::TinyModelSpec spec;
    spec.name = "sigma-dev-random (untrained; for development only)";
    std::string out;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) { std::fprintf(stderr, "sigmaops-mkmodel: %s needs a value\n", a.c_str()); std::exit(2); }
            return argv[++i];
        };
        if (a == "--out") out = val();
        else if (a == "--spm") spec.spm_model = val();
        else if (a == "--layers") spec.n_layer = uint32_t(std::atoi(val().c_str()));
        else if (a == "--d-model") spec.d_model = uint32_t(std::atoi(val().c_str()));
        else if (a == "--d-ff") spec.d_ff = uint32_t(std::atoi(val().c_str()));
        else if (a == "--type") spec.weight_type = val();
        else if (a == "--heads") {   // Q/K/V, e.g. 16/2/8
            const std::string v = val();
            if (std::sscanf(v.c_str(), "%u/%u/%u", &spec.n_q, &spec.n_k, &spec.n_v) != 3) {
                std::fprintf(stderr, "sigmaops-mkmodel: --heads expects Q/K/V, got %s\n", v.c_str());
                return 2;
            }
        }
        else if (a == "--head-dim") spec.d_qk = spec.d_v = uint32_t(std::atoi(val().c_str()));
        else if (a == "--ctx") spec.n_ctx = uint32_t(std::atoi(val().c_str()));
        else if (a == "--seed") spec.seed = std::strtoull(val().c_str(), nullptr, 10);
        else if (a == "--name") spec.name = val();
        else {
            std::fprintf(stderr, "usage: sigmaops-mkmodel --out FILE [--spm FILE] [--layers N] [--d-model N] [--d-ff N] "
                                 "[--type F32|F16|BF16|Q8_0] [--heads Q/K/V] [--head-dim N] [--ctx N] [--seed S] [--name NAME]\n");
            return a == "--help" ? 0 : 2;
        }
    }
    if (out.empty()) { std::fprintf(stderr, "sigmaops-mkmodel: --out FILE is required\n"); return 2; }
    spec.d_aug = spec.d_model * 3 / 2;
    try {
        sigma::testing::write_tiny_model(out, spec);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sigmaops-mkmodel: %s\n", e.what());
        return 1;
    }
    return 0;
}
