#include "imap/client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <utility>

namespace himalaya::imap {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Keepalive: the first probe after 20 s of silence, then 3 probes 10 s apart:
// a peer that vanished without a FIN is noticed within 50 s. Unacknowledged
// writes give up after 60 s.
constexpr int keepalive_idle_s = 20;
constexpr int keepalive_interval_s = 10;
constexpr int keepalive_probes = 3;
constexpr unsigned user_timeout_ms = 60000;

bool is_final(Event::Kind kind) {
  return kind != Event::Kind::ready && kind != Event::Kind::idling &&
         kind != Event::Kind::mailbox_changed && kind != Event::Kind::need_tls;
}

class Connection final : public Client, public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, ClientOptions options, Handlers handlers)
      : io_(io),
        options_(std::move(options)),
        handlers_(std::move(handlers)),
        context_(ssl::context::tls_client),
        resolver_(io),
        connect_timer_(io),
        session_timer_(io),
        session_(session_options(options_)) {}

  void start() override;
  void stop() override;
  bool open() const override { return !closed_; }

 private:
  static Options session_options(const ClientOptions& o) {
    Options s = o.session;
    s.starttls = o.endpoint.tls == Endpoint::Tls::starttls;
    return s;
  }
  std::string where() const {
    return options_.endpoint.host + ":" + std::to_string(options_.endpoint.port);
  }
  bool setup_tls(std::string& why);
  void set_keepalive();
  void connected();
  void handshake(bool at_start);
  void begin();
  void read();
  void process(const Output& out);
  void arm_timer();
  void pump();
  void close(const std::string& reason);

  asio::io_context& io_;
  ClientOptions options_;
  Handlers handlers_;
  ssl::context context_;
  // Made in start(), once context_ is set up: an SSL copies its context's
  // settings when it is created.
  std::unique_ptr<ssl::stream<tcp::socket>> stream_;
  tcp::resolver resolver_;
  asio::steady_timer connect_timer_;
  asio::steady_timer session_timer_;
  Session session_;
  std::array<char, 16 * 1024> read_buffer_{};
  std::deque<std::string> writes_;
  std::string final_reason_;
  bool started_ = false;
  bool running_ = false;  // the session is talking to the server
  bool tls_active_ = false;
  bool awaiting_handshake_ = false;
  bool writing_ = false;
  bool finishing_ = false;
  bool stopping_ = false;  // stop() was called: the server may close after its BYE
  bool closed_ = false;
};

bool Connection::setup_tls(std::string& why) {
  const Endpoint& e = options_.endpoint;
  error_code ec;
  context_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1,
                       ec);
  context_.set_verify_mode(ssl::verify_peer);
  if (e.certificate_file.empty() && !e.system_certificates) {
    why = "no trusted certificates: set CertificateFile or SystemCertificates";
    return false;
  }
  if (!e.certificate_file.empty()) {
    context_.load_verify_file(e.certificate_file, ec);
    if (ec) {
      why = "cannot read CertificateFile " + e.certificate_file + ": " + ec.message();
      return false;
    }
  }
  if (e.system_certificates) {
    context_.set_default_verify_paths(ec);
    if (ec) {
      why = "cannot load the system certificates: " + ec.message();
      return false;
    }
  }
  stream_ = std::make_unique<ssl::stream<tcp::socket>>(io_, context_);
  // The certificate must name the host we asked for: its IP address or DNS name.
  SSL* ssl = stream_->native_handle();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  error_code not_ip;
  asio::ip::make_address(e.host, not_ip);
  if (!not_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, e.host.c_str()) != 1) {
      why = "cannot check the certificate against " + e.host;
      return false;
    }
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, e.host.c_str(), 0) != 1 ||
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(e.host.c_str())) != 1) {
      why = "cannot check the certificate against " + e.host;
      return false;
    }
  }
  return true;
}

void Connection::start() {
  if (started_ || closed_) {
    return;
  }
  started_ = true;
  if (options_.endpoint.tls == Endpoint::Tls::none) {
    stream_ = std::make_unique<ssl::stream<tcp::socket>>(io_, context_);
  } else {
    std::string why;
    if (!setup_tls(why)) {
      auto self = shared_from_this();
      asio::post(io_, [self, why] { self->close(why); });
      return;
    }
  }
  auto self = shared_from_this();
  connect_timer_.expires_after(options_.connect_timeout);
  connect_timer_.async_wait([self](error_code ec) {
    if (!ec && !self->closed_ && !self->running_) {
      self->close("could not connect to " + self->where() + " within " +
                  std::to_string(self->options_.connect_timeout.count()) + " ms");
    }
  });
  resolver_.async_resolve(
      options_.endpoint.host, std::to_string(options_.endpoint.port),
      [self](error_code ec, const tcp::resolver::results_type& results) {
        if (self->closed_) {
          return;
        }
        if (ec) {
          self->close("cannot resolve " + self->options_.endpoint.host + ": " + ec.message());
          return;
        }
        asio::async_connect(
            self->stream_->next_layer(), results, [self](error_code cec, const tcp::endpoint&) {
              if (self->closed_) {
                return;
              }
              if (cec) {
                self->close("cannot connect to " + self->where() + ": " + cec.message());
                return;
              }
              self->connected();
            });
      });
}

