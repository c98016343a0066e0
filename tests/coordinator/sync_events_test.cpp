// SPEC §9's sync events: SyncAnnouncer view by view (pure), the doorbell
// facts, and the runtime in one process (two Coordinators on one io_context
// and one state file, so the secondary hears the primary through the
// doorbell, as a separate process does).
#include "coordinator/sync_events.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <csignal>
#include <cstdio>

#include "coordinator/coordinator.h"
#include "coordinator/state_file.h"
#include "recorder.h"
#include "runtime_fixture.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

using testing::Recorder;
using testing::TempDir;
using Kind = SyncEvent::Kind;

State running(const std::string& id, double started, SyncTrigger trigger = SyncTrigger::automatic) {
  State s;
  s.running_sync = SyncRecord{id, started, 1};
  s.running_sync->trigger = trigger;
  return s;
}

State ended(const std::string& id, double started, double end, SyncOutcome outcome,
            const std::string& message = "", SyncTrigger trigger = SyncTrigger::automatic) {
  State s;
  s.last_result = SyncResult{id, started, end, outcome, message, trigger};
  return s;
}

// "started nvim_1_1@100" / "done nvim_1_1@100 failed", for readable failures.
std::vector<std::string> brief(const std::vector<SyncEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    char at[32];
    std::snprintf(at, sizeof at, "%g", e.started);
    std::string line =
        std::string(e.kind == Kind::started ? "started " : "done ") + e.instance_id + "@" + at;
    if (e.kind == Kind::done) {
      line += std::string(" ") + to_string(e.outcome);
    }
    out.push_back(line);
  }
  return out;
}

using Lines = std::vector<std::string>;

TEST(SyncAnnouncerTest, AStartAndItsEndAreAnnouncedOnceEach) {
  SyncAnnouncer a;
  EXPECT_TRUE(a.observe(State{}).empty());
  auto started = a.observe(running("nvim_1_1", 100, SyncTrigger::manual));
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].kind, Kind::started);
  EXPECT_EQ(started[0].instance_id, "nvim_1_1");
  EXPECT_EQ(started[0].trigger, SyncTrigger::manual);
  EXPECT_EQ(started[0].started, 100);
  EXPECT_TRUE(a.observe(running("nvim_1_1", 100)).empty()) << "a repeated view";

  auto done = a.observe(
      ended("nvim_1_1", 100, 102.5, SyncOutcome::failed, "exit code 1", SyncTrigger::manual));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].kind, Kind::done);
  EXPECT_EQ(done[0].instance_id, "nvim_1_1");
  EXPECT_EQ(done[0].trigger, SyncTrigger::manual);
  EXPECT_EQ(done[0].started, 100);
  EXPECT_EQ(done[0].outcome, SyncOutcome::failed);
  EXPECT_DOUBLE_EQ(done[0].duration, 2.5);
  EXPECT_EQ(done[0].message, "exit code 1");
  EXPECT_TRUE(a.observe(ended("nvim_1_1", 100, 102.5, SyncOutcome::failed)).empty());
}

TEST(SyncAnnouncerTest, TheDoneEventCarriesTheRecordedNewMessages) {
  SyncAnnouncer a;
  a.observe(State{});
  State s = ended("nvim_1_1", 100, 101, SyncOutcome::ok);
  s.last_result->new_messages = 7;
  auto events = a.observe(s);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(events[0].new_messages.has_value()) << "a start has no count";
  EXPECT_EQ(events[1].new_messages, 7);
  auto unknown = a.observe(ended("nvim_1_1", 200, 201, SyncOutcome::ok));
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_FALSE(unknown[1].new_messages.has_value());
}

TEST(SyncAnnouncerTest, TheFirstViewAnnouncesOnlyASyncRunningThen) {
  SyncAnnouncer history;
  EXPECT_TRUE(history.observe(ended("nvim_1_1", 100, 101, SyncOutcome::ok)).empty());

  SyncAnnouncer joined;
  State s = ended("nvim_1_1", 100, 101, SyncOutcome::ok);
  s.running_sync = SyncRecord{"nvim_2_2", 200, 1};
  EXPECT_EQ(brief(joined.observe(s)), Lines{"started nvim_2_2@200"});
  EXPECT_EQ(brief(joined.observe(ended("nvim_2_2", 200, 201, SyncOutcome::timed_out))),
            Lines{"done nvim_2_2@200 timed_out"});
}

