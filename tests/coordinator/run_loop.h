// Driving a real io_context from a test thread with deadlines, for the
// in-process Coordinator tests: nothing waits a fixed time for a condition.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace himalaya::coordinator::testing {

// Runs `context` in 2 ms slices until `done()` holds; false if `seconds` pass first.
inline bool run_until(boost::asio::io_context& context, const std::function<bool()>& done,
                      double seconds = 10) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    context.restart();
    context.run_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Runs `context` for `seconds` (a scheduled stretch of the test, not a wait for a condition).
inline void run_for(boost::asio::io_context& context, double seconds) {
  context.restart();
  context.run_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(seconds)));
}

}  // namespace himalaya::coordinator::testing
