// sync.channels (SPEC §11) against the real mail stack: Dovecot, mbsync and
// three headless Neovims. tests/e2e/channels_test.cpp checks the same with a
// stand-in mbsync; here every run is real, and the evidence comes from
// outside the fleet:
// - Dovecot's rawlog (mailserver.sh --rawlog) names the mailbox each IMAP
//   session SELECTed, with the server's own time stamp: the count of syncs
//   of each mailbox in the window;
// - a sampler of the process table (tests/support/process_sampler.h) sees
//   each mbsync run: its channel (argv), its parent (the host that spawned
//   it), its start (to a clock tick) and its life, so who ran what, what ran
//   together, and the gaps between a channel's starts;
// - the state file, read every ~20 ms, says who owned each channel when.
// The first two are matched run for session, so neither misses a sync.
//
// Counts: in a window of T seconds a channel every P seconds syncs at most
// T/P + 1 times (a start is never sooner than P after the one before), and
// at least (T - lateness)/P - 1 times, the lateness being what its syncs
// were late in all (below).
//
// Six mailboxes, one channel each, with intervals of 2..8 s. Scaled:
// heartbeat 0.1 s, takeover 0.8 s. A window of kWindow seconds starts once
// the three Neovims hold two channels each; partway through, the owner of
// the INBOX channel is SIGKILLed, Neovim and host.
//
// max_parallel is 3, as many as there are instances. A host runs one channel
// sync at a time, so the fleet never has more than 3 running (2 after the
// kill) and max_parallel never holds a channel back: its limit is checked,
// but it cannot make a channel late, and the counts below need no allowance
// for it. What can make a sync late: the schedule is "due at the last start
// + interval", so lateness adds up over the window; the owner's other
// channel may be running when one comes due (an mbsync run here takes
// 20-300 ms); the kill delays the moved channels by the time the others need
// to see the death (a host's death is seen at the next state read, within a
// heartbeat). kLateness bounds the mean lateness of one sync.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/mail/channel_steps.h"
#include "tests/mail/mail_fixture.h"
#include "tests/mail/mail_stack_steps.h"
#include "tests/mail/rawlog.h"
#include "tests/support/process_sampler.h"
#include "tests/support/shared_state.h"
#include "tests/support/wait.h"

namespace himalaya::mail {
namespace {

using testing::ProcessSampler;
using testing::SampledProcess;
using testing::wait_until;

const std::vector<MailChannel> kChannels{{"inbox", "INBOX", 2},     {"work", "Work", 3},
                                         {"lists", "Lists", 4},     {"family", "Family", 5},
                                         {"archive", "Archive", 6}, {"receipts", "Receipts", 8}};
constexpr int kMaxParallel = 3;
constexpr double kHeartbeat = 0.1;
constexpr double kTakeover = 0.8;
// The counting window, and when in it the INBOX channel's owner is killed:
// a multiple of its interval, and its schedule starts with the window, so
// the kill lands close to one of its syncs (often with its mbsync in flight).
constexpr double kWindow = 30;
constexpr double kKillAt = 14;
// The mean lateness of one sync past its due time (see the top).
constexpr double kLateness = 0.1;
// A moved channel's next sync comes at most this long after it was due: the
// death seen within a heartbeat, the next owner's next state read and due
// timer, with 5 heartbeats of margin in all.
constexpr double kMoveMargin = 5 * kHeartbeat;
// How late one sync may start past its due time: the owner's other channel
// may be running (an mbsync run takes up to ~300 ms on a loaded machine),
// then the due timer and the state file's lock.
constexpr double kLateMargin = 0.5;
// The resolution of a process's start time in /proc (one clock tick, 10 ms),
// both ends.
constexpr double kTick = 0.02;
// A run's process starts a little after its recorded start (the grant in the
// state file, from which the schedule counts): the host snapshots the
// Maildirs, then forks and execs mbsync. That delay varies from run to run
// (70 ms apart under the ASan+UBSan Debug build), so two process starts of
// one channel may be closer than its interval by as much.
constexpr double kSpawnSpread = 0.2;
// After the kill, ownership may still name the dead instance this long
// (seen dead within a heartbeat, written at the next read; 5 heartbeats).
constexpr double kOwnerChangeBound = 5 * kHeartbeat;

const MailChannel* channel_named(const std::string& name) {
  for (const MailChannel& c : kChannels) {
    if (c.name == name) {
      return &c;
    }
  }
  return nullptr;
}

// One reading of the state file: channel -> owner's host pid.
struct OwnerReading {
  double time = 0;
  std::map<std::string, int> host_of;
  std::map<std::string, std::string> owner;
};

OwnerReading read_owners(const std::filesystem::path& state_file) {
  OwnerReading r;
  r.time = wall_now();
  const auto state = testing::read_shared_state(state_file);
  if (!state) {
    return r;
  }
  for (const auto& [name, record] : state->channels) {
    r.owner[name] = record.owner;
    auto instance = state->instances.find(record.owner);
    r.host_of[name] = instance == state->instances.end() ? 0 : instance->second.host_pid;
  }
  return r;
}

std::string channel_of(const SampledProcess& p) {
  return p.argv.empty() ? "" : p.argv.back();
}

std::string describe_opens(const std::vector<RawlogSession>& sessions, double origin) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(3);
  for (const RawlogSession& s : sessions) {
    out << "  " << s.file << ":";
    for (const MailboxOpen& o : s.opens) {
      out << " " << o.mailbox << " at " << (o.time - origin);
    }
    out << "\n";
  }
  return out.str();
}

TEST(MailChannels, EachChannelSyncsOnItsScheduleFromItsOwnerAloneAcrossAKill) {
  ServerOptions server_options;
  server_options.rawlog = true;
  START_SERVER_WITH(server, server_options);
  make_folders(server, kChannels);
  const std::filesystem::path rc = write_channels_rc(server, kChannels);

  FleetOptions fleet_options = options();
  fleet_options.heartbeat_interval = kHeartbeat;
  fleet_options.takeover_threshold = kTakeover;
  fleet_options.channels = channels_lua(kChannels);
  fleet_options.max_parallel = kMaxParallel;

  ProcessSampler sampler("mbsync", rc.string(), 10ms);
  Fleet fleet;
  ASSERT_TRUE(fleet.start(3, rc.string(), fleet_options));
  std::set<int> hosts;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    hosts.insert(fleet.host_pid(i));
  }

