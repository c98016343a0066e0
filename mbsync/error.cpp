#include "mbsync/error.h"

namespace himalaya::mbsync {

std::string Error::describe() const {
  std::string where = file;
  if (line > 0) {
    where += where.empty() ? "line " + std::to_string(line) : ":" + std::to_string(line);
  }
  return where.empty() ? message : where + ": " + message;
}

}  // namespace himalaya::mbsync
