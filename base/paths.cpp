// paths.cpp - AppPaths (XDG base directories) and the version string.
#include <base/paths.h>

#include <cstdlib>

namespace sigmaops {

static std::string home_dir() {
    const char* h = std::getenv("HOME");
    return h && *h ? h : "/tmp";
}

static std::string xdg(const char* var, const char* fallback_under_home) {
    const char* v = std::getenv(var);
    if (v && *v && v[0] == '/') return v;   // XDG: relative paths are invalid and ignored
    return home_dir() + "/" + fallback_under_home;
}

AppPaths AppPaths::resolve() {
    AppPaths p;
    p.data_dir = xdg("XDG_DATA_HOME", ".local/share") + "/sigmaops";
    p.config_dir = xdg("XDG_CONFIG_HOME", ".config") + "/sigmaops";
    p.history_db = p.data_dir + "/history.db";
    return p;
}

std::string app_version() { return SIGMAOPS_VERSION; }

} // namespace sigmaops
