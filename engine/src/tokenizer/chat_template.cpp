// tokenizer/chat_template.cpp - C++ renderings of the chat templates shipped with each model
// family (see chat_template.h). Each function follows its Jinja original line by line; the
// comment above it names the template it reproduces.

#include "tokenizer/chat_template.h"

#include "tokenizer/jinja/jinja.h"

#include <sigma/expected.h>

#include <cstdio>

namespace sigma {

namespace {

// Jinja's `| trim` / Python's str.strip() for the ASCII whitespace that occurs in practice.
std::string trim(std::string_view s) {
    constexpr std::string_view ws = " \t\n\r\v\f";
    const size_t b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    return std::string(s.substr(b, s.find_last_not_of(ws) - b + 1));
}

[[noreturn]] void fail(const std::string& what) {
    throw Exception(ErrorCode::InvalidArgument, "chat template: " + what);
}

void check_basic_role(const ChatMessage& m, std::string_view format) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
        fail("role '" + m.role + "' is not supported by the " + std::string(format) +
             " format (use system, user or assistant)");
}

// Splits off a leading system message; roles after it must alternate user/assistant starting
// with user, as the Gemma and Llama-2 templates demand (they raise_exception otherwise).
std::pair<const ChatMessage*, std::vector<const ChatMessage*>> system_and_turns(const std::vector<ChatMessage>& msgs,
                                                                              std::string_view format) {
    const ChatMessage* system = nullptr;
    std::vector<const ChatMessage*> turns;
    for (size_t i = 0; i < msgs.size(); ++i) {
        check_basic_role(msgs[i], format);
        if (msgs[i].role == "system") {
            if (i != 0) fail("a system message must come first in the " + std::string(format) + " format");
            system = &msgs[i];
            continue;
        }
        const bool expect_user = turns.size() % 2 == 0;
        if ((msgs[i].role == "user") != expect_user)
            fail("conversation roles must alternate user/assistant/user/assistant/... in the " +
                 std::string(format) + " format");
        turns.push_back(&msgs[i]);
    }
    return {system, turns};
}

// ChatML (Qwen2 and many fine-tunes):
//   {% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}
//   {% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}
std::string chatml(const std::vector<ChatMessage>& msgs, bool add_assistant) {
    std::string out;
    for (const auto& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    if (add_assistant) out += "<|im_start|>assistant\n";
    return out;
}

// Llama-3 (Meta-Llama-3-8B-Instruct): bos_token, then per message
//   <|start_header_id|>role<|end_header_id|>\n\n{{ content | trim }}<|eot_id|>
// and, for the generation prompt, <|start_header_id|>assistant<|end_header_id|>\n\n.
std::string llama3(const std::vector<ChatMessage>& msgs, bool add_assistant) {
    std::string out = "<|begin_of_text|>";
    for (const auto& m : msgs)
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
    if (add_assistant) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
}

// Gemma (gemma-3-it): bos_token; a leading system message becomes "system\n\n" prefixed to the
// first user turn; each turn is <start_of_turn>{user|model}\n{{ prefix + content | trim }}<end_of_turn>\n;
// the generation prompt is <start_of_turn>model\n.
std::string gemma(const std::vector<ChatMessage>& msgs, bool add_assistant) {
    const auto [system, turns] = system_and_turns(msgs, "gemma");
    std::string out = "<bos>";
    for (size_t i = 0; i < turns.size(); ++i) {
        const std::string prefix = i == 0 && system ? system->content + "\n\n" : "";
        const char* role = turns[i]->role == "assistant" ? "model" : "user";
        out += std::string("<start_of_turn>") + role + "\n" + prefix + trim(turns[i]->content) + "<end_of_turn>\n";
    }
    if (add_assistant) out += "<start_of_turn>model\n";
    return out;
}

// Llama-2-chat / Mistral-Instruct v0.1 (Llama-2 template):
//   user:      <s>[INST] {{ content.strip() }} [/INST]   (first user turn content is
//              "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content when there is a system message)
//   assistant: ' ' + content.strip() + ' ' + </s>
// The template has no generation prompt: the assistant turn is open after [/INST] anyway.
std::string mistral(const std::vector<ChatMessage>& msgs, bool /*add_assistant*/) {
    const auto [system, turns] = system_and_turns(msgs, "mistral");
    std::string out;
    for (size_t i = 0; i < turns.size(); ++i) {
        std::string content = turns[i]->content;
        if (i == 0 && system) content = "<<SYS>>\n" + system->content + "\n<</SYS>>\n\n" + content;
        // Appends rather than `" " + trim(...)`: GCC 12 reports a false -Wrestrict on the latter.
        out += turns[i]->role == "user" ? "<s>[INST] " : " ";
        out += trim(content);
        out += turns[i]->role == "user" ? " [/INST]" : " </s>";
    }
    return out;
}

// Sigma: <|role|>\n{content}<|end|>\n per message; generation prompt <|assistant|>\n.
std::string sigma_format(const std::vector<ChatMessage>& msgs, bool add_assistant) {
    std::string out;
    for (const auto& m : msgs) {
        check_basic_role(m, "sigma");
        out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
    }
    if (add_assistant) out += "<|assistant|>\n";
    return out;
}

}  // namespace

std::optional<ChatFormat> chat_format_from_name(std::string_view name) {
    if (name == "chatml") return ChatFormat::ChatML;
    if (name == "llama3") return ChatFormat::Llama3;
    if (name == "gemma") return ChatFormat::Gemma;
    if (name == "mistral" || name == "llama2") return ChatFormat::Mistral;
    if (name == "sigma") return ChatFormat::Sigma;
    return std::nullopt;
}

std::string_view chat_format_name(ChatFormat format) {
    switch (format) {
    case ChatFormat::ChatML: return "chatml";
    case ChatFormat::Llama3: return "llama3";
    case ChatFormat::Gemma: return "gemma";
    case ChatFormat::Mistral: return "mistral";
    case ChatFormat::Sigma: return "sigma";
    }
    return "chatml";
}

ChatFormat detect_chat_format(std::string_view src, std::string_view architecture) {
    const auto has = [src](std::string_view marker) { return src.find(marker) != std::string_view::npos; };
    if (has("<|im_start|>")) return ChatFormat::ChatML;
    if (has("<|start_header_id|>")) return ChatFormat::Llama3;
    if (has("<start_of_turn>")) return ChatFormat::Gemma;
    if (has("[INST]")) return ChatFormat::Mistral;
    if (has("<|assistant|>") && has("<|end|>")) return ChatFormat::Sigma;
    return architecture == "sigma" ? ChatFormat::Sigma : ChatFormat::ChatML;
}

std::string apply_chat_template(ChatFormat format, const std::vector<ChatMessage>& messages, bool add_assistant) {
    switch (format) {
    case ChatFormat::ChatML: return chatml(messages, add_assistant);
    case ChatFormat::Llama3: return llama3(messages, add_assistant);
    case ChatFormat::Gemma: return gemma(messages, add_assistant);
    case ChatFormat::Mistral: return mistral(messages, add_assistant);
    case ChatFormat::Sigma: return sigma_format(messages, add_assistant);
    }
    fail("unknown format");
}

ModelChatTemplate::ModelChatTemplate(std::string_view jinja_source, std::string_view architecture, std::string bos_text,
                                     std::string eos_text, bool tokenizer_adds_bos, WarnFn warn)
    : m_fallback(detect_chat_format(jinja_source, architecture)), m_bos(std::move(bos_text)), m_eos(std::move(eos_text)),
      m_strip_bos(tokenizer_adds_bos), m_warn(std::move(warn)) {
    if (!m_warn) m_warn = [](const std::string& msg) { std::fprintf(stderr, "sigma engine: warning: %s\n", msg.c_str()); };
    if (jinja_source.empty()) return;
    try {
        m_jinja = std::make_unique<jinja::Template>(jinja_source);
    } catch (const jinja::Error& e) {
        m_parse_error = e.what();
        m_warned = true;
        m_warn("the model's chat template does not parse (" + m_parse_error + "); using the fixed '" +
               std::string(chat_format_name(m_fallback)) + "' format instead");
    }
}

ModelChatTemplate::~ModelChatTemplate() = default;

std::string ModelChatTemplate::apply_jinja(const std::vector<ChatMessage>& messages, bool add_assistant) const {
    if (!m_jinja)
        fail(m_parse_error.empty() ? std::string("the model has no chat template of its own")
                                   : "the model's chat template does not parse: " + m_parse_error);
    jinja::Array msgs;
    for (const auto& m : messages) {
        auto obj = std::make_shared<jinja::Object>();
        obj->set("role", jinja::Value(m.role));
        obj->set("content", jinja::Value(m.content));
        msgs.push_back(jinja::Value::object(std::move(obj)));
    }
    auto ctx = std::make_shared<jinja::Object>();
    ctx->set("messages", jinja::Value::array(std::move(msgs)));
    ctx->set("tools", jinja::Value::none());
    ctx->set("documents", jinja::Value::none());
    ctx->set("add_generation_prompt", jinja::Value(add_assistant));
    if (!m_bos.empty()) ctx->set("bos_token", jinja::Value(m_bos));
    if (!m_eos.empty()) ctx->set("eos_token", jinja::Value(m_eos));
    std::string out;
    try {
        out = m_jinja->render(jinja::Value::object(std::move(ctx)));
    } catch (const jinja::Error& e) {
        fail(std::string(e.raised() ? "the model's chat template refused the conversation: " : "the model's chat template failed: ") +
             e.what());
    }
    if (m_strip_bos && !m_bos.empty() && out.compare(0, m_bos.size(), m_bos) == 0) out.erase(0, m_bos.size());
    return out;
}

std::string ModelChatTemplate::apply(const std::vector<ChatMessage>& messages, bool add_assistant) const {
    if (!m_jinja) return apply_chat_template(m_fallback, messages, add_assistant);
    try {
        return apply_jinja(messages, add_assistant);
    } catch (const Exception& e) {
        if (!m_warned.exchange(true))
            m_warn(std::string(e.what()) + "; using the fixed '" + std::string(chat_format_name(m_fallback)) +
                   "' format instead (warned once)");
        return apply_chat_template(m_fallback, messages, add_assistant);
    }
}

}  // namespace sigma
