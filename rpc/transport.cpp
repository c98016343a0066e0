#include "rpc/transport.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <string>
#include <utility>

namespace himalaya::rpc {
namespace {

class SocketTransport final : public Transport {
 public:
  explicit SocketTransport(boost::asio::local::stream_protocol::socket socket)
      : socket_(std::move(socket)) {}

  boost::asio::any_io_executor executor() override { return socket_.get_executor(); }

  void async_read_some(char* data, std::size_t size, IoHandler handler) override {
    socket_.async_read_some(boost::asio::buffer(data, size), std::move(handler));
  }

  void async_write(const char* data, std::size_t size, IoHandler handler) override {
    boost::asio::async_write(socket_, boost::asio::buffer(data, size), std::move(handler));
  }

  void close() override {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  boost::asio::local::stream_protocol::socket socket_;
};

// Duplicates `fd` above the standard descriptors, close-on-exec, so that
// closing the transport never closes fd 0 or 1 themselves (which may be one
// and the same socket), and a spawned child never inherits the channel.
int duplicate(int fd) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) {
    throw boost::system::system_error(errno, boost::system::system_category(),
                                      "rpc: cannot duplicate fd " + std::to_string(fd));
  }
  return copy;
}

class StdioTransport final : public Transport {
 public:
  explicit StdioTransport(boost::asio::io_context& io)
      : in_(io, duplicate(STDIN_FILENO)), out_(io, duplicate(STDOUT_FILENO)) {}

  boost::asio::any_io_executor executor() override { return in_.get_executor(); }

  void async_read_some(char* data, std::size_t size, IoHandler handler) override {
    in_.async_read_some(boost::asio::buffer(data, size), std::move(handler));
  }

  void async_write(const char* data, std::size_t size, IoHandler handler) override {
    boost::asio::async_write(out_, boost::asio::buffer(data, size), std::move(handler));
  }

  void close() override {
    boost::system::error_code ignored;
    in_.close(ignored);
    out_.close(ignored);
  }

 private:
  boost::asio::posix::stream_descriptor in_;
  boost::asio::posix::stream_descriptor out_;
};

}  // namespace

std::unique_ptr<Transport> make_stdio_transport(boost::asio::io_context& io) {
  return std::make_unique<StdioTransport>(io);
}

std::unique_ptr<Transport> make_socket_transport(
    boost::asio::local::stream_protocol::socket socket) {
  return std::make_unique<SocketTransport>(std::move(socket));
}

}  // namespace himalaya::rpc
