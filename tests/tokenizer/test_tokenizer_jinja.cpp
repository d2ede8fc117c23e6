// The chat-template interpreter (engine/src/tokenizer/jinja) against golden outputs rendered by
// Python's jinja2 the way transformers' apply_chat_template renders them
// (tools/ref/gen_template_goldens.py -> tests/fixtures/chat_templates/goldens.json): real templates
// of many model families must come out byte-identical, feature snippets too; and hostile
// templates must end with a positioned error in bounded time and memory.
#include "gguf/gguf.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/jinja/jinja.h"
#include "tokenizer/tokenizer.h"

#include <sigma/expected.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using sigma::jinja::Error;
using sigma::jinja::Template;
using sigma::jinja::Value;

namespace {

const std::string k_dir = std::string(SIGMAOPS_FIXTURES) + "/chat_templates/";

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

nlohmann::ordered_json goldens() {
    static const nlohmann::ordered_json j = nlohmann::ordered_json::parse(read_file(k_dir + "goldens.json"));
    return j;
}

// Where two strings first differ, with a window of each around it (escaped), for a readable failure.
std::string first_difference(const std::string& got, const std::string& want) {
    size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    const auto window = [&](const std::string& s) {
        const size_t b = i > 40 ? i - 40 : 0;
        return nlohmann::json(s.substr(b, 100)).dump();
    };
    return "first difference at byte " + std::to_string(i) + " (got " + std::to_string(got.size()) + " bytes, want " +
           std::to_string(want.size()) + ")\n  got:  ..." + window(got) + "\n  want: ..." + window(want);
}

std::string render(const std::string& src, const std::string& context_json = "{}") {
    return Template(src).render(sigma::jinja::value_from_json(context_json));
}

// Renders and expects a jinja::Error; returns it for inspection. Also bounds the time taken.
Error render_error(const std::string& src, const std::string& context_json = "{}", sigma::jinja::Limits limits = {}) {
    const std::clock_t t0 = std::clock();   // CPU time: the machine may be shared
    try {
        Template t(src, limits);
        (void)t.render(sigma::jinja::value_from_json(context_json));
    } catch (const Error& e) {
        const double s = double(std::clock() - t0) / CLOCKS_PER_SEC;
        INFO(e.what());
        CHECK(s < 5.0);
        return e;
    }
    FAIL("no error for: " << src.substr(0, 200));
    return Error("", 0, 0, 0);
}

}  // namespace

TEST_CASE("jinja: real chat templates render byte-identical to jinja2", "[tokenizer][jinja]") {
    const auto g = goldens();
    const auto manifest = nlohmann::ordered_json::parse(read_file(k_dir + "manifest.json"));
    REQUIRE(manifest.size() >= 15);
    std::map<std::string, std::unique_ptr<Template>> templates;
    size_t n_ok = 0, n_cases = 0;
    std::set<std::string> failed;
    for (const auto& c : g["cases"]) {
        const std::string name = c["template"];
        const std::string label = name + " / " + c["case"].get<std::string>() +
                                  (c["context"]["add_generation_prompt"].get<bool>() ? " / generation prompt" : "");
        INFO(label);
        auto& t = templates[name];
        if (!t) {
            try {
                t = std::make_unique<Template>(read_file(k_dir + name + ".jinja"));
            } catch (const Error& e) {
                FAIL_CHECK("parse error in " << name << ": " << e.what());
                failed.insert(name);
                continue;
            }
        }
        ++n_cases;
        const Value ctx = sigma::jinja::value_from_json(c["context"].dump());
        std::string out, err;
        bool raised = false;
        try {
            out = t->render(ctx, std::time_t(g["now"].get<int64_t>()));
        } catch (const Error& e) {
            err = e.what();
            raised = e.raised();
            if (c.contains("error_type") && c["error_type"] == "TemplateError") err = e.message();
        }
        if (c.contains("error")) {
            // jinja2 failed here: so must we; raise_exception()'s message must be the template's.
            INFO("jinja2 error: " << c["error"].get<std::string>() << "\nours: " << (err.empty() ? "(rendered)" : err));
            CHECK(!err.empty());
            if (c["error_type"] == "TemplateError") {
                CHECK(raised);
                CHECK(err == c["error"].get<std::string>());
            }
            if (!err.empty()) ++n_ok; else failed.insert(name);
            continue;
        }
        const std::string want = c["expected"];
        if (!err.empty()) {
            FAIL_CHECK("render error: " << err);
            failed.insert(name);
            continue;
        }
        if (out != want) {
            FAIL_CHECK(first_difference(out, want));
            failed.insert(name);
            continue;
        }
        ++n_ok;
    }
    std::string failed_list;
    for (const auto& f : failed) failed_list += " " + f;
    INFO("templates with failures:" << failed_list);
    CHECK(n_ok == n_cases);
    CHECK(templates.size() == manifest.size());
}

