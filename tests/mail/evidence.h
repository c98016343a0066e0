// Evidence for a failing mail test's message (issue 17).
#pragma once

#include <string>

namespace himalaya::mail {

// The processes of the mail stack and the fleet (pid, ppid, pgid, state,
// command line), and every TCP connection with `port` at either end with the
// process holding it (from /proc/net/tcp and /proc/*/fd).
std::string stack_snapshot(int port);

}  // namespace himalaya::mail
