// The lines of the desktop-session reader (host/session_wire.h): each fact
// survives the round trip, text cannot break a line, and malformed lines are
// refused.
#include "host/session_wire.h"

#include <gtest/gtest.h>

namespace himalaya::host {
namespace {

SessionLine text_line(SessionLine::Kind kind, const std::string& text) {
  SessionLine line;
  line.kind = kind;
  line.text = text;
  return line;
}

TEST(SessionWire, AwayIsOneOrZero) {
  SessionLine away;
  away.away = true;
  EXPECT_EQ(format_session_line(away), "away 1\n");
  away.away = false;
  EXPECT_EQ(format_session_line(away), "away 0\n");
  auto parsed = parse_session_line("away 1\n");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->kind, SessionLine::Kind::away);
  EXPECT_TRUE(parsed->away);
  parsed = parse_session_line("away 0");
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(parsed->away);
}

TEST(SessionWire, TextFactsSurviveTheRoundTrip) {
  for (SessionLine::Kind kind :
       {SessionLine::Kind::source, SessionLine::Kind::problem, SessionLine::Kind::log}) {
    for (const std::string text : {"session 3 (this process's)", "", "a  b "}) {
      const std::string line = format_session_line(text_line(kind, text));
      auto parsed = parse_session_line(line);
      ASSERT_TRUE(parsed) << line;
      EXPECT_EQ(parsed->kind, kind);
      EXPECT_EQ(parsed->text, text);
    }
  }
}

TEST(SessionWire, TextNeverBreaksTheLine) {
  const std::string line =
      format_session_line(text_line(SessionLine::Kind::problem, "no system bus\nsource x\r"));
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto parsed = parse_session_line(line);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->kind, SessionLine::Kind::problem);
  EXPECT_EQ(parsed->text, "no system bus source x ");
}

TEST(SessionWire, MalformedLinesAreRefused) {
  for (const char* line : {"", "away", "away 2", "away 1 2", "away true", "Away 1", "source",
                           "idle 1", " away 1", "problem\n"}) {
    EXPECT_FALSE(parse_session_line(line)) << '"' << line << '"';
  }
}

}  // namespace
}  // namespace himalaya::host