TEST_CASE("jinja: feature snippets render byte-identical to jinja2", "[tokenizer][jinja]") {
    const auto g = goldens();
    REQUIRE(g.contains("snippets"));
    for (const auto& s : g["snippets"]) {
        const std::string src = s["template"];
        INFO("template: " << src);
        std::string out, err;
        try {
            out = Template(src).render(sigma::jinja::value_from_json(s["context"].dump()), std::time_t(g["now"].get<int64_t>()));
        } catch (const Error& e) {
            err = e.what();
        }
        if (s.contains("error")) {
            INFO("jinja2 error: " << s["error"].get<std::string>());
            CHECK(!err.empty());
        } else {
            INFO("error: " << err);
            CHECK(err.empty());
            const std::string want = s["expected"];
            INFO(first_difference(out, want));
            CHECK(out == want);
        }
    }
}

TEST_CASE("jinja: errors name the line and column", "[tokenizer][jinja]") {
    const Error e = render_error("line one\n  {{ 1 + }}");
    CHECK(e.line() == 2);
    CHECK(e.column() == 10);
    CHECK(std::string(e.what()).rfind("line 2, column 10: ", 0) == 0);
    CHECK(render_error("{% for x in y %}never closed").message().find("endfor") != std::string::npos);
    CHECK(render_error("{{ 'unterminated }}").message().find("unterminated string") != std::string::npos);
    CHECK(render_error("{% bogus %}").message() == "unknown tag 'bogus'");
    CHECK(render_error("{% include 'x' %}").message().find("not supported") != std::string::npos);
    CHECK(render_error("{{ x | nosuchfilter }}").message() == "unknown filter 'nosuchfilter'");
    CHECK(render_error("{{ undefined_thing.attr }}").message() == "'undefined_thing' is undefined");
    CHECK(render_error("{{ 'a' + 1 }}").message().find("can only concatenate str") != std::string::npos);
    const Error raised = render_error("\n\n   {{ raise_exception('Only user and assistant roles') }}");
    CHECK(raised.raised());
    CHECK(raised.message() == "Only user and assistant roles");
    CHECK(raised.line() == 3);
}

