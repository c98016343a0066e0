// Errors as values inside rpc/ (STYLE practice 2).
//
// Error mirrors the shape Neovim uses on the wire, `[type, message]`, where
// type 0 is an exception and 1 a validation error. Result<T> carries either a
// value or an Error; Callback<T> receives exactly one Result<T>.
#pragma once

#include <functional>
#include <string>

#include "common/result.h"

namespace himalaya::rpc {

struct Error {
  enum Code : int { exception = 0, validation = 1 };
  int code = exception;
  std::string message;
};

template <class T>
using Result = common::Result<T, Error>;

template <class T>
using Callback = std::function<void(Result<T>)>;

}  // namespace himalaya::rpc
