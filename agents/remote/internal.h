// remote/internal.h - helpers shared by the remote module's sources (private).
#pragma once

#include <remote/remote.h>

#include <string>
#include <vector>

namespace sigmaops::remote {

int log_level();
void log(int level, const std::string& message);  // never pass secrets

std::string home_dir();
std::string xdg_config_dir();                      // $XDG_CONFIG_HOME/sigmaops or ~/.config/sigmaops
std::string expand_tilde(const std::string& path);
std::string shell_quote(const std::string& s);     // 'single quoted' for sh

// One hop of a ProxyJump value: [user@]host[:port], an IPv6 address in brackets.
struct JumpHop {
    std::string user;  // empty: not given
    std::string host;
    int port = 0;      // 0: not given
};
// The hops of a ProxyJump value ("a,b": a first, then b), or why it is malformed.
Expected<std::vector<JumpHop>> parse_proxy_jump(const std::string& spec);

}  // namespace sigmaops::remote
