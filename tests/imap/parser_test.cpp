// ResponseParser: every response shape the watcher reads, arbitrary splits,
// literals, and the limits and malformed input that must become errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "imap/response_parser.h"

namespace himalaya::imap {
namespace {

// Feeds `bytes` in chunks of `chunk` (0: all at once) and drains next() after
// each; returns the responses, and the error if one came.
struct Parsed {
  std::vector<Response> responses;
  std::optional<std::string> error;
};

Parsed parse_all(const std::string& bytes, std::size_t chunk = 0,
                 ResponseParser::Limits limits = {}) {
  ResponseParser parser(limits);
  Parsed out;
  std::size_t at = 0;
  do {
    const std::size_t n = chunk == 0 ? bytes.size() : std::min(chunk, bytes.size() - at);
    parser.feed(bytes.data() + at, n);
    at += n;
    for (;;) {
      auto next = parser.next();
      if (!next) {
        out.error = next.error().message;
        return out;
      }
      if (!next.value()) {
        break;
      }
      out.responses.push_back(*next.value());
    }
  } while (at < bytes.size());
  return out;
}

TEST(ImapParser, ReadsAGreetingWithCapabilities) {
  auto p = parse_all("* OK [CAPABILITY IMAP4rev1 IDLE auth=PLAIN] Dovecot ready.\r\n");
  ASSERT_FALSE(p.error);
  ASSERT_EQ(p.responses.size(), 1u);
  const Response& r = p.responses[0];
  EXPECT_EQ(r.kind, Response::Kind::status);
  EXPECT_EQ(r.status, Response::Status::ok);
  EXPECT_EQ(r.code, "CAPABILITY");
  EXPECT_EQ(r.capabilities, (std::vector<std::string>{"IMAP4REV1", "IDLE", "AUTH=PLAIN"}));
  EXPECT_EQ(r.text, "Dovecot ready.");
}

TEST(ImapParser, ReadsPreauthByeTaggedAndContinuation) {
  auto p = parse_all(
      "* PREAUTH hello\r\n* BYE going\r\nA1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
      "a2 bad x\r\n+ idling\r\n+\r\n");
  ASSERT_FALSE(p.error) << *p.error;
  ASSERT_EQ(p.responses.size(), 6u);
  EXPECT_EQ(p.responses[0].status, Response::Status::preauth);
  EXPECT_EQ(p.responses[1].status, Response::Status::bye);
  EXPECT_EQ(p.responses[1].text, "going");
  EXPECT_EQ(p.responses[2].kind, Response::Kind::tagged);
  EXPECT_EQ(p.responses[2].tag, "A1");
  EXPECT_EQ(p.responses[2].status, Response::Status::no);
  EXPECT_EQ(p.responses[2].code, "AUTHENTICATIONFAILED");
  EXPECT_EQ(p.responses[3].tag, "a2");
  EXPECT_EQ(p.responses[3].status, Response::Status::bad);
  EXPECT_EQ(p.responses[4].kind, Response::Kind::continuation);
  EXPECT_EQ(p.responses[4].text, "idling");
  EXPECT_EQ(p.responses[5].kind, Response::Kind::continuation);
}

TEST(ImapParser, ReadsMailboxData) {
  auto p = parse_all(
      "* FLAGS (\\Answered \\Seen $Forwarded)\r\n* 3 EXISTS\r\n* 0 recent\r\n"
      "* 2 EXPUNGE\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
      "* CAPABILITY IMAP4rev1 IDLE\r\n* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
      "* 7 FETCH (UID 9 FLAGS (\\Seen \"odd)\"))\r\n");
  ASSERT_FALSE(p.error) << *p.error;
  ASSERT_EQ(p.responses.size(), 8u);
  EXPECT_EQ(p.responses[0].data, Response::Data::flags);
  EXPECT_EQ(p.responses[1].data, Response::Data::exists);
  EXPECT_EQ(p.responses[1].number, 3u);
  EXPECT_EQ(p.responses[2].data, Response::Data::recent);
  EXPECT_EQ(p.responses[3].data, Response::Data::expunge);
  EXPECT_EQ(p.responses[3].number, 2u);
  EXPECT_EQ(p.responses[4].code, "UIDVALIDITY");
  EXPECT_EQ(p.responses[4].code_text, "1700000000");
  EXPECT_EQ(p.responses[5].data, Response::Data::capability);
  EXPECT_EQ(p.responses[5].capabilities, (std::vector<std::string>{"IMAP4REV1", "IDLE"}));
  EXPECT_EQ(p.responses[6].data, Response::Data::other);
  EXPECT_EQ(p.responses[7].data, Response::Data::fetch);
  EXPECT_EQ(p.responses[7].number, 7u);
}

// A FETCH whose literals hold CRLF, parentheses and what looks like a tagged
// reply: skipped whole, at every split.
const std::string fetch_with_literals =
    "* 1 FETCH (BODY[HEADER] {28}\r\nA1 OK fake\r\n((( {5}\r\n\r\n \"x\r\n UID 4 X {0}\r\n)\r\n"
    "* 5 EXISTS\r\n";

TEST(ImapParser, SkipsLiteralsAtEverySplit) {
  for (std::size_t chunk = 1; chunk <= fetch_with_literals.size(); ++chunk) {
    auto p = parse_all(fetch_with_literals, chunk);
    ASSERT_FALSE(p.error) << "chunk " << chunk << ": " << *p.error;
    ASSERT_EQ(p.responses.size(), 2u) << "chunk " << chunk;
    EXPECT_EQ(p.responses[0].data, Response::Data::fetch);
    EXPECT_EQ(p.responses[1].data, Response::Data::exists);
    EXPECT_EQ(p.responses[1].number, 5u);
  }
}

TEST(ImapParser, SplitsAtEveryByteBoundaryGiveTheSameResponses) {
  const std::string bytes =
      "* OK [CAPABILITY IMAP4rev1 IDLE] hi\r\nA1 OK done\r\n" + fetch_with_literals;
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    ResponseParser parser;
    std::vector<Response> seen;
    for (const auto& part : {bytes.substr(0, cut), bytes.substr(cut)}) {
      parser.feed(part.data(), part.size());
      for (auto next = parser.next(); next && next.value(); next = parser.next()) {
        seen.push_back(*next.value());
      }
    }
    ASSERT_EQ(seen.size(), 4u) << "cut at " << cut;
    EXPECT_EQ(seen[1].tag, "A1");
    EXPECT_EQ(seen[3].number, 5u);
    EXPECT_EQ(parser.buffered(), 0u);
  }
}

TEST(ImapParser, AnOverlongLineIsAnErrorBeforeItsEnd) {
  ResponseParser::Limits limits;
  limits.max_line = 100;
  ResponseParser parser(limits);
  const std::string chunk(60, 'x');
  parser.feed("* OK ", 5);
  parser.feed(chunk.data(), chunk.size());
  auto first = parser.next();
  ASSERT_TRUE(first);
  EXPECT_FALSE(first.value());
  parser.feed(chunk.data(), chunk.size());  // 125 bytes, no line end yet
  auto second = parser.next();
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("longer than 100"), std::string::npos);
  EXPECT_EQ(parser.buffered(), 0u);  // nothing kept after the error
  parser.feed("\r\n", 2);
  EXPECT_FALSE(parser.next());  // spent
}

