// End-to-end: the editor events of SPEC §9 in a fleet of three real headless
// Neovims.
//
// Each Neovim records every User HimalayaSyncStarted, HimalayaSyncDone and
// HimalayaRoleChanged it fires, with the data a handler sees (args.data from
// Neovim 0.8 on, require('himalaya_coord').last_event() on 0.7) and the wall
// time of the handler (tests/e2e/event_recorder.h). The sync command is
// tests/e2e/event_sync.sh, whose outcome (ok, fail, hang) the test picks by
// writing a mode file. Durations are scaled down: heartbeat 0.1 s.
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/event_recorder.h"
#include "tests/e2e/fleet.h"
#include "tests/support/nvim_process.h"
#include "tests/support/shared_state.h"

namespace himalaya::e2e {
namespace {

constexpr const char* started_event = "HimalayaSyncStarted";
constexpr const char* done_event = "HimalayaSyncDone";
constexpr const char* role_event = "HimalayaRoleChanged";
constexpr double wakeups_per_heartbeat = 2.5;

// The events of one sync (by its start stamp) in the order they fired.
std::vector<Event> of_sync(const std::vector<Event>& events, double started) {
  std::vector<Event> out;
  for (const auto& e : events) {
    if (e.name != role_event && e.data.value("started", 0.0) == started) {
      out.push_back(e);
    }
  }
  return out;
}

// A fleet whose sync command is event_sync.sh reading `mode` in the shared
// directory, with every Neovim recording its events.
class EventFleet {
 public:
  explicit EventFleet(FleetOptions options) : options_(std::move(options)) {
    options_.extra_lua = record_events_lua;
    options_.command = "{'/bin/sh', " +
                       lua_quote(std::string(HIMALAYA_SOURCE_DIR) + "/tests/e2e/event_sync.sh") +
                       ", " + lua_quote(mode_file().string()) + "}";
  }
  bool start(const std::string& mode) {
    set_mode(mode);
    return fleet.start(3, options_);
  }
  void set_mode(const std::string& mode) const { std::ofstream(mode_file()) << mode << "\n"; }
  std::filesystem::path mode_file() const { return fleet.shared_dir() / "mode"; }
  std::vector<Event> events(std::size_t i) { return events_of(fleet.nvim(i)); }
  // The index of the one primary; fleet.size() if there is not exactly one.
  std::size_t primary() {
    std::string label = fleet.primary_label();
    return label.empty() ? fleet.size() : static_cast<std::size_t>(std::stoi(label.substr(4)) - 1);
  }

  Fleet fleet;

