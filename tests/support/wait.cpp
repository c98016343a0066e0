#include "tests/support/wait.h"

#include <thread>

#include "tests/support/processes.h"

namespace himalaya::testing {

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return condition();
    }
    std::this_thread::sleep_for(interval);
  }
}

char process_state(pid_t pid) {
  const auto st = proc_stat(pid);
  return st ? st->state : 0;
}

bool process_gone(pid_t pid) {
  const char state = process_state(pid);
  return state == 0 || state == 'Z';
}

}  // namespace himalaya::testing
