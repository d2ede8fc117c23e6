// The event-stream parser of the remote backend (agents/llm/remote_sse.h): the same events
// whatever the chunking of the bytes (every split point, byte by byte), CRLF/CR/LF line ends
// split across chunks, comments, multi-line data, the optional space, a BOM, [DONE], a stream
// that ends without its blank line, and a runaway line.
#include <catch2/catch.hpp>

#include "remote_sse.h"

#include <string>
#include <vector>

using sigmaops::llm::remote::SseEvent;
using sigmaops::llm::remote::SseParser;

namespace {

std::vector<SseEvent> all(const std::vector<std::string>& chunks) {
    SseParser p;
    std::vector<SseEvent> out;
    for (const std::string& c : chunks)
        for (auto& e : p.feed(c)) out.push_back(e);
    for (auto& e : p.finish()) out.push_back(e);
    REQUIRE(p.error().empty());
    return out;
}

std::vector<std::string> datas(const std::vector<SseEvent>& es) {
    std::vector<std::string> out;
    for (const auto& e : es) out.push_back(e.data);
    return out;
}

// An OpenAI-style stream as llama.cpp's server, vLLM and OpenAI write it, with the odd parts
// the spec allows: CRLF, a comment (keep-alive), "data:" without a space, a multi-line event,
// a named event, an id and a retry line, UTF-8 text.
const std::string k_stream =
    ": keep-alive\r\n"
    "\r\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hé\"}}]}\r\n"
    "\r\n"
    "id: 7\n"
    "retry: 100\n"
    "data:{\"choices\":[{\"delta\":{\"content\":\"llo ✓\"}}]}\n"
    "\n"
    "event: error\r"
    "data: line one\r"
    "data: line two\r"
    "\r"
    "data: [DONE]\n"
    "\n";

const std::vector<std::string> k_expected = {"{\"choices\":[{\"delta\":{\"content\":\"Hé\"}}]}",
                                             "{\"choices\":[{\"delta\":{\"content\":\"llo ✓\"}}]}", "line one\nline two",
                                             "[DONE]"};

} // namespace

TEST_CASE("sse: one chunk gives the events, comments and id/retry lines ignored", "[llm][remote]") {
    auto es = all({k_stream});
    CHECK(datas(es) == k_expected);
    REQUIRE(es.size() == 4);
    CHECK(es[0].event.empty());
    CHECK(es[2].event == "error");
    CHECK(es[3].event.empty());   // the event type does not leak into the next event
}

TEST_CASE("sse: every split into two chunks gives the same events", "[llm][remote]") {
    for (std::size_t i = 0; i <= k_stream.size(); ++i) {
        INFO("split at " << i);
        CHECK(datas(all({k_stream.substr(0, i), k_stream.substr(i)})) == k_expected);
    }
}

TEST_CASE("sse: byte by byte gives the same events", "[llm][remote]") {
    std::vector<std::string> bytes;
    for (char c : k_stream) bytes.emplace_back(1, c);
    CHECK(datas(all(bytes)) == k_expected);
}

TEST_CASE("sse: a CRLF split between chunks is one line end, not an empty line", "[llm][remote]") {
    // "data: a\r" | "\ndata: b\r\n\r\n": one event "a\nb", not "a" then "b".
    CHECK(datas(all({"data: a\r", "\ndata: b\r\n\r\n"})) == std::vector<std::string>{"a\nb"});
}

TEST_CASE("sse: a BOM at the start is skipped, also when split", "[llm][remote]") {
    CHECK(datas(all({"\xEF\xBB\xBF" "data: x\n\n"})) == std::vector<std::string>{"x"});
    CHECK(datas(all({"\xEF", "\xBB", "\xBF" "data: x\n\n"})) == std::vector<std::string>{"x"});
    CHECK(datas(all({"\xEF\xBB"})).empty());
}

TEST_CASE("sse: a stream that ends without the final blank line still gives its last data", "[llm][remote]") {
    CHECK(datas(all({"data: {\"a\":1}\n\ndata: [DONE]"})) == std::vector<std::string>{"{\"a\":1}", "[DONE]"});
    CHECK(datas(all({"data: [DONE]\n"})) == std::vector<std::string>{"[DONE]"});
    // Only comments and empty lines: nothing.
    CHECK(all({": ping\n\n: ping\n\n\n"}).empty());
    // "data" alone is an empty data line; an event with empty data is still an event.
    CHECK(datas(all({"data\n\n"})) == std::vector<std::string>{""});
    // A field without a colon other than data is ignored; "data: " keeps what follows the one space.
    CHECK(datas(all({"nonsense\ndata:  two spaces\n\n"})) == std::vector<std::string>{" two spaces"});
}

TEST_CASE("sse: a line longer than the limit is an error, and nothing comes after it", "[llm][remote]") {
    SseParser p;
    std::string big(1 << 20, 'x');
    bool failed = false;
    for (std::size_t sent = 0; sent <= SseParser::k_max_line + big.size(); sent += big.size()) {
        p.feed(big);
        if (!p.error().empty()) {
            failed = true;
            break;
        }
    }
    CHECK(failed);
    CHECK_THAT(p.error(), Catch::Contains("longer than"));
    CHECK(p.feed("\n\ndata: late\n\n").empty());
    CHECK(p.finish().empty());
}
