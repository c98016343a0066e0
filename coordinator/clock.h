// The three clocks the coordinator reads, behind an interface so tests can
// move each one on its own (a FakeClock makes hour-long scenarios run in
// microseconds).
//
// Why three:
// - wall(): CLOCK_REALTIME, Unix seconds. Only for values written to the state
//   file (heartbeat stamps, sync start times), because other processes, other
//   hosts and the original Lua plugin read them. It can jump either way.
// - monotonic(): CLOCK_MONOTONIC (steady_clock, what Asio timers use). It stops
//   while the machine is suspended. Heartbeat staleness is measured on it, so a
//   laptop suspend alone never makes a primary look stale.
// - boottime(): CLOCK_BOOTTIME. It keeps counting during suspend but never
//   jumps. Time since the last sync is measured on it after a reader first sees
//   a sync start, so a wall-clock jump cannot skip the cooldown, while a night
//   of suspend still counts towards the next sync.
// All three are seconds as doubles; only differences of the same clock mean
// anything, except wall() which is absolute.
#pragma once

namespace himalaya::coordinator {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual double wall() const = 0;
  virtual double monotonic() const = 0;
  virtual double boottime() const = 0;
};

class SystemClock final : public Clock {
 public:
  double wall() const override;
  double monotonic() const override;
  double boottime() const override;
};

// A clock moved by hand. advance() is ordinary time passing; jump_wall() is
// someone setting the wall clock; suspend() is a laptop lid closed (wall and
// boottime move, monotonic does not).
class FakeClock final : public Clock {
 public:
  explicit FakeClock(double wall = 1'700'000'000.0) : wall_(wall) {}

  double wall() const override { return wall_; }
  double monotonic() const override { return monotonic_; }
  double boottime() const override { return boottime_; }

  void advance(double seconds) {
    wall_ += seconds;
    monotonic_ += seconds;
    boottime_ += seconds;
  }
  void jump_wall(double seconds) { wall_ += seconds; }
  void suspend(double seconds) {
    wall_ += seconds;
    boottime_ += seconds;
  }

 private:
  double wall_;
  double monotonic_ = 1000.0;
  double boottime_ = 1000.0;
};

}  // namespace himalaya::coordinator
