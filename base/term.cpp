// term.cpp - see base/term.h.
#include <base/term.h>

#include <cstdlib>
#include <cstring>

namespace sigmaops {

bool color_allowed_by_env() {
    const char* no_color = std::getenv("NO_COLOR");
    if (no_color && *no_color) return false;
    const char* term = std::getenv("TERM");
    return !(term && std::strcmp(term, "dumb") == 0);
}

std::string colored_risk(std::string_view r) {
    const char* sgr = r == "read-only"                               ? "32"
                      : r == "changes-files" || r == "changes-system" ? "33"
                      : r == "destructive"                             ? "31"
                      : r == "irreversible"                            ? "1;31"
                                                                       : "35";
    return std::string("\x1b[") + sgr + "m" + std::string(r) + "\x1b[0m";
}

} // namespace sigmaops
