// libFuzzer target: the grammar parser and matcher of constrained decoding (engine/src/grammar) on
// any bytes. The input is a grammar; when it parses, a matcher over a small vocabulary of pieces
// (ASCII, multi-byte UTF-8, partial characters, an end token) takes random allowed tokens driven
// by the input's bytes and checks that what it accepts is what its mask allowed.
#include "grammar/grammar.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

using namespace sigma::grammar;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::shared_ptr<const TokenTable> table = [] {
        std::vector<TokenInfo> t = {{TokenInfo::Kind::End, "", false, ""}};
        for (const char* p : {"a", "b", "ab", "ba", " ", " a", "\n", "\"", "'", "\\", "{", "}", "[", "]", "0", "12", "-",
                              "é", "\xC3", "\xA9", "€", "\xE2\x82", "```", "```sh\n", "x y", "\t", ":", ","})
            t.push_back({TokenInfo::Kind::Text, p, p[0] == ' ', p[0] == ' ' ? std::string(p + 1) : std::string()});
        t.push_back({TokenInfo::Kind::Never, "<|user|>", false, ""});
        return std::make_shared<TokenTable>(std::move(t));
    }();
    const std::string text(reinterpret_cast<const char*>(data), size);
    std::shared_ptr<const Grammar> g;
    try {
        g = Grammar::parse(text);
    } catch (const ParseError& e) {
        if (e.offset > size) __builtin_trap();   // an error must point into the input
        return 0;
    }
    try {
        Matcher m(g, table);
        for (size_t step = 0; step < 32 && !m.ended(); ++step) {
            const std::vector<uint64_t> mask = m.allowed();
            std::vector<int32_t> ok;
            for (int32_t t = 0; t < table->size(); ++t)
                if ((mask[size_t(t) >> 6] >> (t & 63)) & 1) ok.push_back(t);
            if (ok.empty()) break;
            const int32_t pick = ok[(size ? data[step % size] : 0) % ok.size()];
            if (!m.accept(pick)) __builtin_trap();   // the mask allowed it
        }
    } catch (const sigma::Exception&) {
        // too ambiguous: refused with an error
    }
    return 0;
}
