#include "coordinator/transitions.h"

#include <algorithm>
#include <cmath>

#include "coordinator/adaptive.h"
#include "coordinator/interval.h"

namespace himalaya::coordinator {

Now read_clocks(const Clock& clock) {
  return Now{clock.wall(), clock.monotonic(), clock.boottime()};
}

bool rebuild_from_view(State& s, const Memory& m, const Self& self, Notes& notes) {
  if (s.created != 0 || !m.view || m.view->created == 0) {
    return false;
  }
  // Another instance's running sync may have ended since this view was taken.
  std::optional<SyncRecord> running;
  if (self.sync && m.view->running_sync && m.view->running_sync->instance_id == self.id()) {
    running = m.view->running_sync;
  }
  s = *m.view;
  s.running_sync = std::move(running);
  notes.emplace_back(
      "the state file was missing or unusable; rebuilt it from this instance's last view");
  return true;
}

bool update_own_record(State& s, const Self& self, OwnRecord what, double wall) {
  auto mine = s.instances.find(self.id());
  if (what == OwnRecord::remove) {
    if (mine == s.instances.end()) {
      return false;
    }
    s.instances.erase(mine);
    return true;
  }
  if (what == OwnRecord::if_changed && mine != s.instances.end()) {
    // Only what must be written now changes the state: a newer last_input
    // alone waits for the next heartbeat.
    InstanceRecord r = mine->second;
    const bool presence_now =
        self.presence && apply_presence(r, *self.presence, self.timings, wall);
    if (r.released == self.released && !presence_now) {
      return false;
    }
    r.released = self.released;
    r.last_heartbeat = wall;
    mine->second = std::move(r);
    return true;
  }
  InstanceRecord r = to_record(self.identity, wall, self.released);
  if (mine != s.instances.end()) {
    r.last_input = mine->second.last_input;
    r.session_away = mine->second.session_away;
    r.returned = mine->second.returned;
  }
  if (self.presence) {
    apply_presence(r, *self.presence, self.timings, wall);
  }
  s.instances[self.id()] = std::move(r);
  return true;
}

namespace {

// Every sync's end teaches the fleet's arrival model (adaptive.h), by whoever
// records it. An instance with sync.adaptive off still keeps an existing
// model current, so the fleet's model stays true when options differ; it
// only creates none.
void learn_from(State& s, const Self& self, const SyncResult& result) {
  if (self.timings.adaptive.enabled || s.arrivals) {
    learn_arrivals(s.arrivals, result, self.timings.adaptive.utc_offset);
  }
}

}  // namespace

bool settle_running_sync(State& s, Memory& m, const Self& self, const Now& now, Notes& notes) {
  // This instance's own sync is ended by its end record, with its real
  // outcome; judged from here it would look over (its process gone) in the
  // moment between the process's exit and that record.
  if (!s.running_sync || (self.sync && s.running_sync->instance_id == self.id())) {
    return false;
  }
  const SyncRecord& r = *s.running_sync;
  const double age = m.running.since(r.started, now.wall, now.mono);
  RunningVerdict v = running_sync_active(s, self.identity.host, self.probe, age, self.timings);
  if (v.process_exited) {
    std::pair<std::string, double> key{r.instance_id, r.started};
    if (m.exit_seen != key) {
      m.exit_seen = std::move(key);
      m.exit_seen_at = now.mono;
    }
    if (now.mono - m.exit_seen_at < self.timings.exited_sync_settle_delay()) {
      return false;
    }
  }
  if (v.active) {
    return false;
  }
  notes.push_back("sync by " + r.instance_id + " considered over: " + v.reason);
  s.last_result = SyncResult{r.instance_id, r.started, now.wall, v.outcome, v.reason, r.trigger};
  s.running_sync.reset();
  learn_from(s, self, *s.last_result);
  return true;
}

bool keep_schedule(State& s, Memory& m, const Self& self, const Now& now, Notes& notes) {
  bool changed = false;
  if (s.last_sync_time <= 0 && m.view && m.view->last_sync_time > 0) {
    // The file was rebuilt by an instance that had no view of it: keep the
    // fleet's schedule as this instance last saw it, rather than start a sync
    // as if there had never been one.
    s.last_sync_time = m.view->last_sync_time;
    s.last_sync_instance = m.view->last_sync_instance;
    changed = true;
  }
  if (self.last_started > s.last_sync_time && self.last_started <= now.wall) {
    // This instance started a sync after the recorded last one: the file was
    // rebuilt from a view that predates it (or it ran Uncoordinated). The
    // start is a fact; forgetting it would make the next sync due at once.
    s.last_sync_time = self.last_started;
    s.last_sync_instance = self.id();
    changed = true;
  }
  // Only the instance that wrote the stamp re-stamps it. A stamp of another
  // instance lying in this reader's future may come from a clock unlike ours
  // (another machine sharing the home): rewritten in our frame, it made that
  // writer read its own sync as an hour old and sync again at every
  // heartbeat. Readers are safe without it: SyncClock clamps.
  if (s.last_sync_instance == self.id() && restamp_last_sync(s, m.last_sync, now.wall, now.boot)) {
    notes.emplace_back("last sync time was in the future (wall clock went back); re-stamped");
    changed = true;
  }
  return changed;
}

bool elect_and_apply(State& s, const Memory& m, const Self& self, const Now& now,
                     Decision& decision) {
  ElectionContext ctx;
  ctx.self_id = self.id();
  ctx.here = self.identity.host;
  ctx.probe = &self.probe;
  ctx.seen = &m.seen;
  ctx.now = now.mono;
  ctx.timings = self.timings;
  ctx.succession = self.succession;
  decision = elect(s, ctx);
  if (!decision.lease_changed && decision.prune.empty()) {
    return false;
  }
  apply(decision, s, now.wall);
  return true;
}

bool renew_lease(State& s, const Self& self, const Decision& decision, double wall) {
  if (!s.primary || s.primary->instance_id != self.id() || decision.lease_changed) {
    return false;
  }
  s.primary->last_heartbeat = wall;
  s.primary->pid = self.identity.nvim_pid;
  s.primary->nvim_version = self.identity.nvim_version;
  return true;
}

bool settle(State& s, Memory& m, const Self& self, Step step, const Now& now, Decision& decision,
            Notes& notes) {
  bool changed = rebuild_from_view(s, m, self, notes);
  m.seen.observe(s, now.mono);
  const OwnRecord own = step == Step::leave       ? OwnRecord::remove
                        : step == Step::heartbeat ? OwnRecord::refresh
                                                  : OwnRecord::if_changed;
  changed |= update_own_record(s, self, own, now.wall);
  changed |= settle_running_sync(s, m, self, now, notes);
  changed |= keep_schedule(s, m, self, now, notes);
  changed |= elect_and_apply(s, m, self, now, decision);
  if (step == Step::heartbeat) {
    changed |= renew_lease(s, self, decision, now.wall);
  }
  return changed;
}

namespace {

// The schedule's side of a SyncContext (the last sync, uptime, start-up);
// the caller adds the role and the running sync.
SyncContext schedule_context(const State& s, Memory& m, const Self& self, const Uptime& uptime,
                             const Now& now) {
  SyncContext ctx;
  if (s.last_sync_time > 0) {
    ctx.since_last = m.last_sync.since(s.last_sync_time, now.wall, now.boot);
  }
  ctx.uptime = uptime.seconds;
  ctx.startup_pending = uptime.startup_pending;
  ctx.timings = self.timings;
  ctx.timings.interval = choose_interval(s, self.timings, now.wall).seconds;
  return ctx;
}

// Blocked only until some time has passed (not by a role or a running sync,
// which change with the state, not the clock).
bool waits_for_time(const SyncCheck& check) {
  return check.block == SyncBlock::cooldown || check.block == SyncBlock::not_due ||
         check.block == SyncBlock::min_gap;
}

}  // namespace

bool may_sync_automatically(const State& s, const std::string& instance_id) {
#ifdef HIMALAYA_DELIBERATELY_BROKEN_FOR_TESTS
  // The defect tests/sim plants to show that the simulator catches a broken
  // transition: every instance may sync, secondaries included.
  (void)s;
  (void)instance_id;
  return true;
#else
  return s.primary && s.primary->instance_id == instance_id;
#endif
}

Grant grant_sync(State& s, Memory& m, const Self& self, SyncTrigger trigger, const Uptime& uptime,
                 const Now& now) {
  if (s.running_sync) {
    return {false, "a sync is already running (started by " + s.running_sync->instance_id + ")"};
  }
  for (const auto& [name, c] : s.channels) {
    if (c.running) {  // the whole command covers that channel too
      return {false, "channel " + name + " is syncing (started by " + c.running->instance_id + ")"};
    }
  }
  Grant grant{true, "manual sync"};
  if (trigger != SyncTrigger::manual) {
    SyncContext ctx = schedule_context(s, m, self, uptime, now);
    ctx.is_primary = may_sync_automatically(s, self.id());
    SyncCheck check =
        trigger == SyncTrigger::push ? check_push_sync(ctx) : check_automatic_sync(ctx);
    grant = {check.start, check.reason};
    if (!check.start) {
      return grant;
    }
  }
  s.running_sync = SyncRecord{self.id(), now.wall, self.identity.host_pid};
  s.running_sync->trigger = trigger;
  s.running_sync->hostname = self.identity.host.hostname;
  s.running_sync->boot_id = self.identity.host.boot_id;
  s.last_sync_time = now.wall;
  s.last_sync_instance = self.id();
  m.last_sync.restart(now.wall, now.boot);
  return grant;
}

bool record_sync_process(State& s, const Self& self, int pid, std::uint64_t start_ticks) {
  if (!self.sync || !s.running_sync || s.running_sync->instance_id != self.id() ||
      s.running_sync->started != self.sync->started) {
    return false;  // not its record any more (settled by another instance)
  }
  s.running_sync->sync_pid = pid;
  s.running_sync->sync_start_ticks = start_ticks;
  return true;
}

bool record_sync_end(State& s, const Self& self, const SyncResult& result) {
  if (s.running_sync && s.running_sync->instance_id == self.id()) {
    s.running_sync.reset();
  }
  if (!s.last_result || s.last_result->started <= result.started) {
    s.last_result = result;
  }
  learn_from(s, self, result);
  return true;
}

namespace {

std::string describe(const IntervalChoice& c) {
  const std::string why = to_string(c.reason);
  return std::to_string(static_cast<long long>(std::lround(c.seconds))) + " s" +
         (why.empty() ? "" : " (" + why + ")");
}

// A note when the interval changes its reason or by a tenth or more (the
// adaptive one moves a little at every look as the hour around now slides).
std::string note_interval(Memory& m, const IntervalChoice& c) {
  const std::optional<IntervalChoice>& was = m.interval_noted;
  if (was && was->reason == c.reason && std::abs(c.seconds - was->seconds) < 0.1 * was->seconds) {
    return "";
  }
  std::string note = "sync interval " + describe(c);
  if (was) {
    note += ", was " + describe(*was);
  }
  m.interval_noted = c;
  return note;
}

}  // namespace

Due next_due(Memory& m, const Self& self, bool primary, const Uptime& uptime, const Now& now) {
  Due due;
  if (!m.view) {
    return due;
  }
  const State& view = *m.view;
  due.interval_note = note_interval(m, choose_interval(view, self.timings, now.wall));
  if (!primary) {
    // A secondary never syncs automatically. At each fleet due time it notes
    // that decision, so every instance's log tells what it decided.
    if (view.last_sync_time > 0) {
      const double since = m.last_sync.peek(view.last_sync_time, now.wall, now.boot);
      const double interval = choose_interval(view, self.timings, now.wall).seconds;
      if (since < interval) {
        due.wait = interval - since;
      } else {
        due.reason =
            "skipped as secondary: " + (view.primary ? view.primary->instance_id + " is primary"
                                                     : std::string("waiting for a primary"));
      }
    }
    return due;
  }
  SyncContext ctx = schedule_context(view, m, self, uptime, now);
  ctx.is_primary = true;
  const double running_age =
      view.running_sync ? m.running.peek(view.running_sync->started, now.wall, now.mono) : 0;
  ctx.running =
      running_sync_active(view, self.identity.host, self.probe, running_age, self.timings).active;
  const SyncCheck check = check_automatic_sync(ctx);
  due.now = check.start;
  due.wait = waits_for_time(check) ? check.wait : -1;
  due.reason = check.reason;
  due.startup_decided = check.startup_decided;
  if (m.push_pending && !due.now) {
    const SyncCheck push = check_push_sync(ctx);
    if (push.start) {
      due.now = true;
      due.reason = push.reason;
      due.trigger = SyncTrigger::push;
    } else if (waits_for_time(push) && (due.wait < 0 || push.wait < due.wait)) {
      due.wait = push.wait;
    }
  }
  return due;
}

Due next_due_alone(const Memory& m, const Self& self, std::optional<double> last_boot,
                   const Uptime& uptime, const Now& now) {
  const Timings& t = self.timings;
  double wait = last_boot ? t.interval - (now.boot - *last_boot) : t.startup_delay - uptime.seconds;
  // An instance that goes Uncoordinated before it ever synced must not sync
  // at once and break the fleet's cooldown.
  if (!last_boot && m.view && m.view->last_sync_time > 0) {
    const double since = m.last_sync.peek(m.view->last_sync_time, now.wall, now.boot);
    wait = std::max(wait, std::max(t.interval, t.sync_cooldown) - since);
  }
  Due due;
  due.now = wait <= 0;
  due.wait = std::max(0.0, wait);
  due.reason = "uncoordinated sync";
  return due;
}

int primary_pid_here(const State& s, const HostFacts& here) {
  if (!s.primary) {
    return 0;
  }
  auto it = s.instances.find(s.primary->instance_id);
  if (it == s.instances.end() || it->second.hostname != here.hostname ||
      it->second.boot_id != here.boot_id || it->second.host_pid <= 0) {
    return 0;
  }
  return it->second.host_pid;
}

}  // namespace himalaya::coordinator
