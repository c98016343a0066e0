// End-to-end: sync.channels (SPEC §11) with three real headless Neovims.
//
// A stand-in `mbsync` (written by the test) appends "start|end <channel>
// <its parent: the host's pid> <wall time>" to a log and sleeps 0.2 s; the
// hosts run it as `mbsync -c <rc> <channel>`, the rc naming six channels,
// two every second, two every 1.5 s and two every 2 s, max_parallel 2.
// Scaled: heartbeat 0.1 s, takeover 0.6 s, cooldown 0.8 s.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/event_recorder.h"
#include "tests/e2e/fleet.h"

namespace himalaya::e2e {
namespace {

const std::map<std::string, double> intervals{{"a", 1},   {"b", 1}, {"c", 1.5},
                                              {"d", 1.5}, {"e", 2}, {"f", 2}};

struct ChannelRun {
  std::string channel;
  int host = 0;
  double start = 0;
  double end = 0;  // 0: not ended (yet)
};

std::vector<ChannelRun> read_runs(const std::filesystem::path& log) {
  std::vector<ChannelRun> runs;
  std::ifstream in(log);
  std::string what;
  std::string channel;
  int host = 0;
  double time = 0;
  while (in >> what >> channel >> host >> time) {
    if (what == "start") {
      runs.push_back(ChannelRun{channel, host, time, 0});
      continue;
    }
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
      if (it->channel == channel && it->host == host && it->end == 0) {
        it->end = time;
        break;
      }
    }
  }
  return runs;
}

// channel -> owner instance id, and instance id -> host pid, from the state file.
struct Owners {
  std::map<std::string, std::string> owner;
  std::map<std::string, int> host_pid;
};

Owners read_owners(const std::filesystem::path& state_file) {
  Owners o;
  std::ifstream in(state_file);
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return o;
  }
  if (auto channels = j.find("channels"); channels != j.end() && channels->is_object()) {
    for (const auto& [name, c] : channels->items()) {
      o.owner[name] = c.value("owner", "");
    }
  }
  if (auto instances = j.find("instances"); instances != j.end() && instances->is_object()) {
    for (const auto& [id, r] : instances->items()) {
      o.host_pid[id] = r.value("host_pid", 0);
    }
  }
  return o;
}

std::string describe_runs(const std::vector<ChannelRun>& runs) {
  std::ostringstream out;
  for (const ChannelRun& r : runs) {
    out << r.channel << " host " << r.host << " " << std::fixed << r.start << ".." << r.end << "\n";
  }
  return out.str();
}

class Channels : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fleet_.shared_dir();
    log_ = dir_ / "channels.log";
    const auto mbsync = dir_ / "mbsync";
    std::ofstream(mbsync)
        << "#!/bin/sh\n"
           "eval \"channel=\\${$#}\"\n"
           "printf 'start %s %s %s\\n' \"$channel\" \"$PPID\" \"$(date +%s.%N)\" >>"
        << log_.string()
        << "\n"
           "sleep 0.2\n"
           "printf 'end %s %s %s\\n' \"$channel\" \"$PPID\" \"$(date +%s.%N)\" >>"
        << log_.string()
        << "\n"
           "[ \"$channel\" != fail ]\n";  // exits 1 for channel "fail"
    ::chmod(mbsync.c_str(), 0755);
    std::ofstream rc(dir_ / "mbsyncrc");
    for (const auto& [name, interval] : intervals) {
      rc << "Channel " << name << "\nFar :far:" << name << "\nNear :near:" << name << "\n\n";
    }
    rc << "Channel fail\nFar :far:fail\nNear :near:fail\n";
    options_.command = "{" + lua_quote(mbsync.string()) + ", '-c', " +
                       lua_quote((dir_ / "mbsyncrc").string()) + ", '-a'}";
    std::string list = "{";
    for (const auto& [name, interval] : intervals) {
      list += " { name = " + lua_quote(name) + ", interval = " + lua_number(interval) + " },";
    }
    options_.channels = list + " }";
    options_.max_parallel = 2;
    options_.extra_lua = record_events_lua;
  }

  // Every run started in [from, to]: by the owner the state file names for
  // its channel (`owners`, unchanged over the window), each channel's starts
  // about one interval apart, never two runs of one channel at once, never
  // more than max_parallel runs in all.
  void check_window(const std::vector<ChannelRun>& runs, double from, double to,
                    const Owners& owners) {
    std::map<std::string, std::vector<const ChannelRun*>> by_channel;
    for (const ChannelRun& r : runs) {
      if (r.start >= from && r.start <= to) {
        by_channel[r.channel].push_back(&r);
        const std::string& owner = owners.owner.at(r.channel);
        EXPECT_EQ(r.host, owners.host_pid.at(owner))
            << r.channel << " run by host " << r.host << ", owned by " << owner << "\n"
            << describe_runs(runs);
      }
    }
    for (const auto& [name, interval] : intervals) {
      const auto& starts = by_channel[name];
      const double expected = (to - from) / interval;
      EXPECT_GE(static_cast<double>(starts.size()), expected - 1.5) << name << "\n"
                                                                    << describe_runs(runs);
      EXPECT_LE(static_cast<double>(starts.size()), expected + 1.5) << name;
      for (std::size_t k = 1; k < starts.size(); ++k) {
        const double gap = starts[k]->start - starts[k - 1]->start;
        EXPECT_GE(gap, std::min(options_.sync_cooldown, interval) - 0.05) << name;
        EXPECT_LE(gap, interval + 1.0) << name << "\n" << describe_runs(runs);
        EXPECT_GE(starts[k]->start, starts[k - 1]->end) << name << ": two runs at once";
      }
    }
    std::vector<std::pair<double, int>> edges;
    for (const ChannelRun& r : runs) {
      if (r.end > 0) {
        edges.emplace_back(r.start, 1);
        edges.emplace_back(r.end, -1);
      }
    }
    std::sort(edges.begin(), edges.end());
    int running = 0;
    for (const auto& [t, step] : edges) {
      running += step;
      EXPECT_LE(running, 2) << "at " << t << "\n" << describe_runs(runs);
    }
  }

  // SIGKILL of Neovim k and its host together, as a crash of both.
  void kill_instance(std::size_t k) {
    fleet_.nvim(k).kill(SIGKILL);
    ::kill(fleet_.host_pid(k), SIGKILL);
    fleet_.mark_gone(k);
  }

  Fleet fleet_;
  FleetOptions options_;
  std::filesystem::path dir_;
  std::filesystem::path log_;
};

