// config/config_flow.h - private to agents/config: the service commands the change flow runs
// (services.cpp) and the hash it journals (change.cpp).
#pragma once

#include "config/config.h"

#include <string>

namespace sigmaops::config {

std::string binary_of(const ServiceTarget& t);
std::string validate_command(const ServiceTarget& t);
// Redis: CONFIG SET for each directive that differs between `before` and `after`. `auth_file`:
// redis: a file on the host whose requirepass the running server may have (the backup of the
// original), tried before target.config_path; the password goes to redis-cli via REDISCLI_AUTH,
// read on the host by the command itself.
std::string reload_command(const ServiceTarget& t, const std::string& before, const std::string& after,
                           const std::string& auth_file = {});
std::string start_command(const ServiceTarget& t);
std::string alive_command(const ServiceTarget& t);
std::string probe_command(const ServiceTarget& t, const std::string& auth_file = {});

// sysctl: the keys a file sets (Item::key_norm), the last value of each, in order of first
// appearance; `optional` for a "-key" line (errors setting it are ignored). Empty when the text
// does not parse.
struct SysctlAssignment {
    std::string key, value;
    bool optional = false;
};
std::vector<SysctlAssignment> sysctl_assignments(const std::string& text);
// The keys of `after` whose value differs from `before`'s (whitespace runs compared as one space).
std::vector<SysctlAssignment> sysctl_changed(const std::string& before, const std::string& after);
// /proc/sys/... for a key_norm; "" when the key has characters beyond [A-Za-z0-9_.:@/-].
std::string sysctl_proc_path(const std::string& key);
// Prints "KEY=VALUE" for each key that exists (its running value, first line).
std::string sysctl_read_command(const std::vector<std::string>& keys);
std::vector<std::pair<std::string, std::string>> parse_sysctl_read(const std::string& out);
// Writes each running value back (values are quoted; keys checked by sysctl_proc_path).
std::string sysctl_write_command(const std::vector<std::pair<std::string, std::string>>& values);
std::string collapse_ws(std::string_view s);
// systemd drop-ins: is the drop-in loaded and no daemon-reload pending (systemd running only).
std::string systemd_loaded_command(const ServiceTarget& t);
bool probe_ok(const ServiceTarget& t, const std::string& out);
std::string workers_command(const ServiceTarget& t);  // nginx: the master's children; "" for others

std::string sha256_hex(std::string_view data);

// The secrets a config file holds (redis requirepass/masterauth, as written and as read; those of
// two characters or more): what the journal masks as "[secret]" and what no export may contain.
std::vector<std::string> config_secrets(const ServiceTarget& t, const std::string& text);

} // namespace sigmaops::config
