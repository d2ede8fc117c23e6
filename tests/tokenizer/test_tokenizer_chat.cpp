// Chat templates: each format against the exact string its reference Jinja template renders for
// the same conversation, plus format detection and naming.
#include "tokenizer/chat_template.h"

#include <sigma/expected.h>

#include <catch2/catch.hpp>

using sigma::ChatFormat;
using sigma::ChatMessage;

namespace {
const std::vector<ChatMessage> k_conv = {
    {"system", "You are terse."},
    {"user", "Hi!"},
    {"assistant", "Hello."},
    {"user", "2+2? "},
};
}  // namespace

TEST_CASE("chat: ChatML", "[tokenizer][chat]") {
    CHECK(sigma::apply_chat_template(ChatFormat::ChatML, k_conv, true) ==
          "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
          "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2? <|im_end|>\n<|im_start|>assistant\n");
    CHECK(sigma::apply_chat_template(ChatFormat::ChatML, {{"user", "x"}}, false) == "<|im_start|>user\nx<|im_end|>\n");
}

TEST_CASE("chat: Llama-3", "[tokenizer][chat]") {
    CHECK(sigma::apply_chat_template(ChatFormat::Llama3, k_conv, true) ==
          "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST_CASE("chat: Gemma folds the system prompt into the first user turn", "[tokenizer][chat]") {
    CHECK(sigma::apply_chat_template(ChatFormat::Gemma, k_conv, true) ==
          "<bos><start_of_turn>user\nYou are terse.\n\nHi!<end_of_turn>\n"
          "<start_of_turn>model\nHello.<end_of_turn>\n"
          "<start_of_turn>user\n2+2?<end_of_turn>\n<start_of_turn>model\n");
    CHECK_THROWS_AS(sigma::apply_chat_template(ChatFormat::Gemma, {{"user", "a"}, {"user", "b"}}, true),
                    sigma::Exception);
    CHECK_THROWS_AS(sigma::apply_chat_template(ChatFormat::Gemma, {{"assistant", "a"}}, true), sigma::Exception);
}

TEST_CASE("chat: Mistral / Llama-2 with <<SYS>>", "[tokenizer][chat]") {
    CHECK(sigma::apply_chat_template(ChatFormat::Mistral, k_conv, true) ==
          "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] 2+2? [/INST]");
    CHECK(sigma::apply_chat_template(ChatFormat::Mistral, {{"user", "hey"}}, true) == "<s>[INST] hey [/INST]");
    CHECK_THROWS_AS(sigma::apply_chat_template(ChatFormat::Mistral, {{"user", "a"}, {"system", "late"}}, true),
                    sigma::Exception);
}

TEST_CASE("chat: Sigma", "[tokenizer][chat]") {
    CHECK(sigma::apply_chat_template(ChatFormat::Sigma, k_conv, true) ==
          "<|system|>\nYou are terse.<|end|>\n<|user|>\nHi!<|end|>\n<|assistant|>\nHello.<|end|>\n"
          "<|user|>\n2+2? <|end|>\n<|assistant|>\n");
    CHECK(sigma::apply_chat_template(ChatFormat::Sigma, {}, true) == "<|assistant|>\n");
    CHECK_THROWS_AS(sigma::apply_chat_template(ChatFormat::Sigma, {{"tool", "x"}}, true), sigma::Exception);
}

TEST_CASE("chat: names and detection", "[tokenizer][chat]") {
    CHECK(sigma::chat_format_from_name("llama2") == ChatFormat::Mistral);
    CHECK_FALSE(sigma::chat_format_from_name("vicuna"));
    for (auto f : {ChatFormat::ChatML, ChatFormat::Llama3, ChatFormat::Gemma, ChatFormat::Mistral, ChatFormat::Sigma})
        CHECK(sigma::chat_format_from_name(sigma::chat_format_name(f)) == f);

    CHECK(sigma::detect_chat_format("{{ '<|im_start|>' + message['role'] }}", "qwen2") == ChatFormat::ChatML);
    CHECK(sigma::detect_chat_format("{% set content = '<|start_header_id|>' %}", "llama") == ChatFormat::Llama3);
    CHECK(sigma::detect_chat_format("{{ '<start_of_turn>' + role }}", "gemma3") == ChatFormat::Gemma);
    CHECK(sigma::detect_chat_format("{{ bos_token + '[INST] ' }}", "llama") == ChatFormat::Mistral);
    CHECK(sigma::detect_chat_format("{{ '<|assistant|>\\n' }}{{ '<|end|>' }}", "phi3") == ChatFormat::Sigma);
    CHECK(sigma::detect_chat_format("", "sigma") == ChatFormat::Sigma);
    CHECK(sigma::detect_chat_format("", "llama") == ChatFormat::ChatML);
}
