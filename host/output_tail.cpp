#include "host/output_tail.h"

namespace himalaya::host {

std::string valid_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(in[k]); };
    unsigned char b = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80;  // bounds of the second byte, for overlongs and surrogates
    unsigned char high = 0xBF;
    if (b < 0x80) {
      length = 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      length = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      length = 3;
      low = b == 0xE0 ? 0xA0 : 0x80;
      high = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
      length = 4;
      low = b == 0xF0 ? 0x90 : 0x80;
      high = b == 0xF4 ? 0x8F : 0xBF;
    }
    bool ok = length > 0 && i + length <= in.size();
    for (std::size_t k = 1; ok && k < length; ++k) {
      unsigned char c = byte(i + k);
      ok = k == 1 ? (c >= low && c <= high) : (c >= 0x80 && c <= 0xBF);
    }
    if (ok) {
      out.append(in.substr(i, length));
      i += length;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

void OutputTail::append(const char* data, std::size_t size) {
  text_.append(data, size);
  if (text_.size() > 2 * max_bytes) {
    text_.erase(0, text_.size() - max_bytes);
    cut_ = true;
  }
}

std::string OutputTail::text() const {
  std::string_view s = text_;
  bool cut = cut_;
  if (s.size() > max_bytes) {
    s.remove_prefix(s.size() - max_bytes);
    cut = true;
  }
  if (cut) {
    std::size_t newline = s.find('\n');
    if (newline != std::string_view::npos && newline + 1 < s.size()) {
      s.remove_prefix(newline + 1);  // drop the partial first line
    }
  }
  std::size_t end = s.size();
  if (end > 0 && s[end - 1] == '\n') {
    --end;  // the final newline ends the last line; it does not start one
  }
  int newlines = 0;
  for (std::size_t i = end; i > 0; --i) {
    if (s[i - 1] == '\n' && ++newlines == max_lines) {
      s.remove_prefix(i);
      break;
    }
  }
  return valid_utf8(s);
}

}  // namespace himalaya::host
