// This instance's syncs, its start and stop, and its status (runtime.h).
#include "coordinator/runtime.h"
#include "coordinator/status_view.h"

namespace himalaya::coordinator {

Coordinator::SyncGrant Coordinator::Impl::begin_sync(SyncTrigger trigger) {
  if (stopped()) {
    return {false, "the coordinator is stopped"};
  }
  if (own_sync_ || own_channel_) {
    return {false, "a sync of this instance is already running"};
  }
  if (leaving()) {
    return {false, "this instance is leaving"};
  }
  const bool manual = trigger == SyncTrigger::manual;
  Grant grant{true, manual ? "manual sync" : "uncoordinated sync"};
  std::optional<double> recorded;
  if (config_.enabled) {
    const bool ok = commit(Step::look, [&](State& s, const Self& me) {
      const Now now = read_clocks(clock());
      grant = grant_sync(s, memory_, me, trigger, uptime(), now);
      recorded = grant.granted ? std::optional<double>(now.wall) : std::nullopt;
      return grant.granted;
    });
    if (!ok) {
      recorded.reset();
      grant = leaving()
                  ? Grant{false, "this instance is leaving"}
                  : Grant{true, manual ? "manual sync (uncoordinated)" : "uncoordinated sync"};
    }
  }
  if (!grant.granted) {
    debug("sync not started: " + grant.reason);
    return {false, grant.reason};
  }
  own_sync_ = OwnSync{recorded.value_or(clock().wall()), trigger};
  own_last_started_ = own_sync_->started;
  own_last_boot_ = clock().boottime();
  startup_ = Startup::decided;
  memory_.push_pending = false;  // this sync fetches every change reported before it
  due_asked_.reset();            // the next due time may come within this heartbeat
  due_timer_->cancel();
  debug("sync started: " + grant.reason);
  if (!recorded) {
    SyncRecord mine{identity_.instance_id, own_sync_->started, identity_.host_pid};
    mine.trigger = trigger;
    announce(announcer_.local_started(mine));
  }
  return {true, grant.reason};
}

void Coordinator::Impl::sync_process_started(int pid) {
  if (!own_sync_ || !coordinated() || pid <= 0) {
    return;
  }
  auto ticks = env_->probe().start_ticks(pid);
  if (!ticks) {
    return;  // already exited: the end is about to be recorded anyway
  }
  commit(Step::look,
         [&](State& s, const Self& me) { return record_sync_process(s, me, pid, *ticks); });
}

void Coordinator::Impl::end_sync(SyncOutcome outcome, const std::string& message,
                                 std::optional<int> new_messages) {
  if (!own_sync_) {
    return;
  }
  const SyncResult mine{identity_.instance_id, own_sync_->started, clock().wall(), outcome, message,
                        own_sync_->trigger,    new_messages};
  own_sync_.reset();
  if (config_.enabled) {
    commit(Step::look, [&](State& s, const Self& me) { return record_sync_end(s, me, mine); });
  } else {
    arm_due();
  }
  announce(announcer_.local_done(mine));  // nothing if the file's view announced it
  debug(std::string("sync ended: ") + to_string(outcome) +
        (message.empty() ? "" : " (" + message + ")"));
}

void Coordinator::Impl::mail_changed() {
  if (stopped() || role_ != Role::primary) {
    debug("push ignored: this instance is not primary");
    return;
  }
  if (has_channels()) {
    debug("push ignored: with channels, a change names the channels it is for");
    return;
  }
  if (!memory_.push_pending) {
    debug("push: the server reported a change");
  }
  memory_.push_pending = true;
  arm_due();
}

void Coordinator::Impl::start() {
  if (lifecycle_ != Lifecycle::created) {
    return;
  }
  lifecycle_ = Lifecycle::running;
  started_mono_ = clock().monotonic();
  next_tick_ = started_mono_;
  evaluate(Step::heartbeat);
  arm_tick();
}

void Coordinator::Impl::stop() {
  if (stopped()) {
    return;
  }
  leaving_since_ = leaving_since_.value_or(clock().monotonic());
  if (own_sync_) {
    end_sync(SyncOutcome::cancelled, "the instance exited");
  }
  if (own_channel_) {
    end_channel_sync(own_channel_->name, SyncOutcome::cancelled, "the instance exited",
                     std::nullopt);
  }
  if (lifecycle_ == Lifecycle::running && coordinated()) {
    released_ = true;
    evaluate(Step::leave);
  }
  lifecycle_ = Lifecycle::stopped;
  tick_timer_->cancel();
  due_timer_->cancel();
  defer_timer_->cancel();
  channel_timer_->cancel();
  env_->cancel_watches();
  if (role_ == Role::primary) {
    role_ = Role::secondary;
    if (events_.role_changed) {
      events_.role_changed(Role::primary, role_);
    }
  }
}

void Coordinator::Impl::set_released(bool released) {
  if (stopped() || released_ == released) {
    return;
  }
  released_ = released;
  evaluate(released ? Step::look : Step::heartbeat);
}

Status Coordinator::Impl::status() const {
  StatusInputs in{identity_,
                  config_,
                  role_,
                  problem_,
                  config_.enabled && memory_.view ? &*memory_.view : nullptr,
                  memory_,
                  own_sync_,
                  own_last_boot_,
                  &channel_memory_};
  return make_status(in, read_clocks(clock()));
}

}  // namespace himalaya::coordinator
