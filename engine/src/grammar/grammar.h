// grammar/grammar.h - constrained decoding: a GBNF-style grammar compiled to byte-level rules,
// and a Matcher that, at each decoding step, says which tokens of the vocabulary keep the text
// a valid prefix of the grammar (llama.cpp's llama-grammar approach: parse stacks advanced byte
// by byte, the vocabulary walked as a byte trie).
//
// Model-independent: the Matcher sees the vocabulary only as each token's bytes (TokenTable,
// built once per model by the engine). Nothing here knows about logits beyond masking a float
// array, so the module is tested on its own (tests/engine/test_engine_grammar.cpp) against an
// independent recognizer (std::regex) and a per-token walk.
//
// The grammar language (a subset of llama.cpp's GBNF):
//   rule      ::= name "::=" alternatives          name: [A-Za-z_][A-Za-z0-9_-]*
//   alternatives ::= sequence ("|" sequence)*
//   sequence  ::= (primary ("*" | "+" | "?" | "{m}" | "{m,}" | "{m,n}")?)*
//   primary   ::= "literal" | [class] | [^class] | . | name | "(" alternatives ")"
// Escapes in literals and classes: \n \r \t \\ \" \' \[ \] \- \^ \xHH \uHHHH \UHHHHHHHH.
// Whitespace and newlines between items are insignificant; a rule ends where the next
// `name ::=` starts. `#` starts a comment to the end of the line. The start rule is "root".
// Classes and "." match whole UTF-8 characters (compiled to byte sequences); literals match
// their bytes. Left recursion (also through something that can be empty, as in ("a"?)*) is
// rejected at parse time, so the matcher always terminates.
//
// Thread-safety: a Grammar and a TokenTable are immutable after construction and may be shared;
// a Matcher belongs to one generation (one thread).
// Errors: parse() throws ParseError (ErrorCode::InvalidArgument) with the offset, line and column;
// the Matcher throws Exception (InvalidArgument) for a grammar so ambiguous that one step would
// open more than 200,000 parse stacks, and parse() refuses repetitions expanding past 200,000
// elements.
#pragma once

#include <sigma/expected.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sigma::grammar {

// 256 bits: which bytes an element accepts.
struct ByteSet {
    std::array<uint64_t, 4> w{};
    bool has(uint8_t b) const { return (w[b >> 6] >> (b & 63)) & 1; }
    void add(uint8_t b) { w[b >> 6] |= uint64_t(1) << (b & 63); }
    void add_range(unsigned lo, unsigned hi) {
        for (unsigned b = lo; b <= hi; ++b) add(uint8_t(b));
    }
    void merge(const ByteSet& o) {
        for (int i = 0; i < 4; ++i) w[i] |= o.w[i];
    }
    bool empty() const { return !(w[0] | w[1] | w[2] | w[3]); }
    bool operator==(const ByteSet& o) const { return w == o.w; }
};

// One element of the compiled code. A rule is its alternatives laid out one after another,
// each a run of Ref/Bytes elements, separated by Alt and closed by End:
//   a1 a2 Alt b1 End        (rule ::= a1 a2 | b1)
enum class Op : uint8_t { End, Alt, Ref, Bytes };
struct Elem {
    Op op = Op::End;
    uint32_t arg = 0;   // Ref: rule id; Bytes: index into Grammar::sets
};

class ParseError : public Exception {
public:
    ParseError(size_t offset, size_t line, size_t column, const std::string& message);
    size_t offset;   // byte offset into the grammar text
    size_t line;     // 1-based
    size_t column;   // 1-based, in bytes
    std::string reason;   // the message without the position
};

struct Grammar {
    std::vector<Elem> code;
    std::vector<uint32_t> rule_start;   // rule id -> index of its first element in code
    std::vector<std::string> rule_name; // generated rules are named "<rule>#<n>"
    std::vector<ByteSet> sets;
    uint32_t root = 0;

    // Parses and compiles `text`; `root` names the start rule. Throws ParseError.
    static std::shared_ptr<const Grammar> parse(std::string_view text, std::string_view root = "root");
    size_t n_rules() const { return rule_start.size(); }
};

// The vocabulary as the grammar sees it. Built once per model (TokenTable is immutable).
struct TokenInfo {
    enum class Kind : uint8_t {
        Never,   // never allowed under a grammar (control, unknown, user-defined tokens, empty text)
        Text,    // its bytes extend the text
        End,     // end of generation: allowed only where the grammar is complete
    };
    Kind kind = Kind::Never;
    std::string bytes;         // what the token adds to the text
    // What it adds when it is the first visible piece of a generation, where that differs (a
    // SentencePiece decoder drops the leading space there); empty when it does not differ.
    bool first_differs = false;
    std::string first_bytes;
};

