// cli/commands.h - one function per subcommand file, each returning its table entry
// (commands.cpp puts them in order).
#pragma once

#include "command.h"

namespace sigmaops::cli {

Command chat_command();         // cmd_chat.cpp
Command generate_command();     // cmd_model.cpp
Command logits_command();       // cmd_model.cpp
Command model_command();        // cmd_model.cpp
Command bench_command();        // cmd_model.cpp
Command perplexity_command();   // cmd_model.cpp
Command history_command();      // cmd_history.cpp
Command hosts_command();        // cmd_hosts.cpp
Command run_command();          // cmd_hosts.cpp
Command logs_command();         // cmd_logs.cpp
Command diagnose_command();     // cmd_logs.cpp
Command shell_command();        // cmd_shell.cpp
Command tune_command();         // cmd_tune.cpp
Command rollback_command();     // cmd_change.cpp
Command cmd_command();          // cmd_cmd.cpp
Command explain_command();      // cmd_explain.cpp
Command backend_command();      // cmd_backend.cpp
Command man_command();          // docgen.cpp
Command completion_command();   // docgen.cpp
Command serve_command();        // cmd_serve.cpp

// The terminal program: `sigmaops ARGS...` with the process's streams. Returns the exit code.
int main(const std::vector<std::string>& argv);

} // namespace sigmaops::cli
