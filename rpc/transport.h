// A byte stream for a Session: reads and writes on an Asio executor.
//
// StdioTransport reads fd 0 and writes fd 1 through
// posix::stream_descriptor; SocketTransport wraps a connected Unix socket
// (tests drive `nvim --listen` with it, and `local::connect_pair` gives
// socket pairs for framing tests).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <functional>
#include <memory>

namespace himalaya::rpc {

class Transport {
 public:
  using IoHandler = std::function<void(const boost::system::error_code&, std::size_t)>;
  virtual ~Transport() = default;
  virtual boost::asio::any_io_executor executor() = 0;
  // Reads some bytes; at EOF the handler gets boost::asio::error::eof.
  virtual void async_read_some(char* data, std::size_t size, IoHandler handler) = 0;
  // Writes all `size` bytes; the buffer must stay valid until the handler runs.
  virtual void async_write(const char* data, std::size_t size, IoHandler handler) = 0;
  virtual void close() = 0;
};

std::unique_ptr<Transport> make_stdio_transport(boost::asio::io_context& io);
std::unique_ptr<Transport> make_socket_transport(boost::asio::local::stream_protocol::socket socket);

}  // namespace himalaya::rpc
