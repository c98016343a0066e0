#include "sim/fleet.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "coordinator/coordinator.h"
#include "sim/rng.h"
#include "sim/world.h"

namespace himalaya::sim {
namespace {

using hc::Role;
using hc::SyncTrigger;

constexpr double day = 86400;

// One editor slot: the editor open in it now, if any.
struct Editor {
  int pid = 0;
  std::string id;
  std::unique_ptr<hc::Coordinator> coordinator;
  bool released = false;
  int sync_pid = 0;
  double watching_from = -1;  // push: when its IDLE watcher is connected (mono; < 0: none)
  SyncTrigger sync_trigger = SyncTrigger::automatic;
  bool sync_coordinated = false;
  double sync_started = 0;  // world boottime
};

class FleetSim {
 public:
  explicit FleetSim(const Options& o)
      : o_(o),
        t_(o.timings),
        rng_(o.seed),
        start_(world_.mono()),
        end_(start_ + o.days * day),
        measure_from_(world_.boot() + o.warmup_days * day),
        trace_origin_(world_.wall() - world_.mono()),
        mail_source_(o.mail, o.mail_per_hour, o.seed, world_.wall(), o.days) {
    editors_.resize(static_cast<std::size_t>(std::max(0, o.instances)));
    if (o.wake_jitter > 0) {
      world_.set_wake_jitter(o.wake_jitter, o.seed ^ 0x5eedULL);
    }
    if (o.users) {
      users_.emplace(o.seed, hc::Timings{}.away_after, t_.interval);
    }
  }

  Report run() {
    report_.expected_syncs = o_.days * day / t_.interval;
    for (std::size_t slot = 0; slot < editors_.size(); ++slot) {
      const double first = o_.churn ? rng_.uniform(0, 600) : 0;
      world_.at(world_.mono() + first, 0, [this, slot] { open(slot); });
    }
    if (o_.faults) {
      schedule_fault();
    }
    if (o_.mail_per_hour > 0) {
      schedule_mail();
    }
    if (o_.manual_per_day > 0 && !editors_.empty()) {
      schedule_manual();
    }
    if (users_) {
      schedule_input();
    }
    schedule_check();
    world_.run_until(end_);
    finish();
    return std::move(report_);
  }

 private:
  void trace(const std::string& what) {
    if (o_.trace != nullptr) {
      char stamp[32];
      std::snprintf(stamp, sizeof stamp, "%12.3f ", world_.mono() - 1000);
      *o_.trace << stamp << what << '\n';
    }
  }
  void violation(const std::string& what) {
    char stamp[48];
    std::snprintf(stamp, sizeof stamp, "at %.3f s: ", world_.mono() - 1000);
    report_.violations.push_back(stamp + what);
    trace("VIOLATION " + what);
  }
  int open_count() const {
    return static_cast<int>(std::count_if(editors_.begin(), editors_.end(),
                                          [](const Editor& e) { return e.pid != 0; }));
  }

  // --- editors -------------------------------------------------------------

  void open(std::size_t slot) {
    Editor& e = editors_[slot];
    e = Editor{};
    e.pid = world_.spawn();
    ++report_.editors_opened;
    hc::Identity id = world_.editor_identity(e.pid);
    e.id = id.instance_id;
    hc::Config config;
    config.state_file = "sim";
    config.timings = t_;
    config.succession = o_.succession;
    hc::Events events;
    events.sync_due = [this, slot](SyncTrigger trigger) { start_sync(slot, trigger); };
    if (o_.trace != nullptr) {
      events.debug = [this, slot](const std::string& note) {
        trace(editors_[slot].id + " debug: " + note);
      };
    }
    events.role_changed = [this, slot](Role before, Role after) {
      trace(editors_[slot].id + " role " + hc::to_string(before) + " -> " + hc::to_string(after));
      if (after == Role::primary) {
        ++report_.role_changes;
        report_.lone_primaries += open_count() == 1 ? 1 : 0;
      }
      // Push: only the primary holds the IDLE connection; a new primary
      // connects at once (TCP, TLS, LOGIN, EXAMINE, IDLE: a few round trips).
      editors_[slot].watching_from =
          o_.push && after == Role::primary ? world_.mono() + rng_.uniform(0.1, 0.5) : -1;
    };
    e.coordinator = std::make_unique<hc::Coordinator>(world_.environment(e.pid), std::move(config),
                                                      std::move(id), std::move(events));
    trace(e.id + " opened");
    if (o_.users && t_.away_after > 0) {
      e.coordinator->input();  // as the host does: the start counts as input
    }
    e.coordinator->start();
    if (o_.churn) {
      const double life =
          rng_.chance(0.8) ? rng_.exponential(300) : std::min(3 * day, rng_.pareto(3600, 1.2));
      world_.at(world_.mono() + life, e.pid, [this, slot] { close(slot); });
    }
  }

