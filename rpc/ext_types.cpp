#include "rpc/ext_types.h"

#include <cassert>

namespace himalaya::rpc::detail {

void HandlePayload::write(const char* bytes, std::size_t n) {
  // The packer writes one integer, at most 9 bytes; more would be a bug here.
  assert(size_ + n <= sizeof(data_));
  if (size_ + n > sizeof(data_)) {
    throw msgpack::type_error();
  }
  std::memcpy(data_ + size_, bytes, n);
  size_ += static_cast<std::uint32_t>(n);
}

HandlePayload pack_handle_payload(std::int64_t id) {
  HandlePayload payload;
  msgpack::packer<HandlePayload> packer(payload);
  packer.pack_int64(id);
  return payload;
}

std::int64_t convert_handle(const msgpack::object& o, std::int8_t tag) {
  switch (o.type) {
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER:
      return o.as<std::int64_t>();
    case msgpack::type::EXT:
      break;
    default:
      throw msgpack::type_error();
  }
  if (o.via.ext.type() != tag || o.via.ext.size == 0) {
    throw msgpack::type_error();
  }
  // The payload must be exactly one integer. Decode it by hand: it is short,
  // and this keeps a malformed payload from reaching the general unpacker.
  const auto* p = reinterpret_cast<const unsigned char*>(o.via.ext.data());
  const std::uint32_t size = o.via.ext.size;
  auto big_endian = [p](std::uint32_t n) {
    std::uint64_t v = 0;
    for (std::uint32_t i = 1; i <= n; ++i) {
      v = (v << 8) | p[i];
    }
    return v;
  };
  const unsigned char head = p[0];
  if (head <= 0x7f && size == 1) {
    return head;  // positive fixint
  }
  if (head >= 0xe0 && size == 1) {
    return static_cast<std::int8_t>(head);  // negative fixint
  }
  switch (head) {
    case 0xcc:    // uint 8
    case 0xcd:    // uint 16
    case 0xce:    // uint 32
    case 0xcf: {  // uint 64
      const std::uint32_t n = 1u << (head - 0xcc);
      if (size != n + 1) {
        break;
      }
      const std::uint64_t v = big_endian(n);
      if (v > static_cast<std::uint64_t>(INT64_MAX)) {
        break;
      }
      return static_cast<std::int64_t>(v);
    }
    case 0xd0:    // int 8
    case 0xd1:    // int 16
    case 0xd2:    // int 32
    case 0xd3: {  // int 64
      const std::uint32_t n = 1u << (head - 0xd0);
      if (size != n + 1) {
        break;
      }
      std::uint64_t v = big_endian(n);
      // Sign-extend from n bytes.
      if (n < 8 && (v >> (8 * n - 1)) != 0) {
        v |= ~std::uint64_t{0} << (8 * n);
      }
      return static_cast<std::int64_t>(v);
    }
    default:
      break;
  }
  throw msgpack::type_error();
}

}  // namespace himalaya::rpc::detail
