// IMAP server responses (RFC 3501 §7, RFC 2177): bytes in, Responses out.
//
// ResponseParser is pure: it is fed arbitrary byte chunks (a TLS record, one
// byte, a whole session) and yields each complete response once. It knows the
// subset a watcher needs (greeting, tagged results, response codes, CAPABILITY,
// EXISTS/EXPUNGE/RECENT/FETCH, FLAGS, continuations) and skips every other
// untagged response whole, literals included, so a server that says more than
// we asked for never desynchronises us.
//
// Contract:
// - next() yields complete responses in order, or "need more bytes", or an
//   Error naming what was wrong. After an error the parser is spent (the
//   stream cannot be resynchronised) and every later next() repeats it.
// - Memory is bounded: a response's text (its lines without literal contents)
//   longer than max_line is an error as soon as that many bytes are buffered
//   without a line end; a literal longer than max_literal is an error when its
//   `{n}` is read; literal contents are counted off, never stored. A caller
//   that drains next() after every feed() of at most one read buffers at most
//   max_line plus that read.
// - Nothing throws out of feed() or next() but std::bad_alloc from feed().
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace himalaya::imap {

struct Error {
  std::string message;
};

template <class T>
using Result = common::Result<T, Error>;

struct Response {
  enum class Kind {
    tagged,        // "A1 OK ..."
    status,        // "* OK|NO|BAD|PREAUTH|BYE ..." (greetings among them)
    data,          // "* CAPABILITY ...", "* 3 EXISTS", ...
    continuation,  // "+ ..."
  };
  enum class Status { none, ok, no, bad, preauth, bye };
  enum class Data { none, capability, exists, expunge, recent, fetch, flags, other };

  Kind kind = Kind::status;
  std::string tag;                        // tagged
  Status status = Status::none;           // tagged, status
  std::string code;                       // the response code's name, upper case ("UIDVALIDITY")
  std::string code_text;                  // what follows the name inside [...]
  std::string text;                       // the human-readable rest, continuation text
  Data data = Data::none;                 // data
  std::uint32_t number = 0;               // EXISTS, EXPUNGE, RECENT, FETCH
  std::vector<std::string> capabilities;  // CAPABILITY data or [CAPABILITY] code, upper case
};

class ResponseParser {
 public:
  struct Limits {
    std::size_t max_line = 64 * 1024;
    std::size_t max_literal = 16 * 1024 * 1024;
  };

  ResponseParser() : ResponseParser(Limits{}) {}
  explicit ResponseParser(Limits limits);

  void feed(const char* data, std::size_t size);
  // The next complete response; an empty optional when more bytes are needed.
  Result<std::optional<Response>> next();
  // Bytes fed but not yet part of a yielded response. STARTTLS needs none left
  // after its OK: anything more was sent in plaintext before the handshake.
  std::size_t buffered() const { return buffer_.size() - start_; }

 private:
  Result<std::optional<Response>> fail(std::string reason);
  void compact();

  Limits limits_;
  std::string buffer_;       // unread bytes from start_
  std::size_t start_ = 0;    // where the unread bytes begin
  std::size_t scanned_ = 0;  // bytes after start_ already searched for a line end
  std::string line_;         // the response so far: its lines, literals as "{n}"
  std::size_t literal_left_ = 0;
  std::optional<Error> error_;
};

// Parses one whole response: its lines joined, each literal left as "{n}" and
// its contents dropped, without the final CRLF. Exposed for tests.
Result<Response> parse_response(const std::string& line);

}  // namespace himalaya::imap
