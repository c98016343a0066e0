#include "coordinator/coordinator.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cmath>

#include "coordinator/election.h"
#include "coordinator/liveness.h"
#include "coordinator/schedule.h"
#include "coordinator/state_file.h"
#include "coordinator/watch.h"

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

namespace {

// Why an evaluation runs; it decides what the mutation refreshes.
enum class Cause {
  start,    // first registration
  tick,     // heartbeat: refresh own record, and the lease if primary
  watch,    // pidfd or doorbell: re-judge, write only if something must change
  release,  // VimSuspend
  resume,   // VimResume
  leave,    // stop(): remove own record, hand over
  sync,     // begin_sync/end_sync: re-judge as part of the sync record
  appoint,  // a deferred watch wake-up: write whatever the election says
};

std::chrono::steady_clock::duration to_duration(double seconds) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(std::max(0.0, seconds)));
}

}  // namespace

class Coordinator::Impl {
 public:
  Impl(boost::asio::io_context& io, Config config, Identity identity,
       std::shared_ptr<const Clock> clock, Events events)
      : io_(io),
        config_(std::move(config)),
        identity_(std::move(identity)),
        clock_(clock ? std::move(clock) : std::make_shared<SystemClock>()),
        events_(std::move(events)),
        file_(config_.state_file,
              StateFile::Options{std::size_t{1024} * 1024, config_.lock_timeout, true}, clock_),
        tick_timer_(io),
        due_timer_(io),
        defer_timer_(io),
        pid_watch_(io),
        doorbell_(io),
        alive_(std::make_shared<bool>(true)) {
    policy_.interval = config_.interval;
    policy_.startup_delay = config_.startup_delay;
    policy_.sync_cooldown = config_.sync_cooldown;
    policy_.sync_timeout = config_.sync_timeout;
    policy_.grace = config_.takeover_threshold;
  }

 private:
  friend class Coordinator;

  boost::asio::io_context& io_;
  Config config_;
  Identity identity_;
  std::shared_ptr<const Clock> clock_;
  Events events_;
  ProcProbe probe_;
  StateFile file_;
  SyncPolicy policy_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer due_timer_;
  boost::asio::steady_timer defer_timer_;
  PidWatch pid_watch_;
  DoorbellWatch doorbell_;
  std::shared_ptr<bool> alive_;

  Observations seen_;
  SyncClock last_sync_clock_;
  SyncClock running_clock_;
  State state_;  // the last state read or written
  bool have_state_ = false;
  // The last_sync_time whose due time a secondary has noted "skipped as
  // secondary" for (note_overtaken_skip()).
  double skip_noted_for_ = -1;
  Decision decision_;        // the last election's
  SyncAnnouncer announcer_;  // which syncs of the fleet were announced
  // Another instance's sync whose process this instance first saw gone, and
  // when (monotonic): see exit_grace_over().
  std::optional<std::pair<std::string, double>> exit_seen_;
  double exit_seen_at_ = 0;

  Role role_ = Role::secondary;
  bool started_ = false;
  bool stopped_ = false;
  bool released_ = false;
  bool first_election_done_ = false;
  bool startup_pending_ = false;
  bool evaluation_posted_ = false;
  bool due_fired_ = false;
  bool appointment_deferred_ = false;
  std::string problem_;  // set while Uncoordinated because the file failed
  double started_mono_ = 0;
  // When this instance was first seen leaving (Config::leaving); real time,
  // like the lock waits it bounds.
  std::optional<std::chrono::steady_clock::time_point> leaving_since_;

  // This instance's own sync, and the Uncoordinated schedule.
  bool local_running_ = false;
  double local_started_wall_ = 0;
  SyncTrigger local_trigger_ = SyncTrigger::automatic;
  std::optional<double> local_last_boot_;

  void debug(const std::string& text) {
    if (events_.debug) {
      events_.debug(text);
    }
  }
  void warn(const std::string& text) {
    if (events_.warning) {
      events_.warning(text);
    }
  }

  void announce(const std::vector<SyncEvent>& events) {
    for (const SyncEvent& e : events) {
      if (events_.sync_event) {
        events_.sync_event(e);
      }
    }
  }

