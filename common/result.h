// A value or an error, for code that must not throw (STYLE practice 2).
//
// Each layer names its own error type and spells Result<T> with it: rpc::Error
// mirrors the `[type, message]` errors Neovim sends on the wire, and
// coordinator::Error says, in words a user can act on, what went wrong with
// the state file. Only this small template is shared; the layers still do not
// know each other.
#pragma once

#include <utility>
#include <variant>

namespace himalaya::common {

template <class T, class E>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

}  // namespace himalaya::common
