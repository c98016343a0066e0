// Errors as values inside mbsync/.
//
// Reading a user's mbsync configuration must never throw into the host: a
// file we cannot use becomes an Error that names the file and the line, in
// the shape mbsync itself prints ("FILE:LINE: message"), so the user can go
// straight to it.
#pragma once

#include <string>

#include "common/result.h"

namespace himalaya::mbsync {

struct Error {
  std::string file;  // "" when the text did not come from a file (tests, parse())
  int line = 0;      // 1-based; 0 when the error is not about one line
  std::string message;

  // "FILE:LINE: message", "line LINE: message", "FILE: message" or "message".
  std::string describe() const;
};

template <class T>
using Result = common::Result<T, Error>;

}  // namespace himalaya::mbsync
