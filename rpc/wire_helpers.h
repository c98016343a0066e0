// Small pieces of the msgpack-RPC wire that the session needs and that are
// easier to read, and to test, on their own: errors as Neovim sends and reads
// them, the check that request parameters are one packed array, and the text
// of an exception a handler threw. Internal to rpc/.
#pragma once

#include <exception>
#include <msgpack.hpp>
#include <string>

#include "rpc/error.h"

namespace himalaya::rpc::detail {

// Neovim reads an error as [type, message]; so do we. A plain string is an
// exception; anything else is "unknown error", as Neovim says.
Error error_from_peer(const msgpack::object& o);
// An Error as Neovim reads it: [code, message].
void pack_error(msgpack::packer<msgpack::sbuffer>& pk, const Error& error);
// True when `buf` starts a msgpack array (fixarray, array 16 or array 32).
bool is_packed_array(const msgpack::sbuffer& buf);
// what() of the exception, or "unknown exception".
std::string describe(const std::exception_ptr& e);

}  // namespace himalaya::rpc::detail
