// tests/ui/test_ui_command_notes.cpp - the desktop chat's notice about the shell commands in an
// answer (issue 17 item 9): rated, and marked when they do not parse or name a missing program.
#include <command_notes.h>

#include <catch2/catch.hpp>

using sigmaops::ui::commandNotes;

TEST_CASE("desktop command notes: an answer without a command gets no notice", "[ui][commands]") {
    CHECK(commandNotes(QStringLiteral("The inode table is full. Check it with the df command.")).isEmpty());
    CHECK(commandNotes(QString()).isEmpty());
}

TEST_CASE("desktop command notes: each command in a fence is rated with its reasons", "[ui][commands]") {
    const QString notes = commandNotes(QStringLiteral("Try this:\n```sh\nls -l /var/log\nrm -rf /\n```\n"));
    INFO(notes.toStdString());
    CHECK(notes.startsWith(QStringLiteral("Commands in this answer (not run):")));
    CHECK(notes.contains(QStringLiteral("$ ls -l /var/log\n    risk: read-only")));
    CHECK(notes.contains(QStringLiteral("$ rm -rf /\n    risk: irreversible")));
}

TEST_CASE("desktop command notes: a missing program and a command that does not parse are marked", "[ui][commands]") {
    // The default model's own answer to "find files larger than 1GB under /var" (issue 17 item 9).
    const QString notes = commandNotes(QStringLiteral("```\nfind . -name \"*.cpp\" | keep-header -- ls -l\n```\n"
                                                      "```sh\necho 'unclosed\n```\n"));
    INFO(notes.toStdString());
    CHECK(notes.contains(QStringLiteral("keep-header: program not found on this machine")));
    CHECK(notes.contains(QStringLiteral("does not parse: ")));
    CHECK_FALSE(notes.contains(QStringLiteral("find: program not found")));
}

TEST_CASE("desktop command notes: escape sequences in an answer do not reach the screen", "[ui][commands]") {
    const QString notes = commandNotes(QStringLiteral("```sh\necho \x1b[2Jhello\n```\n"));
    INFO(notes.toStdString());
    CHECK_FALSE(notes.contains(QChar(0x1b)));
}
