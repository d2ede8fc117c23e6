// cli/command.h - the table every `sigmaops` subcommand is an entry of (STYLE rule 20, git.c's
// commands[]): its name, one-line summary, usage, options and handler. The dispatcher parses
// the options, answers --help with text generated from the entry, and turns a UsageError into
// exit code 2; the same table drives the top-level help (and later the man page and completions).
#pragma once

#include "args.h"

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace sigmaops::cli {

// Where a command reads and writes: the process's streams, or string streams in tests.
struct Io {
    std::istream& in;
    std::ostream& out;
    std::ostream& err;
};

struct Command;

// What a handler gets: the parsed options, the streams, and its entry.
struct Invocation {
    const Args& args;
    Io& io;
    const Command& command;
    std::string path;              // "history list": the words that selected this entry
};

// Exit codes: 0 success, 1 runtime failure (model, file, host, database), 2 usage error.
constexpr int k_exit_ok = 0, k_exit_failure = 1, k_exit_usage = 2;

struct Command {
    std::string name;              // "list"
    std::string summary;           // one line, shown in the parent's command list
    std::string usage;             // after "usage: sigmaops <path> ": "[--limit N] [--offset N]"
    std::vector<Flag> flags;
    std::string notes;             // more help text, printed after the options
    std::function<int(const Invocation&)> run;   // null for a group of subcommands
    std::vector<Command> subcommands;            // selected by the first word after the name
};

// The help of `command` reached as `sigmaops <path>`: usage, summary, subcommands, options, notes.
std::string help_text(const Command& command, const std::string& path);

// Runs `argv` (the words after the program name) against the root entry: selects the
// subcommand, parses its options, answers --help, runs the handler. Usage errors are printed as
// "sigmaops: MESSAGE" plus a pointer to the right --help, and return k_exit_usage.
int dispatch(const Command& root, const std::vector<std::string>& argv, Io& io);

// The terminal app's root entry: every subcommand (commands.cpp).
const Command& sigmaops_command();

} // namespace sigmaops::cli
