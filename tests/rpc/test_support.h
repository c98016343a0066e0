// Helpers for the rpc/ tests: packing messages, and FakeTransport, an
// in-memory transport that records what the session writes and lets a test
// feed it bytes in any split. Running an io_context until a condition holds
// and polling for one outside it come from tests/support.
#pragma once

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstddef>
#include <limits>
#include <memory>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rpc/transport.h"
#include "tests/support/run_loop.h"
#include "tests/support/wait.h"

namespace himalaya::rpc::testing {

using Nil = msgpack::type::nil_t;

// Packs the values as one msgpack array: packed(0, 1, "m", std::vector<int>{})
// is the request [0, 1, "m", []].
template <class... T>
std::string packed(const T&... values) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(sizeof...(T));
  (pk.pack(values), ...);
  return std::string(buf.data(), buf.size());
}

// Packs one value, not wrapped in an array.
template <class T>
std::string packed_value(const T& value) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, value);
  return std::string(buf.data(), buf.size());
}

// Splits a byte stream into the msgpack values it holds; a trailing partial
// value is left in `bytes`.
inline std::vector<msgpack::object_handle> unpack_all(std::string& bytes) {
  std::vector<msgpack::object_handle> out;
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    std::size_t next = offset;
    try {
      out.push_back(msgpack::unpack(bytes.data(), bytes.size(), next));
    } catch (const msgpack::insufficient_bytes&) {
      break;
    }
    offset = next;
  }
  bytes.erase(0, offset);
  return out;
}

using himalaya::testing::run_until;
using himalaya::testing::wait_until;

// Runs every handler that is ready, and those they make ready, until none is
// left. With FakeTransport nothing waits on the outside world, so this is
// deterministic.
inline void run_ready(boost::asio::io_context& io) {
  io.restart();
  io.run();
}

// The far end of a FakeTransport, held by the test.
class FakeWire {
 public:
  explicit FakeWire(boost::asio::io_context& io) : io_(io) {}

  // Bytes for the session to read. Each read hands over at most
  // `max_read_size` bytes.
  void feed(const std::string& bytes) {
    inbound_ += bytes;
    complete_read();
  }
  void feed_eof() {
    eof_ = true;
    complete_read();
  }

  // Complete messages the session wrote since the last call.
  std::vector<msgpack::object_handle> take_messages() { return unpack_all(written_); }
  const std::string& unread_written() const { return written_; }

  // Destroys a read the session left outstanding, as destroying an
  // io_context destroys its unrun handlers. A test that ends with its session
  // open must call this: the pending handler holds the session, which holds
  // this wire through its transport.
  void destroy_pending_read() { read_.reset(); }

  bool closed() const { return closed_; }
  int writes() const { return writes_; }
  int max_writes_in_flight() const { return max_writes_in_flight_; }
  std::size_t max_read_size = std::numeric_limits<std::size_t>::max();

 private:
  friend class FakeTransport;
  struct PendingRead {
    char* data;
    std::size_t size;
    Transport::IoHandler handler;
  };

  void start_read(char* data, std::size_t size, Transport::IoHandler handler) {
    read_ = PendingRead{data, size, std::move(handler)};
    complete_read();
  }

  void complete_read() {
    if (!read_) {
      return;
    }
    boost::system::error_code ec;
    std::size_t n = 0;
    if (closed_) {
      ec = boost::asio::error::operation_aborted;
    } else if (!inbound_.empty()) {
      n = std::min({read_->size, inbound_.size(), max_read_size});
      std::copy_n(inbound_.data(), n, read_->data);
      inbound_.erase(0, n);
    } else if (eof_) {
      ec = boost::asio::error::eof;
    } else {
      return;
    }
    auto handler = std::move(read_->handler);
    read_.reset();
    boost::asio::post(io_, [handler = std::move(handler), ec, n] { handler(ec, n); });
  }

  void start_write(const char* data, std::size_t size, Transport::IoHandler handler) {
    ++writes_in_flight_;
    max_writes_in_flight_ = std::max(max_writes_in_flight_, writes_in_flight_);
    // The bytes are taken when the write completes, as a real stream might:
    // the session must keep them valid until then.
    boost::asio::post(io_, [this, data, size, handler = std::move(handler)] {
      --writes_in_flight_;
      boost::system::error_code ec;
      if (closed_) {
        ec = boost::asio::error::operation_aborted;
      } else {
        written_.append(data, size);
        ++writes_;
      }
      handler(ec, closed_ ? 0 : size);
    });
  }

  void close() {
    closed_ = true;
    complete_read();
  }

  boost::asio::io_context& io_;
  std::string inbound_;
  bool eof_ = false;
  bool closed_ = false;
  std::optional<PendingRead> read_;
  std::string written_;
  int writes_ = 0;
  int writes_in_flight_ = 0;
  int max_writes_in_flight_ = 0;
};

class FakeTransport final : public Transport {
 public:
  explicit FakeTransport(std::shared_ptr<FakeWire> wire) : wire_(std::move(wire)) {}
  boost::asio::any_io_executor executor() override { return wire_->io_.get_executor(); }
  void async_read_some(char* data, std::size_t size, IoHandler handler) override {
    wire_->start_read(data, size, std::move(handler));
  }
  void async_write(const char* data, std::size_t size, IoHandler handler) override {
    wire_->start_write(data, size, std::move(handler));
  }
  void close() override { wire_->close(); }

 private:
  std::shared_ptr<FakeWire> wire_;
};

}  // namespace himalaya::rpc::testing