TEST(SyncAnnouncerTest, ASyncNeverSeenRunningIsAnnouncedStartedThenDone) {
  SyncAnnouncer a;
  a.observe(State{});
  EXPECT_EQ(brief(a.observe(ended("nvim_1_1", 100, 100.02, SyncOutcome::ok))),
            (Lines{"started nvim_1_1@100", "done nvim_1_1@100 ok"}));
}

TEST(SyncAnnouncerTest, AnEndAndTheNextStartInOneViewComeInOrder) {
  SyncAnnouncer a;
  a.observe(running("nvim_1_1", 100));
  State s = ended("nvim_1_1", 100, 101, SyncOutcome::ok);
  s.running_sync = SyncRecord{"nvim_2_2", 105, 2};
  EXPECT_EQ(brief(a.observe(s)), (Lines{"done nvim_1_1@100 ok", "started nvim_2_2@105"}));
}

// A channel sync as the runtime records it (channel_transitions.h): running
// in the channel's record, and at its end the result both there and at the
// top level, with the channel's name.
void run_channel(State& s, const std::string& channel, const std::string& id, double started) {
  s.channels[channel].running = SyncRecord{id, started, 1};
}
void end_channel(State& s, const std::string& channel, double ended, SyncOutcome outcome) {
  ChannelRecord& c = s.channels[channel];
  SyncResult r{c.running->instance_id, c.running->started, ended, outcome, ""};
  r.channel = channel;
  c.running.reset();
  c.last_result = r;
  s.last_result = r;
}

std::vector<std::string> channels_of(const std::vector<SyncEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    out.push_back(e.channels.empty() ? "(whole)" : e.channels.at(0));
  }
  return out;
}

TEST(SyncAnnouncerTest, ChannelSyncsRunningInParallelAreAnnouncedEachOnceWithTheirChannel) {
  SyncAnnouncer a;
  State s;
  a.observe(s);
  run_channel(s, "inbox", "nvim_1_1", 100);
  run_channel(s, "archive", "nvim_2_2", 101);
  auto started = a.observe(s);
  EXPECT_EQ(brief(started), (Lines{"started nvim_2_2@101", "started nvim_1_1@100"}));
  EXPECT_EQ(channels_of(started), (Lines{"archive", "inbox"}));

  end_channel(s, "inbox", 102, SyncOutcome::ok);
  auto done = a.observe(s);
  EXPECT_EQ(brief(done), Lines{"done nvim_1_1@100 ok"})
      << "the top-level copy of the result is not announced again as the whole command's";
  EXPECT_EQ(channels_of(done), Lines{"inbox"});
  EXPECT_TRUE(a.observe(s).empty());

  end_channel(s, "archive", 103, SyncOutcome::failed);
  EXPECT_EQ(brief(a.observe(s)), Lines{"done nvim_2_2@101 failed"});

  // The whole command (a manual sync) beside them is still its own.
  s.running_sync = SyncRecord{"nvim_1_1", 110, 1};
  auto whole = a.observe(s);
  EXPECT_EQ(channels_of(whole), Lines{"(whole)"});
}

TEST(SyncAnnouncerTest, AChannelFirstSeenAfterTheFirstViewIsNewsNotHistory) {
  SyncAnnouncer history;
  State s;
  run_channel(s, "inbox", "nvim_1_1", 100);
  end_channel(s, "inbox", 100.01, SyncOutcome::ok);
  EXPECT_TRUE(history.observe(s).empty()) << "the first view's results are history";

  SyncAnnouncer later;
  later.observe(State{});
  EXPECT_EQ(brief(later.observe(s)), (Lines{"started nvim_1_1@100", "done nvim_1_1@100 ok"}));
}

TEST(SyncAnnouncerTest, OlderRecordsAreNotAnnounced) {
  SyncAnnouncer a;
  a.observe(State{});
  a.observe(ended("nvim_1_1", 200, 201, SyncOutcome::ok));
  // A file rebuilt from an older view.
  EXPECT_TRUE(a.observe(ended("nvim_2_2", 100, 101, SyncOutcome::ok)).empty());
  EXPECT_TRUE(a.observe(running("nvim_2_2", 150)).empty());
}

TEST(SyncAnnouncerTest, HeartbeatsAndRoleChangesAnnounceNothing) {
  SyncAnnouncer a;
  State s = ended("nvim_1_1", 100, 101, SyncOutcome::ok);
  a.observe(s);
  for (int i = 0; i < 5; ++i) {
    s.primary = Lease{i % 2 == 0 ? "nvim_1_1" : "nvim_2_2", 300.0 + i, 1, "0.7.2"};
    s.instances["nvim_1_1"].last_heartbeat = 300.0 + i;
    s.last_modified = 300.0 + i;
    EXPECT_TRUE(a.observe(s).empty());
  }
}