  void close(std::size_t slot) {
    Editor& e = editors_[slot];
    trace(e.id + " closes");
    if (e.sync_pid != 0) {  // the host stops its sync on the way out
      world_.exit(e.sync_pid);
      e.sync_pid = 0;
    }
    e.coordinator->stop();
    gone(slot);
  }

  void kill(std::size_t slot) {
    Editor& e = editors_[slot];
    trace(e.id + " SIGKILL");
    if (e.sync_pid != 0) {  // PR_SET_PDEATHSIG ends the sync too
      world_.exit(e.sync_pid);
      e.sync_pid = 0;
    }
    world_.exit(e.pid);  // before the destructor: a dead process writes nothing
    gone(slot);
  }

  void gone(std::size_t slot) {
    Editor& e = editors_[slot];
    world_.exit(e.pid);
    e.coordinator.reset();
    e.pid = 0;
    if (open_count() == 0) {
      uncovered_ = true;
    }
    if (o_.churn) {
      world_.at(world_.mono() + rng_.exponential(1200), 0, [this, slot] { open(slot); });
    }
  }

  // --- syncs ---------------------------------------------------------------

  void start_sync(std::size_t slot, SyncTrigger trigger) {
    Editor& e = editors_[slot];
    if (e.pid == 0 || e.sync_pid != 0) {
      return;
    }
    auto grant = e.coordinator->begin_sync(trigger);
    if (!grant.granted) {
      return;
    }
    const bool coordinated = e.coordinator->role() != Role::uncoordinated;
    check_grant(e, trigger, coordinated);
    running_.erase(std::remove_if(running_.begin(), running_.end(),
                                  [this](int pid) { return !world_.alive(pid); }),
                   running_.end());
    if (!running_.empty()) {
      // The sync command cannot take sync.lock_file (host/sync_runner.h):
      // it fails at once. Only an uncoordinated grant may get here.
      trace(e.id + " sync refused by the sync lock");
      e.coordinator->end_sync(hc::SyncOutcome::failed, "another sync holds the sync lock");
      return;
    }
    note_start();
    if (users_) {
      users_->sync_started(world_.mono() - start_,
                           trigger == SyncTrigger::automatic && coordinated);
    }
    e.sync_pid = world_.spawn();
    e.sync_trigger = trigger;
    e.sync_coordinated = coordinated;
    e.sync_started = world_.boot();
    running_.push_back(e.sync_pid);
    trace(e.id + " sync started (" + grant.reason + ")");
    e.coordinator->sync_process_started(e.sync_pid);
    const int sync_pid = e.sync_pid;
    const double lasts = rng_.uniform(3, 40);
    world_.at(world_.mono() + lasts, 0, [this, slot, sync_pid] { sync_exited(slot, sync_pid); });
  }

