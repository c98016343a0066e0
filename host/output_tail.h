// The end of a command's output, kept for the user and the log (SPEC §6): at
// most the last 20 lines and 4 KiB, cut at a line boundary when cut at all,
// and always valid UTF-8 so that it can go into JSON and msgpack strings.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace himalaya::host {

// Appending is amortised O(1): the buffer is trimmed back to the last
// max_bytes whenever it grows to twice that.
class OutputTail {
 public:
  static constexpr std::size_t max_bytes = 4096;
  static constexpr int max_lines = 20;

  void append(const char* data, std::size_t size);
  // The last max_lines lines within max_bytes, starting at a line boundary
  // when anything was cut, as valid UTF-8.
  std::string text() const;

 private:
  std::string text_;
  bool cut_ = false;
};

// `in` with every byte that is not part of a well-formed UTF-8 sequence
// replaced by U+FFFD.
std::string valid_utf8(std::string_view in);

}  // namespace himalaya::host
