// cli/tune_host.h - `tune SERVICE --host H [--apply]` (cmd_change.cpp), hooked into the tune
// table of cmd_tune.cpp by add_host_mode().
#pragma once

#include "command.h"

#include <config/config.h>

namespace sigmaops::cli {

// Facts, rules, the diff; with --apply the journaled change flow, asking hunk by hunk.
int run_tune_on_host(const Invocation& c, config::Service service);
std::vector<Flag> tune_host_flags();
// Adds --host/--apply to the entries that exist (postgres, sshd: with --host they go to
// run_tune_on_host) and the host-only entries (nginx, redis).
void add_host_mode(Command& tune);

} // namespace sigmaops::cli
