// remote_sse.cpp - the incremental event-stream parser (remote_sse.h).
#include "remote_sse.h"

namespace sigmaops::llm::remote {

void SseParser::line(std::string_view l, std::vector<SseEvent>& out) {
    if (l.empty()) {
        if (m_has_data) out.push_back({m_event, m_data});
        m_event.clear();
        m_data.clear();
        m_has_data = false;
        return;
    }
    if (l.front() == ':') return;   // a comment
    const std::size_t colon = l.find(':');
    std::string_view field = l.substr(0, colon), value;
    if (colon != std::string_view::npos) {
        value = l.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
        if (m_has_data) m_data += '\n';
        m_data.append(value);
        m_has_data = true;
    } else if (field == "event") {
        m_event.assign(value);
    }
}

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
    std::vector<SseEvent> out;
    if (!m_error.empty()) return out;
    if (!m_started) {
        // The BOM may itself arrive split: wait until three bytes (or a mismatch) are known.
        static constexpr std::string_view bom = "\xEF\xBB\xBF";
        m_line.append(bytes);
        const std::size_t n = std::min(m_line.size(), bom.size());
        if (m_line.compare(0, n, bom.substr(0, n)) == 0 && m_line.size() < bom.size()) return out;
        std::string pending = std::move(m_line);
        m_line.clear();
        m_started = true;
        if (pending.compare(0, bom.size(), bom) == 0) pending.erase(0, bom.size());
        return feed(pending);
    }
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const char c = bytes[i];
        if (m_after_cr) {
            m_after_cr = false;
            if (c == '\n') continue;   // the second half of "\r\n"
        }
        if (c == '\r' || c == '\n') {
            m_after_cr = c == '\r';
            line(m_line, out);
            m_line.clear();
            continue;
        }
        // Copy the run of ordinary bytes at once.
        std::size_t j = i;
        while (j < bytes.size() && bytes[j] != '\r' && bytes[j] != '\n') ++j;
        m_line.append(bytes.substr(i, j - i));
        i = j - 1;
        if (m_line.size() > k_max_line) {
            m_error = "an event-stream line longer than " + std::to_string(k_max_line) + " bytes";
            m_line.clear();
            return out;
        }
    }
    return out;
}

std::vector<SseEvent> SseParser::finish() {
    std::vector<SseEvent> out;
    if (!m_error.empty()) return out;
    if (!m_started) {
        m_started = true;   // fewer than three bytes, all a BOM prefix: nothing
        m_line.clear();
    }
    if (!m_line.empty()) line(m_line, out);
    m_line.clear();
    if (m_has_data) out.push_back({m_event, m_data});
    m_event.clear();
    m_data.clear();
    m_has_data = false;
    return out;
}

} // namespace sigmaops::llm::remote