TEST(SyncAnnouncerTest, ALocalSyncTheFileDidNotRecordIsAnnouncedOnce) {
  SyncAnnouncer a;
  a.observe(State{});
  SyncRecord mine{"nvim_1_1", 100, 1};
  mine.trigger = SyncTrigger::manual;
  EXPECT_EQ(brief(a.local_started(mine)), Lines{"started nvim_1_1@100"});
  EXPECT_TRUE(a.local_started(mine).empty());
  SyncResult result{"nvim_1_1", 100, 101, SyncOutcome::ok, "", SyncTrigger::manual};
  EXPECT_EQ(brief(a.local_done(result)), Lines{"done nvim_1_1@100 ok"});
  // The file working again and holding that result announces nothing more.
  EXPECT_TRUE(a.observe(ended("nvim_1_1", 100, 101, SyncOutcome::ok)).empty());
  EXPECT_TRUE(a.local_done(result).empty());
}

TEST(SyncAnnouncerTest, ALocalEndAfterALaterResultDoesNotReopenThatResult) {
  // This instance was frozen during its sync; others settled it and synced
  // again. Its own end is still announced, once; the later result is not
  // announced again.
  SyncAnnouncer a;
  a.observe(running("nvim_1_1", 100));
  EXPECT_EQ(brief(a.observe(ended("nvim_2_2", 300, 301, SyncOutcome::ok))),
            (Lines{"started nvim_2_2@300", "done nvim_2_2@300 ok"}));
  EXPECT_EQ(brief(a.local_done(SyncResult{"nvim_1_1", 100, 400, SyncOutcome::ok, ""})),
            Lines{"done nvim_1_1@100 ok"});
  EXPECT_TRUE(a.observe(ended("nvim_2_2", 300, 301, SyncOutcome::ok)).empty());
}

TEST(DoorbellFactsTest, RingOnLeaseAndSyncChangesOnly) {
  State s;
  s.primary = Lease{"nvim_1_1", 1, 1, "0.7.2"};
  const DoorbellFacts before = doorbell_facts(s);
  State heartbeat = s;
  heartbeat.primary->last_heartbeat = 2;
  heartbeat.instances["nvim_1_1"].last_heartbeat = 2;
  heartbeat.last_modified = 2;
  EXPECT_EQ(doorbell_facts(heartbeat), before);
  State started = s;
  started.running_sync = SyncRecord{"nvim_1_1", 5, 1};
  EXPECT_NE(doorbell_facts(started), before);
  State recorded_pid = started;
  recorded_pid.running_sync->sync_pid = 77;
  EXPECT_EQ(doorbell_facts(recorded_pid), doorbell_facts(started));
  State done = s;
  done.last_result = SyncResult{"nvim_1_1", 5, 6, SyncOutcome::ok, ""};
  EXPECT_NE(doorbell_facts(done), before);
  State handed_over = s;
  handed_over.primary->instance_id = "nvim_2_2";
  EXPECT_NE(doorbell_facts(handed_over), before);
}

// --- The runtime ----------------------------------------------------------

class SyncEventsRuntimeTest : public testing::RuntimeTest {
 protected:
  // Nothing automatic: the tests start every sync themselves.
  Config config() {
    Config c = RuntimeTest::config();
    c.timings.interval = 600;
    c.timings.sync_cooldown = 300;
    c.auto_sync = false;
    return c;
  }
};

TEST_F(SyncEventsRuntimeTest, ASecondaryHearsThePrimarysSyncThroughTheDoorbell) {
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  a->start();
  b->start();
  ASSERT_EQ(a->role(), Role::primary);
  ASSERT_TRUE(a->begin_sync(SyncTrigger::manual).granted);
  ASSERT_EQ(ra.syncs.size(), 1u) << "the primary announces its own start at once";
  ASSERT_TRUE(run_until([&] { return rb.syncs.size() == 1; }, 5));
  EXPECT_EQ(rb.syncs[0].kind, SyncEvent::Kind::started);
  EXPECT_EQ(rb.syncs[0].instance_id, "nvim_1_1");
  EXPECT_EQ(rb.syncs[0].trigger, SyncTrigger::manual);
  EXPECT_EQ(rb.syncs[0].started, ra.syncs[0].started);

  a->end_sync(SyncOutcome::timed_out, "timed out after 600 s");
  ASSERT_EQ(ra.syncs.size(), 2u);
  ASSERT_TRUE(run_until([&] { return rb.syncs.size() == 2; }, 5));
  for (const Recorder* r : {&ra, &rb}) {
    const SyncEvent& done = r->syncs[1];
    EXPECT_EQ(done.kind, SyncEvent::Kind::done);
    EXPECT_EQ(done.instance_id, "nvim_1_1");
    EXPECT_EQ(done.trigger, SyncTrigger::manual);
    EXPECT_EQ(done.outcome, SyncOutcome::timed_out);
    EXPECT_EQ(done.message, "timed out after 600 s");
    EXPECT_GE(done.duration, 0);
  }
  // Heartbeats go on; nothing more is announced.
  run_for(0.5);
  EXPECT_EQ(ra.syncs.size(), 2u);
  EXPECT_EQ(rb.syncs.size(), 2u);
}

