#include "coordinator/clock.h"

#include <time.h>

namespace himalaya::coordinator {
namespace {

double read_clock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

double SystemClock::wall() const {
  return read_clock(CLOCK_REALTIME);
}
double SystemClock::monotonic() const {
  return read_clock(CLOCK_MONOTONIC);
}
double SystemClock::boottime() const {
  return read_clock(CLOCK_BOOTTIME);
}

}  // namespace himalaya::coordinator
