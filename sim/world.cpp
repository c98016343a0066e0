#include "sim/world.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "coordinator/sync_events.h"

namespace himalaya::sim {
namespace {

class WorldClock final : public hc::Clock {
 public:
  explicit WorldClock(const World& w) : w_(w) {}
  double wall() const override { return w_.wall(); }
  double monotonic() const override { return w_.mono(); }
  double boottime() const override { return w_.boot(); }

 private:
  const World& w_;
};

class WorldProbe final : public hc::ProcessProbe {
 public:
  explicit WorldProbe(const World& w) : w_(w) {}
  std::optional<std::uint64_t> start_ticks(int pid) const override {
    if (!w_.alive(pid)) {
      return std::nullopt;
    }
    return w_.start_ticks(pid);
  }

 private:
  const World& w_;
};

class SimTimer final : public hc::Timer {
 public:
  SimTimer(World& w, int owner) : w_(w), owner_(owner) {}
  ~SimTimer() override { cancel(); }
  SimTimer(const SimTimer&) = delete;
  SimTimer& operator=(const SimTimer&) = delete;

  void arm(double seconds, std::function<void()> fire) override {
    cancel();
    // A real timer fires on a clock that has moved on: never at the very
    // instant it was armed for a positive wait (a wait below the double
    // resolution of the clock would otherwise fire again and again).
    const double wait = seconds > 0 ? std::max(seconds, 1e-6) : 0.0;
    handle_ = w_.at(w_.mono() + wait, owner_, [this, fire = std::move(fire)] {
      handle_.reset();
      fire();
    });
  }
  void cancel() override {
    World::cancel(handle_);
    handle_.reset();
  }
  bool armed() const override { return handle_ != nullptr; }

 private:
  World& w_;
  int owner_;
  World::Handle handle_;
};

class SimStore final : public hc::StateStore {
 public:
  SimStore(World& w, int pid) : w_(w), pid_(pid) {}
  hc::Result<hc::State> read() const override { return w_.read(); }
  hc::Result<Update> update(const Mutation& mutate, const KeepWaiting& /*keep_waiting*/) override {
    return w_.update(pid_, mutate);
  }
  void sync_directory() override {}

 private:
  World& w_;
  int pid_;
};

class SimEnvironment final : public hc::Environment {
 public:
  SimEnvironment(World& w, int pid) : w_(w), pid_(pid), store_(w, pid) {}
  ~SimEnvironment() override { cancel_watches(); }
  SimEnvironment(const SimEnvironment&) = delete;
  SimEnvironment& operator=(const SimEnvironment&) = delete;

  const hc::Clock& clock() const override { return w_.clock(); }
  const hc::ProcessProbe& probe() const override { return w_.probe(); }
  hc::StateStore& store() override { return store_; }
  std::unique_ptr<hc::Timer> make_timer() override { return std::make_unique<SimTimer>(w_, pid_); }
  void post(std::function<void()> fn) override {
    posted_.push_back(w_.at(w_.mono(), pid_, std::move(fn)));
    if (posted_.size() > 64) {  // forget the handles of events that ran
      posted_.erase(std::remove_if(posted_.begin(), posted_.end(),
                                   [](const World::Handle& h) { return !*h; }),
                    posted_.end());
    }
  }
  void watch_process(int pid, std::function<void()> on_exit) override {
    if (pid == watched_) {
      return;
    }
    World::cancel(pid_watch_);
    watched_ = pid;
    pid_watch_ = pid == 0 ? nullptr : w_.watch_exit(pid, pid_, std::move(on_exit));
  }
  int watched_pid() const override { return watched_; }
  void watch_owners(const std::vector<int>& pids, std::function<void()> on_exit) override {
    for (auto it = owner_watches_.begin(); it != owner_watches_.end();) {
      if (std::find(pids.begin(), pids.end(), it->first) != pids.end()) {
        ++it;
        continue;
      }
      World::cancel(it->second);
      it = owner_watches_.erase(it);
    }
    for (int pid : pids) {
      if (pid > 0 && owner_watches_.count(pid) == 0) {
        owner_watches_.emplace(pid, w_.watch_exit(pid, pid_, on_exit));
      }
    }
  }
  void watch_doorbell(std::function<void()> on_ring) override {
    World::cancel(doorbell_);
    doorbell_ = w_.watch_doorbell(pid_, std::move(on_ring));
  }
  bool doorbell_watched() const override { return doorbell_ != nullptr; }
  void cancel_watches() override {
    World::cancel(pid_watch_);
    World::cancel(doorbell_);
    pid_watch_.reset();
    doorbell_.reset();
    watched_ = 0;
    for (const auto& [pid, h] : owner_watches_) {
      World::cancel(h);
    }
    owner_watches_.clear();
    for (const auto& h : posted_) {
      World::cancel(h);
    }
    posted_.clear();
  }