TEST(ImapParser, ALineOfExactlyTheLimitPassesWhereverItIsSplit) {
  // Found by imap_fuzz: split between its CR and its LF, a line of max_line
  // bytes was refused (the CR counted as the line's), whole it was not.
  ResponseParser::Limits limits;
  limits.max_line = 64;
  const std::string line = "* OK " + std::string(59, 'x');
  ASSERT_EQ(line.size(), 64u);
  const std::string bytes = line + "\r\n";
  for (std::size_t chunk = 1; chunk <= bytes.size(); ++chunk) {
    const Parsed p = parse_all(bytes, chunk, limits);
    EXPECT_FALSE(p.error) << "chunks of " << chunk << ": " << *p.error;
    EXPECT_EQ(p.responses.size(), 1u) << "chunks of " << chunk;
  }
  for (std::size_t chunk = 1; chunk <= bytes.size() + 1; ++chunk) {
    EXPECT_TRUE(parse_all(line + "x\r\n", chunk, limits).error) << "chunks of " << chunk;
  }
}

TEST(ImapParser, LiteralContentsDoNotCountAgainstTheLineLimit) {
  ResponseParser::Limits limits;
  limits.max_line = 64;
  const std::string body(1000, 'b');
  auto p = parse_all("* 1 FETCH (BODY[] {1000}\r\n" + body + ")\r\n", 7, limits);
  ASSERT_FALSE(p.error) << *p.error;
  EXPECT_EQ(p.responses.size(), 1u);
}

TEST(ImapParser, AnOversizedLiteralIsAnError) {
  ResponseParser::Limits limits;
  limits.max_literal = 1000;
  auto p = parse_all("* 1 FETCH (BODY[] {1001}\r\n", 0, limits);
  ASSERT_TRUE(p.error);
  EXPECT_NE(p.error->find("literal"), std::string::npos);
  auto huge = parse_all("* 1 FETCH (BODY[] {99999999999999999999}\r\n");
  ASSERT_TRUE(huge.error);
}

TEST(ImapParser, MalformedInputNamesWhatWasWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"* OK hi\n", "LF without CR"},
      {"* OK h\ri\r\n", "CR without LF"},
      {std::string("* OK h\0i\r\n", 10), "NUL"},
      {"*OK\r\n", "no space after *"},
      {"* \r\n", "without a name"},
      {"A1 BYE x\r\n", "not OK, NO or BAD"},
      {"A1 FOO x\r\n", "not OK, NO or BAD"},
      {" OK\r\n", "without a tag"},
      {"* 99999999999 EXISTS\r\n", "bad message number"},
      {"* 3 EXISTS now\r\n", "text after EXISTS"},
      {"* 3 FETCH (FLAGS (\\Seen)\r\n", "unbalanced"},
      {"* 3 FETCH (X \"abc)\r\n", "unterminated quoted"},
      {"* 3 FETCH (X) Y\r\n", "after the end"},
      {"* 3 FETCH\r\n", "without its data"},
      {"* OK [ALERT hi\r\n", "not closed"},
      {"* FLAGS \\Seen\r\n", "parenthesised"},
      {"* 3 FETCH (" + std::string(100, '(') + std::string(101, ')') + "\r\n", "too deep"},
  };
  for (const auto& [bytes, expected] : cases) {
    auto p = parse_all(bytes);
    ASSERT_TRUE(p.error) << "accepted: " << bytes;
    EXPECT_NE(p.error->find(expected), std::string::npos)
        << "input " << bytes << " gave: " << *p.error;
  }
}

}  // namespace
}  // namespace himalaya::imap
