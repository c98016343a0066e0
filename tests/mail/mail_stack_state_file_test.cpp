// The mail stack (see mail_stack_steps.h): the state file deleted, corrupted
// or made unwritable while a fleet runs; syncing goes on.
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

// --- 5. The state file deleted, corrupted, made unwritable ---------------------

// While 3 instances run, the state file is deleted (between two host updates).
// No host crashes (each still answers), the next heartbeat rebuilds the file
// with one primary, and syncing goes on on the same schedule.
TEST(MailStack, DeletedStateFileIsRebuiltAndSyncingGoesOn) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_NO_FATAL_FAILURE(start_steady_fleet(server, fleet));
  auto last = wait_new_login(server, server.sessions().size(), ms(kMaxGap + 5));
  ASSERT_TRUE(last.has_value()) << "no scheduled login";
  const auto deleted = steady_clock::now();
  {
    StateLock lock(fleet.state_file());
    ASSERT_TRUE(std::filesystem::remove(fleet.state_file()));
  }
  std::optional<coordinator::State> state;
  EXPECT_TRUE(wait_until(
      [&] {
        state = read_state(fleet.state_file());
        return state && state->primary && state->instances.size() == 3;
      },
      3s))
      << "the state file was not rebuilt";
  std::printf("state file rebuilt after %.3f s\n", seconds_since(deleted));
  EXPECT_GT(state ? state->last_sync_time : 0, 0) << "the rebuilt file lost the schedule";
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary: " << describe(roles(fleet));
  expect_schedule_kept_and_clean(server, fleet, *last);
}

// While 3 instances run, the state file is overwritten with garbage (between
// two host updates). No host crashes, the corrupt file is moved aside as
// sync_coordinator.json.corrupt-<time>, a valid file with one primary takes
// its place, and syncing goes on on the same schedule.
TEST(MailStack, CorruptStateFileIsMovedAsideAndRebuiltAndSyncingGoesOn) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_NO_FATAL_FAILURE(start_steady_fleet(server, fleet));
  auto last = wait_new_login(server, server.sessions().size(), ms(kMaxGap + 5));
  ASSERT_TRUE(last.has_value()) << "no scheduled login";
  const std::string garbage = "{\"primary\": {\"instance_id\": 42, ";
  const auto corrupted = steady_clock::now();
  {
    StateLock lock(fleet.state_file());
    std::ofstream out(fleet.state_file(), std::ios::trunc);
    out << garbage;
  }
  const std::filesystem::path dir = fleet.state_file().parent_path();
  std::optional<std::filesystem::path> aside;
  EXPECT_TRUE(wait_until(
      [&] {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
          if (entry.path().filename().string().rfind("sync_coordinator.json.corrupt-", 0) == 0) {
            aside = entry.path();
          }
        }
        auto s = read_state(fleet.state_file());
        return aside && s && s->primary;
      },
      3s))
      << "no .corrupt-<time> file, or no valid state file after it";
  std::printf("corrupt state file moved aside and rebuilt after %.3f s\n",
              seconds_since(corrupted));
  if (aside) {
    std::ifstream in(*aside);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, garbage) << "the file moved aside is not the corrupt one";
  }
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary: " << describe(roles(fleet));
  expect_schedule_kept_and_clean(server, fleet, *last);
}

// Makes a directory read-only for everyone, root included: `mount --bind D D`
// then `mount -o remount,bind,ro D`, done with mount(2); the destructor
// unmounts it. The hosts open files in it for writing all the time (the
// lock file, O_RDWR, for every update), so the kernel answers EBUSY until it
// finds a moment with none open: both steps are retried, for up to 5 and 2 s.
class ReadOnlyDirectory {
 public:
  explicit ReadOnlyDirectory(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~ReadOnlyDirectory() { undo(); }
  ReadOnlyDirectory(const ReadOnlyDirectory&) = delete;
  ReadOnlyDirectory& operator=(const ReadOnlyDirectory&) = delete;

  // Binds the directory onto itself; false (errno set) if this is not allowed.
  bool bind() {
    mounted_ = ::mount(dir_.c_str(), dir_.c_str(), nullptr, MS_BIND, nullptr) == 0;
    return mounted_;
  }
  // Makes the bind mount read-only; "" or the error.
  std::string make_read_only() {
    int error = 0;
    wait_until(
        [&] {
          const bool done = ::mount(nullptr, dir_.c_str(), nullptr,
                                    MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0;
          error = done ? 0 : errno;  // a retry that succeeds clears an earlier EBUSY
          return done;
        },
        5s);
    return error == 0 ? std::string() : std::string(std::strerror(error));
  }
  // Unmounts; a lazy unmount if it stays busy. True once it is gone.
  bool undo() {
    if (!mounted_) {
      return true;
    }
    if (!wait_until([&] { return ::umount2(dir_.c_str(), 0) == 0; }, 2s)) {
      ::umount2(dir_.c_str(), MNT_DETACH);
    }
    mounted_ = false;
    return true;
  }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

// While 3 instances run, the state file's directory becomes read-only (a
// read-only bind mount: root ignores file modes). No host crashes (each still
// answers), every instance turns Uncoordinated (SPEC §5: the file cannot be
// used) and syncing goes on on the instances' own timers, without two syncs
// at once (the sync lock lives elsewhere). Once the directory is writable
// again, coordination resumes with exactly one primary, and syncing goes on.
TEST(MailStack, UnwritableStateDirectoryGivesUncoordinatedSyncingThenCoordinationResumes) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_NO_FATAL_FAILURE(start_steady_fleet(server, fleet));
  ASSERT_TRUE(fleet.primary().has_value());
  ReadOnlyDirectory read_only(fleet.state_file().parent_path());
  if (!read_only.bind()) {
    GTEST_SKIP() << "cannot bind-mount here (not root?): " << std::strerror(errno);
  }
  const std::string error = read_only.make_read_only();
  ASSERT_EQ(error, "") << "cannot remount the bind mount read-only";
  const auto made_read_only = steady_clock::now();
  std::map<std::string, int> seen;
  EXPECT_TRUE(wait_until(
      [&] {
        seen = roles(fleet);
        return seen["Uncoordinated"] == 3;
      },
      5s))
      << "not every instance is Uncoordinated: " << describe(seen);
  std::printf("all Uncoordinated %.3f s after the directory became read-only\n",
              seconds_since(made_read_only));
  // Syncing goes on: two more logins within two intervals (and margins).
  const std::size_t known = server.sessions().size();
  EXPECT_TRUE(
      wait_until([&] { return server.sessions().size() >= known + 2; }, ms(2 * kMaxGap + 2)))
      << "syncing stopped while uncoordinated\n"
      << describe(server.sessions());
  seen = roles(fleet);
  EXPECT_EQ(seen["Uncoordinated"], 3) << describe(seen);

  read_only.undo();
  const auto writable = steady_clock::now();
  EXPECT_TRUE(wait_until(
      [&] {
        seen = roles(fleet);
        return seen["Primary Coordinator"] == 1 && seen["Secondary"] == 2;
      },
      5s))
      << "coordination did not resume: " << describe(seen);
  std::printf("coordination resumed %.3f s after the directory became writable\n",
              seconds_since(writable));
  const std::size_t after = server.sessions().size();
  EXPECT_TRUE(
      wait_until([&] { return server.sessions().size() >= after + 2; }, ms(2 * kMaxGap + 2)))
      << "syncing stopped after coordination resumed\n"
      << describe(server.sessions());
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary: " << describe(roles(fleet));
  expect_all_closed_without_overlap(server, fleet);
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

}  // namespace
}  // namespace himalaya::mail
