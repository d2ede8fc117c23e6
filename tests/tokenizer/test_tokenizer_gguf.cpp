// Tokenizer::from_gguf: the tokenizer.ggml.* keys of a GGUF image (written with gguf::Writer)
// give the same tokenizer as the Vocab they were made from; a file without them gives nullptr.
#include "gguf/gguf.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

#include <sigma/expected.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

namespace {

const std::string k_dir = std::string(SIGMAOPS_FIXTURES) + "/tokenizer/";

std::vector<uint8_t> gguf_image(const sigma::Vocab& v, bool with_tokenizer) {
    sigma::gguf::Writer w;
    w.set_string("general.architecture", "sigma");
    if (with_tokenizer) {
        w.set_string("tokenizer.ggml.model", v.model);
        w.set_string("tokenizer.ggml.pre", v.pre);
        w.set_string_array("tokenizer.ggml.tokens", v.tokens);
        if (!v.scores.empty()) w.set_f32_array("tokenizer.ggml.scores", v.scores);
        w.set_i32_array("tokenizer.ggml.token_type", v.token_types);
        if (!v.merges.empty()) w.set_string_array("tokenizer.ggml.merges", v.merges);
        w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos));
        w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos));
        w.set_bool("tokenizer.ggml.add_bos_token", true);
        w.set_string("tokenizer.chat_template", "{{ '<|assistant|>' }}{{ '<|end|>' }}");
    }
    return w.to_bytes();
}

}  // namespace

TEST_CASE("gguf: BPE vocabulary round-trips through tokenizer.ggml.* keys", "[tokenizer][gguf]") {
    std::ifstream in(k_dir + "bpe_vocab.json");
    const auto j = nlohmann::json::parse(in);
    sigma::Vocab v;
    v.model = "gpt2";
    v.pre = "llama-bpe";
    v.tokens = j["tokens"].get<std::vector<std::string>>();
    v.token_types = j["token_types"].get<std::vector<int32_t>>();
    v.merges = j["merges"].get<std::vector<std::string>>();
    v.bos = j["bos"];
    v.eos = j["eos"];
    const auto bytes = gguf_image(v, true);
    const auto file = sigma::gguf::File::from_memory(bytes.data(), bytes.size());
    const auto tok = sigma::Tokenizer::from_gguf(*file);
    REQUIRE(tok);
    const auto direct = sigma::Tokenizer::create(v);
    const std::string prompt = sigma::apply_chat_template(
        sigma::detect_chat_format(tok->vocab().chat_template, "sigma"), {{"user", "Grüße, 1234567!"}}, true);
    const auto ids = tok->encode(prompt, true, true);
    CHECK(ids == direct->encode(prompt, true, true));
    CHECK(ids.front() == v.bos);
    CHECK(ids[1] == *tok->find_token("<|user|>"));
    CHECK(tok->decode(ids, true) == "<|begin_of_text|>" + prompt);
    CHECK(tok->decode(ids) == "\nGrüße, 1234567!\n\n");
}

TEST_CASE("gguf: SentencePiece vocabulary from GGUF keys", "[tokenizer][gguf]") {
    sigma::Vocab v = sigma::Tokenizer::from_spm_file(k_dir + "spm.model")->vocab();
    const auto bytes = gguf_image(v, true);
    const auto file = sigma::gguf::File::from_memory(bytes.data(), bytes.size());
    const auto tok = sigma::Tokenizer::from_gguf(*file);
    REQUIRE(tok);
    const std::string text = "ls -la ~/Müll  \t 日本";
    CHECK(tok->encode(text, true, false) == sigma::Tokenizer::from_spm_file(k_dir + "spm.model")->encode(text, true, false));
    CHECK(tok->decode(tok->encode(text, true, false)) == text);
}

TEST_CASE("gguf: no tokenizer keys -> nullptr - broken keys -> BadFile with the stage", "[tokenizer][gguf]") {
    sigma::Vocab v;
    const auto bytes = gguf_image(v, false);
    const auto file = sigma::gguf::File::from_memory(bytes.data(), bytes.size());
    CHECK(sigma::Tokenizer::from_gguf(*file) == nullptr);

    sigma::gguf::Writer w;
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string_array("tokenizer.ggml.tokens", {"a", "b"});
    w.set_i32_array("tokenizer.ggml.token_type", {1});
    const auto bad = w.to_bytes();
    const auto bad_file = sigma::gguf::File::from_memory(bad.data(), bad.size());
    try {
        sigma::Tokenizer::from_gguf(*bad_file);
        FAIL("expected an exception");
    } catch (const sigma::Exception& e) {
        CHECK(e.code() == sigma::ErrorCode::BadFile);
        CHECK(std::string(e.what()).find("tokenizer.ggml") != std::string::npos);
    }
}
