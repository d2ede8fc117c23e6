// base/text.h - small text helpers every front end and agent needs the same way.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sigmaops {

// The longest prefix of `s` of at most n bytes that does not cut a UTF-8 character.
std::string_view utf8_prefix(std::string_view s, std::size_t n);
// "3.67 GB", "512.0 KB", "12 B" (decimal units).
std::string human_bytes(double bytes);

} // namespace sigmaops
