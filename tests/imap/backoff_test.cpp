// Backoff: 1-2 s at first, doubling, never over 5 min, jittered, reset.
#include "imap/backoff.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace himalaya::imap {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ImapBackoff, GrowsFromOneSecondToFiveMinutes) {
  std::mt19937 random(42);
  Backoff backoff;
  const std::int64_t low[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 150000};
  const std::int64_t high[] = {2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000};
  for (int i = 0; i < 9; ++i) {
    const auto d = backoff.next(random).count();
    EXPECT_GE(d, low[i]) << "attempt " << i;
    EXPECT_LE(d, high[i]) << "attempt " << i;
  }
  for (int i = 0; i < 100; ++i) {
    const auto d = backoff.next(random);
    EXPECT_GE(d, seconds(150));
    EXPECT_LE(d, seconds(300));
  }
}

TEST(ImapBackoff, IsJitteredAndSeedable) {
  std::mt19937 a(7);
  std::mt19937 b(7);
  std::set<std::int64_t> firsts;
  for (int i = 0; i < 20; ++i) {
    Backoff x;
    Backoff y;
    const auto dx = x.next(a);
    EXPECT_EQ(dx, y.next(b));  // the same seed gives the same delays
    firsts.insert(dx.count());
  }
  EXPECT_GT(firsts.size(), 10u);  // not one fixed delay
}

TEST(ImapBackoff, ResetStartsAgainFromTheFirstDelay) {
  std::mt19937 random(1);
  Backoff backoff;
  for (int i = 0; i < 12; ++i) {
    backoff.next(random);
  }
  EXPECT_EQ(backoff.failures(), 12);
  backoff.reset();
  EXPECT_EQ(backoff.failures(), 0);
  EXPECT_LE(backoff.next(random), seconds(2));
}

TEST(ImapBackoff, HonoursAScaledDownPolicy) {
  std::mt19937 random(3);
  Backoff backoff(Backoff::Policy{milliseconds(10), milliseconds(50)});
  EXPECT_GE(backoff.next(random), milliseconds(10));
  for (int i = 0; i < 10; ++i) {
    EXPECT_LE(backoff.next(random), milliseconds(50));
  }
}

}  // namespace
}  // namespace himalaya::imap
