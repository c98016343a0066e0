// The mail stack (see mail_stack_steps.h): :qa in the primary while its
// mbsync is busy ends the sync first, then hands over.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>

#include "coordinator/state.h"
#include "coordinator/state_file.h"
#include "tests/mail/mail_stack_steps.h"

namespace himalaya::mail {
namespace {

using std::chrono::steady_clock;
using testing::wait_until;

// --- 6. :qa in the primary while mbsync runs ----------------------------------

// Enough mail that the next sync takes a while: kBulkMessages of kBulkBytes.
constexpr int kBulkMessages = 120;
constexpr std::size_t kBulkBytes = 64 * 1024;

// While the primary's mbsync is busy with a large sync, :qa in the primary
// Neovim. Its host ends the sync (SIGTERM to mbsync's group), and only then
// hands over: when the state file first names another primary, the old
// primary's mbsync is already gone and no sync of it is recorded as running.
// No mbsync of the old primary is left, and the new primary's syncs do not
// overlap the cancelled one.
TEST(MailStack, QuitInPrimaryWhileMbsyncRunsEndsTheSyncThenHandsOver) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_NO_FATAL_FAILURE(start_steady_fleet(server, fleet));
  auto old_primary = fleet.primary();
  ASSERT_TRUE(old_primary.has_value()) << "not exactly one primary";
  const std::string old_id =
      fleet.nvim(*old_primary).lua_string("return require('himalaya_coord').instance_id()");
  const pid_t old_host = fleet.host_pid(*old_primary);
  // Between two syncs: deliver the bulk, then wait for the sync that takes it.
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = read_state(fleet.state_file());
        return s && !s->running_sync;
      },
      ms(kMaxGap + 5)));
  server.deliver_many(kBulkMessages, kBulkBytes);
  const std::size_t known = server.sessions().size();
  ASSERT_TRUE(wait_new_login(server, known, ms(kMaxGap + 5)).has_value()) << "no sync started";
  // mbsync runs (children of the old primary's host).
  std::vector<pid_t> mbsync;
  ASSERT_TRUE(wait_until(
      [&] {
        mbsync = mbsync_processes(server);
        return !mbsync.empty();
      },
      2s));
  auto in_sync = read_state(fleet.state_file());
  ASSERT_TRUE(in_sync && in_sync->running_sync && in_sync->running_sync->instance_id == old_id)
      << "the sync running is not the primary's";

  const auto quit = steady_clock::now();
  fleet.nvim(*old_primary).command_no_wait("qa");
  // Watch the file closely: at the first state naming another primary, the
  // old primary's sync must be over, its process gone.
  std::optional<coordinator::State> handed;
  bool mbsync_gone_at_handover = false;
  EXPECT_TRUE(wait_until(
      [&] {
        auto s = read_state(fleet.state_file());
        if (!s || !s->primary || s->primary->instance_id == old_id) {
          return false;
        }
        mbsync_gone_at_handover = std::all_of(mbsync.begin(), mbsync.end(),
                                              [](pid_t p) { return testing::process_gone(p); });
        handed = s;
        return true;
      },
      5s))
      << "no handover";
  const double handover = seconds_since(quit);
  std::printf("handover %.3f s after :qa during a sync\n", handover);
  EXPECT_LE(handover, 1.5);
  EXPECT_TRUE(mbsync_gone_at_handover) << "handed over while the old primary's mbsync still ran";
  if (handed) {
    EXPECT_FALSE(handed->running_sync && handed->running_sync->instance_id == old_id)
        << "handed over while its sync was recorded as running";
    ASSERT_TRUE(handed->last_result.has_value());
    EXPECT_EQ(handed->last_result->instance_id, old_id);
    std::printf("the interrupted sync ended as: %s (%s)\n",
                coordinator::to_string(handed->last_result->outcome),
                handed->last_result->message.c_str());
  }
  ASSERT_TRUE(fleet.nvim(*old_primary).wait_exit(5s)) << "nvim did not exit on :qa";
  fleet.mark_gone(*old_primary);
  EXPECT_TRUE(wait_until([&] { return testing::process_gone(old_host); }, 5s))
      << "the old primary's host did not exit";
  for (pid_t pid : mbsync) {
    EXPECT_TRUE(testing::process_gone(pid)) << "mbsync " << pid << " was left running";
  }
  {
    auto sessions = server.sessions();
    ASSERT_GT(sessions.size(), known);
    std::printf("the interrupted sync's IMAP session: %s\n", sessions[known].end.c_str());
  }

  // The new primary syncs on (it takes the rest of the bulk), one at a time.
  const std::size_t after = server.sessions().size();
  EXPECT_TRUE(
      wait_until([&] { return server.sessions().size() >= after + 2; }, ms(2 * kMaxGap + 10)))
      << "syncing stopped after the handover\n"
      << describe(server.sessions());
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary";
  expect_all_closed_without_overlap(server, fleet);
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

}  // namespace
}  // namespace himalaya::mail