  // A sync whose process is gone is over, but its instance records the end
  // itself within milliseconds unless it is frozen. Judged over at once, a
  // reader raced that record and announced 'outcome unknown' for a sync that
  // had succeeded; so it waits until it has seen the process gone for a
  // moment (the heartbeat interval, at most a second) across its evaluations.
  bool exit_grace_over(const SyncRecord& r, double mono) {
    std::pair<std::string, double> key{r.instance_id, r.started};
    if (exit_seen_ != key) {
      exit_seen_ = std::move(key);
      exit_seen_at_ = mono;
    }
    return mono - exit_seen_at_ >= std::min(config_.heartbeat_interval, 1.0);
  }

  bool coordinated() const { return config_.enabled && problem_.empty(); }

  bool leaving() {
    if (!leaving_since_ && config_.leaving && config_.leaving()) {
      leaving_since_ = std::chrono::steady_clock::now();
    }
    return leaving_since_.has_value();
  }

  // Every read-modify-write of the state file goes through here: the lock
  // wait is lock_timeout, or what is left of leave_lock_timeout once leaving.
  Result<StateFile::Update> update_file(const StateFile::Mutation& mutate) {
    return file_.update(mutate, [this](double waited) {
      if (leaving()) {
        return std::chrono::steady_clock::now() - *leaving_since_ <
               to_duration(config_.leave_lock_timeout);
      }
      return waited < config_.lock_timeout;
    });
  }

  ElectionContext election_context(double mono) const {
    ElectionContext ctx;
    ctx.self_id = identity_.instance_id;
    ctx.here = identity_.host;
    ctx.probe = &probe_;
    ctx.seen = &seen_;
    ctx.now = mono;
    ctx.takeover_threshold = config_.takeover_threshold;
    ctx.prune_after = 2 * config_.takeover_threshold;
    return ctx;
  }

  // The common part of every read-modify-write: observe, refresh own record,
  // settle an abandoned running sync, re-stamp a future last_sync_time, elect.
  // Returns whether the state must be written.
  bool settle(State& s, Cause cause) {
    const double mono = clock_->monotonic();
    const double wall = clock_->wall();
    const double boot = clock_->boottime();
    const std::string& self = identity_.instance_id;
    bool changed = false;
    if (s.created == 0 && have_state_ && state_.created != 0) {
      // The file is gone (deleted, or corrupt and moved aside) after this
      // instance had seen it: rebuild it from that last view rather than from
      // nothing, so the fleet keeps its primary and its sync record (and the
      // cooldown holds). A running sync is kept only if it is this instance's
      // own: another's may have ended since this view was taken.
      std::optional<SyncRecord> running;
      if (local_running_ && state_.running_sync &&
          state_.running_sync->instance_id == identity_.instance_id) {
        running = state_.running_sync;
      }
      s = state_;
      s.running_sync = std::move(running);
      debug("the state file was missing or unusable; rebuilt it from this instance's last view");
      changed = true;
    }
    seen_.observe(s, mono);

    auto mine = s.instances.find(self);
    if (cause == Cause::leave) {
      if (mine != s.instances.end()) {
        s.instances.erase(mine);
        changed = true;
      }
    } else if (mine == s.instances.end() || mine->second.released != released_ ||
               cause == Cause::tick || cause == Cause::start || cause == Cause::resume) {
      s.instances[self] = to_record(identity_, wall, released_);
      changed = true;
    }

    // This instance's own sync is ended by end_sync(), with its real outcome;
    // judged from here it would look over (its process gone) in the moment
    // between the process's exit and that record.
    const bool own_sync = local_running_ && s.running_sync && s.running_sync->instance_id == self;
    if (s.running_sync && !own_sync) {
      double age = running_clock_.since(s.running_sync->started, wall, boot);
      RunningVerdict v = running_sync_active(s, identity_.host, probe_, age, policy_);
      if (v.process_exited && !exit_grace_over(*s.running_sync, mono)) {
        v.active = true;
      }
      if (!v.active) {
        debug("sync by " + s.running_sync->instance_id + " considered over: " + v.reason);
        s.last_result = SyncResult{
            s.running_sync->instance_id, s.running_sync->started, wall, v.outcome, v.reason,
            s.running_sync->trigger};
        s.running_sync.reset();
        changed = true;
      }
    }
    if (s.last_sync_time <= 0 && have_state_ && state_.last_sync_time > 0) {
      // The file was rebuilt by an instance that had no view of it (deleted,
      // or moved aside as corrupt, before it ever read it): keep the fleet's
      // schedule as this instance last saw it, rather than start a sync as if
      // there had never been one.
      s.last_sync_time = state_.last_sync_time;
      s.last_sync_instance = state_.last_sync_instance;
      changed = true;
    }
    if (local_started_wall_ > s.last_sync_time && local_started_wall_ <= wall) {
      // This instance started a sync after the recorded last one: the file
      // was rebuilt by an instance whose view predates that start (or this
      // sync ran Uncoordinated). The start is a fact; forgetting it would
      // make the next sync due at once.
      s.last_sync_time = local_started_wall_;
      s.last_sync_instance = self;
      changed = true;
    }
    // Only the instance that wrote the stamp re-stamps it. A stamp of another
    // instance lying in this reader's future may come from a clock unlike
    // ours (another machine sharing the home): rewritten in our frame, it made
    // that writer read its own sync as an hour old and sync again at every
    // heartbeat. Readers are safe without it: SyncClock clamps.
    if (s.last_sync_instance == self && restamp_last_sync(s, last_sync_clock_, wall, boot)) {
      debug("last sync time was in the future (wall clock went back); re-stamped");
      changed = true;
    }

    decision_ = elect(s, election_context(mono));
    if (decision_.lease_changed || !decision_.prune.empty()) {
      apply(decision_, s, wall);
      changed = true;
    }
    if (s.primary && s.primary->instance_id == self && !decision_.lease_changed &&
        (cause == Cause::tick || cause == Cause::start || cause == Cause::resume)) {
      s.primary->last_heartbeat = wall;
      s.primary->pid = identity_.nvim_pid;
      s.primary->nvim_version = identity_.nvim_version;
      changed = true;
    }
    return changed;
  }

