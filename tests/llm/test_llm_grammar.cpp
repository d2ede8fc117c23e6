// Constrained decoding end to end with the shipped default model (sigma-ops-nano) through
// llm::Context: 100 answers sampled at temperature 1.0 from the whole distribution all have the
// grammar's form (checked by an independent std::regex), a bad grammar is refused with its
// offset, and the reported log-probability equals the one recomputed from Context::logits.
#include <catch2/catch.hpp>

#include <llm/llm.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <regex>

using namespace sigmaops;

namespace {

const std::string k_model = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/models/sigma-ops-nano.gguf";

std::shared_ptr<llm::Model> nano() {
    static std::shared_ptr<llm::Model> model = [] {
        auto m = llm::load_local(k_model);
        REQUIRE(m);
        return m->model;
    }();
    return model;
}

// A command answer in the model's own format: a fenced command of 1-5 words, then one sentence.
const char* k_grammar = R"(
root    ::= "```sh\n" program args "\n```\n" sentence
program ::= [a-z] [a-z0-9-]{0,11}
args    ::= (" " arg){0,4}
arg     ::= [-a-zA-Z0-9./_=:~]{1,20} | "'" [^'\n]{1,20} "'"
sentence ::= [A-Z] [a-zA-Z0-9 ,/._-]{2,60} "."
)";
// The same language as a regex.
const std::regex k_regex(R"(```sh\n[a-z][a-z0-9-]{0,11}( ([-a-zA-Z0-9./_=:~]{1,20}|'[^'\n]{1,20}')){0,4}\n```\n[A-Z][a-zA-Z0-9 ,/._-]{2,60}\.)");

std::vector<llm::Message> ask(const std::string& request) {
    return {{"system", "You are SigmaOps. Turn the administrator's request into one shell command in a code block, "
                       "followed by a one-line explanation."},
            {"user", request}};
}

} // namespace

TEST_CASE("llm grammar: 100 answers sampled at temperature 1.0 all match the grammar", "[llm][grammar]") {
    if (!std::filesystem::exists(k_model)) {
        std::puts("skipped: resources/models/sigma-ops-nano.gguf is missing");
        return;
    }
    auto ctx = nano()->new_context({});
    REQUIRE(ctx);
    llm::Constraint c{llm::Constraint::Kind::Grammar, k_grammar};
    llm::Sampling s;
    s.temperature = 1.0f;   // the whole distribution: no top-k, top-p or min-p cut
    s.top_k = 0;
    s.top_p = 1.0f;
    s.min_p = 0.0f;
    s.repeat_penalty = 1.0f;
    s.max_tokens = 200;     // more than the grammar's longest sentence needs
    const std::vector<std::string> requests = {"Show the last 50 lines of the nginx error log",
                                               "Find files larger than 1GB under /var",
                                               "List listening TCP ports with the owning process",
                                               "Restart the postgresql service"};
    int n_ok = 0, n_tokens = 0;
    double constraint_ms = 0, decode_ms = 0;
    for (int i = 0; i < 100; ++i) {
        s.seed = uint64_t(1000 + i);
        auto r = (*ctx)->chat(ask(requests[size_t(i) % requests.size()]), s, {}, c);
        REQUIRE(r);
        INFO("sample " << i << ": " << r->text);
        CHECK(r->stop == llm::StopReason::EndOfText);
        const bool match = std::regex_match(r->text, k_regex);
        CHECK(match);
        n_ok += match;
        n_tokens += r->usage.n_generated;
        constraint_ms += r->usage.constraint_ms;
        decode_ms += r->usage.decode_ms;
    }
    CHECK(n_ok == 100);
    // The mask costs a fraction of a decode step (the model's forward pass).
    std::printf("grammar: %d tokens, mask + parse %.3f ms/token, decode %.3f ms/token\n", n_tokens,
                constraint_ms / n_tokens, decode_ms / n_tokens);
    CHECK(constraint_ms < 0.5 * decode_ms);
}

TEST_CASE("llm grammar: greedy answers keep their form, a bad grammar is refused with its offset", "[llm][grammar]") {
    if (!std::filesystem::exists(k_model)) {
        std::puts("skipped: resources/models/sigma-ops-nano.gguf is missing");
        return;
    }
    auto ctx = nano()->new_context({});
    REQUIRE(ctx);
    llm::Sampling greedy;
    greedy.temperature = 0;
    greedy.max_tokens = 200;
    auto r = (*ctx)->chat(ask("Find files larger than 1GB under /var"), greedy, {},
                          {llm::Constraint::Kind::Grammar, k_grammar});
    REQUIRE(r);
    INFO(r->text);
    CHECK(std::regex_match(r->text, k_regex));

    auto bad = (*ctx)->chat(ask("x"), greedy, {}, {llm::Constraint::Kind::Grammar, "root ::= \"a\" | ( \"b\""});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == ErrorCode::InvalidArgument);
    CHECK_THAT(bad.error().message, Catch::Contains("offset 15") && Catch::Contains("unclosed '('"));
    auto empty = (*ctx)->chat(ask("x"), greedy, {}, {llm::Constraint::Kind::Grammar, ""});
    REQUIRE_FALSE(empty);
    CHECK(empty.error().code == ErrorCode::InvalidArgument);
}

