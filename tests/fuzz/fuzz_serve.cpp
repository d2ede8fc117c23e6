// fuzz_serve - `sigmaops serve`'s untrusted input (agents/serve): any bytes as a request body for
// both endpoints (parse_request must return a Job or an ApiError with a 4xx status, never crash),
// and the stop-string filter fed the same bytes in pieces: what it emits is always a prefix of
// the input, and never contains a stop string.
#include "serve_internal.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace sigmaops::serve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    for (bool chat : {true, false}) {
        Job job;
        bool stream = false, include_usage = false, has_rf = false;
        if (auto e = parse_request(text, chat, "m", job, stream, include_usage, has_rf)) {
            if (e->status < 400 || e->status > 499 || e->message.empty()) std::abort();
        } else if (chat ? job.messages.empty() : job.prompt.empty()) {
            std::abort();
        }
    }
    // Stop strings: the first two 4-byte slices (when there are), pieces cut at every 3rd byte.
    if (size < 9) return 0;
    std::vector<std::string> stops = {text.substr(0, 4), text.substr(4, 4)};
    const std::string input = text.substr(8);
    StopFilter f(stops);
    std::string out;
    for (size_t i = 0; i < input.size() && !f.matched(); i += 3) out += f.push(std::string_view(input).substr(i, 3));
    out += f.flush();
    if (input.compare(0, out.size(), out) != 0) std::abort();
    for (const auto& s : stops)
        if (out.find(s) != std::string::npos) std::abort();
    if (!f.matched() && out != input) std::abort();
    return 0;
}