class TokenTable {
public:
    explicit TokenTable(std::vector<TokenInfo> tokens);
    int32_t size() const { return int32_t(m_tokens.size()); }
    const TokenInfo& token(int32_t id) const { return m_tokens[size_t(id)]; }
    const std::vector<int32_t>& end_tokens() const { return m_end; }
    const std::vector<int32_t>& first_differs() const { return m_first_differs; }

    // The byte trie of all Text tokens: node 0 is the root (the empty string).
    struct Node {
        uint32_t first_edge = 0, n_edges = 0;   // into edges(), sorted by byte
        uint32_t first_token = 0, n_tokens = 0; // into trie_tokens(): tokens whose bytes end here
    };
    struct Edge {
        uint8_t byte = 0;
        uint32_t child = 0;
    };
    const std::vector<Node>& nodes() const { return m_nodes; }
    const std::vector<Edge>& edges() const { return m_edges; }
    const std::vector<int32_t>& trie_tokens() const { return m_trie_tokens; }

private:
    uint32_t build(const std::vector<int32_t>& ids, size_t lo, size_t hi, size_t depth);

    std::vector<TokenInfo> m_tokens;
    std::vector<int32_t> m_end;
    std::vector<int32_t> m_first_differs;
    std::vector<Node> m_nodes;
    std::vector<Edge> m_edges;
    std::vector<int32_t> m_trie_tokens;
};

// One generation's parse state: which tokens may come next, and the state after each token.
class Matcher {
public:
    Matcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTable> tokens);

    // Bitset over the vocabulary (bit t of word t/64): the tokens allowed next, end-of-generation
    // tokens included where the text so far is a complete sentence. Cached per parse state.
    const std::vector<uint64_t>& allowed();
    bool allowed(int32_t token);
    // Sets the logits of the tokens not allowed next to -infinity. Returns the number allowed.
    int apply(float* logits, int n_vocab);
    // Moves past `token`; false (state unchanged) when it is not allowed.
    bool accept(int32_t token);
    // Moves past raw bytes (tests, prefills of constrained text); false (unchanged) if invalid.
    bool accept_bytes(std::string_view bytes);
    bool complete() const;     // the text so far is a sentence of the grammar
    bool ended() const { return m_ended; }   // an end token was accepted
    bool at_start() const { return m_at_start; }
    // Starts a new generation (the first piece again, nothing accepted) and keeps what was
    // learned of the grammar over this vocabulary: states, transitions and masks, so a session
    // that reuses the grammar pays for each state's mask once.
    void reset();
    // Distinct parse states seen (for benchmarks).
    size_t n_states() const { return m_sets.size(); }
    const Grammar& grammar() const { return *m_g; }

private:
    static constexpr uint32_t k_dead = 0xffffffffu;
    static constexpr uint32_t k_unset = 0xfffffffeu;
    static constexpr uint32_t k_accept = 0;   // the empty stack: the sentence is complete
    static constexpr size_t k_max_expanded = 200000;   // stacks opened per step, at most

    struct StackNode {
        uint32_t pos;      // index into code of the next element (Ref or Bytes); unused for k_accept
        uint32_t parent;   // the rest of the stack
    };
    struct SetInfo {
        std::vector<uint32_t> stacks;   // sorted stack-node ids, each with a Bytes element on top (or k_accept)
        ByteSet next;                   // bytes some stack accepts
    };

    uint32_t stack(uint32_t pos, uint32_t parent);
    void expand(uint32_t node, std::vector<uint32_t>& out);
    void expand_ref(uint32_t rule, uint32_t cont, std::vector<uint32_t>& out);
    uint32_t intern_set(std::vector<uint32_t>& stacks);
    uint32_t step(uint32_t set, uint8_t byte);
    uint32_t walk(uint32_t set, std::string_view bytes);
    void fill_mask(uint32_t node, uint32_t set, std::vector<uint64_t>& mask);
    const std::vector<uint64_t>& mask_of(uint32_t set, bool at_start);

    std::shared_ptr<const Grammar> m_g;
    std::shared_ptr<const TokenTable> m_tok;
    std::vector<StackNode> m_nodes;
    std::unordered_map<uint64_t, uint32_t> m_node_index;
    std::vector<SetInfo> m_sets;
    std::vector<uint32_t> m_trans;   // (n_sets, 256): the set after a byte; k_dead, or k_unset until computed
    uint32_t m_start = k_dead;
    std::unordered_map<std::string, uint32_t> m_set_index;
    std::unordered_map<uint32_t, std::vector<uint64_t>> m_masks, m_start_masks;
    std::vector<uint32_t> m_scratch;
    std::vector<uint64_t> m_scratch_mask;   // the empty mask after the end
    size_t m_n_expanded = 0;
    uint32_t m_state = k_dead;
    bool m_at_start = true;
    bool m_ended = false;
};

} // namespace sigma::grammar