 private:
  FleetOptions options_;
};

// --- 1. A sync by the primary: Started and Done in all three ----------------

struct OutcomeCase {
  const char* mode;
  const char* outcome;
  const char* message_part;  // "" for ok: the message is empty
  double min_duration;
};

class PrimarySyncEvents : public ::testing::TestWithParam<OutcomeCase> {};

TEST_P(PrimarySyncEvents, FireInAllThreeWithTheSyncsData) {
  const OutcomeCase& c = GetParam();
  FleetOptions options;
  options.interval = 3;
  options.sync_cooldown = 1;
  options.timeout = 0.5;  // the hanging command is stopped after 0.5 s
  EventFleet f(options);
  ASSERT_TRUE(f.start(c.mode));
  // Every host is up: a sync that starts from now on is heard by all three.
  const double ready = wall_now();
  const std::size_t p = f.primary();
  ASSERT_LT(p, f.fleet.size()) << "not exactly one primary";
  const std::string primary_id = f.fleet.instance_id(p);

  // The primary's first automatic sync after `ready`; the start-up sync may
  // have come before the last host was up.
  double started = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        for (const Event& e : named(f.events(p), done_event)) {
          if (e.data.value("started", 0.0) > ready) {
            started = e.data.value("started", 0.0);
            return true;
          }
        }
        return false;
      },
      std::chrono::milliseconds(static_cast<int>(options.interval * 1000) + 10000)))
      << "no sync by the primary ended after the fleet was ready; the primary's events:\n"
      << describe(f.events(p));

  for (std::size_t i = 0; i < f.fleet.size(); ++i) {
    SCOPED_TRACE(Fleet::label(i) + (i == p ? " (primary)" : " (secondary)"));
    std::vector<Event> sync;
    EXPECT_TRUE(wait_until(
        [&] {
          sync = of_sync(f.events(i), started);
          return sync.size() >= 2;
        },
        5s))
        << describe(f.events(i));
    ASSERT_EQ(sync.size(), 2u) << "one Started and one Done:\n" << describe(sync);
    const Event& s = sync[0];
    const Event& d = sync[1];
    EXPECT_EQ(s.name, started_event);
    EXPECT_EQ(s.data, (nlohmann::json{
                          {"instance_id", primary_id}, {"trigger", "auto"}, {"started", started}}));
    EXPECT_EQ(d.name, done_event);
    EXPECT_EQ(d.data.value("instance_id", ""), primary_id);
    EXPECT_EQ(d.data.value("trigger", ""), "auto");
    EXPECT_EQ(d.data.value("outcome", ""), c.outcome);
    EXPECT_GE(d.data.value("duration", -1.0), c.min_duration);
    EXPECT_LT(d.data.value("duration", -1.0), 5.0);
    const std::string message = d.data.value("message", "<none>");
    if (std::string(c.message_part).empty()) {
      EXPECT_EQ(message, "");
    } else {
      EXPECT_NE(message.find(c.message_part), std::string::npos) << message;
    }
    EXPECT_FALSE(d.data.contains("channels"));
    EXPECT_FALSE(d.data.contains("new_messages"));

    // statusline() follows: 'mail <age>' or 'mail failed <age>' until the
    // next sync, due `interval` after this one.
    const std::string expected =
        std::string(c.outcome) == "ok" ? "^mail \\d+s$" : "^mail failed \\d+s$";
    std::string line;
    EXPECT_TRUE(wait_until(
        [&] {
          line = f.fleet.nvim(i).lua_string("return require('himalaya_coord').statusline()");
          return std::regex_match(line, std::regex(expected));
        },
        1s))
        << line;
  }
}

INSTANTIATE_TEST_SUITE_P(Outcomes, PrimarySyncEvents,
                         ::testing::Values(OutcomeCase{"ok", "ok", "", 0.04},
                                           OutcomeCase{"fail", "failed", "exited with status 1", 0},
                                           OutcomeCase{"hang", "timed_out", "timed out after 0.5 s",
                                                       0.5}),
                         [](const ::testing::TestParamInfo<OutcomeCase>& param) {
                           return std::string(param.param.mode);
                         });

// --- 2. A manual sync from a secondary --------------------------------------

TEST(SyncEvents, ManualSyncFromASecondaryFiresInAllThree) {
  FleetOptions options;
  options.auto_sync = false;  // the only sync is the manual one
  EventFleet f(options);
  ASSERT_TRUE(f.start("ok"));
  const std::size_t p = f.primary();
  ASSERT_LT(p, f.fleet.size()) << "not exactly one primary";
  const std::size_t s = p == 0 ? 1 : 0;
  const std::string secondary_id = f.fleet.instance_id(s);
  const double asked = wall_now();
  f.fleet.nvim(s).lua("vim.cmd('HimalayaSyncNow')");

  for (std::size_t i = 0; i < f.fleet.size(); ++i) {
    SCOPED_TRACE(Fleet::label(i));
    std::vector<Event> done;
    ASSERT_TRUE(wait_until(
        [&] {
          done = named(f.events(i), done_event);
          return !done.empty();
        },
        5s))
        << describe(f.events(i));
    std::vector<Event> all = f.events(i);
    std::vector<Event> starts = named(all, started_event);
    ASSERT_EQ(starts.size(), 1u) << describe(all);
    ASSERT_EQ(done.size(), 1u) << describe(all);
    const double started = starts[0].data.value("started", 0.0);
    EXPECT_GE(started, asked);
    EXPECT_EQ(starts[0].data,
              (nlohmann::json{
                  {"instance_id", secondary_id}, {"trigger", "manual"}, {"started", started}}));
    EXPECT_EQ(done[0].data.value("instance_id", ""), secondary_id);
    EXPECT_EQ(done[0].data.value("trigger", ""), "manual");
    EXPECT_EQ(done[0].data.value("started", 0.0), started);
    EXPECT_EQ(done[0].data.value("outcome", ""), "ok");
    EXPECT_EQ(done[0].data.value("message", "<none>"), "");
    EXPECT_GE(done[0].data.value("duration", -1.0), 0.04);
  }
}

