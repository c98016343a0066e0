#include "sim/channel_fleet.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>

#include "coordinator/coordinator.h"
#include "sim/fleet.h"
#include "sim/rng.h"
#include "sim/world.h"

namespace himalaya::sim {
namespace {

constexpr double day = 86400;
constexpr double mbsync_a_interval = 120;  // the baseline: `mbsync -a` every 2 minutes

struct Editor {
  int pid = 0;
  std::string id;
  std::unique_ptr<hc::Coordinator> coordinator;
  int sync_pid = 0;
  std::string channel;  // of its running sync
};

class ChannelFleet {
 public:
  explicit ChannelFleet(const ChannelOptions& o)
      : o_(o), rng_(o.seed), start_(world_.mono()), end_(start_ + o.days * day) {
    editors_.resize(static_cast<std::size_t>(std::max(1, o.slots)));
    for (const auto& spec : o.channels.specs) {
      rows_[spec.name] = ChannelRow{spec.name, spec.interval, 0, o.days * day / spec.interval};
    }
  }

  ChannelReport run() {
    for (std::size_t slot = 0; slot < editors_.size(); ++slot) {
      world_.at(world_.mono() + (slot == 0 ? 0 : rng_.uniform(0, 600)), 0,
                [this, slot] { open(slot); });
    }
    if (o_.faults) {
      schedule_kill();
    }
    if (o_.arrivals_per_hour > 0) {
      for (const auto& spec : o_.channels.specs) {
        schedule_arrival(spec.name);
      }
    }
    schedule_check();
    world_.run_until(end_);
    for (const auto& spec : o_.channels.specs) {
      report_.channels.push_back(rows_[spec.name]);
    }
    const double runs = std::floor(o_.days * day / mbsync_a_interval);
    std::set<std::string> accounts;
    for (const auto& spec : o_.channels.specs) {
      auto it = o_.account.find(spec.name);
      accounts.insert(it == o_.account.end() ? spec.name : it->second);
    }
    report_.mbsync_a_logins = static_cast<std::uint64_t>(runs) * accounts.size();
    report_.mbsync_a_channel_syncs = static_cast<std::uint64_t>(runs) * o_.channels.specs.size();
    report_.covered = covered_ / (end_ - start_);
    return std::move(report_);
  }

 private:
  void trace(const std::string& what) {
    if (o_.trace != nullptr) {
      char stamp[32];
      std::snprintf(stamp, sizeof stamp, "%12.3f ", world_.mono() - start_);
      *o_.trace << stamp << what << '\n';
    }
  }
  void violation(const std::string& what) {
    char stamp[48];
    std::snprintf(stamp, sizeof stamp, "at %.3f s: ", world_.mono() - start_);
    report_.violations.push_back(stamp + what);
    trace("VIOLATION " + what);
  }

  void open(std::size_t slot) {
    Editor& e = editors_[slot];
    e = Editor{};
    e.pid = world_.spawn();
    ++report_.editors_opened;
    hc::Identity id = world_.editor_identity(e.pid);
    e.id = id.instance_id;
    hc::Config config;
    config.state_file = "sim";
    config.timings = o_.timings;
    config.channels = o_.channels;
    hc::Events events;
    events.channel_due = [this, slot](const std::string& name) { start_sync(slot, name); };
    if (o_.trace != nullptr) {
      events.debug = [this, slot](const std::string& note) {
        trace(editors_[slot].id + " debug: " + note);
      };
    }
    e.coordinator = std::make_unique<hc::Coordinator>(world_.environment(e.pid), std::move(config),
                                                      std::move(id), std::move(events));
    trace(e.id + " opened in slot " + std::to_string(slot));
    e.coordinator->start();
    const double life = slot == 0 || rng_.chance(0.2) ? std::min(3 * day, rng_.pareto(3600, 1.2))
                                                      : rng_.exponential(300);
    world_.at(world_.mono() + life, e.pid, [this, slot] { close(slot); });
  }

  void close(std::size_t slot) {
    Editor& e = editors_[slot];
    trace(e.id + " closes");
    end_process(e);  // the host stops its sync on the way out
    e.coordinator->stop();
    gone(slot);
  }

  void kill(std::size_t slot) {
    Editor& e = editors_[slot];
    trace(e.id + " SIGKILL");
    ++report_.kills;
    end_process(e);  // PR_SET_PDEATHSIG ends the sync too
    world_.exit(e.pid);
    gone(slot);
  }

  void end_process(Editor& e) {
    if (e.sync_pid != 0) {
      world_.exit(e.sync_pid);
      e.sync_pid = 0;
    }
  }