void Connection::set_keepalive() {
  error_code ec;
  auto& socket = stream_->next_layer();
  socket.set_option(asio::socket_base::keep_alive(true), ec);
  const int fd = socket.native_handle();
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keepalive_idle_s, sizeof keepalive_idle_s);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &keepalive_interval_s, sizeof keepalive_interval_s);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &keepalive_probes, sizeof keepalive_probes);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

void Connection::connected() {
  set_keepalive();
  if (options_.endpoint.tls == Endpoint::Tls::implicit) {
    handshake(true);
  } else {
    begin();
  }
}

void Connection::handshake(bool at_start) {
  auto self = shared_from_this();
  stream_->async_handshake(ssl::stream_base::client, [self, at_start](error_code ec) {
    if (self->closed_) {
      return;
    }
    if (ec) {
      const long verify = SSL_get_verify_result(self->stream_->native_handle());
      std::string why = verify != X509_V_OK ? std::string("certificate not trusted: ") +
                                                  X509_verify_cert_error_string(verify)
                                            : ec.message();
      self->close("TLS handshake with " + self->where() + " failed: " + why);
      return;
    }
    self->tls_active_ = true;
    if (at_start) {
      self->begin();
      return;
    }
    self->awaiting_handshake_ = false;
    self->process(self->session_.tls_started(std::chrono::steady_clock::now()));
    self->read();
  });
}

void Connection::begin() {
  running_ = true;
  connect_timer_.cancel();
  process(session_.start(std::chrono::steady_clock::now()));
  read();
}

void Connection::read() {
  if (closed_ || awaiting_handshake_ || session_.finished()) {
    return;
  }
  auto self = shared_from_this();
  auto on_read = [self](error_code ec, std::size_t n) {
    if (self->closed_) {
      return;
    }
    if (ec) {
      const bool eof = ec == asio::error::eof || ec == ssl::error::stream_truncated;
      if (eof && self->stopping_) {
        self->close("logged out (the server closed first)");
        return;
      }
      self->close(
          std::string(eof ? "server closed the connection" : "read failed: " + ec.message()) +
          " (at step " + self->session_.step_name() + ")");
      return;
    }
    self->process(
        self->session_.receive(self->read_buffer_.data(), n, std::chrono::steady_clock::now()));
    self->read();
  };
  if (tls_active_) {
    stream_->async_read_some(asio::buffer(read_buffer_), on_read);
  } else {
    stream_->next_layer().async_read_some(asio::buffer(read_buffer_), on_read);
  }
}

void Connection::process(const Output& out) {
  if (closed_) {
    return;
  }
  if (!out.trace.empty() && handlers_.on_trace) {
    std::size_t from = 0;
    for (std::size_t end; (end = out.trace.find("\r\n", from)) != std::string::npos;
         from = end + 2) {
      handlers_.on_trace("C: " + out.trace.substr(from, end - from));
    }
  }
  if (!out.bytes.empty()) {
    writes_.push_back(out.bytes);
  }
  for (const auto& e : out.events) {
    if (e.kind == Event::Kind::need_tls) {
      awaiting_handshake_ = true;
    }
    if (is_final(e.kind)) {
      final_reason_ = e.message;
    }
    if (handlers_.on_event) {
      handlers_.on_event(e);
    }
    if (closed_) {
      return;
    }
  }
  if (session_.finished()) {
    finishing_ = true;
  }
  pump();
  if (awaiting_handshake_ && !tls_active_ && !closed_) {
    handshake(false);
  }
  arm_timer();
}

void Connection::arm_timer() {
  if (closed_) {
    return;
  }
  session_timer_.cancel();
  const auto due = session_.deadline();
  if (!due) {
    return;
  }
  auto self = shared_from_this();
  session_timer_.expires_at(*due);
  session_timer_.async_wait([self, due](error_code ec) {
    if (ec || self->closed_ || self->session_.deadline() != due) {
      return;
    }
    self->process(self->session_.on_timer(std::chrono::steady_clock::now()));
  });
}

void Connection::pump() {
  if (closed_ || writing_) {
    return;
  }
  if (writes_.empty()) {
    if (finishing_) {
      close(final_reason_);
    }
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  auto on_written = [self](error_code ec, std::size_t) {
    self->writing_ = false;
    if (self->closed_) {
      return;
    }
    if (ec) {
      self->close("write failed: " + ec.message());
      return;
    }
    self->writes_.pop_front();
    self->pump();
  };
  if (tls_active_) {
    asio::async_write(*stream_, asio::buffer(writes_.front()), on_written);
  } else {
    asio::async_write(stream_->next_layer(), asio::buffer(writes_.front()), on_written);
  }
}

void Connection::stop() {
  if (closed_) {
    return;
  }
  if (!running_ || awaiting_handshake_) {
    close("stopped");
    return;
  }
  stopping_ = true;
  process(session_.logout(std::chrono::steady_clock::now()));
}

void Connection::close(const std::string& reason) {
  if (closed_) {
    return;
  }
  auto self = shared_from_this();
  closed_ = true;
  error_code ec;
  connect_timer_.cancel();
  session_timer_.cancel();
  resolver_.cancel();
  if (stream_) {
    stream_->next_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream_->next_layer().close(ec);
  }
  if (handlers_.on_closed) {
    handlers_.on_closed(reason);
  }
}

}  // namespace

std::shared_ptr<Client> Client::create(boost::asio::io_context& io, ClientOptions options,
                                       Handlers handlers) {
  return std::make_shared<Connection>(io, std::move(options), std::move(handlers));
}

}  // namespace himalaya::imap
