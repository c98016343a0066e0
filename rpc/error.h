// Errors as values inside rpc/ (STYLE practice 2).
//
// Error mirrors the shape Neovim uses on the wire, `[type, message]`, where
// type 0 is an exception and 1 a validation error. Result<T> carries either a
// value or an Error; Callback<T> receives exactly one Result<T>.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <variant>

namespace himalaya::rpc {

struct Error {
  enum Code : int { exception = 0, validation = 1 };
  int code = exception;
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

template <class T>
using Callback = std::function<void(Result<T>)>;

}  // namespace himalaya::rpc
