// matcher.cpp - the per-step token mask of a grammar (grammar.h).
//
// A parse stack is a list of positions in the compiled code (the next element to match, then
// what follows the enclosing rule, ...). Stacks are hash-consed as linked nodes (pos, parent), so
// a push or pop costs nothing and equal stacks are one id; the set of live stacks after some
// text is a "state", also hash-consed, with its byte transitions filled in lazily. Within a
// repetition the state after each byte is the same id, so the states a generation visits are
// few, and a state's token mask (one walk of the vocabulary's byte trie from that state) is
// computed once and reused at every later step that reaches the same state.
#include "grammar/grammar.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace sigma::grammar {

// ---- TokenTable ---------------------------------------------------------------------------

TokenTable::TokenTable(std::vector<TokenInfo> tokens) : m_tokens(std::move(tokens)) {
    std::vector<int32_t> text;
    for (int32_t id = 0; id < int32_t(m_tokens.size()); ++id) {
        TokenInfo& t = m_tokens[size_t(id)];
        if (t.kind == TokenInfo::Kind::Text && t.bytes.empty()) t.kind = TokenInfo::Kind::Never;   // would change nothing
        if (t.kind == TokenInfo::Kind::End) m_end.push_back(id);
        if (t.kind != TokenInfo::Kind::Text) continue;
        text.push_back(id);
        if (t.first_differs) m_first_differs.push_back(id);
    }
    std::sort(text.begin(), text.end(), [&](int32_t a, int32_t b) {
        const int c = m_tokens[size_t(a)].bytes.compare(m_tokens[size_t(b)].bytes);
        return c < 0 || (c == 0 && a < b);
    });
    m_nodes.reserve(text.size() * 2);
    build(text, 0, text.size(), 0);
}

// Builds the node for ids[lo, hi) (all sharing their first `depth` bytes); returns its index.
uint32_t TokenTable::build(const std::vector<int32_t>& ids, size_t lo, size_t hi, size_t depth) {
    const uint32_t self = uint32_t(m_nodes.size());
    m_nodes.push_back({});
    size_t k = lo;
    m_nodes[self].first_token = uint32_t(m_trie_tokens.size());
    while (k < hi && m_tokens[size_t(ids[k])].bytes.size() == depth) m_trie_tokens.push_back(ids[k++]);
    m_nodes[self].n_tokens = uint32_t(m_trie_tokens.size()) - m_nodes[self].first_token;
    // Children: runs of equal byte at `depth`; their edges are contiguous.
    std::vector<std::pair<size_t, size_t>> runs;
    while (k < hi) {
        const uint8_t b = uint8_t(m_tokens[size_t(ids[k])].bytes[depth]);
        size_t e = k;
        while (e < hi && uint8_t(m_tokens[size_t(ids[e])].bytes[depth]) == b) ++e;
        runs.push_back({k, e});
        k = e;
    }
    const uint32_t first_edge = uint32_t(m_edges.size());
    m_edges.resize(m_edges.size() + runs.size());
    m_nodes[self].first_edge = first_edge;
    m_nodes[self].n_edges = uint32_t(runs.size());
    for (size_t r = 0; r < runs.size(); ++r) {
        const uint8_t b = uint8_t(m_tokens[size_t(ids[runs[r].first])].bytes[depth]);
        const uint32_t child = build(ids, runs[r].first, runs[r].second, depth + 1);
        m_edges[first_edge + r] = Edge{b, child};
    }
    return self;
}

// ---- Matcher ------------------------------------------------------------------------------

Matcher::Matcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTable> tokens)
    : m_g(std::move(grammar)), m_tok(std::move(tokens)) {
    m_nodes.push_back({0xffffffffu, 0xffffffffu});   // k_accept: the empty stack
    std::vector<uint32_t> start;
    expand_ref(m_g->root, k_accept, start);
    m_start = m_state = intern_set(start);
}

void Matcher::reset() {
    m_state = m_start;
    m_at_start = true;
    m_ended = false;
}

