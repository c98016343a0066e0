#include "mbsync/tokens.h"

namespace himalaya::mbsync {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

}  // namespace

common::Result<LineWords, std::string> split_line(std::string_view line) {
  LineWords out;
  std::size_t i = 0;
  while (true) {
    while (i < line.size() && is_space(line[i])) {
      ++i;
    }
    if (i == line.size()) {
      return out;
    }
    if (line[i] == '#') {
      out.comment_only = out.words.empty();
      return out;
    }
    std::string word;
    bool quoted = false;
    bool escaped = false;
    for (; i < line.size(); ++i) {
      const char c = line[i];
      if (escaped) {
        if (static_cast<unsigned char>(c) < 32) {
          break;  // mbsync escapes printable characters only
        }
        word += c;
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && is_space(c)) {
        break;
      } else {
        word += c;
      }
    }
    if (escaped) {
      return std::string("unterminated escape sequence (a backslash ends the line)");
    }
    if (quoted) {
      return std::string("missing closing quote");
    }
    out.words.push_back(std::move(word));
  }
}

}  // namespace himalaya::mbsync
