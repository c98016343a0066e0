// An in-process IMAP server on 127.0.0.1 for the client tests: it runs on the
// test's io_context, serves one connection at a time, plaintext or TLS (a
// certificate the test made), and plays a well-behaved Dovecot-like server
// unless told to stall after the login or to drop the connection.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace himalaya::imap::testing {

class FakeServer {
 public:
  // `tls` null: plaintext. The context must outlive the server.
  FakeServer(boost::asio::io_context& io, boost::asio::ssl::context* tls);
  ~FakeServer();

  std::uint16_t port() const { return port_; }
  // Unsolicited bytes to the current client ("* 2 EXISTS\r\n").
  void send(const std::string& bytes);
  // Drops the current connection without a word (a crash, a cut cable).
  void drop();

  std::string greeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN IDLE] fake ready\r\n";
  std::string login_capabilities = "IMAP4rev1 IDLE";
  bool answer_login = true;                             // false: the login is never answered
  bool refuse_login = false;                            // answer the login with NO
  std::string refusal_text = "Authentication failed.";  // after the NO's response code
  // With a TLS context: start in plaintext and offer STARTTLS (set before
  // the client connects; the greeting should then list STARTTLS).
  bool starttls = false;

  // What the server saw: each command line, and how far the client got.
  std::vector<std::string> lines;
  int connections = 0;
  int plaintext_lines = 0;
  int handshake_failures = 0;
  bool idling = false;
  bool logged_out = false;

 private:
  struct Peer;
  void accept();
  void serve(std::shared_ptr<Peer> peer);
  void read(std::shared_ptr<Peer> peer);
  void answer(const std::shared_ptr<Peer>& peer, const std::string& line);
  void write(const std::shared_ptr<Peer>& peer, std::string bytes);
  void flush(const std::shared_ptr<Peer>& peer);

  boost::asio::io_context& io_;
  boost::asio::ssl::context* tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::shared_ptr<Peer> current_;
};

}  // namespace himalaya::imap::testing