  // Steady: every host owns two channels.
  std::vector<OwnerReading> readings;
  ASSERT_TRUE(wait_until(
      [&] {
        const OwnerReading r = read_owners(fleet.state_file());
        std::map<int, int> share;
        for (const auto& [name, host] : r.host_of) {
          ++share[host];
        }
        return r.host_of.size() == kChannels.size() && share.size() == 3 &&
               std::all_of(share.begin(), share.end(),
                           [&](const auto& s) { return s.second == 2 && hosts.count(s.first); });
      },
      10s))
      << fleet.log_tails();
  const double t0 = wall_now();
  const double t1 = t0 + kWindow;
  auto watch_until = [&](double until) {
    wait_until(
        [&] {
          readings.push_back(read_owners(fleet.state_file()));
          return wall_now() >= until;
        },
        ms(until - wall_now() + 1), 20ms);
  };

  watch_until(t0 + kKillAt);
  const OwnerReading before = readings.back();
  const int victim_host = before.host_of.at("inbox");
  std::size_t victim = 0;
  while (victim < fleet.size() && fleet.host_pid(victim) != victim_host) {
    ++victim;
  }
  ASSERT_LT(victim, fleet.size());
  std::vector<std::string> moved;
  for (const auto& [name, host] : before.host_of) {
    if (host == victim_host) {
      moved.push_back(name);
    }
  }
  const double kill_at = wall_now();
  fleet.nvim(victim).kill(SIGKILL);
  ::kill(victim_host, SIGKILL);
  fleet.mark_gone(victim);
  watch_until(t1);
  const OwnerReading after = readings.back();
  const double stop_at = wall_now();
  sampler.stop();
  fleet.stop();
  ASSERT_TRUE(server.stop());

  const std::vector<SampledProcess> runs = sampler.processes();
  const std::vector<RawlogSession> sessions = read_rawlog(server.dir() / "rawlog");
  const std::string evidence = "mbsync runs seen (times from the window's start):\n" +
                               testing::describe(runs, t0) + "rawlog sessions:\n" +
                               describe_opens(sessions, t0);
  SCOPED_TRACE("killed host " + std::to_string(victim_host) + " at " +
               std::to_string(kill_at - t0) + " s into the window");

  // Every session opened exactly one mailbox, one of the six; as many
  // sessions as Dovecot's log has logins.
  // A session with no SELECT at all is an mbsync cut short after login by
  // the kill or the stop (counted below).
  std::size_t no_select = 0;
  for (const RawlogSession& s : sessions) {
    ASSERT_LE(s.opens.size(), 1u) << s.file << "\n" << evidence;
    no_select += s.opens.empty() ? 1 : 0;
  }
  EXPECT_EQ(sessions.size(), server.sessions().size()) << evidence;