TEST_CASE("jinja: hostile templates end with a clear error in bounded time and memory", "[tokenizer][jinja]") {
    // Endless recursion through a macro.
    CHECK(render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").message().find("nested more than") !=
          std::string::npos);
    // Huge loops: nested ranges, an iteration count far beyond any chat.
    CHECK(render_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
              .message().find("evaluation steps") != std::string::npos);
    CHECK(render_error("{{ range(1000000000) | length }}").message().find("too long") != std::string::npos);
    // Deep nesting while parsing: parentheses, lists, blocks, filters, unary operators.
    CHECK(render_error("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}").message().find("nested too deeply") !=
          std::string::npos);
    CHECK(render_error("{{ " + std::string(50000, '[') + " }}").message().find("unclosed '{{'") != std::string::npos);
    CHECK(render_error("{{ " + std::string(50000, '[') + std::string(50000, ']') + " }}").message().find("nested too deeply") !=
          std::string::npos);
    std::string ifs;
    for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
    CHECK(render_error(ifs).message().find("nested too deeply") != std::string::npos);
    CHECK(render_error("{{ " + std::string(100000, '-') + "1 }}").message().find("nested too deeply") != std::string::npos);
    std::string filters;
    for (int i = 0; i < 20000; ++i) filters += "|trim";
    CHECK(render_error("{{ 1" + filters + " }}").message().find("chain too long") != std::string::npos);
    std::string sums;
    for (int i = 0; i < 100000; ++i) sums += "+1";
    const std::string deep = render_error("{{ 1" + sums + " }}").message();
    CHECK((deep.find("chain too long") != std::string::npos || deep.find("nested too deeply") != std::string::npos));
    // Giant output and giant strings.
    CHECK(render_error("{{ 'x' * 1000000000 }}").message().find("longer than") != std::string::npos);
    CHECK(render_error("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}")
              .message().find("longer than") != std::string::npos);
    CHECK(render_error("{% for i in range(1000000) %}{{ 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy' }}{% endfor %}")
              .message().find("output exceeds") != std::string::npos);
    CHECK(render_error("{{ [1] * 100000000 }}").message().find("too long") != std::string::npos);
    // Deep or cyclic values: printing, JSON, == and freeing them recurse.
    CHECK(render_error("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}")
              .message().find("levels deep") != std::string::npos);
    CHECK(render_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}").message().find("cannot hold a namespace") !=
          std::string::npos);
    CHECK(render_error("{% set a = namespace() %}{% set b = namespace(x=[a]) %}").message().find("cannot hold a namespace") !=
          std::string::npos);
    CHECK(render_error("{% macro f(x) %}{{ f([x]) }}{% endmacro %}{{ f(1) }}").message().size() > 0);
    // Limits are the caller's to tighten.
    sigma::jinja::Limits tight;
    tight.max_output = 100;
    CHECK(render_error("{% for i in range(1000) %}ab{% endfor %}", "{}", tight).message().find("output exceeds") !=
          std::string::npos);
}

TEST_CASE("jinja: transformers' environment details", "[tokenizer][jinja]") {
    // trim_blocks, lstrip_blocks, '-' and '+' controls, the dropped trailing newline.
    CHECK(render("  {% if true %}\n  x\n  {% endif %}\n") == "  x\n");
    CHECK(render("a  {%- if true -%}  b  {%- endif %}\n\n") == "ab");
    CHECK(render("a\n{{- 'b' -}}\n c\n") == "abc");
    CHECK(render("  {%+ if true %}x{% endif %}") == "  x");
    CHECK(render("{# c #}\nx") == "x");
    CHECK(render("{% raw %}{{ not parsed }}{% endraw %}") == "{{ not parsed }}");
    // Loop scoping: a set inside a loop is gone after it; namespace() carries state out.
    CHECK(render("{% set x = 1 %}{% for i in [1,2] %}{% set x = i %}{% endfor %}{{ x }}") == "1");
    CHECK(render("{% set ns = namespace(n=0) %}{% for i in [1,2,3] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}") == "6");
    // {% generation %} (transformers' AssistantTracker) renders its body.
    CHECK(render("{% generation %}abc{% endgeneration %}") == "abc");
    // strftime_now uses the instant given to render().
    CHECK(Template("{{ strftime_now('%Y') }}").render(Value::undefined(), std::time_t(1721995200)) == "2024");
}