uint32_t Matcher::stack(uint32_t pos, uint32_t parent) {
    const uint64_t key = (uint64_t(pos) << 32) | parent;
    auto [it, fresh] = m_node_index.try_emplace(key, uint32_t(m_nodes.size()));
    if (fresh) m_nodes.push_back({pos, parent});
    return it->second;
}

namespace {
bool seq_end(const Grammar& g, uint32_t pos) { return g.code[pos].op == Op::Alt || g.code[pos].op == Op::End; }
} // namespace

// Adds to `out` every stack that `node` becomes once the rule references on its top are opened,
// so each has a Bytes element on top (or is the empty, accepting stack).
void Matcher::expand(uint32_t node, std::vector<uint32_t>& out) {
    // Alternatives that all lead to the same stacks (x ::= y | y, y ::= z | z, ...) multiply:
    // a bound keeps a pathological grammar from stalling a generation.
    if (++m_n_expanded > k_max_expanded)
        throw Exception(ErrorCode::InvalidArgument, "the grammar is too ambiguous: one step opens more than " +
                                                        std::to_string(k_max_expanded) + " parse stacks");
    if (node == k_accept) { out.push_back(k_accept); return; }
    const StackNode n = m_nodes[node];
    const Elem e = m_g->code[n.pos];
    if (e.op == Op::Bytes) { out.push_back(node); return; }
    const uint32_t cont = seq_end(*m_g, n.pos + 1) ? n.parent : stack(n.pos + 1, n.parent);   // a tail call pops
    expand_ref(e.arg, cont, out);
}

void Matcher::expand_ref(uint32_t rule, uint32_t cont, std::vector<uint32_t>& out) {
    const auto& code = m_g->code;
    uint32_t k = m_g->rule_start[rule];
    while (true) {
        if (seq_end(*m_g, k)) expand(cont, out);   // an empty alternative
        else expand(stack(k, cont), out);
        while (!seq_end(*m_g, k)) ++k;
        if (code[k].op == Op::End) break;
        ++k;
    }
}

uint32_t Matcher::intern_set(std::vector<uint32_t>& stacks) {
    if (stacks.empty()) return k_dead;
    std::sort(stacks.begin(), stacks.end());
    stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
    std::string key(reinterpret_cast<const char*>(stacks.data()), stacks.size() * sizeof(uint32_t));
    auto [it, fresh] = m_set_index.try_emplace(std::move(key), uint32_t(m_sets.size()));
    if (fresh) {
        SetInfo s;
        s.stacks = stacks;
        for (uint32_t node : stacks)
            if (node != k_accept) s.next.merge(m_g->sets[m_g->code[m_nodes[node].pos].arg]);
        for (unsigned b = 0; b < 256; ++b) m_trans.push_back(s.next.has(uint8_t(b)) ? k_unset : k_dead);
        m_sets.push_back(std::move(s));
    }
    return it->second;
}

uint32_t Matcher::step(uint32_t set, uint8_t byte) {
    const uint32_t known = m_trans[size_t(set) * 256 + byte];
    if (known != k_unset) return known;
    m_scratch.clear();
    m_n_expanded = 0;
    for (size_t i = 0; i < m_sets[set].stacks.size(); ++i) {   // m_sets does not change in this loop
        const uint32_t node = m_sets[set].stacks[i];
        if (node == k_accept) continue;
        const StackNode n = m_nodes[node];
        if (!m_g->sets[m_g->code[n.pos].arg].has(byte)) continue;
        const uint32_t next = seq_end(*m_g, n.pos + 1) ? n.parent : stack(n.pos + 1, n.parent);
        expand(next, m_scratch);
    }
    const uint32_t to = intern_set(m_scratch);   // may grow m_sets and m_trans
    m_trans[size_t(set) * 256 + byte] = to;
    return to;
}

uint32_t Matcher::walk(uint32_t set, std::string_view bytes) {
    for (char c : bytes) {
        if (set == k_dead) return k_dead;
        set = step(set, uint8_t(c));
    }
    return set;
}