// --- 2b. new_messages, known when the sync command is mbsync ---------------

TEST(SyncEvents, AnMbsyncSyncsNewMessagesReachAllThree) {
  // A stand-in named mbsync reads nothing but delivers two messages into the
  // Maildir its configuration (-c) names: the hosts count them from that
  // configuration and the Maildir listings, as with the real mbsync.
  FleetOptions options;
  options.auto_sync = false;
  options.extra_lua = record_events_lua;
  Fleet fleet;
  const std::filesystem::path dir = fleet.shared_dir();
  const std::filesystem::path maildir = dir / "Mail" / "INBOX";
  for (const char* sub : {"cur", "new", "tmp"}) {
    std::filesystem::create_directories(maildir / sub);
  }
  {
    std::ofstream(dir / "mbsyncrc") << "IMAPAccount a\nHost 127.0.0.1\nTLSType None\n\n"
                                    << "IMAPStore remote\nAccount a\n\n"
                                    << "MaildirStore local\nPath " << (dir / "Mail").string()
                                    << "/\nInbox " << maildir.string() << "\n\n"
                                    << "Channel inbox\nFar :remote:\nNear :local:\n";
    std::ofstream script(dir / "mbsync");
    script << "#!/bin/sh\n"
           << "n=$(date +%s%N)\n"
           << ": > '" << maildir.string() << "/new/'$n.fake,U=1\n"
           << ": > '" << maildir.string() << "/cur/'$n.fake2,U=2:2,S\n";
  }
  std::filesystem::permissions(dir / "mbsync", std::filesystem::perms::owner_all);
  options.command = "{" + lua_quote((dir / "mbsync").string()) + ", '-c', " +
                    lua_quote((dir / "mbsyncrc").string()) + ", '-a'}";
  ASSERT_TRUE(fleet.start(3, options));
  fleet.nvim(0).lua("vim.cmd('HimalayaSyncNow')");

  for (std::size_t i = 0; i < fleet.size(); ++i) {
    SCOPED_TRACE(Fleet::label(i));
    std::vector<Event> done;
    ASSERT_TRUE(wait_until(
        [&] {
          done = named(events_of(fleet.nvim(i)), done_event);
          return !done.empty();
        },
        5s))
        << describe(events_of(fleet.nvim(i)));
    ASSERT_EQ(done.size(), 1u) << describe(done);
    EXPECT_EQ(done[0].data.value("outcome", ""), "ok");
    EXPECT_EQ(done[0].data.value("new_messages", -1), 2) << done[0].data.dump();
  }
}

// --- 3. A takeover ------------------------------------------------------------

