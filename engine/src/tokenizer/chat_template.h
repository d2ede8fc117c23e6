// tokenizer/chat_template.h - formats a conversation the way each model family was trained to
// read it. The formats are fixed C++ renderings of the real Jinja templates (no Jinja engine):
// detect_chat_format picks one from a GGUF's tokenizer.chat_template by its marker tokens.
#pragma once

#include <sigma/engine.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sigma {

enum class ChatFormat {
    ChatML,   // <|im_start|>role\n...<|im_end|>\n (Qwen2, many fine-tunes)
    Llama3,   // <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
    Gemma,    // <bos><start_of_turn>user\n...<end_of_turn>\n; system folded into the first user turn
    Mistral,  // Llama-2 / Mistral: <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] answer</s>
    Sigma,    // <|system|>\n...<|end|>\n<|user|>\n...<|end|>\n<|assistant|>\n
};

// "chatml", "llama3", "gemma", "mistral" (also "llama2"), "sigma"; nullopt for anything else.
std::optional<ChatFormat> chat_format_from_name(std::string_view name);
// Lower-case name of a format ("chatml"...), the inverse of chat_format_from_name.
std::string_view chat_format_name(ChatFormat format);

// Picks the format from a Jinja template's marker tokens; an empty or unrecognised template gives
// Sigma for architecture "sigma" and ChatML otherwise.
ChatFormat detect_chat_format(std::string_view jinja_source, std::string_view architecture);

// Renders `messages` (roles "system", "user", "assistant"). add_assistant opens an assistant turn
// for the model to complete. Special tokens appear as text: encode the result with
// parse_special = true and add_bos = false (the BOS text is part of the Llama3/Gemma/Mistral
// output). Throws InvalidArgument for a role the format cannot express (Sigma, Gemma and Mistral
// know only system/user/assistant; ChatML and Llama3 take any role), for a system message that is
// not first (Gemma, Mistral), or when Gemma/Mistral roles do not alternate user/assistant as
// their templates require.
std::string apply_chat_template(ChatFormat format, const std::vector<ChatMessage>& messages, bool add_assistant);

}  // namespace sigma
