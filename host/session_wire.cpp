#include "host/session_wire.h"

#include <algorithm>

namespace himalaya::host {

namespace {

const char* keyword(SessionLine::Kind kind) {
  switch (kind) {
    case SessionLine::Kind::away:
      return "away";
    case SessionLine::Kind::source:
      return "source";
    case SessionLine::Kind::problem:
      return "problem";
    case SessionLine::Kind::log:
      break;
  }
  return "log";
}

}  // namespace

std::string format_session_line(const SessionLine& line) {
  if (line.kind == SessionLine::Kind::away) {
    return line.away ? "away 1\n" : "away 0\n";
  }
  std::string text = line.text;
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return std::string(keyword(line.kind)) + " " + text + "\n";
}

std::optional<SessionLine> parse_session_line(std::string_view line) {
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
  }
  const std::size_t space = line.find(' ');
  if (space == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view word = line.substr(0, space);
  const std::string_view rest = line.substr(space + 1);
  SessionLine parsed;
  if (word == "away") {
    if (rest != "0" && rest != "1") {
      return std::nullopt;
    }
    parsed.away = rest == "1";
    return parsed;
  }
  for (SessionLine::Kind kind :
       {SessionLine::Kind::source, SessionLine::Kind::problem, SessionLine::Kind::log}) {
    if (word == keyword(kind)) {
      parsed.kind = kind;
      parsed.text = std::string(rest);
      return parsed;
    }
  }
  return std::nullopt;
}

}  // namespace himalaya::host
