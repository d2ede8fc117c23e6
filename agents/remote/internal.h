// remote/internal.h - helpers shared by the remote module's sources (private).
#pragma once

#include "remote.h"

#include <string>

namespace sigmaops::remote {

int log_level();
void log(int level, const std::string& message);  // never pass secrets

std::string home_dir();
std::string xdg_config_dir();                      // $XDG_CONFIG_HOME/sigmaops or ~/.config/sigmaops
std::string expand_tilde(const std::string& path);
std::string shell_quote(const std::string& s);     // 'single quoted' for sh

}  // namespace sigmaops::remote
