// The fixture of the in-process runtime tests: Coordinators sharing one real
// state file in a temporary directory, on virtual time. The clock, the timers
// and the posted work are a simulated world's (sim/world.h): run_until() and
// run_for() move its clock from event to event, so no test sleeps or waits on
// the wall clock. The state file is the real StateFile (stamped on the virtual
// clock), so file faults are real; its doorbell is rung through the world on
// StateFile's own rule (DoorbellFacts) rather than by inotify, unless a test
// asks for the kernel's (use_kernel_doorbell()).
// Processes are real (ProcProbe). Every Coordinator here shares the test's
// pid, so the pidfd path is the multi-process tests'. freeze() stops an
// instance as SIGSTOP would: its timers and wake-ups wait until thaw().
//
// Faults: a test makes the file faults on disk (a full or read-only mount, a
// corrupt, deleted or symlinked file, a bad mode), and the real StateFile
// meets them. Two things cannot be real on one thread and virtual time, and
// are injected instead (StoreFaults): another process holding the lock (a
// real holder would block the only thread; the lock wait itself is
// StateFile's, tested on real time in the fault tests) and a wall clock set
// wrong for one instance (SkewedClock). use_kernel_doorbell() swaps the
// doorbell rule for the real inotify watch, polled without waiting after
// every event, for the tests of the doorbell itself.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "coordinator/coordinator.h"
#include "coordinator/state_file.h"
#include "coordinator/sync_events.h"
#include "coordinator/watch.h"
#include "recorder.h"
#include "sim/world.h"
#include "test_support.h"

namespace himalaya::coordinator::testing {

// Faults injected into every instance's store (see the header comment).
struct StoreFaults {
  // Another process holds the state file's lock until this monotonic time.
  double lock_held_until = 0;
  // The doorbell rings by the real inotify watch, not by StateFile's rule.
  bool kernel_doorbell = false;
};

// One instance's clock: the world's, with the wall clock set off by a jump
// (a machine set wrong, a process under faketime). Monotonic and boot time
// run on.
class SkewedClock final : public Clock {
 public:
  explicit SkewedClock(const Clock& world) : world_(world) {}
  double wall() const override { return world_.wall() + offset_; }
  double monotonic() const override { return world_.monotonic(); }
  double boottime() const override { return world_.boottime(); }
  void jump_wall(double seconds) { offset_ += seconds; }

 private:
  const Clock& world_;
  double offset_ = 0;
};

// The real state file; a write that changes the doorbell facts rings the
// world's doorbell. While StoreFaults::lock_held_until lies ahead, an update
// waits for the holder as keep_waiting allows: if it may wait that long, it
// goes ahead (the world's clock stands still inside an event, so it happens
// at once, with that wait as its lock_wait); if not, it fails with
// lock_timeout, as StateFile's bounded wait does.
class RingingFile final : public StateStore {
 public:
  RingingFile(sim::World& world, const std::filesystem::path& path, double lock_timeout,
              std::shared_ptr<const Clock> clock, const StoreFaults& faults)
      : world_(world),
        faults_(faults),
        lock_timeout_(lock_timeout),
        file_(path, StateFile::Options{std::size_t{1024} * 1024, lock_timeout, false},
              std::move(clock)) {}
  Result<State> read() const override { return file_.read(); }
  Result<Update> update(const Mutation& mutate, const KeepWaiting& keep_waiting) override {
    const double held = faults_.lock_held_until - world_.mono();
    if (held > 0 && !(keep_waiting ? keep_waiting(held) : held < lock_timeout_)) {
      char limit[32];
      std::snprintf(limit, sizeof limit, "%g", lock_timeout_);
      return Error{Error::Kind::lock_timeout, "another process has held " +
                                                  file_.lock_path().string() + " for more than " +
                                                  limit + " s"};
    }
    std::optional<DoorbellFacts> before;
    auto result = file_.update(
        [&](State& s) {
          before = doorbell_facts(s);
          return mutate(s);
        },
        keep_waiting);
    if (!result) {
      return result;
    }
    result.value().lock_wait += std::max(held, 0.0);
    if (!faults_.kernel_doorbell && result.value().written &&
        doorbell_facts(result.value().state) != *before) {
      world_.ring_doorbell();
    }
    return result;
  }
  void sync_directory() override {}

 private:
  sim::World& world_;
  const StoreFaults& faults_;
  double lock_timeout_;
  StateFile file_;
};

class VirtualEnvironment final : public Environment {
 public:
  VirtualEnvironment(sim::World& world, int owner, const std::filesystem::path& path,
                     double lock_timeout, std::shared_ptr<const Clock> clock,
                     const StoreFaults& faults)
      : world_(world),
        owner_(owner),
        clock_(std::move(clock)),
        inner_(world.environment(owner)),
        store_(world, path, lock_timeout, clock_, faults) {}
  ~VirtualEnvironment() override { cancel_watches(); }
  VirtualEnvironment(const VirtualEnvironment&) = delete;
  VirtualEnvironment& operator=(const VirtualEnvironment&) = delete;

