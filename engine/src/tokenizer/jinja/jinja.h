// tokenizer/jinja/jinja.h - a Jinja2 subset interpreter for the chat templates models carry in
// tokenizer.chat_template. It renders a template as transformers' apply_chat_template does with
// jinja2 (ImmutableSandboxedEnvironment, trim_blocks and lstrip_blocks on, loop controls, the
// tojson / raise_exception / strftime_now that transformers adds), byte for byte.
//
// Supported: {{ }}, {% %}, {# #}, whitespace control (-, +), raw; if/elif/else, for (tuple
// targets, loop.*, filter condition, else, break/continue), set (names, tuples, ns.attr, block
// set), macro, generation; Python-like expressions (literals, arithmetic, ~, comparisons, in,
// is-tests, and/or/not, conditional expressions, subscripts and slices, attribute access, calls
// with keyword arguments); the filters, tests and str/dict methods real templates use.
//
// Untrusted input: a template from a model file may be hostile. Parsing and rendering are bounded
// (Limits): nesting depth, macro recursion, evaluation steps (loop iterations count), the size of
// the output and of any string or list built; every failure is a jinja::Error naming the line and
// column of the template where it happened.
#pragma once

#include "tokenizer/jinja/value.h"

#include <cstddef>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sigma::jinja {

// A parse or render failure: what() is "line L, column C: message"; message() is the bare text
// (for raise_exception(), the template's own message).
class Error : public std::runtime_error {
public:
    Error(const std::string& message, size_t offset, size_t line, size_t column);
    const std::string& message() const { return m_message; }
    size_t offset() const { return m_offset; }
    size_t line() const { return m_line; }
    size_t column() const { return m_column; }
    bool raised() const { return m_raised; }   // raise_exception() in the template
    void set_raised() { m_raised = true; }

private:
    std::string m_message;
    size_t m_offset, m_line, m_column;
    bool m_raised = false;
};

struct Limits {
    size_t max_depth = 200;                // nesting of expressions/blocks while parsing and rendering
    size_t max_macro_depth = 64;           // macro calls inside macro calls
    uint64_t max_steps = 1'000'000;        // expression evaluations + statements + loop iterations (a 4-turn
                                           // chat with tools takes under 20'000 in every golden template)
    size_t max_output = 8u << 20;          // bytes of output, and of any single string built
    size_t max_items = 1u << 20;           // elements of any list built (range(), repetition)
};

struct Node;

class Template {
public:
    // Parses `source`; throws Error (with position) for a syntax error or a template nested
    // deeper than limits.max_depth.
    explicit Template(std::string_view source, Limits limits = {});
    ~Template();
    Template(Template&&) noexcept;
    Template& operator=(Template&&) noexcept;

    // Renders with `context` (an object: messages, tools, add_generation_prompt, bos_token...).
    // `now` is what strftime_now() formats (local time); 0 means the current time. Throws Error.
    std::string render(const Value& context, std::time_t now = 0) const;

    const std::string& source() const { return m_source; }

private:
    std::string m_source;      // normalized: \r\n and \r become \n, one trailing \n removed
    Limits m_limits;
    std::unique_ptr<Node> m_root;
};

}  // namespace sigma::jinja