TEST_F(Channels, EachNeovimRunsItsShareAndAKilledOwnersChannelsGoOnFromTheOthers) {
  ASSERT_TRUE(fleet_.start(3, options_));
  // The third host's arrival moves its share to it; then nothing moves.
  sleep_until_wall(wall_now() + 1);
  const double from = wall_now();
  const Owners owners = read_owners(fleet_.state_file());
  ASSERT_EQ(owners.owner.size(), 6u);
  std::map<std::string, int> share;
  for (const auto& [channel, owner] : owners.owner) {
    ++share[owner];
  }
  ASSERT_EQ(share.size(), 3u) << "every Neovim runs a share";
  for (const auto& [owner, count] : share) {
    EXPECT_EQ(count, 2) << owner;
  }
  sleep_until_wall(from + 6);
  const double to = wall_now();
  ASSERT_EQ(read_owners(fleet_.state_file()).owner, owners.owner) << "no move without a change";
  check_window(read_runs(log_), from, to, owners);
  // SPEC §9: every Neovim hears every channel's syncs, whoever ran them, each
  // event naming its channel.
  for (std::size_t i = 0; i < 3; ++i) {
    const auto done = named(events_of(fleet_.nvim(i)), "HimalayaSyncDone");
    std::set<std::string> heard;
    for (const auto& e : done) {
      ASSERT_TRUE(e.data.contains("channels")) << describe(done);
      ASSERT_EQ(e.data["channels"].size(), 1u) << describe(done);
      heard.insert(e.data["channels"][0].get<std::string>());
    }
    EXPECT_EQ(heard.size(), intervals.size()) << "Neovim " << i << "\n" << describe(done);
  }

  // SIGKILL of the owner of "a", Neovim and host together.
  const std::string victim = owners.owner.at("a");
  std::size_t k = 0;
  while (k < fleet_.size() && fleet_.host_pid(k) != owners.host_pid.at(victim)) {
    ++k;
  }
  ASSERT_LT(k, fleet_.size());
  const double kill_at = wall_now();
  kill_instance(k);
  ASSERT_TRUE(wait_until(
      [&] {
        const Owners now = read_owners(fleet_.state_file());
        return !now.owner.empty() && now.owner.at("a") != victim;
      },
      2s))
      << "channel a still owned by the killed instance";
  sleep_until_wall(kill_at + 1);
  const double after_from = wall_now();
  const Owners after = read_owners(fleet_.state_file());
  sleep_until_wall(after_from + 5);
  ASSERT_EQ(read_owners(fleet_.state_file()).owner, after.owner);
  std::map<std::string, int> after_share;
  for (const auto& [channel, owner] : after.owner) {
    EXPECT_NE(owner, victim) << channel;
    ++after_share[owner];
  }
  EXPECT_EQ(after_share.size(), 2u);
  const auto runs = read_runs(log_);
  check_window(runs, after_from, wall_now(), after);
  // Channel a kept its schedule across the kill: no gap past an interval and a second.
  std::vector<double> a_starts;
  for (const ChannelRun& r : runs) {
    if (r.channel == "a" && r.start >= from) {
      a_starts.push_back(r.start);
    }
  }
  for (std::size_t i = 1; i < a_starts.size(); ++i) {
    EXPECT_LE(a_starts[i] - a_starts[i - 1], 2.0) << describe_runs(runs);
  }
  fleet_.stop();
}

