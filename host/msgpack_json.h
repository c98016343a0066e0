// Packs an nlohmann::json value as msgpack, so the host can hand Neovim nested
// Lua tables (the status report, say) without a type per shape.
//
// Usage: session->request("nvim_exec_lua", cb, code, std::make_tuple(JsonArg{&value}));
#pragma once

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

namespace himalaya::host {

struct JsonArg {
  const nlohmann::json* value;
};

template <class Stream>
void pack_json(msgpack::packer<Stream>& out, const nlohmann::json& value) {
  using nlohmann::json;
  switch (value.type()) {
    case json::value_t::boolean:
      value.get<bool>() ? out.pack_true() : out.pack_false();
      break;
    case json::value_t::number_integer:
      out.pack_int64(value.get<std::int64_t>());
      break;
    case json::value_t::number_unsigned:
      out.pack_uint64(value.get<std::uint64_t>());
      break;
    case json::value_t::number_float:
      out.pack_double(value.get<double>());
      break;
    case json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      out.pack_str(static_cast<std::uint32_t>(s.size()));
      out.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
      break;
    }
    case json::value_t::array:
      out.pack_array(static_cast<std::uint32_t>(value.size()));
      for (const json& item : value) {
        pack_json(out, item);
      }
      break;
    case json::value_t::object:
      out.pack_map(static_cast<std::uint32_t>(value.size()));
      for (auto it = value.begin(); it != value.end(); ++it) {
        out.pack(it.key());
        pack_json(out, it.value());
      }
      break;
    default:  // null, discarded, binary
      out.pack_nil();
      break;
  }
}

}  // namespace himalaya::host

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
  namespace adaptor {
  template <>
  struct pack<himalaya::host::JsonArg> {
    template <class Stream>
    packer<Stream>& operator()(packer<Stream>& out, const himalaya::host::JsonArg& arg) const {
      himalaya::host::pack_json(out, *arg.value);
      return out;
    }
  };
  }  // namespace adaptor
}
}  // namespace msgpack
