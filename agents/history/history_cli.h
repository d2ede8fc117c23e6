// history/history_cli.h - `sigmaops history ...`: list, show, search, export, import and remove
// sessions of the SigmaOps history from the terminal. The app's main dispatches here with the
// database path from `--db FILE` or default_history_path().
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace sigmaops::history {

// Runs one history subcommand. `args` are the words after "history":
//   list [--limit N] [--offset N]
//   show ID
//   search TEXT... [--limit N] [--host HOST]
//   export ID --format md|json [-o FILE]
//   import FILE
//   rm ID [--yes]               (without --yes: asks on a terminal, refuses otherwise)
//   move-aside                  (renames a damaged database so a fresh one can be created)
//   --help
// Output goes to `out`, messages and errors to `err`.
// Returns 0 on success, 1 on a runtime error (database, file, not found), 2 on a usage error.
int run_history_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    const std::string& db_path);

} // namespace sigmaops::history