  void gone(std::size_t slot) {
    Editor& e = editors_[slot];
    world_.exit(e.pid);
    e.coordinator.reset();
    e.pid = 0;
    const double back = slot == 0 ? rng_.uniform(1, 5) : rng_.exponential(1200);
    world_.at(world_.mono() + back, 0, [this, slot] { open(slot); });
  }

  int running_now() const {
    int n = 0;
    for (const Editor& e : editors_) {
      n += e.sync_pid != 0 && world_.alive(e.sync_pid) ? 1 : 0;
    }
    return n;
  }

  void start_sync(std::size_t slot, const std::string& name) {
    Editor& e = editors_[slot];
    if (e.pid == 0 || e.sync_pid != 0) {
      return;
    }
    auto grant = e.coordinator->begin_channel_sync(name);
    if (!grant.granted) {
      return;
    }
    check_grant(e, name);
    // A start counts as a sync of the schedule (the next is due an interval
    // after it) even when it is cut short.
    ++rows_[name].syncs;
    if (o_.faults && rng_.chance(0.01)) {
      // SIGKILLed between recording the start and spawning the sync: the
      // record has no sync process to watch, only its dead instance.
      trace(e.id + " SIGKILL right after the grant of " + name);
      kill(slot);
      return;
    }
    for (double arrived : waiting_[name]) {
      report_.delays.push_back(world_.mono() - arrived);
    }
    waiting_[name].clear();
    ++report_.logins;
    e.sync_pid = world_.spawn();
    e.channel = name;
    trace(e.id + " syncs " + name);
    e.coordinator->channel_process_started(name, e.sync_pid);
    const int sync_pid = e.sync_pid;
    world_.at(world_.mono() + rng_.uniform(1, 15), 0,
              [this, slot, sync_pid, name] { sync_exited(slot, sync_pid, name); });
  }

  void check_grant(const Editor& e, const std::string& name) {
    const hc::State& s = world_.state();
    auto record = s.channels.find(name);
    if (record == s.channels.end() || record->second.owner != e.id) {
      violation("channel " + name + " granted to " + e.id + ", which does not own it");
    }
    for (const Editor& other : editors_) {
      if (other.sync_pid != 0 && world_.alive(other.sync_pid) && other.channel == name) {
        violation("channel " + name + " granted to " + e.id + " while " + other.id +
                  "'s sync of it runs");
      }
    }
    if (running_now() + 1 > o_.channels.max_parallel) {
      violation("channel " + name + " granted with " + std::to_string(running_now()) +
                " channel syncs running (max_parallel " + std::to_string(o_.channels.max_parallel) +
                ")");
    }
    const auto spec = std::find_if(o_.channels.specs.begin(), o_.channels.specs.end(),
                                   [&](const auto& c) { return c.name == name; });
    auto last = last_start_.find(name);
    const bool pushed = record != s.channels.end() && record->second.running &&
                        record->second.running->trigger == hc::SyncTrigger::push;
    const double cooldown =
        pushed ? o_.timings.push_min_gap : hc::channel_cooldown(*spec, o_.timings);
    if (last != last_start_.end() && world_.boot() - last->second < cooldown - 1e-6) {
      violation("channel " + name + " started " + std::to_string(world_.boot() - last->second) +
                " s after its last start (cooldown " + std::to_string(cooldown) + " s)");
    }
    last_start_[name] = world_.boot();
  }

  void sync_exited(std::size_t slot, int sync_pid, const std::string& name) {
    if (!world_.alive(sync_pid)) {
      return;  // killed with its editor
    }
    world_.exit(sync_pid);
    Editor& e = editors_[slot];
    if (e.sync_pid != sync_pid) {
      return;
    }
    // The host hears of the exit (SIGCHLD) and records the end: not while stopped.
    world_.at(world_.mono() + 0.005, e.pid, [this, slot, sync_pid, name] {
      Editor& ed = editors_[slot];
      if (ed.sync_pid == sync_pid) {
        ed.sync_pid = 0;
        ed.coordinator->end_channel_sync(name, hc::SyncOutcome::ok, "", std::nullopt);
      }
    });
  }

  // Mail for `name`'s mailboxes now and then; with push, the primary's
  // watcher reports it after push_notify.
  void schedule_arrival(const std::string& name) {
    world_.at(world_.mono() + rng_.exponential(3600 / o_.arrivals_per_hour), 0, [this, name] {
      ++report_.arrivals;
      waiting_[name].push_back(world_.mono());
      const auto& primary = world_.state().primary;
      for (std::size_t slot = 0; o_.push && primary && slot < editors_.size(); ++slot) {
        const Editor& e = editors_[slot];
        if (e.pid != 0 && e.id == primary->instance_id) {
          world_.at(world_.mono() + o_.push_notify, e.pid, [this, slot, id = e.id, name] {
            Editor& ed = editors_[slot];
            if (ed.id == id && ed.coordinator) {
              ed.coordinator->mail_changed(std::vector<std::string>{name});
            }
          });
        }
      }
      schedule_arrival(name);
    });
  }

