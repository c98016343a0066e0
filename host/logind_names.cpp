#include "host/logind_names.h"

#include <cstdlib>

namespace himalaya::host {

std::string logind_session_name(const std::string& path) {
  std::string name = path.substr(path.rfind('/') + 1);
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '_' && i + 2 < name.size()) {
      const std::string hex = name.substr(i + 1, 2);
      char* end = nullptr;
      const long c = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2 && c > 0x20 && c < 0x7f) {
        out += static_cast<char>(c);
        i += 2;
        continue;
      }
    }
    out += name[i];
  }
  return out;
}

}  // namespace himalaya::host
