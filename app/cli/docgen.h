// cli/docgen.h - the man page sigmaops(1) and the bash, zsh and fish completions, generated from
// the command table (command.h): the entries `--help` prints, so none of them can drift from it
// (STYLE rule 20). A command added to the table shows up in all four at the next build, which
// runs `sigmaops man` and `sigmaops completion SHELL` (app/CMakeLists.txt) and installs the output.
//
// What completes: subcommands at every level (with their summaries in zsh and fish), each
// command's options (name, alias, help), an option's value by Flag::complete (args.h; derived from
// its placeholder: files, directories, hosts from ~/.ssh/config, hosts.conf and known_hosts, login
// names, fixed choices such as auto|cpu|cuda) and a leaf command's first argument by its usage (FILE:
// files). The scripts need nothing but the shell (no bash-completion package).
#pragma once

#include "command.h"

#include <string>
#include <vector>

namespace sigmaops::cli {

// `f`'s completion with Auto resolved from its placeholder; a switch gives None.
Complete completion_of(const Flag& f);
// The fixed choices of a placeholder like "md|json" ({"md", "json"}); empty when there are none.
std::vector<std::string> choices_of(const Flag& f);
// What a leaf command's first positional argument completes to, from its usage (the first
// placeholder that is not an option's value): "FILE", "FILE...", "PATH" a file, "DIR" a
// directory, "H"/"HOST" a host; None otherwise. A group completes its subcommands instead.
Complete positional_of(const Command& c);

// The man page in roff (man(7)): NAME, SYNOPSIS, DESCRIPTION, OPTIONS, COMMANDS (every entry,
// depth first, with its usage, options and notes), EXIT STATUS, ENVIRONMENT, FILES, SECURITY,
// SEE ALSO, AUTHORS, COPYRIGHT (with the tldr-pages CC BY 4.0 attribution). `version` goes in .TH.
std::string man_page(const Command& root, const std::string& version);
// Completion scripts for `sigmaops` (the program name is fixed).
std::string bash_completion(const Command& root);
std::string zsh_completion(const Command& root);
std::string fish_completion(const Command& root);

} // namespace sigmaops::cli
