// The coordinator runtime's state and steps (coordinator.h's Impl), shared by
// coordinator.cpp (evaluations, adopt, timers, watches) and
// coordinator_sync.cpp (this instance's syncs, start, stop, status). Every
// decision is a transition (transitions.h) run inside StateStore::update().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "coordinator/channel_transitions.h"
#include "coordinator/coordinator.h"
#include "coordinator/transitions.h"

namespace himalaya::coordinator {

enum class Lifecycle { created, running, stopped };
// The first election decides whether this instance gets the start-up sync:
// only if it found no live primary (it is the first of its fleet).
enum class Startup { unknown, pending, decided };

class Coordinator::Impl {
 public:
  Impl(std::unique_ptr<Environment> env, Config config, Identity identity, Events events)
      : env_(std::move(env)),
        config_(std::move(config)),
        identity_(std::move(identity)),
        events_(std::move(events)),
        tick_timer_(env_->make_timer()),
        due_timer_(env_->make_timer()),
        defer_timer_(env_->make_timer()),
        channel_timer_(env_->make_timer()) {}

  std::unique_ptr<Environment> env_;
  Config config_;
  Identity identity_;
  Events events_;
  std::unique_ptr<Timer> tick_timer_;
  std::unique_ptr<Timer> due_timer_;
  std::unique_ptr<Timer> defer_timer_;    // a deferred appointment (evaluate())
  std::unique_ptr<Timer> channel_timer_;  // the next of this instance's channels

  Memory memory_;
  Decision decision_;        // the last election's
  SyncAnnouncer announcer_;  // which syncs of the fleet were announced
  Lifecycle lifecycle_ = Lifecycle::created;
  Role role_ = Role::secondary;
  bool released_ = false;
  Startup startup_ = Startup::unknown;
  bool evaluation_posted_ = false;
  std::optional<std::uint64_t> due_asked_;  // the heartbeat in which sync_due was fired
  std::string problem_;                     // why this instance is Uncoordinated, if it is
  double started_mono_ = 0;
  double next_tick_ = 0;  // monotonic
  std::uint64_t tick_count_ = 0;
  std::optional<double> leaving_since_;  // monotonic
  // The last_sync_time a secondary has noted "skipped as secondary" for.
  double skip_noted_for_ = -1;
  // This instance's own sync, and when it last started one.
  std::optional<OwnSync> own_sync_;
  double own_last_started_ = 0;
  std::optional<double> own_last_boot_;
  // Its input and session (away.h), once the owner reports them; what the
  // debug notes last said of this instance and of the fleet being away.
  std::optional<Presence> presence_;
  bool away_noted_ = false;
  bool fleet_away_noted_ = false;
  // Channels (coordinator_channels.cpp): what this instance saw of them, its
  // running channel sync, and what channel_due last asked for: in which
  // heartbeat, for which channel, at which of its last start and push
  // stamps, with how many syncs running in the fleet.
  ChannelMemory channel_memory_;
  std::optional<OwnChannelSync> own_channel_;
  std::optional<std::tuple<std::uint64_t, std::string, double, double, int>> channel_asked_;

  const Clock& clock() const { return env_->clock(); }
  bool coordinated() const { return config_.enabled && problem_.empty(); }
  bool stopped() const { return lifecycle_ == Lifecycle::stopped; }

  bool has_channels() const { return !config_.channels.specs.empty(); }
  // settle() and, with channels, settle_channels(): the start of every
  // read-modify-write and of every lockless look.
  bool settle_all(State& s, const Self& me, Step step, const Now& now, Notes& notes);
  Self self() const {
    return Self{identity_, config_.timings,   env_->probe(),      released_,
                own_sync_, own_last_started_, config_.succession, presence_};
  }
  Uptime uptime() const {
    return Uptime{clock().monotonic() - started_mono_, startup_ == Startup::pending};
  }
  void debug(const std::string& text) const {
    if (events_.debug) {
      events_.debug(text);
    }
  }
  void debug(const Notes& notes) const {
    for (const std::string& n : notes) {
      debug(n);
    }
  }
  void announce(const std::vector<SyncEvent>& events) const {
    for (const SyncEvent& e : events) {
      if (events_.sync_event) {
        events_.sync_event(e);
      }
    }
  }
  bool leaving();
  // Every read-modify-write goes through here: the lock wait is
  // lock_timeout, or what is left of leave_lock_timeout once leaving. The
  // mutation runs settle() first, then `then` (may be empty).
  Result<StateStore::Update> update(Step step,
                                    const std::function<bool(State&, const Self&)>& then = {});
  // Runs an update and takes its result (or degrades): true if it worked.
  bool commit(Step step, const std::function<bool(State&, const Self&)>& then = {});
  void warn(const std::string& text) const {
    if (events_.warning) {
      events_.warning(text);
    }
  }
  void evaluate(Step step);
  // A wake-up (pidfd or doorbell). Most change nothing: judge a lockless
  // read first, and take the lock only if a write is needed.
  void on_wake();
  void degrade(const Error& error);
  // Takes a state as the truth after an evaluation: take_view(), then the
  // start-up decision, the failover note and the due timer.
  void adopt(State s);
  // The part of adopt() the due timer's fresh read needs too: the view, the
  // events it announces, the role and the primary's pid watch.
  void take_view(State s);
  // A secondary notes "skipped as secondary" at each fleet due time (SPEC
  // §6), when its due timer fires. The primary's next sync can reach this
  // instance first (a loaded machine may run its timer late): the decision
  // for that due time is then noted here instead, once.
  void note_overtaken_skip(const State& next);
  void set_role(Role role);
  // A secondary watches the primary's host process, when it is on this host
  // and boot, to take over within milliseconds of its death.
  void watch_primary();
  // Coalesces wake-ups: one evaluation however many events arrive at once.
  void post_evaluate();
  void arm_tick();
  Due due_check();
  void arm_due();
  void on_due_timer();
  Coordinator::SyncGrant begin_sync(SyncTrigger trigger);
  void sync_process_started(int pid);
  void end_sync(SyncOutcome outcome, const std::string& message,
                std::optional<int> new_messages = std::nullopt);
  void mail_changed();
  void channels_changed(const std::vector<std::string>& channels);
  // Channels: coordinator_channels.cpp.
  void arm_channels();
  void on_channel_timer();
  Coordinator::SyncGrant begin_channel_sync(const std::string& channel);
  void channel_process_started(const std::string& channel, int pid);
  void end_channel_sync(const std::string& channel, SyncOutcome outcome, const std::string& message,
                        std::optional<int> new_messages);
  void start();
  void stop();
  void set_released(bool released);
  void input();
  void set_session_away(bool away);
  // Debug notes when this instance or the fleet turns away or back.
  void note_presence();
  Status status() const;
};

}  // namespace himalaya::coordinator