  void check_grant(const Editor& e, SyncTrigger trigger, bool coordinated) {
    const double now = world_.boot();
    if (!coordinated) {
      ++report_.uncoordinated_syncs;
      return;
    }
    const hc::State& s = world_.state();
    if (trigger == SyncTrigger::push) {
      ++report_.push_syncs;
      if (!s.primary || s.primary->instance_id != e.id) {
        violation("push sync granted to " + e.id + ", which does not hold the lease");
      }
      if (last_coordinated_ && now - *last_coordinated_ < t_.push_min_gap - 1e-6 &&
          !jumped_since_auto_) {
        violation("a push sync " + std::to_string(now - *last_coordinated_) +
                  " s after the last sync (min_gap " + std::to_string(t_.push_min_gap) + " s)");
      }
    } else if (trigger == SyncTrigger::automatic) {
      ++report_.automatic_syncs;
      report_.measured_automatic_syncs += now >= measure_from_ ? 1 : 0;
      if (!s.primary || s.primary->instance_id != e.id) {
        violation("automatic sync granted to " + e.id + ", which does not hold the lease");
      }
      if (last_auto_ && now - *last_auto_ < t_.sync_cooldown - 1e-6 && !jumped_since_auto_) {
        violation("automatic syncs " + std::to_string(now - *last_auto_) + " s apart (cooldown " +
                  std::to_string(t_.sync_cooldown) + " s)");
      }
      last_auto_ = now;
      jumped_since_auto_ = false;
    } else {
      ++report_.manual_syncs;
    }
    last_coordinated_ = now;
    // An Uncoordinated instance's sync is not in the file (the sync lock
    // keeps it apart); the file's syncs must never overlap.
    for (const Editor& other : editors_) {
      if (other.sync_pid != 0 && other.sync_coordinated && world_.alive(other.sync_pid)) {
        violation("sync granted to " + e.id + " while " + other.id + "'s sync process runs");
      }
    }
  }

  // The gap since the last sync start, and the mail this sync fetches.
  void note_start() {
    const double now = world_.mono();
    if (last_start_ && !uncovered_) {
      report_.longest_gap = std::max(report_.longest_gap, now - *last_start_);
    }
    last_start_ = now;
    uncovered_ = false;
    for (double arrival : mail_) {
      fetching_.push_back(arrival);
      if (arrival >= measure_from_) {
        report_.mail_start_delays.push_back(world_.boot() - arrival);
      }
    }
    mail_.clear();
  }

  void sync_exited(std::size_t slot, int sync_pid) {
    if (!world_.alive(sync_pid)) {
      return;  // killed with its editor
    }
    world_.exit(sync_pid);
    running_.erase(std::remove(running_.begin(), running_.end(), sync_pid), running_.end());
    for (double arrival : fetching_) {
      if (arrival >= measure_from_) {
        report_.mail_delays.push_back(world_.boot() - arrival);
      }
    }
    const int fetched = static_cast<int>(fetching_.size());
    fetching_.clear();
    Editor& e = editors_[slot];
    if (e.sync_pid != sync_pid) {
      return;
    }
    // The host hears of the exit (SIGCHLD) and records the end: not while
    // it is stopped.
    // The host counts the messages the sync added (host/new_mail.cpp).
    world_.at(world_.mono() + 0.005, e.pid, [this, slot, sync_pid, fetched] {
      Editor& ed = editors_[slot];
      if (ed.sync_pid == sync_pid) {
        ed.sync_pid = 0;
        trace(ed.id + " sync ended");
        ed.coordinator->end_sync(hc::SyncOutcome::ok, "", fetched);
      }
    });
  }

  // --- workload ------------------------------------------------------------

  std::optional<std::size_t> random_open() {
    std::vector<std::size_t> open;
    for (std::size_t i = 0; i < editors_.size(); ++i) {
      if (editors_[i].pid != 0) {
        open.push_back(i);
      }
    }
    if (open.empty()) {
      return std::nullopt;
    }
    return open[rng_.below(open.size())];
  }

  void schedule_mail() {
    // Traces of their own run on the wall clock as it started (a wall-clock
    // jump does not move the mail): mono + trace_origin_.
    const double at = o_.mail == MailTrace::poisson
                          ? world_.mono() + rng_.exponential(3600 / o_.mail_per_hour)
                          : mail_source_.next(world_.mono() + trace_origin_) - trace_origin_;
    world_.at(at, 0, [this] {
      mail_.push_back(world_.boot());
      push_notify();
      schedule_mail();
    });
  }