  // The two records agree: each session is the SELECT of a run of its
  // channel (between the run's start and the first sample that no longer saw
  // it), and each run reached the server, but for one cut short by the kill
  // (a host takes its mbsync down with it) or by the fleet's stop. So the sampler missed no run,
  // and the gaps between runs below are gaps between real syncs.
  const double pause = sampler.longest_pause() + 0.001;
  std::vector<bool> matched(sessions.size(), false);
  std::map<std::string, int> cut_by_kill;
  for (const SampledProcess& p : runs) {
    const MailChannel* c = channel_named(channel_of(p));
    ASSERT_NE(c, nullptr) << channel_of(p) << "\n" << evidence;
    bool found = false;
    for (std::size_t k = 0; k < sessions.size() && !found; ++k) {
      if (sessions[k].opens.empty()) {
        continue;
      }
      const MailboxOpen& open = sessions[k].opens.front();
      if (!matched[k] && open.mailbox == c->mailbox && open.time >= p.started - 0.01 &&
          open.time <= p.last_seen + pause) {
        matched[k] = found = true;
      }
    }
    // Cut by the kill: the victim's own, or orphaned already when first seen.
    const bool victims =
        p.parent == victim_host || (!hosts.count(p.parent) && p.started <= kill_at);
    if (!found && victims && p.last_seen + pause >= kill_at) {
      ++cut_by_kill[c->name];
      continue;
    }
    if (!found && p.last_seen + pause >= stop_at) {
      continue;  // cut short by the end of the test
    }
    EXPECT_TRUE(found) << c->name << " run at " << (p.started - t0) << " reached no server\n"
                       << evidence;
  }
  int cut_short = 0;
  for (const auto& [name, count] : cut_by_kill) {
    cut_short += count;
  }
  for (const SampledProcess& p : runs) {
    cut_short += p.last_seen + pause >= stop_at ? 1 : 0;
  }
  EXPECT_LE(no_select, static_cast<std::size_t>(cut_short)) << evidence;
  for (std::size_t k = 0; k < sessions.size(); ++k) {
    EXPECT_TRUE(matched[k] || sessions[k].opens.empty())
        << sessions[k].file << ": no mbsync run seen for it\n"
        << evidence;
  }

  for (const MailChannel& c : kChannels) {
    std::vector<double> starts;
    for (const SampledProcess& p : runs) {
      if (channel_of(p) == c.name) {
        starts.push_back(p.started);
      }
    }
    std::sort(starts.begin(), starts.end());
    auto in_window = [&](const std::vector<double>& times) {
      return static_cast<double>(
          std::count_if(times.begin(), times.end(), [&](double t) { return t >= t0 && t <= t1; }));
    };
    std::vector<double> selects;
    for (const RawlogSession& s : sessions) {
      if (!s.opens.empty() && s.opens.front().mailbox == c.mailbox) {
        selects.push_back(s.opens.front().time);
      }
    }
    // The server's count, with the run the kill cut short (if any) added.
    const double synced = in_window(selects) + cut_by_kill[c.name];
    const double expected = kWindow / c.interval;
    const bool was_moved = std::count(moved.begin(), moved.end(), c.name) > 0;
    // Never more often than the interval; late by at most kLateness a sync,
    // and a moved channel once more by the move.
    const double lowest =
        (kWindow - expected * kLateness - (was_moved ? kMoveMargin : 0)) / c.interval - 1;
    EXPECT_LE(synced, expected + 1) << c.name << "\n" << evidence;
    EXPECT_GE(synced, lowest) << c.name << ": " << synced << " syncs in " << kWindow
                              << " s, expected " << expected << "\n"
                              << evidence;
    EXPECT_LE(std::abs(in_window(starts) - synced), 1) << c.name << "\n" << evidence;
    // On schedule: each start an interval after the one before (never
    // sooner, but for the spread of the processes' start after their
    // recorded starts), late by kLateMargin at most, or by kMoveMargin more
    // across the kill.
    for (std::size_t k = 1; k < starts.size(); ++k) {
      if (starts[k] < t0 || starts[k] > t1) {
        continue;
      }
      const double gap = starts[k] - starts[k - 1];
      const bool across_kill = starts[k - 1] <= kill_at && starts[k] >= kill_at;
      const double most = c.interval + kLateMargin + (across_kill ? kMoveMargin : 0);
      EXPECT_LE(gap, most) << c.name << " at " << (starts[k] - t0) << "\n" << evidence;
      EXPECT_GE(gap, c.interval - kTick - kSpawnSpread)
          << c.name << " at " << (starts[k] - t0) << "\n"
          << evidence;
    }
  }

