#include "rpc/wire_helpers.h"

#include <optional>
#include <utility>

namespace himalaya::rpc::detail {

Error error_from_peer(const msgpack::object& o) {
  auto text = [](const msgpack::object& s) -> std::optional<std::string> {
    if (s.type == msgpack::type::STR) {
      return std::string(s.via.str.ptr, s.via.str.size);
    }
    if (s.type == msgpack::type::BIN) {
      return std::string(s.via.bin.ptr, s.via.bin.size);
    }
    return std::nullopt;
  };
  if (auto message = text(o)) {
    return Error{Error::exception, std::move(*message)};
  }
  if (o.type == msgpack::type::ARRAY && o.via.array.size == 2) {
    const msgpack::object& type = o.via.array.ptr[0];
    if (auto message = text(o.via.array.ptr[1])) {
      int code = Error::exception;
      if (type.type == msgpack::type::POSITIVE_INTEGER && type.via.u64 <= 1) {
        code = static_cast<int>(type.via.u64);
      }
      return Error{code, std::move(*message)};
    }
  }
  return Error{Error::exception, "unknown error"};
}

void pack_error(msgpack::packer<msgpack::sbuffer>& pk, const Error& error) {
  pk.pack_array(2);
  pk.pack(error.code);
  pk.pack(error.message);
}

bool is_packed_array(const msgpack::sbuffer& buf) {
  if (buf.size() == 0) {
    return false;
  }
  const auto head = static_cast<unsigned char>(buf.data()[0]);
  return (head >= 0x90 && head <= 0x9f) || head == 0xdc || head == 0xdd;
}

std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace himalaya::rpc::detail
