// A byte stream for a Session: reads and writes on an Asio executor.
//
// StdioTransport reads fd 0 and writes fd 1 through
// posix::stream_descriptor; SocketTransport wraps a connected Unix socket
// (tests drive `nvim --listen` with it, and `local::connect_pair` gives
// socket pairs for framing tests).
//
// Contract: a Transport is used from one thread, the executor's. At most one
// read and one write are outstanding at a time (Session guarantees this).
// close() cancels outstanding operations; their handlers still run, with
// boost::asio::error::operation_aborted. Handlers never run inside the call
// that started the operation.
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

// Reads fd 0 and writes fd 1 through close-on-exec duplicates of them, so it
// works when both are one socket, closing it leaves fds 0 and 1 open, and a
// child process never inherits the channel. Asio puts the descriptions in
// non-blocking mode. Writing to a closed pipe raises SIGPIPE: a host must
// ignore that signal. Nothing but RPC may be written to fd 1. Throws
// boost::system::system_error if fd 0 or 1 cannot be duplicated.
std::unique_ptr<Transport> make_stdio_transport(boost::asio::io_context& io);
std::unique_ptr<Transport> make_socket_transport(
    boost::asio::local::stream_protocol::socket socket);

}  // namespace himalaya::rpc
