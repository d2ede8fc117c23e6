// remote/remote_cli.h - the "sigmaops hosts ..." and "sigmaops run --hosts ..." subcommands.
// The app's main dispatches here with the arguments after the subcommand name.
// Exit codes: 0 ok, 1 failure (any host failed), 2 usage error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace sigmaops::remote {

// hosts list | add NAME --host H [--user U] [--port P] [--identity F] [--proxy-jump J]
//       | rm NAME | test NAME | --help
int run_hosts_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// run --hosts a,b,c [--parallel N] [--timeout S] -- CMD...   (or --help)
int run_exec_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace sigmaops::remote
