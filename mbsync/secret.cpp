#include "mbsync/secret.h"

#include <ostream>

namespace himalaya::mbsync {

void PrintTo(const Secret& /*secret*/, std::ostream* out) {
  *out << Secret::redacted();
}

}  // namespace himalaya::mbsync
