// tokenizer/chat_template.h - formats a conversation the way each model family was trained to
// read it. A model's own Jinja template (GGUF tokenizer.chat_template) is interpreted by
// tokenizer/jinja (ModelChatTemplate); five fixed C++ renderings of well-known templates remain
// as the fallback when a file has no template or its template fails to parse or render:
// detect_chat_format picks one from the template's marker tokens.
#pragma once

#include <sigma/engine.h>

#include <atomic>
#include <functional>
#include <memory>
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

namespace jinja { class Template; }

// The chat template of one model: its own tokenizer.chat_template rendered by the Jinja
// interpreter as transformers' apply_chat_template would (messages, tools = None,
// add_generation_prompt, bos_token, eos_token), with a fixed format as the fallback.
// Thread-safe after construction (a Model is shared between threads).
class ModelChatTemplate {
public:
    // Where warnings go (one line, no newline); the default writes "sigma engine: warning: ..."
    // to stderr.
    using WarnFn = std::function<void(const std::string&)>;

    // `jinja_source` may be empty (no template: the fixed format for `architecture` is used).
    // `bos_text`/`eos_text` are the texts of the model's BOS/EOS tokens ("" if none).
    // `tokenizer_adds_bos`: the tokenizer prepends BOS itself, so a BOS text the template
    // renders at the very start is dropped (as llama.cpp does) and generate() adds the token.
    // A template that does not parse is reported once through `warn` and the fallback used.
    ModelChatTemplate(std::string_view jinja_source, std::string_view architecture, std::string bos_text,
                      std::string eos_text, bool tokenizer_adds_bos, WarnFn warn = {});
    ~ModelChatTemplate();

    // True when conversations are rendered by the model's own template.
    bool interpreted() const { return m_jinja != nullptr; }
    // Why the model's template could not be parsed ("" when it parsed or there is none).
    const std::string& parse_error() const { return m_parse_error; }
    // The fixed format used without a template or when it fails.
    ChatFormat fallback() const { return m_fallback; }

    // Renders `messages` with the model's template; if rendering fails, warns once naming the
    // error and renders with the fallback format (which throws InvalidArgument for conversations
    // it cannot express).
    std::string apply(const std::vector<ChatMessage>& messages, bool add_assistant) const;
    // Renders with the model's template only; throws InvalidArgument with the template's error
    // (line, column, message) when it fails or when the model has no usable template.
    std::string apply_jinja(const std::vector<ChatMessage>& messages, bool add_assistant) const;

private:
    std::unique_ptr<jinja::Template> m_jinja;
    std::string m_parse_error;
    ChatFormat m_fallback;
    std::string m_bos, m_eos;
    bool m_strip_bos;
    WarnFn m_warn;
    mutable std::atomic<bool> m_warned{false};
};

}  // namespace sigma