TEST_CASE("chat template: the model's own template, the fixed format as the fallback", "[tokenizer][jinja][chat]") {
    std::vector<std::string> warnings;
    const auto warn = [&](const std::string& w) { warnings.push_back(w); };
    const std::vector<sigma::ChatMessage> conv = {{"system", "Be terse."}, {"user", "Hi!"}};

    // A template that parses is what renders; a BOS it puts first is dropped when the tokenizer adds BOS.
    const std::string zephyr = read_file(k_dir + "zephyr-7b-beta.jinja");
    sigma::ModelChatTemplate own(zephyr, "llama", "<s>", "</s>", true, warn);
    CHECK(own.interpreted());
    CHECK(own.apply(conv, true) == "<|system|>\nBe terse.</s>\n<|user|>\nHi!</s>\n<|assistant|>\n");
    sigma::ModelChatTemplate llama2(read_file(k_dir + "llama2-chat.jinja"), "llama", "<s>", "</s>", true, warn);
    CHECK(llama2.apply({{"user", "Hi!"}}, true) == "[INST] Hi! [/INST]");
    sigma::ModelChatTemplate llama2_keep(read_file(k_dir + "llama2-chat.jinja"), "llama", "<s>", "</s>", false, warn);
    CHECK(llama2_keep.apply({{"user", "Hi!"}}, true) == "<s>[INST] Hi! [/INST]");
    CHECK(warnings.empty());

    // A template that does not parse: warned once at load, the detected fixed format renders.
    sigma::ModelChatTemplate broken("{% for m in messages %}<|im_start|>{{ m.role }", "qwen2", "", "<|im_end|>", false, warn);
    CHECK_FALSE(broken.interpreted());
    CHECK(broken.fallback() == sigma::ChatFormat::ChatML);
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("does not parse (line 1, column"));
    CHECK_THAT(warnings[0], Catch::Contains("'chatml' format"));
    CHECK(broken.apply(conv, true) == sigma::apply_chat_template(sigma::ChatFormat::ChatML, conv, true));
    CHECK_THROWS_AS(broken.apply_jinja(conv, true), sigma::Exception);
    CHECK(warnings.size() == 1);

    // A template that fails to render (Gemma's refuses a system role): one warning naming the
    // error, then the fixed Gemma format (which folds the system prompt into the first turn).
    warnings.clear();
    sigma::ModelChatTemplate gemma(read_file(k_dir + "gemma-7b-it.jinja"), "gemma", "<bos>", "<eos>", true, warn);
    CHECK(gemma.interpreted());
    CHECK(gemma.apply(conv, true) == sigma::apply_chat_template(sigma::ChatFormat::Gemma, conv, true));
    CHECK(gemma.apply(conv, true) == sigma::apply_chat_template(sigma::ChatFormat::Gemma, conv, true));
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("System role not supported"));
    CHECK_THAT(warnings[0], Catch::Contains("line 1, column"));
    CHECK(gemma.apply({{"user", "Hi!"}}, true) == "<start_of_turn>user\nHi!<end_of_turn>\n<start_of_turn>model\n");
    try {
        (void)gemma.apply_jinja(conv, true);
        FAIL("no error");
    } catch (const sigma::Exception& e) {
        CHECK_THAT(e.what(), Catch::Contains("refused the conversation"));
    }

    // No template: the fixed format for the architecture, no warning.
    sigma::ModelChatTemplate none("", "sigma", "<s>", "</s>", true, warn);
    CHECK_FALSE(none.interpreted());
    CHECK(none.apply(conv, true) == sigma::apply_chat_template(sigma::ChatFormat::Sigma, conv, true));
    CHECK(warnings.size() == 1);
}

TEST_CASE("chat template: the shipped model's own template gives the Sigma format's text and tokens", "[tokenizer][jinja][chat]") {
    const std::string path = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/models/sigma-ops-nano.gguf";
    const auto file = sigma::gguf::File::open(path);
    const auto tok = sigma::Tokenizer::from_gguf(*file);
    REQUIRE(tok);
    const sigma::Vocab& v = tok->vocab();
    REQUIRE_FALSE(v.chat_template.empty());
    std::vector<std::string> warnings;
    sigma::ModelChatTemplate own(v.chat_template, "sigma", tok->token_text(v.bos), tok->token_text(v.eos), v.add_bos && v.bos >= 0,
                                 [&](const std::string& w) { warnings.push_back(w); });
    REQUIRE(own.interpreted());
    CHECK(own.fallback() == sigma::ChatFormat::Sigma);
    const std::vector<std::vector<sigma::ChatMessage>> convs = {
        {{"user", "How do I show the disk usage of /var/log?"}},
        {{"system", "You are SigmaOps."}, {"user", "Grüße! df -h?"}, {"assistant", "```sh\ndf -h\n```"}, {"user", "and inodes? "}},
        {},
    };
    for (const auto& conv : convs) {
        for (bool gen : {true, false}) {
            const std::string fixed = sigma::apply_chat_template(sigma::ChatFormat::Sigma, conv, gen);
            const std::string text = own.apply(conv, gen);
            CHECK(text == fixed);
            CHECK(tok->encode(text, true, true) == tok->encode(fixed, true, true));
        }
    }
    CHECK(warnings.empty());
}
