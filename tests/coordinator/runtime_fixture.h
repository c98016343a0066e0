// The fixture of the in-process runtime tests: Coordinators sharing one real
// state file in a temporary directory, on virtual time. The clock, the timers
// and the posted work are a simulated world's (sim/world.h): run_until() and
// run_for() move its clock from event to event, so no test sleeps or waits on
// the wall clock. The state file is the real StateFile (stamped on the virtual
// clock), so file faults are real; its doorbell is rung through the world on
// StateFile's own rule (DoorbellFacts), since inotify is a wall-clock event.
// Processes are real (ProcProbe). Every Coordinator here shares the test's
// pid, so the pidfd path is the multi-process tests'. freeze() stops an
// instance as SIGSTOP would: its timers and wake-ups wait until thaw().
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "coordinator/coordinator.h"
#include "coordinator/state_file.h"
#include "coordinator/sync_events.h"
#include "recorder.h"
#include "sim/world.h"
#include "test_support.h"

namespace himalaya::coordinator::testing {

// The real state file; a write that changes the doorbell facts rings the
// world's doorbell.
class RingingFile final : public StateStore {
 public:
  RingingFile(sim::World& world, const std::filesystem::path& path, double lock_timeout)
      : world_(world),
        file_(path, StateFile::Options{std::size_t{1024} * 1024, lock_timeout, false},
              std::shared_ptr<const Clock>(std::shared_ptr<const Clock>{}, &world.clock())) {}
  Result<State> read() const override { return file_.read(); }
  Result<Update> update(const Mutation& mutate, const KeepWaiting& keep_waiting) override {
    std::optional<DoorbellFacts> before;
    auto result = file_.update(
        [&](State& s) {
          before = doorbell_facts(s);
          return mutate(s);
        },
        keep_waiting);
    if (result && result.value().written && doorbell_facts(result.value().state) != *before) {
      world_.ring_doorbell();
    }
    return result;
  }
  void sync_directory() override {}

 private:
  sim::World& world_;
  StateFile file_;
};

class VirtualEnvironment final : public Environment {
 public:
  VirtualEnvironment(sim::World& world, int owner, const std::filesystem::path& path,
                     double lock_timeout)
      : world_(world),
        owner_(owner),
        inner_(world.environment(owner)),
        store_(world, path, lock_timeout) {}
  ~VirtualEnvironment() override { cancel_watches(); }
  VirtualEnvironment(const VirtualEnvironment&) = delete;
  VirtualEnvironment& operator=(const VirtualEnvironment&) = delete;

  const Clock& clock() const override { return world_.clock(); }
  const ProcessProbe& probe() const override { return probe_; }
  StateStore& store() override { return store_; }
  std::unique_ptr<Timer> make_timer() override { return inner_->make_timer(); }
  void post(std::function<void()> fn) override { inner_->post(std::move(fn)); }
  // Real pids: nothing here exits while watched (see the header comment).
  void watch_process(int pid, std::function<void()> /*on_exit*/) override { watched_ = pid; }
  int watched_pid() const override { return watched_; }
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
  std::unique_ptr<Coordinator> make(const std::string& name, Recorder& rec, Config c,
                                    double started_at) {
    Identity id = make_identity(::getpid(), "test", world_.clock(), ProcProbe{}, name);
    id.started_at = started_at;
    const int owner = world_.spawn();
    owners_[name] = owner;
    rec.clock = &world_.clock();
    auto env =
        std::make_unique<VirtualEnvironment>(world_, owner, c.state_file, c.timings.lock_timeout);
    return std::make_unique<Coordinator>(std::move(env), std::move(c), id, rec.events());
  }
  State file_state() {
    auto r = StateFile(config().state_file).read();
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : State{};
  }
  // Virtual seconds since the test began.
  double now() const { return world_.mono(); }
  // Runs events until done() holds; false if `seconds` of virtual time pass first.
  bool run_until(const std::function<bool()>& done, double seconds = 10) {
    const double deadline = world_.mono() + seconds;
    while (!done()) {
      if (world_.mono() >= deadline) {
        return false;
      }
      world_.step(deadline);
    }
    return true;
  }
  // Runs `seconds` of virtual time (a stretch of the test, not a wait for a condition).
  void run_for(double seconds) { world_.run_until(world_.mono() + seconds); }
  void freeze(const std::string& name) { world_.stop(owners_.at(name)); }
  void thaw(const std::string& name) { world_.resume(owners_.at(name)); }

  TempDir tmp_;
  sim::World world_;
  std::map<std::string, int> owners_;
};

}  // namespace himalaya::coordinator::testing