  // The server tells the connected IDLE watcher (an untagged EXISTS) after a
  // short network delay. A stopped host reads it when it resumes; mail that
  // arrives while no watcher is connected waits for the next sync.
  void push_notify() {
    for (std::size_t slot = 0; slot < editors_.size(); ++slot) {
      const Editor& e = editors_[slot];
      if (e.pid != 0 && e.watching_from >= 0 && e.watching_from <= world_.mono()) {
        world_.at(world_.mono() + rng_.uniform(0.005, 0.05), e.pid, [this, slot] {
          if (editors_[slot].coordinator) {
            editors_[slot].coordinator->mail_changed();
          }
        });
      }
    }
  }

  // Users (sim/users.h): each input goes to some open editor, which reports
  // it (if away is on) as its host would.
  void schedule_input() {
    const double next = users_->next_input(world_.mono() - start_);
    world_.at(start_ + next, 0, [this] {
      std::optional<double> last;
      if (last_start_) {
        last = *last_start_ - start_;
      }
      users_->input(world_.mono() - start_, last);
      auto slot = random_open();
      if (slot && t_.away_after > 0) {
        trace(editors_[*slot].id + " input");
        world_.at(world_.mono(), editors_[*slot].pid, [this, s = *slot] {
          if (editors_[s].coordinator) {
            editors_[s].coordinator->input();
          }
        });
      }
      schedule_input();
    });
  }

  void schedule_manual() {
    const double rate = o_.manual_per_day * static_cast<double>(editors_.size()) / day;
    world_.at(world_.mono() + rng_.exponential(1 / rate), 0, [this] {
      if (auto slot = random_open()) {
        const int pid = editors_[*slot].pid;
        world_.at(world_.mono(), pid, [this, s = *slot] { start_sync(s, SyncTrigger::manual); });
      }
      schedule_manual();
    });
  }

  void schedule_fault() {
    world_.at(world_.mono() + rng_.exponential(2 * 3600), 0, [this] {
      inject_fault();
      schedule_fault();
    });
  }

  void inject_fault() {
    auto slot = random_open();
    const int kind = static_cast<int>(rng_.below(6));
    ++report_.faults;
    last_fault_ = world_.mono();
    if (kind == 0 && slot) {
      kill(*slot);
    } else if (kind == 1 && slot) {
      const int pid = editors_[*slot].pid;
      const double d = rng_.uniform(5, 600);
      trace(editors_[*slot].id + " SIGSTOP for " + std::to_string(static_cast<int>(d)) + " s");
      world_.stop(pid);
      world_.at(world_.mono() + d, 0, [this, pid] {
        world_.resume(pid);
        last_fault_ = world_.mono();
      });
    } else if (kind == 2) {
      const double d = rng_.uniform(600, 8 * 3600);
      trace("suspend for " + std::to_string(static_cast<int>(d)) + " s");
      world_.suspend(d);
    } else if (kind == 3) {
      const double d = rng_.chance(0.5) ? 3600 : -3600;
      trace("wall clock jumps " + std::to_string(static_cast<int>(d)) + " s");
      world_.jump_wall(d);
      jumped_since_auto_ = true;
    } else if (kind == 4 && slot) {
      const double d = rng_.uniform(0.1, 5);
      trace(editors_[*slot].id + " stalls holding the lock");
      world_.stall_lock(editors_[*slot].pid, d, t_.lock_timeout);
      last_fault_ = std::max(last_fault_, world_.mono() + d);
    } else if (kind == 5 && slot) {
      const int pid = editors_[*slot].pid;
      const double d = rng_.uniform(10, 1800);
      trace(editors_[*slot].id + " VimSuspend");
      world_.at(world_.mono(), pid, [this, s = *slot] {
        editors_[s].released = true;
        editors_[s].coordinator->release();
      });
      world_.at(world_.mono() + d, pid, [this, s = *slot] {
        editors_[s].released = false;
        editors_[s].coordinator->resume();
      });
    }
  }

