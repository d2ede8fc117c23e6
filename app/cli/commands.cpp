// commands.cpp - the table of `sigmaops` subcommands and the program's entry: no command (or
// options only) means chat; --version prints the versions.
#include "commands.h"
#include "common.h"

#include <base/paths.h>
#include <llm/llm.h>

#include <iostream>

namespace sigmaops::cli {

const Command& sigmaops_command() {
    static const Command root = [] {
        Command c;
        c.summary = "sigmaops - a local AI assistant for people who run servers";
        c.subcommands = {chat_command(),    generate_command(), logits_command(),  model_command(), bench_command(),
                         perplexity_command(), history_command(), hosts_command(), run_command(), shell_command(),
                         logs_command(), diagnose_command(), tune_command(), rollback_command(), cmd_command(), explain_command(), serve_command()};
        c.subcommands.push_back(backend_command());
        // The man page and completions, generated from this table (docgen.h).
        c.subcommands.push_back(man_command());
        c.subcommands.push_back(completion_command());
        // --history before the command (`sigmaops --history F history list`) goes to the command.
        c.flags = {{"--version", "-V", "", "print the version"}, history_flag()};
        c.notes = "Without a command, sigmaops chats (options alone go to chat: `sigmaops -m FILE`).\n"
                  "Models are looked up with -m FILE, then $SIGMAOPS_MODEL, then the data directory\n"
                  "($XDG_DATA_HOME/sigmaops/models), then the build and source trees.\n"
                  "exit status: 0 ok, 1 error, 2 usage error";
        return c;
    }();
    return root;
}

int main(const std::vector<std::string>& argv) {
    Io io{std::cin, std::cout, std::cerr};
    if (!argv.empty() && (argv[0] == "--version" || argv[0] == "-V")) {
        const llm::EngineInfo e = llm::engine_info();
        io.out << "sigmaops " << app_version() << " (engine " << e.version << ", cpu " << e.cpu_features
               << (e.cuda_built ? ", cuda kernels built" : "") << ")\n";
        return k_exit_ok;
    }
    // No command, or options only: the chat. Options the root passes down (--history F) may
    // come before a command's name.
    const bool top_help = !argv.empty() && (argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help");
    size_t i = 0;
    while (i < argv.size() && (argv[i] == "--history" || argv[i] == "--db")) i += 2;
    const bool command_follows = i > 0 && i < argv.size() && !argv[i].empty() && argv[i][0] != '-';
    if (argv.empty() || (!top_help && !command_follows && argv[0].size() > 1 && argv[0][0] == '-')) {
        std::vector<std::string> chat{"chat"};
        chat.insert(chat.end(), argv.begin(), argv.end());
        return dispatch(sigmaops_command(), chat, io);
    }
    return dispatch(sigmaops_command(), argv, io);
}

} // namespace sigmaops::cli
