// Errors as values inside coordinator/.
//
// Nothing the state file holds, and no failure of the file system, may crash
// the host or throw into Neovim's event loop. Every fallible operation of this
// layer therefore returns a Result<T>: a value, or an Error that says what
// went wrong in words a user can act on.
#pragma once

#include <string>

#include "common/result.h"

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
using Result = common::Result<T, Error>;

}  // namespace himalaya::coordinator
