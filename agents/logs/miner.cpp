// miner.cpp - stage 3 of the log pipeline: online template mining in the spirit of Drain
// (He et al., "Drain: An Online Log Parsing Approach with Fixed Depth Tree", ICWS 2017) and
// Drain3, with one parameter set for every source.
//
// A message is tokenized and its variable tokens masked (is_variable_token); the masked sequence
// first tries the exact-sequence cache (one hash lookup: the common case for repeated lines),
// then walks the prefix tree: token count, then the first (depth - 2) tokens, a variable token
// taking the wildcard branch. The leaf's templates are compared position by position; the most
// similar one wins if its share of equal tokens reaches the threshold, and the positions where
// they differ become wildcards. Otherwise the message starts a template.
//
// Memory: the templates (their tokens), the tree (one node per distinct prefix, at most
// max_children per node) and the cache (cleared when it reaches its cap).
#include "logs_internal.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace sigmaops::logs {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

struct SvHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// FNV-1a over the masked tokens, with a separator.
std::uint64_t hash_tokens(const std::vector<std::string_view>& masked) {
    std::uint64_t h = 1469598103934665603ULL;
    for (std::string_view t : masked) {
        for (char c : t) { h ^= std::uint8_t(c); h *= 1099511628211ULL; }
        h ^= 0x1F; h *= 1099511628211ULL;
    }
    return h ^ masked.size();
}

} // namespace

