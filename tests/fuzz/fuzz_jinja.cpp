// libFuzzer target: the chat-template interpreter (engine/src/tokenizer/jinja) on any bytes. The
// input is a template (a model file's tokenizer.chat_template is untrusted); when it parses it is
// rendered with a conversation that has every role, a tool list and a tool call, under tight
// limits. Checks: only jinja::Error escapes, an error points into the template (line/column and
// offset inside it), and the output stays within its limit.
#include "tokenizer/jinja/jinja.h"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace sigma::jinja;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const Value context = value_from_json(R"({
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Grüße! disk usage of /var?\n"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "du", "arguments": {"path": "/var"}}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "3.2G"},
            {"role": "assistant", "content": "  3.2G  "}
        ],
        "tools": [{"type": "function", "function": {"name": "du", "description": "disk usage",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}],
        "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"
    })");
    Limits limits;
    limits.max_steps = 20000;
    limits.max_output = 1 << 16;
    limits.max_items = 1 << 12;
    limits.max_depth = 64;
    limits.max_macro_depth = 16;
    const std::string source(reinterpret_cast<const char*>(data), size);
    try {
        Template t(source, limits);
        try {
            const std::string out = t.render(context, 1721995200);
            if (out.size() > limits.max_output) __builtin_trap();
        } catch (const Error& e) {
            if (e.line() < 1 || e.offset() > t.source().size()) __builtin_trap();
        }
    } catch (const Error& e) {
        if (e.line() < 1 || e.offset() > size) __builtin_trap();   // a parse error points into the input
    }
    return 0;
}
