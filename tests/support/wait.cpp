#include "tests/support/wait.h"

#include <fstream>
#include <string>
#include <thread>

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
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  // The command name in parentheses may itself hold ") ", so look for the last.
  auto close = line.rfind(") ");
  return close == std::string::npos || close + 2 >= line.size() ? 0 : line[close + 2];
}

bool process_gone(pid_t pid) {
  const char state = process_state(pid);
  return state == 0 || state == 'Z';
}

}  // namespace himalaya::testing
