// One IMAP IDLE connection on the host's io_context: TCP, TLS, and a Session
// (session.h) fed from the socket.
//
// Threading: every handler runs on the given io_context, which one thread
// runs (as in the host); the Client is not thread-safe and needs no locks.
//
// Life cycle: create(), start(), then events arrive through Handlers; the
// connection ends exactly once, with Handlers::on_closed and a reason, after
// which nothing more is called. stop() logs out (DONE, LOGOUT) and closes
// when the server answers or the reply deadline passes; it is also safe while
// connecting. The Client keeps itself alive while an operation is pending, so
// the owner may drop its pointer after stop(). Reconnecting is the owner's
// job (with backoff.h): a Client is one connection.
//
// How it stays correct:
// - The certificate is always verified: against certificate_file and/or the
//   system store, and the server's name or IP address is checked against it
//   (OpenSSL's X509_VERIFY_PARAM host and IP checks). A failure closes with
//   OpenSSL's reason ("self-signed certificate", "hostname mismatch").
// - STARTTLS: no read is pending when the session asks for the handshake, so
//   no plaintext byte after the STARTTLS reply is ever taken as TLS data or a
//   reply; Session rejects any such byte already read.
// - A dead peer is noticed within about a minute: TCP keepalive (20 s idle,
//   then 3 probes 10 s apart, and TCP_USER_TIMEOUT for unacknowledged writes),
//   a deadline on connecting, and Session's deadline on every reply.
// - The password reaches only the socket: Handlers::on_trace gets Session's
//   redacted trace.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "imap/session.h"

namespace himalaya::imap {

struct Endpoint {
  enum class Tls { none, implicit, starttls };

  std::string host;
  std::uint16_t port = 993;
  Tls tls = Tls::implicit;
  std::string certificate_file;     // PEM file of trusted certificates; may be empty
  bool system_certificates = true;  // also trust the system store
};

struct ClientOptions {
  Endpoint endpoint;
  Options session;  // starttls is set from endpoint.tls
  // Resolving, connecting and (with implicit TLS) the handshake, together.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(15);
};

struct Handlers {
  std::function<void(const Event&)> on_event;
  std::function<void(const std::string& reason)> on_closed;
  std::function<void(const std::string& line)> on_trace;  // optional; never holds the password
};

class Client {
 public:
  static std::shared_ptr<Client> create(boost::asio::io_context& io, ClientOptions options,
                                        Handlers handlers);
  virtual ~Client() = default;

  virtual void start() = 0;
  virtual void stop() = 0;
  // True until on_closed has run.
  virtual bool open() const = 0;
};

}  // namespace himalaya::imap