TEST(SyncEvents, ATakeoverFiresRoleChangedInTheNewPrimaryOnly) {
  FleetOptions options;
  options.auto_sync = false;
  EventFleet f(options);
  ASSERT_TRUE(f.start("ok"));
  const std::size_t p = f.primary();
  ASSERT_LT(p, f.fleet.size()) << "not exactly one primary";
  // Each instance announced its first role when its host started.
  for (std::size_t i = 0; i < f.fleet.size(); ++i) {
    std::vector<Event> roles;
    ASSERT_TRUE(wait_until(
        [&] {
          roles = named(f.events(i), role_event);
          return !roles.empty();
        },
        5s));
    EXPECT_EQ(roles.size(), 1u) << describe(roles);
    EXPECT_EQ(roles[0].data, (nlohmann::json{{"role", i == p ? "Primary Coordinator" : "Secondary"},
                                             {"previous", "Uncoordinated"}}));
  }

  // The primary's Neovim and host die at once: a takeover, not a handover.
  const pid_t host = f.fleet.host_pid(p);
  f.fleet.nvim(p).kill(SIGKILL);
  ::kill(host, SIGKILL);

  std::size_t successor = f.fleet.size();
  ASSERT_TRUE(wait_until(
      [&] {
        for (std::size_t i = 0; i < f.fleet.size(); ++i) {
          if (i != p && named(f.events(i), role_event).size() == 2) {
            successor = i;
            return true;
          }
        }
        return false;
      },
      5s))
      << "no secondary announced a new role";
  std::vector<Event> roles = named(f.events(successor), role_event);
  EXPECT_EQ(roles[1].data,
            (nlohmann::json{{"role", "Primary Coordinator"}, {"previous", "Secondary"}}));
  EXPECT_EQ(f.fleet.role(successor), "Primary Coordinator");
  const std::size_t other = 3 - p - successor;
  EXPECT_EQ(f.fleet.role(other), "Secondary");
  EXPECT_EQ(named(f.events(other), role_event).size(), 1u) << describe(f.events(other));
}

// --- 4. An idle fleet -----------------------------------------------------------

// Long enough that nothing is due during a test: after the start-up sync the
// fleet only sends heartbeats.
FleetOptions idle_options() {
  FleetOptions options;
  options.interval = 3600;
  options.sync_cooldown = 3600;
  return options;
}

// Waits until the fleet's start-up sync has ended (the state file holds its
// result and no running sync), then runs a manual sync from a secondary and
// waits until all three Neovims have fired its Done: from then on every event
// of the past has been delivered everywhere.
void settle_after_a_sync(EventFleet& f) {
  ASSERT_TRUE(wait_until(
      [&] {
        const auto state = testing::read_shared_state(f.fleet.state_file());
        return state && state->last_result && !state->running_sync;
      },
      10s))
      << "the start-up sync did not end";
  const std::size_t p = f.primary();
  ASSERT_LT(p, f.fleet.size()) << "not exactly one primary";
  const std::size_t s = p == 0 ? 1 : 0;
  const double asked = wall_now();
  f.fleet.nvim(s).lua("vim.cmd('HimalayaSyncNow')");
  for (std::size_t i = 0; i < f.fleet.size(); ++i) {
    ASSERT_TRUE(wait_until(
        [&] {
          for (const Event& e : named(f.events(i), done_event)) {
            if (e.data.value("started", 0.0) >= asked) {
              return true;
            }
          }
          return false;
        },
        5s))
        << Fleet::label(i) << ":\n"
        << describe(f.events(i));
  }
}

double primary_heartbeat(const std::filesystem::path& state_file) {
  const auto state = testing::read_shared_state(state_file);
  return state && state->primary ? state->primary->last_heartbeat : 0;
}

TEST(SyncEvents, AnIdleFleetFiresNoEvents) {
  EventFleet f(idle_options());
  ASSERT_TRUE(f.start("ok"));
  ASSERT_NO_FATAL_FAILURE(settle_after_a_sync(f));
  std::vector<std::size_t> before;
  for (std::size_t i = 0; i < f.fleet.size(); ++i) {
    before.push_back(f.events(i).size());
  }
  const double heartbeat_before = primary_heartbeat(f.fleet.state_file());

  // The observation: 3 s, thirty heartbeats of each instance.
  std::this_thread::sleep_for(3s);

  EXPECT_GT(primary_heartbeat(f.fleet.state_file()), heartbeat_before)
      << "the fleet was not running: no heartbeat in 3 s";
  for (std::size_t i = 0; i < f.fleet.size(); ++i) {
    std::vector<Event> after = f.events(i);
    EXPECT_EQ(after.size(), before[i])
        << Fleet::label(i) << " fired while the fleet was idle:\n"
        << describe(std::vector<Event>(after.begin() + static_cast<long>(before[i]), after.end()));
  }
}

