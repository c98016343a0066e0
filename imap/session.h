// The IMAP watcher's protocol, as a pure object: bytes from the server and
// the time in; bytes to write, events and the next deadline out.
//
// Session knows RFC 3501 and RFC 2177 for one job: log in, EXAMINE one
// mailbox (read-only, so no flag ever changes) and IDLE on it, reporting
// every EXISTS, EXPUNGE and FETCH. It owns no socket, no timer and no TLS, so
// tests and the fuzzer drive it with any byte split and any clock; client.h
// drives it over Asio.
//
// The steps: greeting; CAPABILITY (unless the greeting's [CAPABILITY] code
// said it); STARTTLS when configured (the NeedTls event asks the driver for a
// handshake, then tls_started()); AUTHENTICATE PLAIN or LOGIN, as the server
// offers and Options::auth_mechs allow; CAPABILITY again unless the login's
// OK carried it; EXAMINE; IDLE, re-issued (DONE, then IDLE) every
// idle_refresh; LOGOUT on logout().
//
// Contract:
// - Every command has a reply deadline (reply_timeout); deadline() is the
//   earliest time the session wants on_timer(), and a reply missing by then
//   ends the session with a timed_out event.
// - A session ends once: after bye, auth_failed, no_idle, protocol_error,
//   timed_out or logged_out, finished() holds, nothing more is written and
//   later input is ignored. The driver closes the connection.
// - Output::trace never holds the password: LOGIN and AUTHENTICATE lines and
//   their literals are redacted there. Only Output::bytes carries it.
// - STARTTLS: bytes that arrive after its OK, before the handshake, are a
//   protocol error (they were injected in plaintext), never read as commands'
//   replies.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "imap/response_parser.h"

namespace himalaya::imap {

using TimePoint = std::chrono::steady_clock::time_point;

struct Options {
  std::string user;
  std::string password;
  std::string mailbox = "INBOX";
  bool starttls = false;  // send STARTTLS before logging in (never falls back to plaintext)
  // mbsync's AuthMechs, upper case: "PLAIN" (AUTHENTICATE PLAIN), "LOGIN" (the
  // LOGIN command), or "*" for any. Empty means any.
  std::vector<std::string> auth_mechs;
  std::chrono::milliseconds reply_timeout = std::chrono::seconds(30);
  std::chrono::milliseconds idle_refresh = std::chrono::minutes(25);
  ResponseParser::Limits limits;
};

struct Event {
  enum class Kind {
    ready,            // the mailbox is examined; IDLE follows
    idling,           // the server accepted IDLE (also after each refresh)
    mailbox_changed,  // EXISTS, EXPUNGE or FETCH after ready
    need_tls,         // STARTTLS accepted: handshake, then call tls_started()
    no_idle,          // the server does not offer IDLE: the session logs out
    auth_failed,      // the server refused the login, or no mechanism fits
    bye,              // the server closed the session
    protocol_error,   // malformed or unexpected input, or a command refused
    timed_out,        // a reply did not come by its deadline
    logged_out,       // logout() completed
  };
  enum class Change { none, exists, expunge, fetch };

  Kind kind = Kind::ready;
  Change change = Change::none;
  std::uint32_t number = 0;  // mailbox_changed: the message count or number
  std::string message;       // what happened, in words for a log (never the password)
};

struct Output {
  std::string bytes;  // to write to the server, in order
  std::string trace;  // the same commands for a debug log, password redacted
  std::vector<Event> events;
};

class Session {
 public:
  explicit Session(Options options);

  // Starts waiting for the greeting.
  Output start(TimePoint now);
  // Bytes read from the server.
  Output receive(const char* data, std::size_t size, TimePoint now);
  // The TLS handshake after need_tls is done: the session asks for the
  // capabilities again (RFC 3501 §6.2.1: the old ones are forgotten).
  Output tls_started(TimePoint now);
  // Call when now >= deadline().
  Output on_timer(TimePoint now);
  // Ends the session cleanly: DONE if idling, then LOGOUT. The logged_out
  // event follows the server's reply (or timed_out).
  Output logout(TimePoint now);

  std::optional<TimePoint> deadline() const;
  bool finished() const { return step_ == Step::finished; }
  const std::vector<std::string>& capabilities() const { return capabilities_; }
  // The step the session is at, for logs: "greeting", "login", "idling", ...
  const char* step_name() const;

 private:
  enum class Step {
    idle_start,  // not started
    greeting,
    capability,
    starttls,
    handshake,  // need_tls sent, waiting for tls_started()
    authenticate,
    examine,
    idle_request,  // IDLE sent, waiting for "+"
    idling,
    idle_done,  // DONE sent, waiting for the IDLE's OK
    logout,
    finished,
  };

  void handle(const Response& r, TimePoint now, Output& out);
  void handle_tagged(const Response& r, TimePoint now, Output& out);
  void handle_continuation(TimePoint now, Output& out);
  void after_capabilities(TimePoint now, Output& out);
  void authenticate(TimePoint now, Output& out);
  void send(const std::string& command, const std::string& trace, TimePoint now, Output& out);
  void finish(Event::Kind kind, std::string message, Output& out);
  bool has_capability(const std::string& name) const;
  bool mech_allowed(const std::string& mech) const;

  Options options_;
  ResponseParser parser_;
  Step step_ = Step::idle_start;
  unsigned next_tag_ = 1;
  std::string tag_;  // the command awaiting its tagged reply
  std::vector<std::string> capabilities_;
  bool have_capabilities_ = false;
  bool authenticated_ = false;
  bool tls_done_ = false;
  bool selected_ = false;
  bool logout_wanted_ = false;
  // A synchronizing literal's continuation: what to send after the next "+".
  std::vector<std::string> pending_parts_;
  std::optional<TimePoint> reply_deadline_;
  std::optional<TimePoint> refresh_at_;
};

// RFC 3501 astring for a command argument: a quoted string, or a literal
// split into the parts sent around the server's "+" when the value holds CR,
// LF or 8-bit bytes. Empty when the value cannot be sent (a NUL byte).
std::vector<std::string> astring_parts(const std::string& value);

}  // namespace himalaya::imap