  void evaluate(Cause cause) {
    if (stopped_) {
      return;
    }
    if (!config_.enabled) {
      set_role(Role::uncoordinated);
      arm_due();
      return;
    }
    if (cause == Cause::watch && problem_.empty()) {
      // Most wake-ups change nothing: judge a lockless read first, and take
      // the lock only if a write is needed.
      auto read = file_.read();
      if (read) {
        State copy = read.value();
        if (!settle(copy, cause)) {
          adopt(std::move(read.value()));
          return;
        }
        if (decision_.lease_changed && decision_.primary &&
            *decision_.primary != identity_.instance_id && !appointment_deferred_) {
          // Another instance is the successor and got the same wake-up: let it
          // write, so the fleet does not queue on the lock. If it has not done
          // so shortly, appoint it from here.
          appointment_deferred_ = true;
          defer_timer_.expires_after(to_duration(std::min(0.05, config_.heartbeat_interval)));
          std::weak_ptr<bool> alive = alive_;
          defer_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
            if (ec || alive.expired() || stopped_) {
              return;
            }
            evaluate(Cause::appoint);
          });
          return;
        }
      }
    }
    if (cause == Cause::appoint) {
      appointment_deferred_ = false;
    }
    auto result = update_file([&](State& s) { return settle(s, cause); });
    if (!result) {
      degrade(result.error());
      return;
    }
    after_update(result.value());
  }

  void after_update(StateFile::Update& update) {
    if (update.moved_aside) {
      warn("the state file was corrupt (" + update.corrupt_reason + "); moved it to " +
           update.moved_aside->string() + " and started a new one");
    }
    if (!problem_.empty()) {
      debug("coordination restored: the state file is usable again");
      problem_.clear();
    }
    if (!doorbell_.active()) {
      const auto dir = file_.path().parent_path();
      doorbell_.watch(dir.empty() ? "." : dir, file_.lock_path().filename().string(),
                      [this] { post_evaluate(); });
    }
    adopt(std::move(update.state));
    if (update.written) {
      std::weak_ptr<bool> alive = alive_;
      boost::asio::post(io_, [this, alive] {
        if (!alive.expired()) {
          file_.sync_directory();
        }
      });
    }
  }

  void degrade(const Error& error) {
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
    pid_watch_.cancel();
    set_role(Role::uncoordinated);
    arm_due();
  }

  // Takes a state as the truth: role, the primary's pid watch, the due timer.
  void adopt(State s) {
    note_overtaken_skip(s);
    state_ = std::move(s);
    have_state_ = true;
    announce(announcer_.observe(state_));
    // A look at the schedule, remembered even when nothing has synced yet
    // (stamp 0): a stamp that is new at the next look was written after this
    // one, whatever the writer's clock says (SyncClock).
    last_sync_clock_.since(state_.last_sync_time, clock_->wall(), clock_->boottime());
    const std::string& self = identity_.instance_id;
    const bool primary = state_.primary && state_.primary->instance_id == self;
    if (!first_election_done_) {
      first_election_done_ = true;
      startup_pending_ = primary && decision_.lease_changed;
    }
    if (decision_.lease_changed && decision_.primary) {
      if (decision_.previous) {
        debug("failover: " + *decision_.primary + " replaces " + *decision_.previous + " (" +
              to_string(decision_.reason) + ")");
      } else {
        debug(*decision_.primary + " becomes primary (" + to_string(decision_.reason) + ")");
      }
    }
    set_role(primary ? Role::primary : Role::secondary);
    watch_primary();
    arm_due();
  }

  // A secondary notes "skipped as secondary" at each fleet due time (SPEC §6),
  // when its due timer fires. The primary's next sync can reach this instance
  // first (its timer is armed for the same moment, and a loaded machine may run
  // it late): the timer is then re-armed for the next due time, and the
  // decision for this one is noted here instead, once.
  void note_overtaken_skip(const State& next) {
    const double due_for = state_.last_sync_time;
    if (!have_state_ || role_ != Role::secondary || due_for <= 0 ||
        next.last_sync_time == due_for || skip_noted_for_ == due_for || !next.primary ||
        next.primary->instance_id == identity_.instance_id) {
      return;
    }
    // A sync long before the due time (a manual one) is not this decision.
    const double since = last_sync_clock_.peek(due_for, clock_->wall(), clock_->boottime());
    if (since < config_.interval - config_.heartbeat_interval) {
      return;
    }
    skip_noted_for_ = due_for;
    debug("skipped as secondary: " + next.primary->instance_id + " is primary");
  }

  void set_role(Role role) {
    if (role == role_) {
      return;
    }
    Role before = role_;
    role_ = role;
    std::string text = std::string("role: ") + to_string(before) + " -> " + to_string(role);
    if (role != Role::uncoordinated && state_.primary) {
      text += "; primary is " + state_.primary->instance_id;
    }
    debug(text);
    if (events_.role_changed) {
      events_.role_changed(before, role);
    }
  }

  // A secondary watches the primary's host process, when it is on this host
  // and boot, to take over within milliseconds of its death.
  void watch_primary() {
    int pid = 0;
    if (role_ == Role::secondary && state_.primary) {
      auto it = state_.instances.find(state_.primary->instance_id);
      if (it != state_.instances.end() && it->second.hostname == identity_.host.hostname &&
          it->second.boot_id == identity_.host.boot_id && it->second.host_pid > 0) {
        pid = it->second.host_pid;
      }
    }
    if (pid == 0) {
      pid_watch_.cancel();
    } else if (pid != pid_watch_.pid()) {
      pid_watch_.watch(pid, [this] { post_evaluate(); });
    }
  }

  // Coalesces wake-ups: one evaluation however many events arrive at once.
  void post_evaluate() {
    if (evaluation_posted_ || stopped_) {
      return;
    }
    evaluation_posted_ = true;
    std::weak_ptr<bool> alive = alive_;
    boost::asio::post(io_, [this, alive] {
      if (alive.expired()) {
        return;
      }
      evaluation_posted_ = false;
      evaluate(Cause::watch);
    });
  }

  void arm_tick() {
    auto next = tick_timer_.expiry() + to_duration(config_.heartbeat_interval);
    auto now = std::chrono::steady_clock::now();
    if (next < now) {  // fell behind (stopped, or the machine was busy): no catch-up burst
      next = now + to_duration(config_.heartbeat_interval);
    }
    tick_timer_.expires_at(next);
    std::weak_ptr<bool> alive = alive_;
    tick_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
      if (ec || alive.expired() || stopped_) {
        return;
      }
      due_fired_ = false;
      evaluate(Cause::tick);
      arm_tick();
    });
  }

  struct Due {
    bool now = false;
    double wait = -1;  // seconds until the next check; negative: none needed
    std::string reason;
    bool startup_decided = false;
  };

  Due due_check(bool remember) {
    Due due;
    if (!config_.auto_sync || local_running_ || stopped_) {
      return due;
    }
    const double wall = clock_->wall();
    const double boot = clock_->boottime();
    const double uptime = clock_->monotonic() - started_mono_;
    if (!coordinated()) {
      // Uncoordinated: this instance's own timer, every interval. Until it
      // has synced itself, it also counts from the fleet's last sync start as
      // it last read the file: an instance that goes Uncoordinated before it
      // ever synced must not sync at once and break the fleet's cooldown.
      double wait = local_last_boot_ ? config_.interval - (boot - *local_last_boot_)
                                     : config_.startup_delay - uptime;
      if (!local_last_boot_ && have_state_ && state_.last_sync_time > 0) {
        const double since = last_sync_clock_.peek(state_.last_sync_time, wall, boot);
        wait = std::max(wait, std::max(config_.interval, policy_.sync_cooldown) - since);
      }
      due.now = wait <= 0;
      due.wait = std::max(0.0, wait);
      due.reason = "uncoordinated sync";
      return due;
    }
    if (role_ != Role::primary) {
      // A secondary never syncs automatically. At each fleet due time it
      // notes that decision, so every instance's log tells what it decided.
      if (state_.last_sync_time > 0) {
        const double since = last_sync_clock_.peek(state_.last_sync_time, wall, boot);
        if (since < config_.interval) {
          due.wait = config_.interval - since;
        } else {
          due.reason = "skipped as secondary: " + (state_.primary
                                                       ? state_.primary->instance_id + " is primary"
                                                       : std::string("waiting for a primary"));
        }
      }
      return due;
    }
    SyncContext ctx;
    ctx.is_primary = true;
    double running_age =
        state_.running_sync ? running_clock_.peek(state_.running_sync->started, wall, boot) : 0;
    ctx.running = running_sync_active(state_, identity_.host, probe_, running_age, policy_).active;
    if (state_.last_sync_time > 0) {
      ctx.since_last = remember ? last_sync_clock_.since(state_.last_sync_time, wall, boot)
                                : last_sync_clock_.peek(state_.last_sync_time, wall, boot);
    }
    ctx.uptime = uptime;
    ctx.startup_pending = startup_pending_;
    ctx.policy = policy_;
    SyncCheck check = check_automatic_sync(ctx);
    due.now = check.start;
    due.wait =
        check.block == SyncBlock::cooldown || check.block == SyncBlock::not_due ? check.wait : -1;
    due.reason = check.reason;
    due.startup_decided = check.startup_decided;
    return due;
  }

  void arm_due() {
    due_timer_.cancel();
    if (stopped_) {
      return;
    }
    Due due = due_check(true);
    if (due.startup_decided && !due.now) {
      startup_pending_ = false;
      debug("no start-up sync: the last sync is within the cooldown");
    }
    if (due.now) {
      due_timer_.expires_after(std::chrono::steady_clock::duration::zero());
    } else if (due.wait >= 0) {
      due_timer_.expires_after(to_duration(due.wait));
    } else {
      return;
    }
    std::weak_ptr<bool> alive = alive_;
    due_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
      if (ec || alive.expired() || stopped_) {
        return;
      }
      on_due_timer();
    });
  }

  void on_due_timer() {
    if (coordinated()) {
      // Check against the file as it is now: a primary that was stopped and
      // lost the role steps down here instead of asking for a sync.
      auto read = file_.read();
      // A file that is gone (created == 0) says nothing about roles: keep the
      // last view, which the next update rebuilds the file from (settle()).
      if (read && read.value().created != 0) {
        seen_.observe(read.value(), clock_->monotonic());
        decision_ = Decision{};
        note_overtaken_skip(read.value());
        state_ = read.value();
        announce(announcer_.observe(state_));
        const bool primary = state_.primary && state_.primary->instance_id == identity_.instance_id;
        set_role(primary ? Role::primary : Role::secondary);
        watch_primary();
      }
    }
    Due due = due_check(true);
    if (!due.now) {
      if (!due.reason.empty()) {
        if (role_ == Role::secondary) {
          skip_noted_for_ = state_.last_sync_time;
        }
        debug(due.reason);
      }
      arm_due();
      return;
    }
    if (due_fired_) {
      return;  // asked already; the next heartbeat asks again
    }
    due_fired_ = true;
    debug("sync due: " + due.reason);
    if (events_.sync_due) {
      events_.sync_due();
    }
  }

  SyncGrant begin_sync(SyncTrigger trigger) {
    if (stopped_) {
      return {false, "the coordinator is stopped"};
    }
    if (local_running_) {
      return {false, "a sync of this instance is already running"};
    }
    if (leaving()) {
      return {false, "this instance is leaving"};
    }
    const bool manual = trigger == SyncTrigger::manual;
    SyncGrant grant;
    std::optional<double> recorded_start;
    if (config_.enabled) {
      auto result = update_file([&](State& s) {
        bool changed = settle(s, Cause::sync);
        const double wall = clock_->wall();
        const double boot = clock_->boottime();
        if (s.running_sync) {
          grant = {false,
                   "a sync is already running (started by " + s.running_sync->instance_id + ")"};
          return changed;
        }
        if (!manual) {
          SyncContext ctx;
          ctx.is_primary = s.primary && s.primary->instance_id == identity_.instance_id;
          if (s.last_sync_time > 0) {
            ctx.since_last = last_sync_clock_.since(s.last_sync_time, wall, boot);
          }
          ctx.uptime = clock_->monotonic() - started_mono_;
          ctx.startup_pending = startup_pending_;
          ctx.policy = policy_;
          SyncCheck check = check_automatic_sync(ctx);
          if (!check.start) {
            grant = {false, check.reason};
            return changed;
          }
          grant = {true, check.reason};
        } else {
          grant = {true, "manual sync"};
        }
        s.running_sync = SyncRecord{identity_.instance_id, wall, identity_.host_pid};
        s.running_sync->trigger = trigger;
        s.running_sync->hostname = identity_.host.hostname;
        s.running_sync->boot_id = identity_.host.boot_id;
        s.last_sync_time = wall;
        s.last_sync_instance = identity_.instance_id;
        recorded_start = wall;
        return true;
      });
      if (result) {
        after_update(result.value());
      } else if (leaving()) {
        degrade(result.error());
        grant = {false, "this instance is leaving"};
      } else {
        degrade(result.error());
        grant = {true, manual ? "manual sync (uncoordinated)" : "uncoordinated sync"};
      }
    } else {
      grant = {true, manual ? "manual sync" : "uncoordinated sync"};
    }
    if (grant.granted) {
      local_running_ = true;
      local_started_wall_ = recorded_start.value_or(clock_->wall());
      local_last_boot_ = clock_->boottime();
      local_trigger_ = trigger;
      startup_pending_ = false;
      due_timer_.cancel();
      debug("sync started: " + grant.reason);
      if (!recorded_start) {
        SyncRecord mine{identity_.instance_id, local_started_wall_, identity_.host_pid};
        mine.trigger = trigger;
        announce(announcer_.local_started(mine));
      }
    } else {
      debug("sync not started: " + grant.reason);
    }
    return grant;
  }

  void sync_process_started(int pid) {
    if (!local_running_ || !coordinated() || pid <= 0) {
      return;
    }
    auto ticks = probe_.start_ticks(pid);
    if (!ticks) {
      return;  // already exited: the end is about to be recorded anyway
    }
    auto result = update_file([&](State& s) {
      bool changed = settle(s, Cause::sync);
      if (!s.running_sync || s.running_sync->instance_id != identity_.instance_id ||
          s.running_sync->started != local_started_wall_) {
        return changed;  // not our record any more (settled by another instance)
      }
      s.running_sync->sync_pid = pid;
      s.running_sync->sync_start_ticks = *ticks;
      return true;
    });
    if (result) {
      after_update(result.value());
    } else {
      degrade(result.error());
    }
  }

  void end_sync(SyncOutcome outcome, const std::string& message) {
    if (!local_running_) {
      return;
    }
    local_running_ = false;
    const SyncResult mine{
        identity_.instance_id, local_started_wall_, clock_->wall(), outcome, message,
        local_trigger_};
    if (config_.enabled) {
      auto result = update_file([&](State& s) {
        settle(s, Cause::sync);
        if (s.running_sync && s.running_sync->instance_id == identity_.instance_id) {
          s.running_sync.reset();
        }
        // A result of a later sync stays: this instance may have been frozen
        // while others settled its sync and synced again.
        if (!s.last_result || s.last_result->started <= local_started_wall_) {
          s.last_result = mine;
        }
        return true;
      });
      if (result) {
        after_update(result.value());
      } else {
        degrade(result.error());
      }
    } else {
      arm_due();
    }
    announce(announcer_.local_done(mine));  // nothing if the file's view announced it
    debug(std::string("sync ended: ") + to_string(outcome) +
          (message.empty() ? "" : " (" + message + ")"));
  }

  void start() {
    if (started_ || stopped_) {
      return;
    }
    started_ = true;
    started_mono_ = clock_->monotonic();
    tick_timer_.expires_after(std::chrono::steady_clock::duration::zero());
    evaluate(Cause::start);
    arm_tick();
  }

  void stop() {
    if (stopped_) {
      return;
    }
    leaving_since_ = leaving_since_.value_or(std::chrono::steady_clock::now());
    if (local_running_) {
      end_sync(SyncOutcome::cancelled, "the instance exited");
    }
    if (started_ && coordinated()) {
      released_ = true;
      evaluate(Cause::leave);
    }
    stopped_ = true;
    tick_timer_.cancel();
    due_timer_.cancel();
    defer_timer_.cancel();
    pid_watch_.cancel();
    doorbell_.cancel();
    if (role_ == Role::primary) {
      Role before = role_;
      role_ = Role::secondary;
      if (events_.role_changed) {
        events_.role_changed(before, role_);
      }
    }
  }

  Status status() const {
    Status st;
    const double mono = clock_->monotonic();
    const double wall = clock_->wall();
    const double boot = clock_->boottime();
    st.instance_id = identity_.instance_id;
    st.role = role_;
    st.nvim_pid = identity_.nvim_pid;
    st.problem = problem_;
    st.state_file = config_.state_file;
    if (have_state_ && config_.enabled) {
      const State& s = state_;
      if (s.primary) {
        Status::Primary p;
        p.instance_id = s.primary->instance_id;
        p.pid = s.primary->pid;
        p.heartbeat_age = seen_.lease_age(mono).value_or(0);
        p.active = p.heartbeat_age <= config_.takeover_threshold;
        st.primary = p;
      }
      if (s.last_sync_time > 0) {
        double age = last_sync_clock_.peek(s.last_sync_time, wall, boot);
        st.last_sync = Status::LastSync{s.last_sync_time, age, s.last_sync_instance};
        st.cooldown_remaining = std::max(0.0, config_.sync_cooldown - age);
      }
      if (s.running_sync) {
        st.running_sync =
            Status::RunningSync{s.running_sync->instance_id, s.running_sync->started,
                                running_clock_.peek(s.running_sync->started, wall, boot)};
      }
      st.last_result = s.last_result;
      for (const auto& [id, r] : s.instances) {
        Status::Instance i;
        i.instance_id = id;
        i.primary = s.primary && s.primary->instance_id == id;
        i.released = r.released;
        i.hostname = r.hostname;
        i.nvim_pid = r.nvim_pid;
        i.host_pid = r.host_pid;
        i.heartbeat_age =
            id == identity_.instance_id ? 0 : seen_.instance_age(id, mono).value_or(0);
        st.instances.push_back(std::move(i));
      }
    } else if (local_last_boot_) {
      double age = boot - *local_last_boot_;
      st.last_sync = Status::LastSync{wall - age, age, identity_.instance_id};
    }
    if (local_running_ && !st.running_sync) {
      st.running_sync = Status::RunningSync{identity_.instance_id, local_started_wall_,
                                            wall - local_started_wall_};
    }
    return st;
  }
};

Coordinator::Coordinator(boost::asio::io_context& io, Config config, Identity identity,
                         std::shared_ptr<const Clock> clock, Events events)
    : impl_(std::make_unique<Impl>(io, std::move(config), std::move(identity), std::move(clock),
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
void Coordinator::end_sync(SyncOutcome outcome, const std::string& message) {
  impl_->end_sync(outcome, message);
}
void Coordinator::release() {
  if (impl_->stopped_ || impl_->released_) {
    return;
  }
  impl_->released_ = true;
  impl_->evaluate(Cause::release);
}
void Coordinator::resume() {
  if (impl_->stopped_ || !impl_->released_) {
    return;
  }
  impl_->released_ = false;
  impl_->evaluate(Cause::resume);
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
