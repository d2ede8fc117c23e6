// commands_internal.h - private to agents/commands (and its tests).
#pragma once

#include "commands/commands.h"

#include <base/text.h>

#include <string>
#include <string_view>

namespace sigmaops::commands {

// Cleans `s` (as clean_output) into `out` and returns how many bytes were consumed. When not
// `final`, an escape sequence, \r or UTF-8 character cut off by the end of `s` is left
// unconsumed, so a stream can be cleaned chunk by chunk without splitting one.
std::size_t clean_chunk(std::string_view s, bool final, std::string& out);

// Feeds a byte stream through clean_chunk, keeping the unconsumed tail between calls.
class StreamCleaner {
public:
    std::string feed(std::string_view bytes) {
        m_pending.append(bytes);
        std::string out;
        const std::size_t used = clean_chunk(m_pending, false, out);
        m_pending.erase(0, used);
        return out;
    }
    std::string finish() {
        std::string out;
        clean_chunk(m_pending, true, out);
        m_pending.clear();
        return out;
    }

private:
    std::string m_pending;
};

// The history row's risk for a classifier risk (history has a coarser scale):
// read-only -> read-only, changes-files -> low, changes-system -> medium, unknown -> unknown,
// destructive and irreversible -> high.
history::Risk history_risk(shell::Risk r);

// What history's approved_by holds: who, the risk they saw, how, and when:
// "alice (destructive, host name typed, proposed by the model; approved 2026-12-07 20:50:01 UTC)".
std::string approved_by_text(const Approval& a, const Proposal& p);

} // namespace sigmaops::commands