// The voluntary context switches of every thread of `pid`: each time the
// process blocked (in epoll_wait, a sleep, a disk wait) and was woken.
long long wakeups(pid_t pid) {
  long long total = 0;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream in(task.path() / "status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
        total += std::stoll(line.substr(line.find(':') + 1));
      }
    }
  }
  return total;
}

// Points TMPDIR (where TestHome makes its directories) at `dir` for its life.
class TempDirAt {
 public:
  explicit TempDirAt(const char* dir) {
    if (const char* old = std::getenv("TMPDIR")) {
      old_ = old;
    }
    ::setenv("TMPDIR", dir, 1);
  }
  ~TempDirAt() {
    if (old_) {
      ::setenv("TMPDIR", old_->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  }
  TempDirAt(const TempDirAt&) = delete;
  TempDirAt& operator=(const TempDirAt&) = delete;

 private:
  std::optional<std::string> old_;
};

// Counted as voluntary context switches, a host's wake-ups include its waits
// for the disk: on ext4 here each heartbeat's two fsyncs blocked it 3 to 8
// times more (strace showed one event-loop wake-up per heartbeat and nothing
// else). On tmpfs an fsync does not block, so the count is the wake-ups
// themselves: the heartbeat timer, and a rare sleep while another instance
// holds the state file's lock.
TEST(SyncEvents, AnIdleSecondarysHostWakesOnlyForItsHeartbeat) {
  struct statfs fs {};
  if (::statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
    GTEST_SKIP() << "needs /dev/shm on tmpfs";
  }
  TempDirAt on_tmpfs("/dev/shm");
  FleetOptions options = idle_options();
  options.heartbeat_interval = 0.25;
  options.takeover_threshold = 1.5;
  EventFleet f(options);
  ASSERT_TRUE(f.start("ok"));
  ASSERT_NO_FATAL_FAILURE(settle_after_a_sync(f));
  const std::size_t p = f.primary();
  ASSERT_LT(p, f.fleet.size()) << "not exactly one primary";
  const std::size_t s = p == 0 ? 1 : 0;
  const pid_t host = f.fleet.host_pid(s);

  const auto t0 = std::chrono::steady_clock::now();
  const long long w0 = wakeups(host);
  // The observation: 5 s, twenty heartbeats.
  std::this_thread::sleep_for(5s);
  const long long w1 = wakeups(host);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(process_gone(host));

  const double heartbeats = seconds / options.heartbeat_interval;
  const long long woken = w1 - w0;
  // At most wakeups_per_heartbeat per heartbeat, plus two heartbeats of
  // slack for the window's ends. Measured here: 1.05 per heartbeat. Work on
  // a timer of its own, even at 10 Hz, would add 50 here.
  EXPECT_LE(static_cast<double>(woken), wakeups_per_heartbeat * (heartbeats + 2))
      << woken << " wake-ups in " << seconds << " s (" << heartbeats << " heartbeats)";
  // And it is the host's counter: each heartbeat wakes it at least once.
  EXPECT_GE(static_cast<double>(woken), heartbeats / 2) << woken << " wake-ups";
  std::printf("secondary host: %lld wake-ups in %.2f s, %.1f heartbeats: %.2f per heartbeat\n",
              woken, seconds, heartbeats, static_cast<double>(woken) / heartbeats);
}

}  // namespace
}  // namespace himalaya::e2e
