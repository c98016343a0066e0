// Reconnect delays for the watcher: jittered, growing from about 1 s to at
// most 5 min, and back to the start after a good session.
//
// The n-th delay after a failure (n from 0) is drawn uniformly from
// [base/2, base], with base = first * 2^(n+1) capped at max, and never less
// than first: so the first retry waits 1-2 s, later ones double, and none
// waits longer than max. Half of each delay is random so that watchers that lost the same
// server do not all come back in the same second. Pure and header-only: the
// caller owns the random generator (a seeded one in tests) and the timer.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace himalaya::imap {

class Backoff {
 public:
  struct Policy {
    std::chrono::milliseconds first = std::chrono::seconds(1);
    std::chrono::milliseconds max = std::chrono::minutes(5);
  };

  Backoff() : Backoff(Policy{}) {}
  explicit Backoff(Policy policy) : policy_(policy) {}

  // The delay before the next attempt; each call counts one more failure.
  template <class Random>
  std::chrono::milliseconds next(Random& random) {
    const std::int64_t first = policy_.first.count();
    const std::int64_t max = policy_.max.count();
    std::int64_t base = 2 * first;
    for (int i = 0; i < failures_ && base < max; ++i) {
      base *= 2;
    }
    if (base > max) {
      base = max;
    }
    ++failures_;
    std::uniform_int_distribution<std::int64_t> pick(base / 2, base);
    std::int64_t delay = pick(random);
    if (delay < first) {
      delay = first;
    }
    return std::chrono::milliseconds(delay);
  }

  // A session got as far as idling: the next failure starts from `first`.
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  Policy policy_;
  int failures_ = 0;
};

}  // namespace himalaya::imap