  // After a quiet stretch (no fault for several takeover thresholds), exactly
  // one running editor believes it is primary, and it holds the lease; none if
  // every running editor is suspended (VimSuspend).
  void schedule_check() {
    world_.at(world_.mono() + 4 * t_.heartbeat_interval, 0, [this] {
      check_one_primary();
      schedule_check();
    });
  }

  void check_one_primary() {
    const double quiet = 3 * t_.takeover_threshold + 2 * t_.heartbeat_interval;
    if (world_.mono() - last_fault_ < quiet) {
      return;
    }
    int candidates = 0;
    std::vector<const Editor*> primaries;
    for (const Editor& e : editors_) {
      if (e.pid == 0 || world_.stopped(e.pid)) {
        return;  // a stopped editor's view is frozen: not quiet
      }
      candidates += e.released ? 0 : 1;
      if (e.coordinator->role() == Role::primary) {
        primaries.push_back(&e);
      }
      if (e.coordinator->role() == Role::uncoordinated) {
        violation(e.id + " is uncoordinated after a quiet stretch");
      }
    }
    const hc::State& s = world_.state();
    if (candidates > 0 && primaries.size() != 1) {
      violation(std::to_string(primaries.size()) + " primaries after a quiet stretch");
    } else if (candidates > 0 && (!s.primary || s.primary->instance_id != primaries[0]->id)) {
      violation("the lease does not name the primary " + primaries[0]->id);
    }
  }

  void finish() {
    report_.events = world_.events_run();
    report_.writes = world_.writes();
    // Nothing wrong, and no manual or push sync moving the schedule (either
    // starts a new interval, SPEC §5): one automatic sync per interval.
    if (users_) {
      users_->finish(world_.mono() - start_);
      report_.users = users_->report();
    }
    // Adaptive (SPEC §11), nothing wrong: the interval never exceeds its
    // bound, so no gap between syncs does (plus a heartbeat: the due timer
    // is re-armed at each one as the interval changes).
    if (!o_.churn && !o_.faults && t_.adaptive.enabled && !editors_.empty()) {
      const double bound = std::max({t_.adaptive.max_interval, t_.interval, t_.sync_cooldown}) +
                           t_.heartbeat_interval + 1;
      if (report_.longest_gap > bound) {
        violation("adaptive: " + std::to_string(report_.longest_gap) +
                  " s between syncs, above its bound of " + std::to_string(bound) + " s");
      }
    }
    const bool away = o_.users && t_.away_after > 0;  // the interval changes
    if (!o_.churn && !o_.faults && o_.manual_per_day == 0 && !o_.push && !away &&
        !editors_.empty() && !t_.adaptive.enabled) {
      const double expected = report_.expected_syncs;
      const double got = static_cast<double>(report_.automatic_syncs);
      if (std::abs(got - expected) > 1) {
        violation(std::to_string(report_.automatic_syncs) + " automatic syncs in " +
                  std::to_string(o_.days) + " days; expected " + std::to_string(expected) +
                  " +- 1");
      }
    }
  }

  Options o_;
  hc::Timings t_;
  Rng rng_;
  World world_;
  double start_;
  double end_;
  double measure_from_;  // boottime: the end of the warm-up
  double trace_origin_;  // wall - mono at the start
  MailSource mail_source_;
  std::optional<Users> users_;
  std::vector<Editor> editors_;
  Report report_;

  std::vector<int> running_;  // sync processes
  std::optional<double> last_auto_;
  std::optional<double> last_coordinated_;  // the last sync start recorded in the state
  std::optional<double> last_start_;
  bool jumped_since_auto_ = false;
  bool uncovered_ = true;  // no editor was open at some point since the last sync start
  double last_fault_ = -1e18;
  std::vector<double> mail_;      // arrived, not yet fetched
  std::vector<double> fetching_;  // in the running sync
};

}  // namespace

Report simulate(const Options& options) {
  return FleetSim(options).run();
}

}  // namespace himalaya::sim
