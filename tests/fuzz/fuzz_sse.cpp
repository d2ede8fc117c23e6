// libFuzzer target: the remote backend's event-stream parser (agents/llm/remote_sse.h) on any
// bytes. The first byte picks a chunk size; the events must not depend on the chunking (fed whole
// = fed in pieces = fed byte by byte), and nothing may crash or read out of bounds.
#include "remote_sse.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using sigmaops::llm::remote::SseEvent;
using sigmaops::llm::remote::SseParser;

namespace {

std::vector<SseEvent> parse(std::string_view s, std::size_t chunk) {
    SseParser p;
    std::vector<SseEvent> out;
    for (std::size_t i = 0; i < s.size(); i += chunk)
        for (auto& e : p.feed(s.substr(i, chunk))) out.push_back(std::move(e));
    for (auto& e : p.finish()) out.push_back(std::move(e));
    return out;
}

bool same(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].event != b[i].event || a[i].data != b[i].data) return false;
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::size_t chunk = 1 + data[0] % 17;
    const std::string_view s(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto whole = parse(s, s.size() ? s.size() : 1);
    if (!same(whole, parse(s, chunk))) std::abort();
    if (!same(whole, parse(s, 1))) std::abort();
    return 0;
}
