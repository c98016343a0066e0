// Prints the names of host/protocol.h, one `table key name` line each, for
// names_test.py to compare with lua/himalaya_coord/protocol.lua.
#include <cstdio>

#include "host/protocol.h"

int main() {
  for (const auto& name : himalaya::host::protocol_names) {
    std::printf("%s %s %s\n", name.table, name.key, name.name);
  }
  return 0;
}
