// bench_selective_v - how far selective V fetching (each query head sums only its top-k V rows)
// moves the logits from full attention, and what it costs or saves on the CPU.
//   bench_selective_v -m FILE [--tokens N] [--k 32,64,100] [--text FILE]
// Prints, per k: max |logit diff|, mean KL(full || selective) over positions, top-1 agreement,
// and the time of the evaluation. Positions with fewer than k keys are identical by construction.
#include <sigma/engine.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::string model_path, text_path, ks = "32,64,100";
    int n_tokens = 512;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-m" && i + 1 < argc) model_path = argv[++i];
        else if (a == "--tokens" && i + 1 < argc) n_tokens = std::atoi(argv[++i]);
        else if (a == "--k" && i + 1 < argc) ks = argv[++i];
        else if (a == "--text" && i + 1 < argc) text_path = argv[++i];
        else { std::fprintf(stderr, "usage: bench_selective_v -m FILE [--tokens N] [--k 32,64,100] [--text FILE]\n"); return 2; }
    }
    if (model_path.empty()) { std::fprintf(stderr, "bench_selective_v: -m FILE is required\n"); return 2; }
    auto model = sigma::Model::load(model_path);
    if (!model) { std::fprintf(stderr, "bench_selective_v: %s\n", model.error().message.c_str()); return 1; }
    const int V = int((*model)->info().n_vocab);
    std::vector<sigma::TokenId> tokens;
    if (!text_path.empty()) {
        std::ifstream f(text_path);
        std::stringstream ss;
        ss << f.rdbuf();
        auto t = (*model)->tokenize(ss.str(), true, false);
        if (!t) { std::fprintf(stderr, "bench_selective_v: %s\n", t.error().message.c_str()); return 1; }
        tokens = *t;
        if (int(tokens.size()) > n_tokens) tokens.resize(n_tokens);
    } else {
        std::mt19937 rng(1);
        for (int i = 0; i < n_tokens; ++i) tokens.push_back(sigma::TokenId(rng() % V));
    }
    auto eval = [&](int k, double& ms) {
        sigma::SessionOptions so;
        so.n_ctx = int(tokens.size());
        so.selective_v = k;
        auto s = (*model)->new_session(so);
        if (!s) { std::fprintf(stderr, "%s\n", s.error().message.c_str()); std::exit(1); }
        const auto t0 = std::chrono::steady_clock::now();
        auto l = (*s)->logits(tokens);
        ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (!l) { std::fprintf(stderr, "%s\n", l.error().message.c_str()); std::exit(1); }
        return *l;
    };
    double ms_full = 0;
    const auto full = eval(0, ms_full);
    std::printf("model %s, %zu positions (%s), sigma.cpu %s\n", model_path.c_str(), tokens.size(),
                text_path.empty() ? "random ids" : text_path.c_str(), sigma::cpu_features().c_str());
    std::printf("%6s %14s %14s %10s %10s\n", "k", "max|dlogit|", "mean KL", "top1 agree", "eval ms");
    std::printf("%6s %14s %14s %10s %10.1f\n", "full", "0", "0", "100%", ms_full);
    std::stringstream kss(ks);
    std::string item;
    while (std::getline(kss, item, ',')) {
        const int k = std::atoi(item.c_str());
        double ms = 0;
        const auto sel = eval(k, ms);
        double max_d = 0, kl_sum = 0;
        int agree = 0;
        const size_t T = tokens.size();
        for (size_t t = 0; t < T; ++t) {
            const float* a = &full[t * V];
            const float* b = &sel[t * V];
            double ma = -1e30, mb = -1e30;
            int ia = 0, ib = 0;
            for (int v = 0; v < V; ++v) {
                max_d = std::max(max_d, double(std::fabs(a[v] - b[v])));
                if (a[v] > ma) { ma = a[v]; ia = v; }
                if (b[v] > mb) { mb = b[v]; ib = v; }
            }
            agree += ia == ib;
            double za = 0, zb = 0;
            for (int v = 0; v < V; ++v) { za += std::exp(a[v] - ma); zb += std::exp(b[v] - mb); }
            double kl = 0;
            for (int v = 0; v < V; ++v) {
                const double pa = std::exp(a[v] - ma) / za;
                const double lpa = a[v] - ma - std::log(za), lpb = b[v] - mb - std::log(zb);
                kl += pa * (lpa - lpb);
            }
            kl_sum += kl;
        }
        std::printf("%6d %14.5f %14.3e %9.1f%% %10.1f\n", k, max_d, kl_sum / T, 100.0 * agree / T, ms);
    }
    return 0;
}
