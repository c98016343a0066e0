#include "rpc/decoder.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>

namespace himalaya::rpc {
namespace {

// Copies every string, never points into the unpacker's buffer: a small
// Object kept by a caller must not pin a whole read buffer.
bool never_reference(msgpack::type::object_type, std::size_t, void*) {
  return false;
}

msgpack::unpack_limit limits_for(std::size_t max_message_bytes, std::size_t max_depth) {
  // Every array element and map key or value takes at least one byte, so a
  // message within the cap cannot declare more than this. The unpacker checks
  // these limits before it allocates for a container.
  return msgpack::unpack_limit(max_message_bytes, max_message_bytes / 2, max_message_bytes,
                               max_message_bytes, max_message_bytes, max_depth);
}

Error violation(std::string reason) {
  return Error{Error::exception, std::move(reason)};
}

bool is_string(const msgpack::object& o) {
  return o.type == msgpack::type::STR || o.type == msgpack::type::BIN;
}

std::string to_string(const msgpack::object& o) {
  return o.type == msgpack::type::STR ? std::string(o.via.str.ptr, o.via.str.size)
                                      : std::string(o.via.bin.ptr, o.via.bin.size);
}

// Neovim numbers messages with 32-bit unsigned msgids.
std::optional<std::uint32_t> read_msgid(const msgpack::object& o) {
  if (o.type != msgpack::type::POSITIVE_INTEGER ||
      o.via.u64 > std::numeric_limits<std::uint32_t>::max()) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(o.via.u64);
}

}  // namespace

Result<Message> parse_message(msgpack::object_handle handle) {
  const msgpack::object& root = handle.get();
  if (root.type != msgpack::type::ARRAY) {
    return violation("message is not an array");
  }
  const std::uint32_t size = root.via.array.size;
  const msgpack::object* item = root.via.array.ptr;
  if (size == 0) {
    return violation("message is an empty array");
  }
  if (item[0].type != msgpack::type::POSITIVE_INTEGER || item[0].via.u64 > 2) {
    return violation("message type is not 0, 1 or 2");
  }

  Message m;
  switch (item[0].via.u64) {
    case 0: {
      m.type = Message::Type::request;
      const auto msgid = size >= 2 ? read_msgid(item[1]) : std::nullopt;
      if (!msgid) {
        return violation("request msgid is not a 32-bit unsigned integer");
      }
      m.msgid = *msgid;
      if (size != 4) {
        m.invalid = Error{Error::validation,
                          "request must be an array of 4 elements, got " + std::to_string(size)};
      } else if (!is_string(item[2])) {
        m.invalid = Error{Error::validation, "request method must be a string"};
      } else if (item[3].type != msgpack::type::ARRAY) {
        m.invalid = Error{Error::validation, "request params must be an array"};
      } else {
        m.method = to_string(item[2]);
        m.params = item[3];
      }
      break;
    }
    case 1: {
      m.type = Message::Type::response;
      if (size != 4) {
        return violation("response must be an array of 4 elements, got " + std::to_string(size));
      }
      const auto msgid = read_msgid(item[1]);
      if (!msgid) {
        return violation("response msgid is not a 32-bit unsigned integer");
      }
      m.msgid = *msgid;
      m.error = item[2];
      m.result = item[3];
      break;
    }
    default: {
      m.type = Message::Type::notification;
      if (size != 3) {
        return violation("notification must be an array of 3 elements, got " +
                         std::to_string(size));
      }
      if (!is_string(item[1])) {
        return violation("notification method is not a string");
      }
      if (item[2].type != msgpack::type::ARRAY) {
        return violation("notification params are not an array");
      }
      m.method = to_string(item[1]);
      m.params = item[2];
      break;
    }
  }
  m.handle = std::move(handle);
  return Result<Message>(std::move(m));
}

Decoder::Decoder(std::size_t max_message_bytes, std::size_t max_depth)
    : max_message_bytes_(max_message_bytes),
      max_depth_(max_depth),
      unpacker_(&never_reference, nullptr, read_chunk, limits_for(max_message_bytes, max_depth)) {}

std::pair<char*, std::size_t> Decoder::prepare() {
  unpacker_.reserve_buffer(read_chunk);
  return {unpacker_.buffer(), std::min(unpacker_.buffer_capacity(), read_chunk)};
}

void Decoder::commit(std::size_t size) {
  unpacker_.buffer_consumed(size);
}

void Decoder::feed(const char* data, std::size_t size) {
  while (size > 0) {
    auto [area, room] = prepare();
    const std::size_t n = std::min(room, size);
    std::memcpy(area, data, n);
    commit(n);
    data += n;
    size -= n;
  }
}

Error Decoder::fail(std::string reason) {
  violation_ = violation(std::move(reason));
  return *violation_;
}

Result<std::optional<Message>> Decoder::next() {
  if (violation_) {
    return *violation_;
  }
  try {
    // message_size() counts the bytes of the message being parsed: those the
    // unpacker already consumed and those it holds unparsed.
    const std::size_t before = unpacker_.message_size();
    msgpack::object_handle handle;
    if (!unpacker_.next(handle)) {
      if (unpacker_.message_size() > max_message_bytes_) {
        return fail("message exceeds " + std::to_string(max_message_bytes_) + " bytes");
      }
      return std::optional<Message>();
    }
    if (before - unpacker_.nonparsed_size() > max_message_bytes_) {
      return fail("message exceeds " + std::to_string(max_message_bytes_) + " bytes");
    }
    auto message = parse_message(std::move(handle));
    if (!message) {
      return fail(message.error().message);
    }
    return std::optional<Message>(std::move(message.value()));
  } catch (const msgpack::depth_size_overflow&) {
    return fail("message nests deeper than " + std::to_string(max_depth_) + " levels");
  } catch (const msgpack::size_overflow& e) {
    // A container or string whose declared length alone is over the cap.
    return fail("message exceeds " + std::to_string(max_message_bytes_) + " bytes (" + e.what() +
                ")");
  } catch (const msgpack::unpack_error& e) {
    return fail(std::string("invalid msgpack: ") + e.what());
  } catch (const std::bad_alloc&) {
    return fail("out of memory decoding a message");
  } catch (const std::exception& e) {
    return fail(std::string("cannot decode a message: ") + e.what());
  }
}

}  // namespace himalaya::rpc