// SPEC §11: a dead owner's channels move at once, not at the next heartbeat.
// The heartbeat here is 30 s (the default), so only the others' pidfd watch
// on the owner's host process can move them within the 2 s allowed.
TEST_F(Channels, AKilledOwnersChannelsMoveWithinMillisecondsNotAHeartbeat) {
  options_.heartbeat_interval = 30;
  options_.takeover_threshold = 90;
  // Every channel syncs once at the start, then not for 10 minutes: no
  // channel sync's start or end (whose write would also move them) comes
  // near the kill.
  std::string list = "{";
  for (const auto& [name, interval] : intervals) {
    list += " { name = " + lua_quote(name) + ", interval = 600 },";
  }
  options_.channels = list + " }";
  ASSERT_TRUE(fleet_.start(3, options_));
  Owners owners;
  ASSERT_TRUE(wait_until(
      [&] {
        owners = read_owners(fleet_.state_file());
        std::set<std::string> distinct;
        for (const auto& [channel, owner] : owners.owner) {
          distinct.insert(owner);
        }
        const auto runs = read_runs(log_);
        const bool quiet =
            runs.size() == intervals.size() &&
            std::all_of(runs.begin(), runs.end(), [](const ChannelRun& r) { return r.end > 0; });
        return owners.owner.size() == intervals.size() && distinct.size() == 3 && quiet;
      },
      15s))
      << "the three Neovims never shared the channels, each synced once\n"
      << describe_runs(read_runs(log_));
  ASSERT_TRUE(wait_until(
      [&] {
        std::ifstream in(fleet_.state_file());
        const auto j = nlohmann::json::parse(in, nullptr, false);
        if (j.is_discarded() || !j.contains("channels")) {
          return false;
        }
        for (const auto& [name, c] : j["channels"].items()) {
          if (c.contains("running")) {
            return false;
          }
        }
        return true;
      },
      5s))
      << "the state file still records a running channel sync";
  const auto primary = fleet_.primary();
  ASSERT_TRUE(primary);
  // A secondary that owns channels: the primary's death is the election's
  // business, with its own pidfd watch.
  std::size_t k = 0;
  std::string victim;
  for (; k < fleet_.size(); ++k) {
    for (const auto& [id, pid] : owners.host_pid) {
      if (k != *primary && pid == fleet_.host_pid(k)) {
        victim = id;
      }
    }
    if (!victim.empty()) {
      break;
    }
  }
  ASSERT_FALSE(victim.empty());
  const auto start = std::chrono::steady_clock::now();
  kill_instance(k);
  ASSERT_TRUE(wait_until(
      [&] {
        const Owners now = read_owners(fleet_.state_file());
        for (const auto& [channel, owner] : now.owner) {
          if (owner == victim || owner.empty()) {
            return false;
          }
        }
        return !now.owner.empty();
      },
      2s))
      << "the killed owner's channels did not move within 2 s (heartbeat 30 s)";
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ channels ] a SIGKILLed owner's channels moved in %.3f s\n", took);
  fleet_.stop();
}

TEST_F(Channels, AChannelFailingAgainAndAgainIsShownOnceNotAtEachRun) {
  options_.channels = "{ { name = 'a', interval = 1 }, { name = 'fail', interval = 1 } }";
  ASSERT_TRUE(fleet_.start(1, options_));
  // About four runs of each channel.
  ASSERT_TRUE(wait_until(
      [&] {
        int failed = 0;
        for (const ChannelRun& r : read_runs(log_)) {
          failed += r.channel == "fail" && r.end > 0 ? 1 : 0;
        }
        return failed >= 4;
      },
      10s))
      << describe_runs(read_runs(log_));
  sleep_until_wall(wall_now() + 0.3);  // the last run's end reaches Neovim
  int shown = 0;
  for (const Note& n : fleet_.notes(0)) {
    EXPECT_EQ(n.message.find("channel a "), std::string::npos) << n.message;
    if (n.message.find("sync of channel fail failed") != std::string::npos) {
      EXPECT_EQ(n.level, level_warn);
      ++shown;
    }
  }
  EXPECT_EQ(shown, 1) << describe(fleet_.notes(0));
  fleet_.stop();
}

}  // namespace
}  // namespace himalaya::e2e