 private:
  World& w_;
  int pid_;
  SimStore store_;
  int watched_ = 0;
  std::map<int, World::Handle> owner_watches_;
  World::Handle pid_watch_;
  World::Handle doorbell_;
  std::vector<World::Handle> posted_;
};

}  // namespace

World::World()
    : clock_(std::make_unique<WorldClock>(*this)), probe_(std::make_unique<WorldProbe>(*this)) {}

void World::suspend(double seconds) {
  boot_offset_ += seconds;
  wall_offset_ += seconds;
}

void World::jump_wall(double seconds) {
  wall_offset_ += seconds;
}

World::Handle World::at(double mono, int owner, std::function<void()> fn) {
  auto live = std::make_shared<bool>(true);
  queue_.push(Event{std::max(mono, mono_), seq_++, owner, std::move(fn), live});
  return live;
}

void World::cancel(const Handle& handle) {
  if (handle) {
    *handle = false;
  }
}

void World::run_until(double until) {
  while (!queue_.empty() && queue_.top().at <= until) {
    Event e = queue_.top();
    queue_.pop();
    mono_ = std::max(mono_, e.at);
    dispatch(e);
  }
  mono_ = std::max(mono_, until);
}

bool World::step(double until) {
  if (queue_.empty() || queue_.top().at > until) {
    mono_ = std::max(mono_, until);
    return false;
  }
  Event e = queue_.top();
  queue_.pop();
  mono_ = std::max(mono_, e.at);
  dispatch(e);
  return true;
}

void World::dispatch(Event& e) {
  if (!*e.live) {
    return;
  }
  if (e.owner != 0) {
    auto p = processes_.find(e.owner);
    if (p == processes_.end() || !p->second.alive) {
      return;
    }
    if (p->second.stopped) {
      Handle live = e.live;
      p->second.held.push_back([live, fn = std::move(e.fn)] {
        if (*live) {
          *live = false;
          fn();
        }
      });
      return;
    }
  }
  *e.live = false;
  ++events_run_;
  e.fn();
}

int World::spawn() {
  const int pid = next_pid_++;
  processes_[pid].start_ticks = static_cast<std::uint64_t>(boot() * 100);
  return pid;
}

void World::exit(int pid) {
  auto p = processes_.find(pid);
  if (p == processes_.end() || !p->second.alive) {
    return;
  }
  p->second.alive = false;
  p->second.held.clear();
  auto [first, last] = exit_watchers_.equal_range(pid);
  for (auto it = first; it != last; ++it) {
    auto& [owner, watch] = it->second;
    if (*watch.first) {
      Handle h = watch.first;
      at(mono_ + wake_delay(), owner, [h, fn = watch.second] {
        if (*h) {
          *h = false;
          fn();
        }
      });
    }
  }
  exit_watchers_.erase(first, last);
}

void World::stop(int pid) {
  auto p = processes_.find(pid);
  if (p != processes_.end() && p->second.alive) {
    p->second.stopped = true;
  }
}

void World::resume(int pid) {
  auto p = processes_.find(pid);
  if (p == processes_.end() || !p->second.alive || !p->second.stopped) {
    return;
  }
  p->second.stopped = false;
  std::vector<std::function<void()>> held = std::move(p->second.held);
  p->second.held.clear();
  for (auto& fn : held) {
    at(mono_, pid, std::move(fn));
  }
}

bool World::alive(int pid) const {
  auto p = processes_.find(pid);
  return p != processes_.end() && p->second.alive;
}

bool World::stopped(int pid) const {
  auto p = processes_.find(pid);
  return p != processes_.end() && p->second.alive && p->second.stopped;
}

std::uint64_t World::start_ticks(int pid) const {
  auto p = processes_.find(pid);
  return p == processes_.end() ? 0 : p->second.start_ticks;
}

World::Handle World::watch_exit(int pid, int owner, std::function<void()> on_exit) {
  auto h = std::make_shared<bool>(true);
  if (!alive(pid)) {
    at(mono_, owner, [h, fn = std::move(on_exit)] {
      if (*h) {
        *h = false;
        fn();
      }
    });
    return h;
  }
  exit_watchers_.emplace(pid, std::make_pair(owner, std::make_pair(h, std::move(on_exit))));
  return h;
}

hc::Result<hc::StateStore::Update> World::update(int writer,
                                                 const hc::StateStore::Mutation& mutate) {
  if (!alive(writer)) {
    return hc::Error{hc::Error::Kind::io, "the process is gone"};
  }
  if (stall_fails_waiters_ && writer != stalled_holder_ && mono_ < stall_until_ &&
      alive(stalled_holder_)) {  // the kernel releases a dead holder's flock
    return hc::Error{hc::Error::Kind::lock_timeout,
                     "the state file's lock was held past the lock timeout"};
  }
  hc::StateStore::Update u;
  u.state = state_;
  const hc::DoorbellFacts before = hc::doorbell_facts(u.state);
  if (mutate(u.state)) {
    if (u.state.created == 0) {
      u.state.created = wall();
    }
    u.state.last_modified = wall();
    u.written = true;
    state_ = u.state;
    ++writes_;
    if (hc::doorbell_facts(state_) != before) {
      ring_doorbell();
    }
  }
  return u;
}

void World::stall_lock(int holder, double seconds, double lock_timeout) {
  stalled_holder_ = holder;
  stall_until_ = mono_ + seconds;
  stall_fails_waiters_ = seconds > lock_timeout;
}

void World::set_wake_jitter(double seconds, std::uint64_t seed) {
  wake_jitter_ = seconds;
  wake_rng_ = Rng(seed);
}

double World::wake_delay() {
  return wake_jitter_ > 0 ? wake_rng_.uniform(0, wake_jitter_) : 0;
}

void World::ring_doorbell() {
  for (auto& [owner, ring] : doorbell_) {
    if (*ring.first) {
      Handle h = ring.first;
      at(mono_ + wake_delay(), owner, [h, fn = ring.second] {
        if (*h) {
          fn();
        }
      });
    }
  }
}

World::Handle World::watch_doorbell(int owner, std::function<void()> on_ring) {
  doorbell_.erase(std::remove_if(doorbell_.begin(), doorbell_.end(),
                                 [](const auto& entry) { return !*entry.second.first; }),
                  doorbell_.end());
  auto h = std::make_shared<bool>(true);
  doorbell_.emplace_back(owner, std::make_pair(h, std::move(on_ring)));
  return h;
}

hc::Identity World::editor_identity(int pid) const {
  hc::Identity id;
  id.nvim_pid = pid + 100000;
  id.host_pid = pid;
  id.host_start_ticks = start_ticks(pid);
  id.nvim_start_ticks = id.host_start_ticks;
  id.host = hc::HostFacts{"sim", "boot-1"};
  id.started_at = wall();
  id.instance_id = hc::make_instance_id(id.started_at, id.nvim_pid);
  id.nvim_version = "sim";
  return id;
}

std::unique_ptr<hc::Environment> World::environment(int pid) {
  return std::make_unique<SimEnvironment>(*this, pid);
}

}  // namespace himalaya::sim
