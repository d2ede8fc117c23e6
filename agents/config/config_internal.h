// config_internal.h - helpers shared by the config agent's files (private to agents/config).
#pragma once

#include <config/config.h>

#include <map>
#include <string>
#include <string_view>

namespace sigmaops::config {

std::string lower_ascii(std::string_view s);
// The key as `format` compares it (Item::key_norm's rule).
std::string normalize_key(Format format, std::string_view key);
// The value of a setting as one string (args joined by one space).
std::string joined(const std::vector<std::string>& args);

} // namespace sigmaops::config
