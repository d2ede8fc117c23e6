// ui/command_notes.h - what the desktop chat shows under an answer about the shell commands in it
// (issue 17 item 9): each command's risk with its reasons, and a mark when it does not parse or
// names a program this machine lacks. The rating is agents/commands' annotate_answer; this file
// only turns it into the notice text the transcript shows.
#pragma once

#include <QString>

namespace sigmaops::ui {

// The notice for `answer`, or an empty string when the answer shows no command. Programs are
// checked on this machine with one read-only `sh` probe (no history cache in the window: the
// probe costs a few milliseconds and runs only when an answer holds commands).
QString commandNotes(const QString& answer);

} // namespace sigmaops::ui