TEST_CASE("llm grammar: the reported log-probability is the model's, after the mask", "[llm][grammar]") {
    if (!std::filesystem::exists(k_model)) {
        std::puts("skipped: resources/models/sigma-ops-nano.gguf is missing");
        return;
    }
    auto model = nano();
    auto ctx = model->new_context({});
    REQUIRE(ctx);
    llm::Sampling s;
    s.temperature = 0;
    s.max_tokens = 24;
    s.logprob = true;
    const std::string prompt = "<|system|>\nYou are SigmaOps.<|end|>\n<|user|>\nList files<|end|>\n<|assistant|>\n";
    auto free = (*ctx)->complete(prompt, s);
    REQUIRE(free);
    REQUIRE(free->tokens.size() > 3);
    CHECK(free->logprob < 0);
    // Recompute: log-softmax of every generated position's logits from Context::logits.
    auto ids = model->tokenize(prompt, true, true);
    REQUIRE(ids);
    std::vector<llm::Token> all = *ids;
    all.insert(all.end(), free->tokens.begin(), free->tokens.end());
    auto logits = (*ctx)->logits(all);
    REQUIRE(logits);
    const size_t V = model->card().n_vocab;
    double expect = 0;
    for (size_t k = 0; k < free->tokens.size(); ++k) {
        const float* row = logits->data() + (ids->size() - 1 + k) * V;
        double mx = -INFINITY, sum = 0;
        for (size_t t = 0; t < V; ++t) mx = std::max(mx, double(row[t]));
        for (size_t t = 0; t < V; ++t) sum += std::exp(double(row[t]) - mx);
        expect += double(row[free->tokens[k]]) - mx - std::log(sum);
    }
    CHECK(free->logprob == Approx(expect).margin(1e-2 * double(free->tokens.size())));

    // Under a grammar that allows one text only, that text comes out whatever the model prefers.
    (*ctx)->reset();
    auto forced = (*ctx)->complete(prompt, s, {}, {llm::Constraint::Kind::Grammar, R"(root ::= "```sh\nls -la\n```\nLists files.")"});
    REQUIRE(forced);
    CHECK(forced->text == "```sh\nls -la\n```\nLists files.");
    CHECK(forced->stop == llm::StopReason::EndOfText);
    CHECK(forced->logprob <= 0);
}

TEST_CASE("llm grammar: a JSON schema constrains sampled answers to valid JSON of that shape", "[llm][grammar]") {
    if (!std::filesystem::exists(k_model)) {
        std::puts("skipped: resources/models/sigma-ops-nano.gguf is missing");
        return;
    }
    auto ctx = nano()->new_context({});
    REQUIRE(ctx);
    const std::string schema = R"({"type": "object", "properties": {
        "command": {"type": "string"}, "risk": {"enum": ["read-only", "destructive"]},
        "steps": {"type": "integer"}, "sudo": {"type": "boolean"},
        "files": {"type": "array", "items": {"type": "string"}}}})";
    llm::Sampling s;
    s.temperature = 1.0f;
    s.top_k = 0;
    s.top_p = 1.0f;
    s.min_p = 0.0f;
    s.max_tokens = 400;
    int n_complete = 0;
    for (int i = 0; i < 20; ++i) {
        s.seed = uint64_t(7 + i);
        auto r = (*ctx)->chat(ask("Clean the apt cache; answer as JSON"), s, {}, {llm::Constraint::Kind::JsonSchema, schema});
        REQUIRE(r);
        if (r->stop != llm::StopReason::EndOfText) continue;   // a long string can reach max_tokens
        ++n_complete;
        INFO(r->text);
        nlohmann::json j;
        REQUIRE_NOTHROW(j = nlohmann::json::parse(r->text));
        CHECK(j["command"].is_string());
        CHECK((j["risk"] == "read-only" || j["risk"] == "destructive"));
        CHECK(j["steps"].is_number());   // an integer, possibly beyond int64 (then read as a double)
        CHECK(std::regex_search(r->text, std::regex(R"("steps": ?-?(0|[1-9][0-9]*)[,}])")));
        CHECK(j["sudo"].is_boolean());
        CHECK(j["files"].is_array());
        for (const auto& f : j["files"]) CHECK(f.is_string());
    }
    CHECK(n_complete >= 10);
    auto g = llm::json_schema_to_grammar("{\"type\": \"object\", \"properties\": {\"a\": {\"pattern\": \"x\"}}}");
    REQUIRE_FALSE(g);
    CHECK(g.error().code == ErrorCode::Unsupported);
    CHECK_THAT(g.error().message, Catch::Contains("#/properties/a") && Catch::Contains("pattern"));
    auto bad = llm::json_schema_to_grammar("{not json");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == ErrorCode::InvalidArgument);
}