// Sets the bit of every token under trie node `node` that the state `set` (reached by the
// node's bytes) can still take.
void Matcher::fill_mask(uint32_t node, uint32_t set, std::vector<uint64_t>& mask) {
    const TokenTable::Node& nd = m_tok->nodes()[node];
    const auto& toks = m_tok->trie_tokens();
    for (uint32_t k = 0; k < nd.n_tokens; ++k) {
        const int32_t t = toks[nd.first_token + k];
        mask[size_t(t) >> 6] |= uint64_t(1) << (t & 63);
    }
    const auto& edges = m_tok->edges();
    for (uint32_t k = 0; k < nd.n_edges; ++k) {
        const TokenTable::Edge e = edges[nd.first_edge + k];
        uint32_t to = m_trans[size_t(set) * 256 + e.byte];
        if (to == k_dead) continue;
        if (to == k_unset) to = step(set, e.byte);
        if (to != k_dead) fill_mask(e.child, to, mask);
    }
}

const std::vector<uint64_t>& Matcher::mask_of(uint32_t set, bool at_start) {
    auto& cache = at_start ? m_start_masks : m_masks;
    auto it = cache.find(set);
    if (it != cache.end()) return it->second;
    if (cache.size() >= 4096) cache.clear();   // a bound on memory for pathological grammars
    std::vector<uint64_t> mask((size_t(m_tok->size()) + 63) / 64, 0);
    fill_mask(0, set, mask);
    if (m_sets[set].stacks.front() == k_accept)
        for (int32_t t : m_tok->end_tokens()) mask[size_t(t) >> 6] |= uint64_t(1) << (t & 63);
    if (at_start) {
        // The first visible piece loses its leading space: judge those tokens by what they show.
        for (int32_t t : m_tok->first_differs()) {
            const bool ok = walk(set, m_tok->token(t).first_bytes) != k_dead;
            if (ok) mask[size_t(t) >> 6] |= uint64_t(1) << (t & 63);
            else mask[size_t(t) >> 6] &= ~(uint64_t(1) << (t & 63));
        }
    }
    return cache.emplace(set, std::move(mask)).first->second;
}

const std::vector<uint64_t>& Matcher::allowed() {
    if (m_ended || m_state == k_dead) {
        m_scratch_mask.assign((size_t(m_tok->size()) + 63) / 64, 0);
        return m_scratch_mask;
    }
    return mask_of(m_state, m_at_start);
}

bool Matcher::allowed(int32_t token) {
    if (token < 0 || token >= m_tok->size()) return false;
    return (allowed()[size_t(token) >> 6] >> (token & 63)) & 1;
}

int Matcher::apply(float* logits, int n_vocab) {
    const std::vector<uint64_t>& mask = allowed();
    const int n_table = m_tok->size();
    int n_allowed = 0;
    constexpr float ninf = -std::numeric_limits<float>::infinity();
    for (int t = 0; t < n_vocab; ++t) {
        const bool ok = t < n_table && ((mask[size_t(t) >> 6] >> (t & 63)) & 1);
        if (ok) ++n_allowed;
        else logits[t] = ninf;
    }
    return n_allowed;
}

bool Matcher::accept(int32_t token) {
    if (m_ended || m_state == k_dead || token < 0 || token >= m_tok->size()) return false;
    const TokenInfo& info = m_tok->token(token);
    switch (info.kind) {
    case TokenInfo::Kind::Never: return false;
    case TokenInfo::Kind::End:
        if (!complete()) return false;
        m_ended = true;
        return true;
    case TokenInfo::Kind::Text: break;
    }
    const std::string& bytes = m_at_start && info.first_differs ? info.first_bytes : info.bytes;
    const uint32_t to = walk(m_state, bytes);
    if (to == k_dead) return false;
    m_state = to;
    m_at_start = false;
    return true;
}

bool Matcher::accept_bytes(std::string_view bytes) {
    if (m_ended || m_state == k_dead) return false;
    const uint32_t to = walk(m_state, bytes);
    if (to == k_dead) return false;
    m_state = to;
    if (!bytes.empty()) m_at_start = false;
    return true;
}

bool Matcher::complete() const { return m_state != k_dead && m_sets[m_state].stacks.front() == k_accept; }

} // namespace sigma::grammar
