// Framing and message shapes: bytes in, Neovim msgpack-RPC messages out.
//
// Decoder owns a msgpack::unpacker and runs its reserve_buffer /
// buffer_consumed / next loop. It knows nothing of dispatch, handlers or
// transports (as clangd keeps JSONTransport apart from its binder), so it can
// be fed arbitrary byte splits in tests.
//
// Contract:
// - next() yields complete messages in order, or "need more bytes", or a
//   protocol violation. After a violation the Decoder is spent: the stream
//   cannot be resynchronised, so every later next() repeats the violation.
// - A message, complete or still arriving, bigger than max_message_bytes is a
//   violation. So are containers whose declared length could not fit in
//   max_message_bytes and nesting deeper than max_depth; both are checked
//   before the unpacker allocates for them.
// - Nothing throws out of next(): msgpack's exceptions and std::bad_alloc are
//   turned into violations here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <utility>

#include "rpc/error.h"

namespace himalaya::rpc {

// One decoded message. The msgpack::object fields point into `handle`'s zone
// and are valid as long as the Message (or the moved handle) lives.
struct Message {
  enum class Type { request = 0, response = 1, notification = 2 };

  Type type = Type::notification;
  std::uint32_t msgid = 0;  // request, response
  std::string method;       // request, notification
  msgpack::object params;   // request, notification: always an array
  msgpack::object error;    // response: nil when the call succeeded
  msgpack::object result;   // response
  // Request only: the msgid could be read but the rest of the request is
  // malformed. The request must be answered with this error; method and params
  // are not set.
  std::optional<Error> invalid;
  msgpack::object_handle handle;
};

// Checks the shape of one unpacked value. Returns the message, or the reason it
// is a protocol violation. A request with a readable msgid is never a
// violation: see Message::invalid.
Result<Message> parse_message(msgpack::object_handle handle);

class Decoder {
 public:
  // The most bytes one read is offered. Reading in bounded chunks keeps the
  // size check close to the data: a partial message is at most this much over
  // the cap when it is caught.
  static constexpr std::size_t read_chunk = std::size_t{64} * 1024;

  Decoder(std::size_t max_message_bytes, std::size_t max_depth);

  // Makes room for the next read and returns where it may go and how much.
  // Throws std::bad_alloc if the room cannot be had.
  std::pair<char*, std::size_t> prepare();
  // Records that `size` bytes were written at the start of prepare()'s area.
  void commit(std::size_t size);
  // Copies bytes in, through prepare()/commit(). For tests and callers that
  // already hold the bytes.
  void feed(const char* data, std::size_t size);

  // The next complete message; an empty optional when more bytes are needed;
  // an Error on a protocol violation.
  Result<std::optional<Message>> next();

 private:
  Error fail(std::string reason);

  std::size_t max_message_bytes_;
  std::size_t max_depth_;
  msgpack::unpacker unpacker_;
  std::optional<Error> violation_;
};

}  // namespace himalaya::rpc