  // Each run from its channel's owner at that time: a host the readings
  // name around its start (the readings are ~20 ms apart, and /proc gives
  // the start to a clock tick). Only a run that started before the kill may
  // have lost its parent.
  std::map<int, std::set<std::string>> ran_by;
  for (const SampledProcess& p : runs) {
    const std::string channel = channel_of(p);
    ASSERT_NE(channel_named(channel), nullptr) << channel << "\n" << evidence;
    if (!hosts.count(p.parent)) {
      EXPECT_LE(p.started, kill_at) << channel << ": not from a host\n" << evidence;
      continue;
    }
    if (p.started < t0) {
      continue;  // before the window: the shares were still being made
    }
    ran_by[p.parent].insert(channel);
    // It started in [started, started + kTick): every reading from the last
    // one before that span to the first one after it.
    auto from = std::lower_bound(readings.begin(), readings.end(), p.started,
                                 [](const OwnerReading& r, double t) { return r.time < t; });
    if (from != readings.begin()) {
      --from;
    }
    std::set<int> owners;
    for (auto r = from; r != readings.end(); ++r) {
      owners.insert(r->host_of[channel]);
      if (r->time >= p.started + kTick) {
        break;
      }
    }
    EXPECT_TRUE(owners.count(p.parent))
        << channel << " run by host " << p.parent << " at " << (p.started - t0) << "\n"
        << evidence;
  }
  // Each host ran only channels it was assigned (before the kill or after).
  for (const auto& [host, channels] : ran_by) {
    for (const std::string& channel : channels) {
      EXPECT_TRUE(before.host_of.at(channel) == host || after.host_of.at(channel) == host)
          << "host " << host << " ran " << channel << "\n"
          << evidence;
    }
  }
  // The dead host's channels belong to a live one within the bound, and
  // the two survivors hold three channels each.
  for (const OwnerReading& r : readings) {
    if (r.time < kill_at + kOwnerChangeBound) {
      continue;
    }
    for (const auto& [channel, host] : r.host_of) {
      EXPECT_NE(host, victim_host) << channel << " still the dead host's at " << (r.time - t0);
    }
  }
  std::map<int, int> after_share;
  for (const auto& [channel, host] : after.host_of) {
    ++after_share[host];
  }
  EXPECT_EQ(after_share.size(), 2u);
  for (const auto& [host, count] : after_share) {
    EXPECT_EQ(count, 3) << "host " << host;
  }
  for (const std::string& channel : moved) {
    EXPECT_NE(after.host_of.at(channel), victim_host) << channel;
    EXPECT_TRUE(hosts.count(after.host_of.at(channel))) << channel;
  }

  // Never two runs of one channel at once, never more than max_parallel:
  // two runs overlapped for certain when both were seen in one sample, or
  // when one started before the other was last seen running.
  for (std::size_t a = 0; a < runs.size(); ++a) {
    int at_its_start = 1;
    for (std::size_t b = 0; b < runs.size(); ++b) {
      const bool running_at_start =
          b != a && runs[b].started <= runs[a].started && runs[a].started < runs[b].last_seen;
      at_its_start += running_at_start ? 1 : 0;
      if (running_at_start ||
          std::count(runs[a].seen_with.begin(), runs[a].seen_with.end(), b) > 0) {
        EXPECT_NE(channel_of(runs[a]), channel_of(runs[b]))
            << "two runs at once, at " << (runs[a].started - t0) << "\n"
            << evidence;
      }
    }
    EXPECT_LE(at_its_start, kMaxParallel) << "at " << (runs[a].started - t0) << "\n" << evidence;
  }
  EXPECT_LE(sampler.most_at_once(), static_cast<std::size_t>(kMaxParallel)) << evidence;
  // Enough samples to have seen the runs: mbsync takes 20 ms at the least.
  std::cerr << "sampler: " << sampler.samples() << " samples, longest pause "
            << sampler.longest_pause() << " s, " << runs.size() << " runs, " << sessions.size()
            << " sessions\n";
  expect_nothing_left(server);
}

}  // namespace
}  // namespace himalaya::mail
