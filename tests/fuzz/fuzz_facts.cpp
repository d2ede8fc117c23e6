// fuzz_facts.cpp - libFuzzer target for the config agent's host-side text handling: the host
// facts parser (config::parse_facts, fed a remote command's output) and the text hunks
// (line_hunks / apply_text_hunks / render_file_change). Invariants, checked on any bytes:
// parse_facts never fails and its JSON reads back to the same JSON; for input split at its
// first NUL into BEFORE and AFTER, applying every hunk of line_hunks(BEFORE, AFTER) gives AFTER,
// applying none gives BEFORE, and the renderers do not crash.
#include <config/config.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto facts = sigmaops::config::parse_facts(in);
    const std::string json = sigmaops::config::facts_json(facts);
    auto back = sigmaops::config::facts_from_json(json);
    if (!back || sigmaops::config::facts_json(*back) != json) std::abort();

    const std::size_t nul = in.find('\0');
    if (nul == std::string_view::npos || size > 4096) return 0;  // the LCS is quadratic: keep inputs small
    sigmaops::config::FileChange c;
    c.path = "/fuzz.conf";
    c.before = std::string(in.substr(0, nul));
    const std::string after(in.substr(nul + 1));
    c.hunks = sigmaops::config::line_hunks(c.before, after);
    auto all = sigmaops::config::apply_text_hunks(c.before, c.hunks);
    if (!all || *all != after) std::abort();
    auto none = sigmaops::config::apply_text_hunks(c.before, {});
    if (!none || *none != c.before) std::abort();
    (void)sigmaops::config::render_file_change(c);
    (void)sigmaops::config::file_change_diff(c);
    return 0;
}
