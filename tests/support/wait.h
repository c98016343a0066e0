// Waiting for a condition outside any io_context (a file appearing, a process
// exiting) with a deadline, and reading a process's state from /proc. Nothing
// here sleeps for a fixed time to let something happen: every wait polls a
// condition until it holds or its deadline passes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>

namespace himalaya::testing {

// Checks `condition` every `interval` until it holds or `timeout` passes;
// returns whether it held (it is checked once more at the deadline).
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(2));

// The state letter of /proc/<pid>/stat (R, S, T, Z, ...), or 0 when there is
// no such process.
char process_state(pid_t pid);

// True when `pid` no longer runs: no /proc entry, or a zombie nobody reaped.
bool process_gone(pid_t pid);

}  // namespace himalaya::testing
