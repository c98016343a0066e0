#include "tests/support/imap_fake_server.h"

#include <array>
#include <boost/asio/write.hpp>
#include <deque>

namespace himalaya::imap::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct FakeServer::Peer {
  Peer(asio::io_context& io, asio::ssl::context* context, bool tls_now)
      : stream(io, context ? *context : plain_context()), tls(tls_now) {}
  static asio::ssl::context& plain_context() {
    static asio::ssl::context unused(asio::ssl::context::tls_server);
    return unused;
  }
  void close() {
    error_code ec;
    stream.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream.next_layer().close(ec);
    closed = true;
  }

  asio::ssl::stream<tcp::socket> stream;
  bool tls;
  bool closed = false;
  bool writing = false;
  bool close_after_write = false;
  bool upgrading = false;  // STARTTLS answered: handshake once the OK is out
  std::array<char, 4096> buffer{};
  std::string in;
  std::deque<std::string> out;
  std::string idle_tag;
};

FakeServer::FakeServer(asio::io_context& io, asio::ssl::context* tls)
    : io_(io), tls_(tls), acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  accept();
}

FakeServer::~FakeServer() {
  error_code ec;
  acceptor_.close(ec);
  if (current_) {
    current_->close();
  }
}

void FakeServer::accept() {
  auto peer = std::make_shared<Peer>(io_, tls_, tls_ != nullptr && !starttls);
  acceptor_.async_accept(peer->stream.next_layer(), [this, peer](error_code ec) {
    if (ec) {
      return;  // closed
    }
    ++connections;
    peer->tls = tls_ != nullptr && !starttls;  // read now: set after construction
    if (current_) {
      current_->close();
    }
    current_ = peer;
    if (peer->tls) {
      peer->stream.async_handshake(asio::ssl::stream_base::server, [this, peer](error_code hec) {
        if (hec) {
          ++handshake_failures;
          peer->close();
          return;
        }
        serve(peer);
      });
    } else {
      serve(peer);
    }
    accept();
  });
}

void FakeServer::serve(std::shared_ptr<Peer> peer) {
  write(peer, greeting);
  read(std::move(peer));
}

void FakeServer::read(std::shared_ptr<Peer> peer) {
  auto on_read = [this, peer](error_code ec, std::size_t n) {
    if (ec || peer->closed) {
      peer->close();
      return;
    }
    peer->in.append(peer->buffer.data(), n);
    for (std::size_t end; (end = peer->in.find("\r\n")) != std::string::npos;) {
      const std::string line = peer->in.substr(0, end);
      peer->in.erase(0, end + 2);
      lines.push_back(line);
      plaintext_lines += peer->tls ? 0 : 1;
      answer(peer, line);
    }
    if (!peer->upgrading) {
      read(peer);
    }
  };
  if (peer->tls) {
    peer->stream.async_read_some(asio::buffer(peer->buffer), on_read);
  } else {
    peer->stream.next_layer().async_read_some(asio::buffer(peer->buffer), on_read);
  }
}

void FakeServer::answer(const std::shared_ptr<Peer>& peer, const std::string& line) {
  if (line == "DONE") {
    idling = false;
    write(peer, peer->idle_tag + " OK Idle completed.\r\n");
    return;
  }
  const std::size_t space = line.find(' ');
  const std::string tag = line.substr(0, space);
  const std::string command = space == std::string::npos ? "" : line.substr(space + 1);
  if (command.rfind("AUTHENTICATE", 0) == 0 || command.rfind("LOGIN", 0) == 0) {
    if (refuse_login) {
      write(peer, tag + " NO [AUTHENTICATIONFAILED] " + refusal_text + "\r\n");
    } else if (answer_login) {
      write(peer, tag + " OK [CAPABILITY " + login_capabilities + "] Logged in\r\n");
    }
  } else if (command == "STARTTLS" && starttls && !peer->tls) {
    peer->upgrading = true;
    write(peer, tag + " OK Begin TLS negotiation now.\r\n");
  } else if (command == "CAPABILITY") {
    write(peer, "* CAPABILITY " + login_capabilities + "\r\n" + tag + " OK done\r\n");
  } else if (command.rfind("EXAMINE", 0) == 0) {
    write(peer, "* 1 EXISTS\r\n* 0 RECENT\r\n" + tag + " OK [READ-ONLY] Examine completed.\r\n");
  } else if (command == "IDLE") {
    peer->idle_tag = tag;
    idling = true;
    write(peer, "+ idling\r\n");
  } else if (command == "LOGOUT") {
    logged_out = true;
    peer->close_after_write = true;
    write(peer, "* BYE Logging out\r\n" + tag + " OK Logout completed.\r\n");
  } else {
    write(peer, tag + " BAD unknown command\r\n");
  }
}

void FakeServer::send(const std::string& bytes) {
  if (current_) {
    write(current_, bytes);
  }
}

void FakeServer::drop() {
  if (current_) {
    current_->close();
    idling = false;
  }
}

void FakeServer::write(const std::shared_ptr<Peer>& peer, std::string bytes) {
  if (peer->closed) {
    return;
  }
  peer->out.push_back(std::move(bytes));
  if (!peer->writing) {
    flush(peer);
  }
}

void FakeServer::flush(const std::shared_ptr<Peer>& peer) {
  peer->writing = true;
  auto on_written = [this, peer](error_code ec, std::size_t) {
    peer->writing = false;
    peer->out.pop_front();
    if (ec || peer->closed) {
      peer->close();
    } else if (!peer->out.empty()) {
      flush(peer);
    } else if (peer->close_after_write) {
      peer->close();
    } else if (peer->upgrading) {
      peer->stream.async_handshake(asio::ssl::stream_base::server, [this, peer](error_code hec) {
        peer->upgrading = false;
        if (hec) {
          ++handshake_failures;
          peer->close();
          return;
        }
        peer->tls = true;
        read(peer);
      });
    }
  };
  if (peer->tls) {
    asio::async_write(peer->stream, asio::buffer(peer->out.front()), on_written);
  } else {
    asio::async_write(peer->stream.next_layer(), asio::buffer(peer->out.front()), on_written);
  }
}

}  // namespace himalaya::imap::testing
