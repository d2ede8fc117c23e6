// bench_grammar - what constrained decoding costs per step, against the model's own decode step.
//   bench_grammar -m FILE [--runs N] [--steps N]
// Prints: the time to build the vocabulary's token table (once per model); per grammar, the
// per-step time of the mask (Matcher::apply on a logits row: a cached mask, or a trie walk for a
// parse state not seen before) plus the parse step (accept), over N random generations that pick
// uniformly among the allowed tokens (the worst case: any path the grammar allows); and the
// model's CPU decode step with and without a grammar (greedy, the same prompt).
#include "gguf/gguf.h"
#include "grammar/grammar.h"
#include "grammar_tokens.h"
#include "tokenizer/tokenizer.h"

#include <sigma/engine.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;
static double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

namespace {

struct Named {
    const char* name;
    const char* text;
};

// The command agent's answer format (commands::answer_grammar() in agents/commands/propose.cpp,
// copied: the engine does not link the agents), a bounded-count variant and a JSON-like
// recursive grammar.
const Named k_grammars[] = {
    {"command answer (repetitions)", R"(
root    ::= "```sh\n" command "\n```\n" explain
command ::= [^ \n`'"] body
body    ::= ([^\n`'"]* (sq | dq))* [^\n`'"]*
sq      ::= "'" [^'\n]* "'"
dq      ::= "\"" ([^"\\\n] | "\\" [^\n])* "\""
explain ::= [^\n]+
)"},
    {"counted repetitions {m,n}", R"(
root    ::= "```sh\n" program args "\n```\n" sentence
program ::= [a-z] [a-z0-9-]{0,11}
args    ::= (" " arg){0,4}
arg     ::= [-a-zA-Z0-9./_=:~]{1,20} | "'" [^'\n]{1,20} "'"
sentence ::= [A-Z] [a-zA-Z0-9 ,/._-]{2,60} "."
)"},
    {"JSON object (recursive)", R"(
root   ::= object
value  ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x00-\x1f] | "\\" ["\\/bfnrt] )* "\"" ws
number ::= "-"? [0-9]+ ("." [0-9]+)? ws
ws     ::= [ \n]{0,2}
)"},
};

struct Stats {
    std::vector<double> ms;
    double first_ms = 0;
    size_t states = 0;
    void add(double v) { ms.push_back(v); }
    double pct(double p) {
        std::sort(ms.begin(), ms.end());
        return ms.empty() ? 0 : ms[std::min(ms.size() - 1, size_t(p * double(ms.size())))];
    }
    double mean() const {
        double s = 0;
        for (double v : ms) s += v;
        return ms.empty() ? 0 : s / double(ms.size());
    }
};

} // namespace

int main(int argc, char** argv) {
    std::string model_path;
    int runs = 20, steps = 64;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-m" && i + 1 < argc) model_path = argv[++i];
        else if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
        else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
        else { std::fprintf(stderr, "usage: bench_grammar -m FILE [--runs N] [--steps N]\n"); return 2; }
    }
    if (model_path.empty()) { std::fprintf(stderr, "bench_grammar: -m FILE is required\n"); return 2; }
    try {
        auto file = sigma::gguf::File::open(model_path);
        auto tok = sigma::Tokenizer::from_gguf(*file);
        if (!tok) { std::fprintf(stderr, "bench_grammar: %s has no tokenizer\n", model_path.c_str()); return 1; }
        auto t0 = Clock::now();
        auto table = sigma::make_grammar_tokens(*tok);
        std::printf("vocabulary %d tokens, token table + trie built in %.1f ms (%zu trie nodes)\n", table->size(),
                    ms_since(t0), table->nodes().size());
        const int V = table->size();
        std::vector<float> logits(size_t(V), 0.0f);
        std::printf("%-30s %10s %10s %10s %10s %10s %8s\n", "grammar", "first ms", "mean ms", "p50 ms", "p99 ms", "max ms", "states");
        for (const Named& g : k_grammars) {
            auto grammar = sigma::grammar::Grammar::parse(g.text);
            Stats st;
            std::mt19937 rng(42);
            for (int r = 0; r < runs; ++r) {
                sigma::grammar::Matcher m(grammar, table);
                for (int s = 0; s < steps && !m.ended(); ++s) {
                    std::fill(logits.begin(), logits.end(), 0.0f);
                    const auto ts = Clock::now();
                    const int n_allowed = m.apply(logits.data(), V);
                    const double mask_ms = ms_since(ts);
                    std::vector<int32_t> ok;
                    for (int t = 0; t < V; ++t)
                        if (logits[size_t(t)] == 0.0f) ok.push_back(t);
                    if (n_allowed == 0) break;
                    // End where allowed one time in four, else a uniformly random allowed token.
                    int32_t pick = ok[std::uniform_int_distribution<size_t>(0, ok.size() - 1)(rng)];
                    for (int32_t t : ok)
                        if (table->token(t).kind == sigma::grammar::TokenInfo::Kind::End && rng() % 4 == 0) pick = t;
                    const auto ta = Clock::now();
                    m.accept(pick);
                    const double step_ms = mask_ms + ms_since(ta);
                    if (r == 0 && s == 0) st.first_ms = step_ms;
                    else st.add(step_ms);
                }
                st.states = std::max(st.states, m.n_states());
            }
            std::printf("%-30s %10.3f %10.4f %10.4f %10.4f %10.4f %8zu\n", g.name, st.first_ms, st.mean(), st.pct(0.5),
                        st.pct(0.99), st.pct(1.0), st.states);
        }

        // The model's decode step on this machine, without and with the command grammar.
        auto model = sigma::Model::load(model_path);
        if (!model) { std::fprintf(stderr, "bench_grammar: %s\n", model.error().message.c_str()); return 1; }
        const std::string prompt = "<|system|>\nYou are SigmaOps. Turn the administrator's request into one shell command "
                                   "in a code block, followed by a one-line explanation.<|end|>\n<|user|>\nFind files "
                                   "larger than 1GB under /var<|end|>\n<|assistant|>\n";
        for (int with : {0, 1}) {
            auto session = (*model)->new_session({});
            sigma::SamplingParams p;
            p.temperature = 0;
            p.max_tokens = 64;
            if (with) p.grammar = k_grammars[0].text;
            double decode = 0, gms = 0;
            int n = 0;
            for (int r = 0; r < 3; ++r) {
                (*session)->reset();
                auto res = (*session)->generate(prompt, p);
                if (!res) { std::fprintf(stderr, "bench_grammar: %s\n", res.error().message.c_str()); return 1; }
                decode += res->timings.decode_ms;
                gms += res->timings.grammar_ms;
                n += res->timings.n_decoded;
            }
            std::printf("decode %s: %d tokens, %.3f ms/token (grammar %.4f ms/token)\n",
                        with ? "with the command grammar" : "unconstrained", n, decode / n, gms / n);
        }
    } catch (const sigma::Exception& e) {
        std::fprintf(stderr, "bench_grammar: %s\n", e.what());
        return 1;
    }
    return 0;
}
