// Small helpers shared by the configuration reader's files: mbsync compares
// keywords case-insensitively, and every error names its line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mbsync/error.h"

namespace himalaya::mbsync::detail {

using Failure = std::optional<Error>;

// ASCII case-insensitive equality (mbsync's strcasecmp).
bool iequals(std::string_view a, std::string_view b);

inline Error at(int line, std::string message) {
  return Error{"", line, std::move(message)};
}

// An error when a keyword that takes one word was given more than one.
Failure single(const std::vector<std::string>& words, int line);

}  // namespace himalaya::mbsync::detail
