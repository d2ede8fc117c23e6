// base/paths.h - where SigmaOps keeps things on this machine (XDG base directories) and which
// version it is. Used by every front end (terminal, desktop) and every agent that stores data.
#pragma once

#include <string>

namespace sigmaops {

// The XDG base directories for SigmaOps. resolve() only computes the paths; whoever writes
// there creates the directory (mode 0700).
struct AppPaths {
    std::string data_dir;     // $XDG_DATA_HOME/sigmaops or ~/.local/share/sigmaops
    std::string config_dir;   // $XDG_CONFIG_HOME/sigmaops or ~/.config/sigmaops
    std::string history_db;   // data_dir/history.db
    static AppPaths resolve();
};

// "0.1.0": the project version from CMake.
std::string app_version();

} // namespace sigmaops