  void schedule_kill() {
    world_.at(world_.mono() + rng_.exponential(7200), 0, [this] {
      std::vector<std::size_t> open;
      for (std::size_t i = 0; i < editors_.size(); ++i) {
        if (editors_[i].pid != 0) {
          open.push_back(i);
        }
      }
      if (!open.empty()) {
        kill(open[rng_.below(open.size())]);
      }
      schedule_kill();
    });
  }

  // Every simulated second: the owners (for the moves) and the coverage.
  void schedule_check() {
    world_.at(world_.mono() + 1, 0, [this] {
      std::set<std::string> open;
      for (const Editor& e : editors_) {
        if (e.pid != 0) {
          open.insert(e.id);
        }
      }
      covered_ += open.empty() ? 0 : 1;
      for (const auto& [name, record] : world_.state().channels) {
        double& orphan = orphaned_since_[name];
        if (!open.empty() && open.count(record.owner) == 0) {
          orphan = orphan > 0 ? orphan : world_.mono();
          report_.longest_orphan = std::max(report_.longest_orphan, world_.mono() - orphan);
        } else {
          orphan = 0;
        }
        if (record.owner.empty()) {
          continue;
        }
        std::string& was = owners_[name];
        if (!was.empty() && was != record.owner) {
          ++report_.moves;
          trace("channel " + name + " moved: " + was + " -> " + record.owner);
        }
        was = record.owner;
      }
      schedule_check();
    });
  }

  ChannelOptions o_;
  World world_;
  Rng rng_;
  double start_;
  double end_;
  std::vector<Editor> editors_;
  std::map<std::string, ChannelRow> rows_;
  std::map<std::string, double> last_start_;            // boottime
  std::map<std::string, std::string> owners_;           // the last owner seen
  std::map<std::string, double> orphaned_since_;        // mono; 0: its owner is open
  std::map<std::string, std::vector<double>> waiting_;  // arrivals not yet synced, mono
  double covered_ = 0;
  ChannelReport report_;
};

}  // namespace

ChannelReport simulate_channels(const ChannelOptions& options) {
  return ChannelFleet(options).run();
}

void print_channel_report(std::ostream& out, const ChannelOptions& o, const ChannelReport& r) {
  char line[200];
  std::snprintf(line, sizeof line,
                "channels: seed %llu, %d editor slots, %.1f days, faults %s, max_parallel %d\n",
                static_cast<unsigned long long>(o.seed), o.slots, o.days, o.faults ? "on" : "off",
                o.channels.max_parallel);
  out << line;
  for (const ChannelRow& row : r.channels) {
    std::snprintf(line, sizeof line,
                  "  %-12s every %5.0f s: %6llu syncs, T/interval %8.1f (%+.1f)\n",
                  row.name.c_str(), row.interval, static_cast<unsigned long long>(row.syncs),
                  row.expected, static_cast<double>(row.syncs) - row.expected);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "  editors opened %llu, SIGKILLs %llu, some editor open %.2f%% of the time\n"
                "  channel moves %llu (%.1f per day); longest with a gone owner %.0f s\n",
                static_cast<unsigned long long>(r.editors_opened),
                static_cast<unsigned long long>(r.kills), 100 * r.covered,
                static_cast<unsigned long long>(r.moves), static_cast<double>(r.moves) / o.days,
                r.longest_orphan);
  out << line;
  std::snprintf(line, sizeof line,
                "  IMAP logins: channels %llu, mbsync -a every 2 min %llu (%.2fx); channel syncs "
                "%llu against %llu\n",
                static_cast<unsigned long long>(r.logins),
                static_cast<unsigned long long>(r.mbsync_a_logins),
                r.mbsync_a_logins > 0 ? static_cast<double>(r.logins) / r.mbsync_a_logins : 0.0,
                static_cast<unsigned long long>(r.logins),
                static_cast<unsigned long long>(r.mbsync_a_channel_syncs));
  out << line;
  if (r.arrivals > 0) {
    std::snprintf(line, sizeof line,
                  "  mail: %llu arrivals, push %s: arrival to its channel's sync median %.1f s, "
                  "p95 %.1f s\n",
                  static_cast<unsigned long long>(r.arrivals), o.push ? "on" : "off",
                  percentile(r.delays, 0.5), percentile(r.delays, 0.95));
    out << line;
  }
  std::snprintf(line, sizeof line, "  violations: %zu\n", r.violations.size());
  out << line;
  for (std::size_t i = 0; i < r.violations.size() && i < 10; ++i) {
    out << "    " << r.violations[i] << '\n';
  }
}

}  // namespace himalaya::sim