bool is_variable_token(std::string_view t) {
    if (t.empty()) return false;
    // Paths and URLs: "/var/log/x", "./a/b", "http://..."
    if ((t[0] == '/' && t.size() > 1) || t.find("://") != std::string_view::npos) return true;
    // Month and weekday abbreviations: the words of a date inside a message ("at Fri Jun 17 ...").
    if (t.size() == 3 && t[0] >= 'A' && t[0] <= 'Z') {
        static constexpr std::string_view dates[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                                     "Nov", "Dec", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
        for (std::string_view d : dates)
            if (t == d) return true;
    }
    std::size_t n_digit = 0, n_alpha_prefix = 0;
    for (char c : t) n_digit += is_digit(c);
    while (n_alpha_prefix < t.size() && is_alpha(t[n_alpha_prefix])) ++n_alpha_prefix;
    // A word with a version-like digit at its end is a name: "ssh2", "ext4", "eth0", "sha256".
    if (n_digit > 0 && n_digit <= 3 && n_alpha_prefix >= 2 && n_alpha_prefix + n_digit == t.size()) return false;
    if (n_digit > 0) return true;      // numbers, IPs, hex with digits, UUIDs, durations, times, ids
    // Hex without digits ("deadbeef") only when long and lower/upper consistent.
    if (t.size() >= 8 && std::all_of(t.begin(), t.end(), is_hex)) return true;
    return false;
}

std::vector<std::string> tokenize(std::string_view message);

namespace detail {

// Splits the first line of `message` into tokens; glue[i] says token i followed token i-1
// without a space ("uid=" "0"). Tokens past max_tokens are folded into the last one.
void split_tokens(std::string_view message, std::size_t max_tokens, std::vector<std::string_view>& tokens, std::vector<bool>& glue) {
    tokens.clear();
    glue.clear();
    const std::size_t nl = message.find('\n');
    if (nl != std::string_view::npos) message = message.substr(0, nl);
    const std::size_t n = message.size();
    std::size_t i = 0;
    while (i < n) {
        while (i < n && (message[i] == ' ' || message[i] == '\t')) ++i;
        if (i >= n) break;
        std::size_t e = i;
        while (e < n && message[e] != ' ' && message[e] != '\t') ++e;
        std::string_view w = message.substr(i, e - i);
        // key=value -> "key=" "value" (a word key; the value may be empty)
        std::size_t eq = w.find('=');
        if (eq != std::string_view::npos && eq > 0 && eq + 1 < w.size() && is_alpha(w[0])) {
            bool word_key = true;
            for (std::size_t k = 0; k < eq; ++k) {
                const char c = w[k];
                if (!(is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.')) { word_key = false; break; }
            }
            if (word_key) {
                tokens.push_back(w.substr(0, eq + 1));
                glue.push_back(false);
                tokens.push_back(w.substr(eq + 1));
                glue.push_back(true);
                i = e;
                continue;
            }
        }
        // "LOGIN(uid=0)" -> "LOGIN(" "uid=0)": a word glued before an opening parenthesis is its
        // own token, so a value inside the parentheses does not hide the word.
        const std::size_t paren = w.find('(');
        if (paren != std::string_view::npos && paren > 0 && paren + 1 < w.size() && is_alpha(w[0])) {
            tokens.push_back(w.substr(0, paren + 1));
            glue.push_back(false);
            tokens.push_back(w.substr(paren + 1));
            glue.push_back(true);
            i = e;
            continue;
        }
        tokens.push_back(w);
        glue.push_back(false);
        i = e;
    }
    if (tokens.size() > max_tokens && max_tokens > 0) {
        // Fold the tail into the last kept token (it becomes one variable token).
        const char* b = tokens[max_tokens - 1].data();
        const char* e = tokens.back().data() + tokens.back().size();
        tokens.resize(max_tokens);
        glue.resize(max_tokens);
        tokens.back() = std::string_view(b, std::size_t(e - b));
    }
}

} // namespace detail

std::vector<std::string> tokenize(std::string_view message) {
    std::vector<std::string_view> t;
    std::vector<bool> g;
    detail::split_tokens(message, 1u << 20, t, g);
    return {t.begin(), t.end()};
}

struct TemplateMiner::Impl {
    struct Cluster {
        Template info;
        std::vector<std::string> tokens;   // "<*>" for wildcards
        std::vector<bool> glue;
        std::uint32_t family = 0;          // the first template of its word family (0: itself)
        std::uint32_t alias = 0;           // merged into this template (0: alive)
        std::vector<std::uint32_t> members;   // at a family's first template: its other members
    };
    struct Node {
        std::unordered_map<std::string, std::unique_ptr<Node>, SvHash, std::equal_to<>> children;
        std::vector<std::uint32_t> clusters;   // at leaves
    };

    MinerOptions options;
    std::vector<Cluster> clusters;             // id - 1
    std::unordered_map<std::size_t, Node> by_length;
    std::unordered_map<std::uint64_t, std::uint32_t> cache;   // masked sequence hash -> id
    std::unordered_map<std::size_t, std::uint32_t> catch_all; // length -> id, past max_templates
    std::vector<std::string_view> tokens, masked;
    std::vector<bool> glue;

    static constexpr std::size_t k_cache_cap = 1 << 20;

    std::uint32_t resolve(std::uint32_t id) {
        std::uint32_t r = id;
        while (clusters[r - 1].alias) r = clusters[r - 1].alias;
        while (clusters[id - 1].alias && clusters[id - 1].alias != r) {   // path compression
            const std::uint32_t next = clusters[id - 1].alias;
            clusters[id - 1].alias = r;
            id = next;
        }
        return r;
    }

    // A plain word: letters, '-' and '_' only ("bytes", "root", "usbfs").
    static bool is_word(std::string_view t) {
        if (t.empty() || t == k_wildcard) return false;
        for (char ch : t)
            if (!(is_alpha(ch) || ch == '-' || ch == '_')) return false;
        return true;
    }

    // Generalises `dst` against `src` (same length): positions that differ become wildcards.
    static bool generalise(Cluster& dst, const std::vector<std::string>& src) {
        bool changed = false;
        for (std::size_t i = 0; i < dst.tokens.size() && i < src.size(); ++i)
            if (dst.tokens[i] != k_wildcard && dst.tokens[i] != src[i]) { dst.tokens[i] = std::string(k_wildcard); changed = true; }
        return changed;
    }

    // Is `masked` consistent with cluster c (same length, equal at every constant position)?
    bool fits(const Cluster& c) const {
        if (c.tokens.size() != masked.size()) return false;
        for (std::size_t i = 0; i < masked.size(); ++i)
            if (c.tokens[i] != k_wildcard && c.tokens[i] != masked[i]) return false;
        return true;
    }

    // Drain's tree search: the leaf for `masked`, or null.
    Node* find_leaf() {
        auto it = by_length.find(masked.size());
        if (it == by_length.end()) return nullptr;
        Node* node = &it->second;
        const std::size_t levels = std::min(masked.size(), options.depth >= 2 ? options.depth - 2 : 0);
        for (std::size_t i = 0; i < levels; ++i) {
            auto c = node->children.find(masked[i]);
            if (c == node->children.end()) c = node->children.find(k_wildcard);
            if (c == node->children.end()) return nullptr;
            node = c->second.get();
        }
        return node;
    }

    // Drain's tree insertion for a new cluster; returns its leaf.
    Node* insert_leaf() {
        Node* node = &by_length[masked.size()];
        const std::size_t levels = std::min(masked.size(), options.depth >= 2 ? options.depth - 2 : 0);
        for (std::size_t i = 0; i < levels; ++i) {
            const std::string_view tok = masked[i];
            auto c = node->children.find(tok);
            if (c != node->children.end()) { node = c->second.get(); continue; }
            const bool has_wild = node->children.count(k_wildcard) > 0;
            std::string_view key = tok;
            if (tok == k_wildcard) key = k_wildcard;
            else if (node->children.size() + (has_wild ? 0 : 1) >= options.max_children) key = k_wildcard;
            auto& child = node->children[std::string(key)];
            if (!child) child = std::make_unique<Node>();
            node = child.get();
        }
        return node;
    }

    // Equal constant tokens over the larger count of constant tokens in the template or the
    // message (a wildcard equals nothing), and the number of wildcards for tie-breaking. Drain
    // divides by the length instead, which lets a template of wildcards swallow any message
    // of its length and keeps a message with many values from ever joining its template.
    std::pair<double, std::size_t> similarity(const Cluster& c) const {
        std::size_t same = 0, wild = 0, msg_const = 0;
        for (std::size_t i = 0; i < masked.size(); ++i) {
            msg_const += masked[i] != k_wildcard;
            if (c.tokens[i] == k_wildcard) { ++wild; continue; }
            if (c.tokens[i] == masked[i]) ++same;
        }
        const std::size_t denom = std::max(masked.size() - wild, msg_const);
        return {denom == 0 ? 1.0 : double(same) / double(denom), wild};
    }

    std::uint32_t create() {
        Cluster c;
        c.info.id = std::uint32_t(clusters.size() + 1);
        c.tokens.assign(masked.begin(), masked.end());
        c.glue = glue;
        for (std::size_t i = 0; i < c.tokens.size(); ++i)
            if (c.tokens[i] != k_wildcard) c.tokens[i] = std::string(tokens[i]);
        rebuild_text(c);
        clusters.push_back(std::move(c));
        return clusters.back().info.id;
    }

    static void rebuild_text(Cluster& c) {
        c.info.text.clear();
        for (std::size_t i = 0; i < c.tokens.size(); ++i) {
            if (i > 0 && !c.glue[i]) c.info.text.push_back(' ');
            c.info.text += c.tokens[i];
        }
    }

    Match add(std::string_view message, std::vector<std::string>* params) {
        detail::split_tokens(message, options.max_tokens, tokens, glue);
        masked.resize(tokens.size());
        for (std::size_t i = 0; i < tokens.size(); ++i) masked[i] = is_variable_token(tokens[i]) ? k_wildcard : tokens[i];
        Match m;
        const std::uint64_t h = hash_tokens(masked);
        if (auto it = cache.find(h); it != cache.end() && fits(clusters[resolve(it->second) - 1])) {
            m.template_id = resolve(it->second);
        } else {
            Node* leaf = find_leaf();
            Cluster* best = nullptr;
            double best_sim = -1;
            std::size_t best_wild = 0;
            if (leaf) {
                for (std::uint32_t id : leaf->clusters) {
                    Cluster& c = clusters[id - 1];
                    if (c.alias) continue;   // merged into its family's first template
                    const auto [sim, wild] = similarity(c);
                    if (sim > best_sim || (sim == best_sim && wild > best_wild)) { best = &c; best_sim = sim; best_wild = wild; }
                }
            }
            // The first position where template and message hold two different plain words.
            std::size_t word_at = masked.size();
            if (best && best_sim >= options.similarity && options.max_word_values > 0)
                for (std::size_t i = 0; i < masked.size(); ++i)
                    if (best->tokens[i] != masked[i] && is_word(best->tokens[i]) && is_word(masked[i])) { word_at = i; break; }
            if (best && best_sim >= options.similarity && word_at < masked.size()) {
                // A word family: messages that differ by one plain word stay apart until that
                // position has shown more than max_word_values words; then they merge.
                const std::uint32_t root_id = best->family ? best->family : best->info.id;
                std::vector<std::string_view> values{masked[word_at]};
                auto note = [&](const Cluster& c) {
                    const std::string_view v = c.tokens[word_at];
                    if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
                };
                note(clusters[root_id - 1]);
                for (std::uint32_t id : clusters[root_id - 1].members)
                    if (!clusters[id - 1].alias) note(clusters[id - 1]);
                if (values.size() > options.max_word_values || clusters.size() >= options.max_templates) {
                    Cluster& root = clusters[root_id - 1];
                    for (std::uint32_t id : root.members) {
                        Cluster& c = clusters[id - 1];
                        if (c.alias) continue;
                        generalise(root, c.tokens);
                        root.info.count += c.info.count;
                        c.info.count = 0;
                        c.alias = root_id;
                    }
                    root.members.clear();
                    std::vector<std::string> msg(masked.begin(), masked.end());
                    generalise(root, msg);
                    rebuild_text(root);
                    m.template_id = root_id;
                    m.changed = true;
                } else {
                    m.template_id = create();
                    m.created = true;
                    clusters[m.template_id - 1].family = root_id;
                    clusters[root_id - 1].members.push_back(m.template_id);
                    insert_leaf()->clusters.push_back(m.template_id);
                }
            } else if (best && best_sim >= options.similarity) {
                m.template_id = best->info.id;
                bool changed = false;
                for (std::size_t i = 0; i < masked.size(); ++i)
                    if (best->tokens[i] != k_wildcard && best->tokens[i] != masked[i]) { best->tokens[i] = std::string(k_wildcard); changed = true; }
                if (changed) { rebuild_text(*best); m.changed = true; }
            } else if (clusters.size() >= options.max_templates) {
                auto [it, fresh] = catch_all.emplace(masked.size(), 0);
                if (fresh) {
                    std::fill(masked.begin(), masked.end(), k_wildcard);
                    it->second = create();
                    m.created = true;
                }
                m.template_id = it->second;
            } else {
                m.template_id = create();
                m.created = true;
                insert_leaf()->clusters.push_back(m.template_id);
            }
            if (cache.size() >= k_cache_cap) cache.clear();
            cache[h] = m.template_id;
        }
        Cluster& c = clusters[m.template_id - 1];
        ++c.info.count;
        if (params) {
            params->clear();
            for (std::size_t i = 0; i < c.tokens.size() && i < tokens.size(); ++i)
                if (c.tokens[i] == k_wildcard) params->emplace_back(tokens[i]);
        }
        return m;
    }
};

TemplateMiner::TemplateMiner(MinerOptions options) : m_impl(std::make_unique<Impl>()) {
    if (options.depth < 3) options.depth = 3;
    if (options.max_children < 2) options.max_children = 2;
    if (options.max_tokens == 0) options.max_tokens = 1;
    m_impl->options = options;
}
TemplateMiner::TemplateMiner(TemplateMiner&&) noexcept = default;
TemplateMiner& TemplateMiner::operator=(TemplateMiner&&) noexcept = default;
TemplateMiner::~TemplateMiner() = default;

Match TemplateMiner::add(std::string_view message, std::vector<std::string>* params) { return m_impl->add(message, params); }
const Template& TemplateMiner::get(std::uint32_t id) const {
    std::uint32_t r = id;
    while (m_impl->clusters.at(r - 1).alias) r = m_impl->clusters[r - 1].alias;
    return m_impl->clusters[r - 1].info;
}
std::uint32_t TemplateMiner::resolve(std::uint32_t id) const {
    std::uint32_t r = id;
    while (m_impl->clusters.at(r - 1).alias) r = m_impl->clusters[r - 1].alias;
    return r;
}
std::size_t TemplateMiner::size() const { return m_impl->clusters.size(); }
const MinerOptions& TemplateMiner::options() const { return m_impl->options; }

} // namespace sigmaops::logs
