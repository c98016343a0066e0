#include "tests/support/run_loop.h"

#include <algorithm>
#include <thread>

namespace himalaya::testing {

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::steady_clock::duration timeout) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return done();
    }
    if (io.stopped()) {
      io.restart();
    }
    if (io.run_one_for(std::min<std::chrono::steady_clock::duration>(deadline - now, 20ms)) == 0) {
      std::this_thread::sleep_for(2ms);  // nothing queued: poll the condition
    }
  }
  return true;
}

void run_for(boost::asio::io_context& io, double seconds) {
  io.restart();
  io.run_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(seconds)));
}

}  // namespace himalaya::testing
