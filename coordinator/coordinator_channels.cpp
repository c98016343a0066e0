// This instance's channels (Config::channels, runtime.h): the timer that
// finds its next due channel, and the start, process and end of its channel
// syncs. Who owns which channel is settled in every read-modify-write
// (settle_all(), settle_channels()); the doorbell rings when an owner changes
// or a channel starts or ends, so a new owner arms its timer at once.
#include <algorithm>

#include "coordinator/runtime.h"

namespace himalaya::coordinator {

void Coordinator::Impl::arm_channels() {
  channel_timer_->cancel();
  if (!has_channels() || !config_.auto_sync || stopped() || !coordinated() || !memory_.view ||
      own_sync_ || own_channel_ || released_) {
    return;
  }
  const Now now = read_clocks(clock());
  const auto wait = next_channel_due(*memory_.view, channel_memory_, self(), config_.channels.specs,
                                     config_.channels.max_parallel, now);
  if (!wait) {
    return;
  }
  // No channel before the start-up delay: the editor opens first.
  const double startup_left = config_.timings.startup_delay - uptime().seconds;
  channel_timer_->arm(std::max({0.0, *wait, startup_left}), [this] { on_channel_timer(); });
}

void Coordinator::Impl::on_channel_timer() {
  // Against the file as it is now, as on_due_timer() does: an owner that was
  // stopped and lost its channels finds that out here.
  auto read = env_->store().read();
  if (read && read.value().created != 0) {
    memory_.seen.observe(read.value(), clock().monotonic());
    take_view(std::move(read.value()));
  }
  if (!memory_.view || own_sync_ || own_channel_) {
    return;
  }
  const auto channel = due_channel(*memory_.view, channel_memory_, self(), config_.channels.specs,
                                   config_.channels.max_parallel, read_clocks(clock()));
  if (!channel) {
    arm_channels();
    return;
  }
  // The same question once per heartbeat: if the host did not start it, the
  // next heartbeat asks again. Another channel, this one after a start or a
  // push, or a fleet in which another sync started or ended (the refusal may
  // have been max_parallel, or a sync of this instance) is a new question.
  const ChannelRecord& record = memory_.view->channels.at(*channel);
  const int running = running_channels(*memory_.view) + (memory_.view->running_sync ? 1 : 0);
  auto asked =
      std::make_tuple(tick_count_, *channel, record.last_sync_time, record.pushed, running);
  if (channel_asked_ == asked) {
    return;
  }
  channel_asked_ = std::move(asked);
  debug("channel due: " + *channel);
  if (events_.channel_due) {
    events_.channel_due(*channel);
  }
}

void Coordinator::Impl::channels_changed(const std::vector<std::string>& channels) {
  if (stopped() || role_ != Role::primary || !has_channels() || !coordinated()) {
    debug("push ignored: this instance is not the primary of a fleet with channels");
    return;
  }
  std::string names;
  for (const auto& name : channels) {
    names += (names.empty() ? "" : ", ") + name;
  }
  if (channels.empty()) {
    debug("push: the change is in no configured channel");
    return;
  }
  debug("push: the server reported a change for " + names);
  const double wall = clock().wall();
  commit(Step::look, [&](State& s, const Self&) { return record_channel_push(s, channels, wall); });
  arm_channels();  // this instance may own some of them
}

Coordinator::SyncGrant Coordinator::Impl::begin_channel_sync(const std::string& channel) {
  if (stopped() || leaving()) {
    return {false, "this instance is stopping"};
  }
  if (own_sync_ || own_channel_) {
    return {false, "a sync of this instance is already running"};
  }
  auto spec = std::find_if(config_.channels.specs.begin(), config_.channels.specs.end(),
                           [&](const ChannelSpec& c) { return c.name == channel; });
  if (spec == config_.channels.specs.end()) {
    return {false, "channel " + channel + " is not configured"};
  }
  if (!coordinated()) {
    return {false, "coordination is off: channels wait for the state file"};
  }
  ChannelGrant grant;
  double started = 0;
  const bool ok = commit(Step::look, [&](State& s, const Self& me) {
    own_channel_.reset();  // in case the store runs this again
    const Now now = read_clocks(clock());
    grant = grant_channel_sync(s, channel_memory_, me, *spec, config_.channels.max_parallel, now);
    started = now.wall;
    if (grant.granted) {
      // settle_all() must see it as its own.
      own_channel_ = OwnChannelSync{channel, started,
                                    grant.check.push ? SyncTrigger::push : SyncTrigger::automatic};
    }
    return grant.granted;
  });
  if (!ok || !grant.granted) {
    own_channel_.reset();
    const std::string why = ok ? grant.reason : "the state file could not be updated";
    debug("channel sync not started: " + why);
    return {false, why};
  }
  own_last_started_ = started;
  own_last_boot_ = clock().boottime();
  channel_timer_->cancel();
  debug("channel sync started: " + grant.reason);
  return {true, grant.reason};
}

void Coordinator::Impl::channel_process_started(const std::string& channel, int pid) {
  if (!own_channel_ || own_channel_->name != channel || !coordinated() || pid <= 0) {
    return;
  }
  auto ticks = env_->probe().start_ticks(pid);
  if (!ticks) {
    return;  // already exited: the end is about to be recorded anyway
  }
  const double started = own_channel_->started;
  commit(Step::look, [&](State& s, const Self& me) {
    return record_channel_process(s, me, channel, started, pid, *ticks);
  });
}

void Coordinator::Impl::end_channel_sync(const std::string& channel, SyncOutcome outcome,
                                         const std::string& message,
                                         std::optional<int> new_messages) {
  if (!own_channel_ || own_channel_->name != channel) {
    return;
  }
  const SyncResult mine{
      identity_.instance_id, own_channel_->started, clock().wall(), outcome, message,
      own_channel_->trigger, new_messages};
  own_channel_.reset();
  commit(Step::look,
         [&](State& s, const Self& me) { return record_channel_end(s, me, channel, mine); });
  debug("channel sync ended: " + channel + " " + to_string(outcome) +
        (message.empty() ? "" : " (" + message + ")"));
}

}  // namespace himalaya::coordinator
