// SentencePiece tokenizer against golden ids from the reference library
// (tools/ref/make_spm_golden.py, python3-sentencepiece 0.1.97, tests/fixtures/tokenizer/spm.model).
// Both construction paths must agree with it: the .model file as is, and a GGUF-style Vocab
// rebuilt into a ModelProto.
#include "tokenizer/tokenizer.h"

#include <sigma/expected.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

namespace {

const std::string k_dir = std::string(SIGMAOPS_FIXTURES) + "/tokenizer/";

nlohmann::json load_json(const std::string& name) {
    std::ifstream in(k_dir + name);
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
}

// The GGUF view of the .model: what a converter writes into tokenizer.ggml.*.
sigma::Vocab vocab_of(const sigma::Tokenizer& t) {
    sigma::Vocab v = t.vocab();
    v.model = "llama";
    v.chat_template.clear();
    return v;
}

void check_golden(const sigma::Tokenizer& tok) {
    const auto golden = load_json("spm_golden.json");
    for (const auto& c : golden["cases"]) {
        const std::string text = c["text"];
        const bool parse_special = c["parse_special"];
        const auto expected = c["ids"].get<std::vector<int32_t>>();
        INFO("text: " << text << " parse_special: " << parse_special);
        CHECK(tok.encode(text, false, parse_special) == expected);
        if (c.contains("decoded")) {
            CHECK(tok.decode(expected) == c["decoded"].get<std::string>());
            CHECK(tok.decode(tok.encode(text, true, false)) == text);  // round trip, BOS invisible
        }
    }
}

}  // namespace

TEST_CASE("spm: .model file matches sentencepiece golden ids", "[tokenizer][spm]") {
    auto tok = sigma::Tokenizer::from_spm_file(k_dir + "spm.model");
    REQUIRE(tok);
    CHECK(tok->n_vocab() == 2000);
    CHECK(tok->bos() == 1);
    CHECK(tok->eos() == 2);
    check_golden(*tok);
}

TEST_CASE("spm: GGUF-style vocab -> ModelProto matches sentencepiece golden ids", "[tokenizer][spm]") {
    auto file_tok = sigma::Tokenizer::from_spm_file(k_dir + "spm.model");
    auto tok = sigma::Tokenizer::create(vocab_of(*file_tok));
    REQUIRE(tok);
    check_golden(*tok);
}

TEST_CASE("spm: bos/eos, byte fallback, special tokens", "[tokenizer][spm]") {
    auto tok = sigma::Tokenizer::create(vocab_of(*sigma::Tokenizer::from_spm_file(k_dir + "spm.model")));
    const auto ids = tok->encode("Hi", true, false);
    REQUIRE(!ids.empty());
    CHECK(ids.front() == tok->bos());
    CHECK(tok->is_eog(tok->eos()));

    // Chinese is not in the English-trained vocabulary: bytes come back through <0x..> tokens.
    const auto cn = tok->encode("北京", false, false);
    int n_byte_tokens = 0;
    for (int32_t id : cn) n_byte_tokens += tok->token_type(id) == sigma::TokenType::Byte;
    CHECK(n_byte_tokens == 6);
    CHECK(tok->decode(cn) == "北京");

    const auto user = tok->find_token("<|user|>");
    REQUIRE(user);
    CHECK(tok->token_type(*user) == sigma::TokenType::Control);
    CHECK(tok->is_eog(*tok->find_token("<|end|>")));
    const auto with = tok->encode("<|user|>hi", false, true);
    CHECK(with.front() == *user);
    const auto without = tok->encode("<|user|>hi", false, false);
    CHECK(std::find(without.begin(), without.end(), *user) == without.end());
    CHECK(tok->decode(with).find("<|user|>") == std::string::npos);
    CHECK(tok->decode(with, true).find("<|user|>") == 0);
    CHECK(tok->token_bytes(*tok->find_token("<0x41>")) == "A");
}

TEST_CASE("spm: bad input is reported", "[tokenizer][spm]") {
    CHECK_THROWS_AS(sigma::Tokenizer::from_spm_file(k_dir + "does-not-exist.model"), sigma::Exception);
    sigma::Vocab v;
    v.model = "llama";
    v.tokens = {"a", "b"};
    v.token_types = {1, 1};
    CHECK_THROWS_AS(sigma::Tokenizer::create(v), sigma::Exception);  // no unknown token
    v.model = "bert";
    try {
        sigma::Tokenizer::create(v);
        FAIL("expected an exception");
    } catch (const sigma::Exception& e) {
        CHECK(e.code() == sigma::ErrorCode::Unsupported);
    }
    auto tok = sigma::Tokenizer::from_spm_file(k_dir + "spm.model");
    CHECK_THROWS_AS(tok->token_bytes(5000), sigma::Exception);
}

TEST_CASE("spm: StreamDecoder drops the dummy-prefix space and joins byte-fallback characters",
          "[tokenizer][spm][stream]") {
    auto tok = sigma::Tokenizer::from_spm_file(k_dir + "spm.model");
    const std::string text = "Hello 北京 🦙 Grüße";
    const auto ids = tok->encode(text, true, false);
    sigma::StreamDecoder dec(*tok);
    std::string all;
    for (int32_t id : ids) {
        const std::string piece = dec.push(id);
        CHECK(sigma::is_valid_utf8(piece));
        all += piece;
    }
    all += dec.flush();
    CHECK(all == text);
    CHECK(all == tok->decode(ids));
}
