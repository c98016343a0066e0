// How the host and its desktop-session reader (himalaya-coord-session,
// host/session_main.cpp) talk: plain text, one fact per line, on the
// child's stdout.
//
// Why a process of its own: reading logind's hints needs libsystemd
// (sd-bus), which costs every host that maps it about 1.5 MiB of RSS; only
// the primary runs the reader, so only it pays (README, "Measured").
//
// host -> reader: nothing; the reader exits when its stdin closes (the host
// stopped it, or died).
// reader -> host, one line per change:
//   away 1 | away 0       the session is idle or locked / in use
//   source <text>         which session is read ("" while none is)
//   problem <text>        why the hints are not read ("" while they are)
//   log <text>            a line for the host log
// Text never holds a newline (format_session_line replaces it).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace himalaya::host {

struct SessionLine {
  enum class Kind { away, source, problem, log };
  Kind kind = Kind::away;
  bool away = false;  // Kind::away
  std::string text;   // the others
};

// The line for `line`, with its trailing newline.
std::string format_session_line(const SessionLine& line);

// The fact in one line (without or with its newline); nullopt when it is not
// one of the forms above.
std::optional<SessionLine> parse_session_line(std::string_view line);

}  // namespace himalaya::host