  const Clock& clock() const override { return *clock_; }
  const ProcessProbe& probe() const override { return probe_; }
  StateStore& store() override { return store_; }
  std::unique_ptr<Timer> make_timer() override { return inner_->make_timer(); }
  void post(std::function<void()> fn) override { inner_->post(std::move(fn)); }
  // Real pids: nothing here exits while watched (see the header comment).
  void watch_process(int pid, std::function<void()> /*on_exit*/) override { watched_ = pid; }
  int watched_pid() const override { return watched_; }
  void watch_owners(const std::vector<int>& /*pids*/, std::function<void()> /*on_exit*/) override {}
  void watch_doorbell(std::function<void()> on_ring) override {
    sim::World::cancel(doorbell_);
    doorbell_ = world_.watch_doorbell(owner_, std::move(on_ring));
  }
  bool doorbell_watched() const override { return doorbell_ != nullptr; }
  void cancel_watches() override {
    sim::World::cancel(doorbell_);
    doorbell_.reset();
    watched_ = 0;
    inner_->cancel_watches();
  }

 private:
  sim::World& world_;
  int owner_;
  std::shared_ptr<const Clock> clock_;
  std::unique_ptr<Environment> inner_;  // the world's timers and posts, for `owner_`
  RingingFile store_;
  ProcProbe probe_;
  int watched_ = 0;
  sim::World::Handle doorbell_;
};

class RuntimeTest : public ::testing::Test {
 protected:
  // Heartbeat 0.05 s, takeover after 0.5 s, first check 0.05 s after start;
  // a test changes what it needs.
  Config config() {
    Config c;
    c.state_file = tmp_.path() / "himalaya" / "sync_coordinator.json";
    c.timings.interval = 60;
    c.timings.startup_delay = 0.05;
    c.timings.heartbeat_interval = 0.05;
    c.timings.takeover_threshold = 0.5;
    c.timings.sync_cooldown = 30;
    c.timings.sync_timeout = 10;
    return c;
  }
  // `clock` (e.g. a SkewedClock) replaces the world's for this instance.
  std::unique_ptr<Coordinator> make(const std::string& name, Recorder& rec, Config c,
                                    double started_at,
                                    std::shared_ptr<const Clock> clock = nullptr) {
    if (!clock) {
      clock = std::shared_ptr<const Clock>(std::shared_ptr<const Clock>{}, &world_.clock());
    }
    Identity id = make_identity(::getpid(), "test", *clock, ProcProbe{}, name);
    id.started_at = started_at;
    const int owner = world_.spawn();
    owners_[name] = owner;
    rec.clock = &world_.clock();
    auto env = std::make_unique<VirtualEnvironment>(world_, owner, c.state_file,
                                                    c.timings.lock_timeout, clock, faults_);
    return std::make_unique<Coordinator>(std::move(env), std::move(c), id, rec.events());
  }
  std::shared_ptr<SkewedClock> skewed_clock() {
    return std::make_shared<SkewedClock>(world_.clock());
  }
  State file_state() {
    auto r = StateFile(config().state_file).read();
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r.value() : State{};
  }
  // Virtual seconds since the test began.
  double now() const { return world_.mono(); }
  // Runs events until done() holds; false if `seconds` of virtual time pass first.
  bool run_until(const std::function<bool()>& done, double seconds = 10) {
    const double deadline = world_.mono() + seconds;
    poll_kernel();
    while (!done()) {
      if (world_.mono() >= deadline) {
        return false;
      }
      world_.step(deadline);
      poll_kernel();
    }
    return true;
  }
  // Runs `seconds` of virtual time (a stretch of the test, not a wait for a condition).
  void run_for(double seconds) {
    const double until = world_.mono() + seconds;
    poll_kernel();
    while (world_.step(until)) {
      poll_kernel();
    }
  }
  void freeze(const std::string& name) { world_.stop(owners_.at(name)); }
  void thaw(const std::string& name) { world_.resume(owners_.at(name)); }

  // Another process holds the state file's lock for the next `seconds`.
  void hold_lock_for(double seconds) { faults_.lock_held_until = world_.mono() + seconds; }
  // From now on the doorbell is the kernel's: the real inotify watch on the
  // state directory (DoorbellWatch, as the host uses), read without waiting
  // after every event. Call before make().
  void use_kernel_doorbell() {
    const auto path = config().state_file;
    std::filesystem::create_directories(path.parent_path());
    faults_.kernel_doorbell = true;
    kernel_doorbell_ = std::make_unique<DoorbellWatch>(kernel_io_);
    ASSERT_TRUE(kernel_doorbell_->watch(path.parent_path(), path.filename().string() + ".lock",
                                        [this] { world_.ring_doorbell(); }));
  }

  TempDir tmp_;
  sim::World world_;
  std::map<std::string, int> owners_;
  StoreFaults faults_;

 private:
  // What the kernel queued (inotify events are queued by the write itself).
  void poll_kernel() {
    if (kernel_doorbell_) {
      kernel_io_.restart();
      kernel_io_.poll();
    }
  }

  boost::asio::io_context kernel_io_;
  std::unique_ptr<DoorbellWatch> kernel_doorbell_;
};

}  // namespace himalaya::coordinator::testing