TEST_F(SyncEventsRuntimeTest, HeartbeatWritesDoNotRingTheDoorbell) {
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  a->start();
  b->start();
  const auto lock = config().state_file.string() + ".lock";
  struct stat before {};
  ASSERT_EQ(::stat(lock.c_str(), &before), 0);
  run_for(0.5);  // ten heartbeats of each
  struct stat after {};
  ASSERT_EQ(::stat(lock.c_str(), &after), 0);
  EXPECT_EQ(after.st_ctim.tv_sec, before.st_ctim.tv_sec);
  EXPECT_EQ(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec);
  ASSERT_TRUE(a->begin_sync(SyncTrigger::manual).granted);
  ASSERT_EQ(::stat(lock.c_str(), &after), 0);
  EXPECT_FALSE(after.st_ctim.tv_sec == before.st_ctim.tv_sec &&
               after.st_ctim.tv_nsec == before.st_ctim.tv_nsec)
      << "a sync start rings it";
  a->end_sync(SyncOutcome::ok, "");
}

// Between the moment a sync process exits and the moment its instance
// records the end, other instances see the process gone. They must leave the
// record to its instance (for a moment: see settle_running_sync() in
// transitions.h), not settle it as 'outcome unknown', which every instance
// would then announce instead of the real outcome.
TEST_F(SyncEventsRuntimeTest, ASyncWhoseProcessJustExitedIsEndedByItsOwnInstance) {
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  a->start();
  b->start();
  ASSERT_TRUE(a->begin_sync(SyncTrigger::manual).granted);
  const pid_t sync_process = ::fork();
  ASSERT_GE(sync_process, 0);
  if (sync_process == 0) {
    ::pause();
    ::_exit(0);
  }
  a->sync_process_started(sync_process);
  ::kill(sync_process, SIGKILL);
  ::waitpid(sync_process, nullptr, 0);
  // Less than one heartbeat (0.05 s): b may evaluate once, with the process
  // gone, as it may in the moment before a real host records the end.
  run_for(0.04);
  a->end_sync(SyncOutcome::ok, "");
  ASSERT_TRUE(run_until([&] { return rb.syncs.size() == 2; }, 5));
  EXPECT_EQ(rb.syncs[1].kind, SyncEvent::Kind::done);
  EXPECT_EQ(rb.syncs[1].outcome, SyncOutcome::ok) << rb.syncs[1].message;
  EXPECT_EQ(ra.syncs.at(1).outcome, SyncOutcome::ok) << ra.syncs[1].message;
}

TEST_F(SyncEventsRuntimeTest, AnUncoordinatedSyncIsAnnouncedByItsOwnInstance) {
  Config c = config();
  c.enabled = false;
  Recorder r;
  auto a = make("nvim_1_1", r, c, 1);
  a->start();
  ASSERT_TRUE(a->begin_sync(SyncTrigger::automatic).granted);
  a->end_sync(SyncOutcome::failed, "exit code 1");
  ASSERT_EQ(r.syncs.size(), 2u);
  EXPECT_EQ(r.syncs[0].kind, SyncEvent::Kind::started);
  EXPECT_EQ(r.syncs[1].kind, SyncEvent::Kind::done);
  EXPECT_EQ(r.syncs[1].started, r.syncs[0].started);
  EXPECT_EQ(r.syncs[1].outcome, SyncOutcome::failed);
  EXPECT_EQ(r.syncs[1].trigger, SyncTrigger::automatic);
  EXPECT_EQ(r.syncs[1].message, "exit code 1");
}

}  // namespace
}  // namespace himalaya::coordinator
