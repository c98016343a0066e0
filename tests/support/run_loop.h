// Driving a real io_context from a test thread with deadlines: nothing waits
// a fixed time for a condition.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace himalaya::testing {

// Runs `io` until `done()` holds or `timeout` passes; returns done(). Between
// two looks at done() it runs one ready handler, waiting up to 20 ms for one,
// and sleeps 2 ms when none came, so that a condition outside `io` (a file, a
// process) is polled as well. A stopped `io` is restarted.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::steady_clock::duration timeout = std::chrono::seconds(10));

// Runs `io` for `seconds` (a scheduled stretch of a test, not a wait for a
// condition).
void run_for(boost::asio::io_context& io, double seconds);

}  // namespace himalaya::testing
