// base/term.h - colour on a terminal, decided and drawn the same way by every front end: the
// terminal chat, `sigmaops cmd` and the confirmation prompt (which an agent writes on /dev/tty,
// with a colour flag its caller sets from these).
#pragma once

#include <string>
#include <string_view>

namespace sigmaops {

// Whether the environment lets a terminal have colour: NO_COLOR (https://no-color.org) unset or
// empty and TERM not "dumb". Whether the stream is a terminal is the caller's part.
bool color_allowed_by_env();
// A risk name (shell::risk_name: read-only ... irreversible) in its colour: green read-only,
// yellow changes-files/changes-system, magenta unknown, red destructive, bold red irreversible.
std::string colored_risk(std::string_view risk_name);

} // namespace sigmaops
