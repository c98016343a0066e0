#include "mbsync/keywords.h"

#include <algorithm>

namespace himalaya::mbsync {

namespace detail {

bool iequals(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

Failure single(const std::vector<std::string>& words, int line) {
  if (words.size() > 2 && iequals(words[0], "Pass")) {
    // The extra words are likely part of the password: never repeat them.
    return at(line, "excess words after " + words[0] + " (quote a password that holds spaces)");
  }
  if (words.size() > 2) {
    return at(line, "excess token '" + words[2] + "' after " + words[0] +
                        " (quote a value that holds spaces)");
  }
  return std::nullopt;
}

}  // namespace detail
}  // namespace himalaya::mbsync
