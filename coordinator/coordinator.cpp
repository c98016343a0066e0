// The runtime: timers, watches, one adopt(), degrade() and status(). Every
// decision is a transition (transitions.h) run inside StateStore::update().
#include "coordinator/coordinator.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>

#include "coordinator/asio_environment.h"
#include "coordinator/runtime.h"

namespace himalaya::coordinator {

const char* to_string(Role role) {
  switch (role) {
    case Role::primary:
      return "primary";
    case Role::secondary:
      return "secondary";
    case Role::uncoordinated:
      return "uncoordinated";
  }
  return "secondary";
}

bool Coordinator::Impl::settle_all(State& s, const Self& me, Step step, const Now& now,
                                   Notes& notes) {
  // The channel syncs first: the election in settle() prunes the records of
  // dead instances, and a channel sync whose instance died before it could
  // record the sync's process is told over by that instance's record alone.
  bool changed =
      has_channels() && settle_channel_syncs(s, channel_memory_, me, own_channel_, now, notes);
  changed |= settle(s, memory_, me, step, now, decision_, notes);
  return settle_channels(s, config_.channels, decision_, notes) || changed;
}

bool Coordinator::Impl::leaving() {
  if (!leaving_since_ && config_.leaving && config_.leaving()) {
    leaving_since_ = clock().monotonic();
  }
  return leaving_since_.has_value();
}

// Every read-modify-write goes through here: the lock wait is
// lock_timeout, or what is left of leave_lock_timeout once leaving. The
// mutation runs settle() first, then `then` (may be empty).
Result<StateStore::Update> Coordinator::Impl::update(
    Step step, const std::function<bool(State&, const Self&)>& then) {
  const Self me = self();
  Notes notes;
  // Once leaving, the waits of all updates share leave_lock_timeout: the
  // time spent leaving before this wait, plus this wait (as the store
  // measures it) from the moment leaving was first seen in it.
  std::optional<std::pair<double, double>> leave_budget;  // (spent before, waited then)
  auto result = env_->store().update(
      [&](State& s) {
        notes.clear();
        const Now now = read_clocks(clock());
        bool changed = settle_all(s, me, step, now, notes);
        if (then) {
          changed |= then(s, me);
        }
        return changed;
      },
      [&](double waited) {
        if (!leaving()) {
          return waited < config_.timings.lock_timeout;
        }
        if (!leave_budget) {
          leave_budget.emplace(clock().monotonic() - *leaving_since_, waited);
        }
        return leave_budget->first + (waited - leave_budget->second) <
               config_.timings.leave_lock_timeout;
      });
  debug(notes);
  return result;
}

// Runs an update and takes its result (or degrades): true if it worked.
bool Coordinator::Impl::commit(Step step, const std::function<bool(State&, const Self&)>& then) {
  auto result = update(step, then);
  if (!result) {
    degrade(result.error());
    return false;
  }
  StateStore::Update& u = result.value();
  if (u.moved_aside) {
    warn("the state file was corrupt (" + u.corrupt_reason + "); moved it to " +
         u.moved_aside->string() + " and started a new one");
  }
  if (!problem_.empty()) {
    debug("coordination restored: the state file is usable again");
    problem_.clear();
  }
  if (!env_->doorbell_watched()) {
    env_->watch_doorbell([this] { post_evaluate(); });
  }
  adopt(std::move(u.state));
  if (u.written) {
    env_->post([this] { env_->store().sync_directory(); });
  }
  return true;
}

void Coordinator::Impl::evaluate(Step step) {
  if (stopped()) {
    return;
  }
  if (!config_.enabled) {
    set_role(Role::uncoordinated);
    arm_due();
    return;
  }
  commit(step);
}

// A wake-up (pidfd or doorbell). Most change nothing: judge a lockless
// read first, and take the lock only if a write is needed.
void Coordinator::Impl::on_wake() {
  if (stopped() || !config_.enabled || !problem_.empty()) {
    evaluate(Step::look);
    return;
  }
  auto read = env_->store().read();
  if (read) {
    State copy = read.value();
    Notes notes;
    if (!settle_all(copy, self(), Step::look, read_clocks(clock()), notes)) {
      adopt(std::move(read.value()));
      return;
    }
    if (decision_.lease_changed && decision_.primary &&
        *decision_.primary != identity_.instance_id && !defer_timer_->armed()) {
      // Another instance is the successor and got the same wake-up: let
      // it write, so the fleet does not queue on the lock. If it has not
      // done so shortly, appoint it from here.
      defer_timer_->arm(std::min(0.05, config_.timings.heartbeat_interval),
                        [this] { evaluate(Step::look); });
      return;
    }
  }
  defer_timer_->cancel();
  evaluate(Step::look);
}

void Coordinator::Impl::degrade(const Error& error) {
  if (leaving()) {
    // On the way out: nothing to fall back to. The others see this
    // instance's process gone, or its heartbeat stop.
    debug("leaving without updating the state file: " + error.message);
    return;
  }
  if (problem_ != error.message) {
    warn("sync coordination is not working (" + error.message +
         "); this instance syncs on its own timer until the state file works again");
  }
  problem_ = error.message;
  env_->watch_process(0, {});
  env_->watch_owners({}, {});
  set_role(Role::uncoordinated);
  arm_due();
}

// Takes a state as the truth: the view, events, role, the primary's pid
// watch, the due timer.
void Coordinator::Impl::adopt(State s) {
  take_view(std::move(s));
  const State& view = *memory_.view;
  // A look at the schedule, remembered even when nothing has synced yet
  // (stamp 0): a stamp that is new at the next look was written after this
  // one, whatever the writer's clock says (SyncClock).
  const Now now = read_clocks(clock());
  memory_.last_sync.since(view.last_sync_time, now.wall, now.boot);
  if (startup_ == Startup::unknown) {
    startup_ =
        role_ == Role::primary && decision_.lease_changed ? Startup::pending : Startup::decided;
  }
  if (decision_.lease_changed && decision_.primary) {
    debug(decision_.previous
              ? "failover: " + *decision_.primary + " replaces " + *decision_.previous + " (" +
                    to_string(decision_.reason) + ")"
              : *decision_.primary + " becomes primary (" + to_string(decision_.reason) + ")");
  }
  decision_ = Decision{};
  note_presence();
  arm_due();
  arm_channels();
}

void Coordinator::Impl::take_view(State s) {
  note_overtaken_skip(s);
  memory_.view = std::move(s);
  const State& view = *memory_.view;
  announce(announcer_.observe(view));
  const bool primary = view.primary && view.primary->instance_id == identity_.instance_id;
  set_role(primary ? Role::primary : Role::secondary);
  watch_primary();
}

// A secondary notes "skipped as secondary" at each fleet due time (SPEC
// §6), when its due timer fires. The primary's next sync can reach this
// instance first (a loaded machine may run its timer late): the decision
// for that due time is then noted here instead, once.
void Coordinator::Impl::note_overtaken_skip(const State& next) {
  if (!memory_.view || role_ != Role::secondary) {
    return;
  }
  const double due_for = memory_.view->last_sync_time;
  if (due_for <= 0 || next.last_sync_time == due_for || skip_noted_for_ == due_for ||
      !next.primary || next.primary->instance_id == identity_.instance_id) {
    return;
  }
  // A sync long before the due time (a manual one) is not this decision.
  const Now now = read_clocks(clock());
  const double since = memory_.last_sync.peek(due_for, now.wall, now.boot);
  if (since < config_.timings.interval - config_.timings.heartbeat_interval) {
    return;
  }
  skip_noted_for_ = due_for;
  debug("skipped as secondary: " + next.primary->instance_id + " is primary");
}

void Coordinator::Impl::set_role(Role role) {
  if (role == role_) {
    return;
  }
  const Role before = role_;
  role_ = role;
  if (before == Role::primary) {
    memory_.push_pending = false;  // the new primary's watcher reports from now on
  }
  std::string text = std::string("role: ") + to_string(before) + " -> " + to_string(role);
  if (role != Role::uncoordinated && memory_.view && memory_.view->primary) {
    text += "; primary is " + memory_.view->primary->instance_id;
  }
  debug(text);
  if (events_.role_changed) {
    events_.role_changed(before, role);
  }
}

// A secondary watches the primary's host process, when it is on this host
// and boot, to take over within milliseconds of its death.
void Coordinator::Impl::watch_primary() {
  env_->watch_process(
      role_ == Role::secondary ? primary_pid_here(*memory_.view, identity_.host) : 0,
      [this] { post_evaluate(); });
  // With channels, every owner's death moves channels: watch them all.
  env_->watch_owners(has_channels() && role_ != Role::uncoordinated
                         ? owner_pids_here(*memory_.view, identity_.host, identity_.instance_id)
                         : std::vector<int>{},
                     [this] { post_evaluate(); });
}

// Coalesces wake-ups: one evaluation however many events arrive at once.
void Coordinator::Impl::post_evaluate() {
  if (evaluation_posted_ || stopped()) {
    return;
  }
  evaluation_posted_ = true;
  env_->post([this] {
    evaluation_posted_ = false;
    on_wake();
  });
}

void Coordinator::Impl::arm_tick() {
  const double now = clock().monotonic();
  next_tick_ += config_.timings.heartbeat_interval;
  if (next_tick_ < now) {  // fell behind (stopped, or the machine was busy): no catch-up burst
    next_tick_ = now + config_.timings.heartbeat_interval;
  }
  tick_timer_->arm(next_tick_ - now, [this] {
    ++tick_count_;
    evaluate(Step::heartbeat);
    arm_tick();
  });
}

Due Coordinator::Impl::due_check() {
  if (!config_.auto_sync || own_sync_ || stopped()) {
    return Due{};
  }
  const Now now = read_clocks(clock());
  if (!coordinated()) {
    return next_due_alone(memory_, self(), own_last_boot_, uptime(), now);
  }
  if (!memory_.view || has_channels()) {
    return Due{};  // with channels, each channel's owner runs it (arm_channels())
  }
  Due due = next_due(memory_, self(), may_sync_automatically(*memory_.view, identity_.instance_id),
                     uptime(), now);
  if (!due.interval_note.empty()) {
    debug(due.interval_note);
  }
  return due;
}

void Coordinator::Impl::arm_due() {
  due_timer_->cancel();
  if (stopped()) {
    return;
  }
  const Due due = due_check();
  if (due.startup_decided && !due.now) {
    startup_ = Startup::decided;
    debug("no start-up sync: the last sync is within the cooldown");
  }
  if (due.now || due.wait >= 0) {
    due_timer_->arm(due.now ? 0 : due.wait, [this] { on_due_timer(); });
  }
}

void Coordinator::Impl::on_due_timer() {
  if (coordinated()) {
    // Check against the file as it is now: a primary that was stopped and
    // lost the role steps down here instead of asking for a sync. A file
    // that is gone (created == 0) says nothing about roles: keep the last
    // view, which the next update rebuilds the file from.
    auto read = env_->store().read();
    if (read && read.value().created != 0) {
      memory_.seen.observe(read.value(), clock().monotonic());
      take_view(std::move(read.value()));
    }
  }
  const Due due = due_check();
  if (!due.now) {
    if (!due.reason.empty()) {
      if (role_ == Role::secondary && memory_.view) {
        skip_noted_for_ = memory_.view->last_sync_time;
      }
      debug(due.reason);
    }
    arm_due();
    return;
  }
  if (due_asked_ == tick_count_) {
    return;  // asked already; the next heartbeat asks again
  }
  due_asked_ = tick_count_;
  debug("sync due: " + due.reason);
  if (events_.sync_due) {
    events_.sync_due(due.trigger);
  }
}

Coordinator::Coordinator(boost::asio::io_context& io, Config config, Identity identity,
                         std::shared_ptr<const Clock> clock, Events events) {
  auto env = std::make_unique<AsioEnvironment>(io, config.state_file, config.timings.lock_timeout,
                                               std::move(clock));
  impl_ = std::make_unique<Impl>(std::move(env), std::move(config), std::move(identity),
                                 std::move(events));
}

Coordinator::Coordinator(std::unique_ptr<Environment> environment, Config config, Identity identity,
                         Events events)
    : impl_(std::make_unique<Impl>(std::move(environment), std::move(config), std::move(identity),
                                   std::move(events))) {}

Coordinator::~Coordinator() {
  try {
    impl_->events_ = Events{};
    impl_->stop();
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
  }
}

void Coordinator::start() {
  impl_->start();
}
Coordinator::SyncGrant Coordinator::begin_sync(SyncTrigger trigger) {
  return impl_->begin_sync(trigger);
}
void Coordinator::sync_process_started(int pid) {
  impl_->sync_process_started(pid);
}
void Coordinator::end_sync(SyncOutcome outcome, const std::string& message,
                           std::optional<int> new_messages) {
  impl_->end_sync(outcome, message, new_messages);
}
Coordinator::SyncGrant Coordinator::begin_channel_sync(const std::string& channel) {
  return impl_->begin_channel_sync(channel);
}
void Coordinator::channel_process_started(const std::string& channel, int pid) {
  impl_->channel_process_started(channel, pid);
}
void Coordinator::end_channel_sync(const std::string& channel, SyncOutcome outcome,
                                   const std::string& message, std::optional<int> new_messages) {
  impl_->end_channel_sync(channel, outcome, message, new_messages);
}
void Coordinator::mail_changed() {
  impl_->mail_changed();
}
void Coordinator::mail_changed(const std::vector<std::string>& channels) {
  impl_->channels_changed(channels);
}
void Coordinator::input() {
  impl_->input();
}
void Coordinator::session_away(bool away) {
  impl_->set_session_away(away);
}
void Coordinator::release() {
  impl_->set_released(true);
}
void Coordinator::resume() {
  impl_->set_released(false);
}
void Coordinator::stop() {
  impl_->stop();
}
Status Coordinator::status() const {
  return impl_->status();
}
Role Coordinator::role() const {
  return impl_->role_;
}

}  // namespace himalaya::coordinator
