// Errors as values inside coordinator/.
//
// Nothing the state file holds, and no failure of the file system, may crash
// the host or throw into Neovim's event loop. Every fallible operation of this
// layer therefore returns a Result<T>: a value, or an Error that says what
// went wrong in words a user can act on.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace himalaya::coordinator {

struct Error {
  enum class Kind {
    io,            // the file system refused (permissions, read-only, full disk, ...)
    refused,       // the file is not ours to use: a symlink, another owner, not a regular file
    lock_timeout,  // another process held the lock past the bounded wait
    corrupt,       // the file exists but does not hold a valid state
  };
  Kind kind = Kind::io;
  std::string message;
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace himalaya::coordinator
