// fuzz_knowledge.cpp - libFuzzer target for the knowledge module's parsers (agents/knowledge): the
// tldr page parser (and its placeholders), the man page / --help OPTIONS parser with the NAME
// summary, and the flag check reading documentation text it is handed (a remote target's man page
// is untrusted text).
//
// Contract under test: none of them throws or reads outside the input for any bytes; every
// placeholder span lies inside its command and holds "{{...}}"; every option entry has a name
// that starts with '-'; every unknown-flag offset lies inside the command. The first byte picks
// the parser. Build and run: docs/fuzzing.md.
#include <knowledge/knowledge.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace kn = sigmaops::knowledge;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 3) {
    case 0: {
        auto p = kn::parse_tldr_page(text, "common");
        if (!p) break;
        for (const kn::Example& e : p->examples)
            for (const kn::Placeholder& ph : e.placeholders) {
                if (ph.begin > ph.end || ph.end > e.command.size()) std::abort();
                if (e.command.compare(ph.begin, 2, "{{") != 0 || e.command.compare(ph.end - 2, 2, "}}") != 0) std::abort();
                if (ph.is_option() && ph.alternatives.empty()) std::abort();
            }
        for (const kn::Example& e : p->examples) (void)kn::fill_placeholders(e);
        break;
    }
    case 1: {
        for (const kn::OptionDoc& d : kn::parse_man_options(text)) {
            if (d.names.empty()) std::abort();
            for (const std::string& n : d.names)
                if (n.size() < 2 || n[0] != '-') std::abort();
        }
        (void)kn::man_summary(text);
        break;
    }
    default: {
        // The input is both the documentation of `prog` and, after its first newline, a command.
        const size_t nl = text.find('\n');
        const std::string doc = text.substr(0, nl == std::string::npos ? text.size() : nl);
        const std::string cmd = "prog " + (nl == std::string::npos ? std::string() : text.substr(nl + 1));
        kn::DocProvider provider = [&](const std::string&) -> std::optional<std::string> { return text; };
        auto r = kn::check_flags(cmd, provider, nullptr);
        if (r)
            for (const kn::FlagProblem& f : r->unknown)
                if (f.offset > cmd.size()) std::abort();
        (void)doc;
        break;
    }
    }
    return 0;
}
