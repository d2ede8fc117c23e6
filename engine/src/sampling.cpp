#include "sampling.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace sigma {

Sampler::Sampler(const SamplingParams& params) : m_p(params) {
    m_seed = params.seed ? params.seed : std::random_device{}() | (uint64_t(std::random_device{}()) << 32);
    m_rng.seed(m_seed);
}

TokenId Sampler::sample(float* logits, int n_vocab, std::span<const TokenId> recent) {
    // Repetition penalty (CTRL-style, as llama.cpp): divide positive logits, multiply negative ones.
    if (m_p.repeat_penalty != 1.0f && m_p.repeat_last_n != 0) {
        const size_t n = m_p.repeat_last_n < 0 ? recent.size() : std::min(recent.size(), size_t(m_p.repeat_last_n));
        std::unordered_set<TokenId> seen(recent.end() - n, recent.end());
        for (TokenId t : seen) {
            if (t < 0 || t >= n_vocab) continue;
            logits[t] = logits[t] > 0 ? logits[t] / m_p.repeat_penalty : logits[t] * m_p.repeat_penalty;
        }
    }
    if (m_p.temperature <= 0) return TokenId(std::max_element(logits, logits + n_vocab) - logits);

    // Candidates sorted by logit, cut by top-k.
    m_cand.resize(n_vocab);
    for (int i = 0; i < n_vocab; ++i) m_cand[i] = {logits[i], i};
    size_t k = (m_p.top_k > 0 && m_p.top_k < n_vocab) ? size_t(m_p.top_k) : size_t(n_vocab);
    auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    std::partial_sort(m_cand.begin(), m_cand.begin() + k, m_cand.end(), by_logit);
    // Masked tokens (-inf, a grammar's) are never candidates, whatever the filters leave.
    while (k > 1 && std::isinf(m_cand[k - 1].first) && m_cand[k - 1].first < 0) --k;
    m_cand.resize(k);

    // Softmax with temperature.
    const float mx = m_cand[0].first;
    double sum = 0;
    for (auto& c : m_cand) { c.first = float(std::exp(double(c.first - mx) / m_p.temperature)); sum += c.first; }
    for (auto& c : m_cand) c.first = float(c.first / sum);

    // min-p: drop tokens below min_p * p(best).
    if (m_p.min_p > 0) {
        const float cut = m_p.min_p * m_cand[0].first;
        size_t keep = 1;
        while (keep < m_cand.size() && m_cand[keep].first >= cut) ++keep;
        m_cand.resize(keep);
    }
    // top-p: the smallest prefix whose mass reaches top_p.
    if (m_p.top_p < 1.0f) {
        double acc = 0;
        size_t keep = 0;
        while (keep < m_cand.size()) { acc += m_cand[keep].first; ++keep; if (acc >= m_p.top_p) break; }
        m_cand.resize(std::max<size_t>(keep, 1));
    }
    double total = 0;
    for (auto& c : m_cand) total += c.first;
    std::uniform_real_distribution<double> dist(0.0, total);
    double r = dist(m_rng);
    for (auto& c : m_cand) {
        r -= c.first;
        if (r <= 0) return c.second;
    }
    return m_cand.back().second;
}

} // namespace sigma
