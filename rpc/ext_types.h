// Neovim's handle types on the wire, and their msgpack adaptors.
//
// Neovim sends a Buffer, Window or Tabpage as msgpack ext type 0, 1 or 2, whose
// payload is itself a packed msgpack integer: buffer 1 is ext(0, "\x01"),
// window 1000 is ext(1, "\xcd\x03\xe8"). Packing a handle produces exactly
// that. Converting accepts that, and also a plain integer, because Lua code
// sees handles as numbers and passes them on as such (`rpcnotify(chan, 'x',
// bufnr)`). Anything else, an ext of another type included, is a
// msgpack::type_error like any other failed conversion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <msgpack.hpp>
#include <type_traits>

namespace himalaya::rpc {

struct Buffer {
  std::int64_t id = 0;
};
struct Window {
  std::int64_t id = 0;
};
struct Tabpage {
  std::int64_t id = 0;
};

inline bool operator==(Buffer a, Buffer b) {
  return a.id == b.id;
}
inline bool operator!=(Buffer a, Buffer b) {
  return a.id != b.id;
}
inline bool operator==(Window a, Window b) {
  return a.id == b.id;
}
inline bool operator!=(Window a, Window b) {
  return a.id != b.id;
}
inline bool operator==(Tabpage a, Tabpage b) {
  return a.id == b.id;
}
inline bool operator!=(Tabpage a, Tabpage b) {
  return a.id != b.id;
}

namespace detail {

// The ext type tag of each handle type; not defined for other types.
template <class T>
struct HandleTag;
template <>
struct HandleTag<Buffer> : std::integral_constant<std::int8_t, 0> {};
template <>
struct HandleTag<Window> : std::integral_constant<std::int8_t, 1> {};
template <>
struct HandleTag<Tabpage> : std::integral_constant<std::int8_t, 2> {};

template <class T, class = void>
struct IsHandle : std::false_type {};
template <class T>
struct IsHandle<T, std::void_t<decltype(HandleTag<T>::value)>> : std::true_type {};

// A handle's payload: one packed msgpack integer, at most 9 bytes. write()
// (the packer's stream interface) refuses anything longer, so size() never
// exceeds the array. size() also says so where the compiler can see it:
// pack_handle_payload() is out of line, and without the visible bound GCC 14
// at -O3 takes the memcpy that copies the payload into an sbuffer to read
// past the array (-Warray-bounds).
class HandlePayload {
 public:
  void write(const char* bytes, std::size_t n);
  const char* data() const { return data_; }
  std::uint32_t size() const { return size_ <= sizeof data_ ? size_ : sizeof data_; }

 private:
  char data_[9] = {};
  std::uint32_t size_ = 0;
};

HandlePayload pack_handle_payload(std::int64_t id);
// Throws msgpack::type_error unless `o` is ext `tag` holding one integer, or an
// integer itself.
std::int64_t convert_handle(const msgpack::object& o, std::int8_t tag);

}  // namespace detail
}  // namespace himalaya::rpc

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
  namespace adaptor {

  template <class T>
  struct convert<T, std::enable_if_t<himalaya::rpc::detail::IsHandle<T>::value>> {
    const msgpack::object& operator()(const msgpack::object& o, T& v) const {
      v.id = himalaya::rpc::detail::convert_handle(o, himalaya::rpc::detail::HandleTag<T>::value);
      return o;
    }
  };

  template <class T>
  struct pack<T, std::enable_if_t<himalaya::rpc::detail::IsHandle<T>::value>> {
    template <class Stream>
    msgpack::packer<Stream>& operator()(msgpack::packer<Stream>& o, const T& v) const {
      const auto payload = himalaya::rpc::detail::pack_handle_payload(v.id);
      o.pack_ext(payload.size(), himalaya::rpc::detail::HandleTag<T>::value);
      o.pack_ext_body(payload.data(), payload.size());
      return o;
    }
  };

  template <class T>
  struct object_with_zone<T, std::enable_if_t<himalaya::rpc::detail::IsHandle<T>::value>> {
    void operator()(msgpack::object::with_zone& o, const T& v) const {
      const auto payload = himalaya::rpc::detail::pack_handle_payload(v.id);
      // An ext object's bytes are the type tag followed by the payload.
      char* ptr = static_cast<char*>(o.zone.allocate_no_align(payload.size() + 1));
      ptr[0] = static_cast<char>(himalaya::rpc::detail::HandleTag<T>::value);
      std::memcpy(ptr + 1, payload.data(), payload.size());
      o.type = msgpack::type::EXT;
      o.via.ext.ptr = ptr;
      o.via.ext.size = payload.size();
    }
  };

  }  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS)
}  // namespace msgpack
