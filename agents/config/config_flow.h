// config/config_flow.h - private to agents/config: the service commands the change flow runs
// (services.cpp) and the hash it journals (change.cpp).
#pragma once

#include "config/config.h"

#include <string>

namespace sigmaops::config {

std::string binary_of(const ServiceTarget& t);
std::string validate_command(const ServiceTarget& t);
// Redis: CONFIG SET for each directive that differs between `before` and `after`.
std::string reload_command(const ServiceTarget& t, const std::string& before, const std::string& after);
std::string start_command(const ServiceTarget& t);
std::string alive_command(const ServiceTarget& t);
std::string probe_command(const ServiceTarget& t);
bool probe_ok(const ServiceTarget& t, const std::string& out);
std::string workers_command(const ServiceTarget& t);  // nginx: the master's children; "" for others

std::string sha256_hex(std::string_view data);

} // namespace sigmaops::config
