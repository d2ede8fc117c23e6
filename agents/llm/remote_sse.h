// remote_sse.h - private to agents/llm: the server-sent events stream of an OpenAI-compatible
// endpoint (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
// parsed incrementally, whatever the chunking of the bytes. Used by remote.cpp; tested by
// tests/llm/test_llm_remote_sse.cpp and fuzzed by tests/fuzz/fuzz_sse.cpp.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sigmaops::llm::remote {

// One dispatched event: its type ("" = "message") and its data lines joined with "\n".
struct SseEvent {
    std::string event;
    std::string data;
};

// Feed bytes as they arrive; complete events come out. Lines end in "\n", "\r\n" or "\r" (a "\r"
// at the end of a chunk waits for the next one, so a "\r\n" split between chunks is one line
// end). A line starting with ':' is a comment (keep-alives); "field: value" drops one space after
// the colon; fields other than data/event (id, retry, unknown) are ignored; an empty line
// dispatches the event when it has data. A UTF-8 BOM at the very start is skipped. A line longer
// than k_max_line bytes is an error (a broken or hostile server), reported by error().
class SseParser {
public:
    static constexpr std::size_t k_max_line = 8u << 20;

    // Parses `bytes`; returns the events completed by them (in order). After an error, nothing more.
    std::vector<SseEvent> feed(std::string_view bytes);
    // The stream ended: an event still being built is dropped (the spec's rule), except that a
    // pending "data:" line without its final blank line is delivered, since some servers close
    // right after "data: [DONE]\n".
    std::vector<SseEvent> finish();
    const std::string& error() const { return m_error; }

private:
    void line(std::string_view l, std::vector<SseEvent>& out);

    std::string m_line;           // the current, unfinished line
    bool m_after_cr = false;      // the last byte was '\r': a following '\n' belongs to it
    bool m_started = false;       // past a possible BOM
    std::string m_event, m_data;
    bool m_has_data = false;
    std::string m_error;
};

} // namespace sigmaops::llm::remote
