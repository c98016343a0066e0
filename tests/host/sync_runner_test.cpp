// The sync runner with real processes: /bin/sh, sleep, seq and, when
// installed, a real mbsync against a closed loopback port. Every wait is a
// condition with a deadline; the deadlines are generous because CI is a
// loaded 2-core machine, while a passing test takes well under two seconds.
#include "host/sync_runner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host/sync_errors.h"
#include "tests/support/files.h"
#include "tests/support/run_loop.h"

namespace himalaya::host {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto patience = 10s;  // for things that take milliseconds when all is well

using himalaya::testing::run_until;

struct ProcStat {
  char state = '?';
  int ppid = 0;
  int pgid = 0;
};

std::optional<ProcStat> read_stat(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) {
    return std::nullopt;
  }
  std::size_t paren = line.rfind(')');  // the command name may hold anything
  if (paren == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(line.substr(paren + 1));
  ProcStat stat;
  fields >> stat.state >> stat.ppid >> stat.pgid;
  return stat;
}

// Dead means gone or a zombie: PID 1 here does not necessarily reap orphans.
bool alive(int pid) {
  std::optional<ProcStat> stat = read_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

std::vector<int> all_pids() {
  std::vector<int> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

std::set<int> live_group_members(int pgid) {
  std::set<int> members;
  for (int pid : all_pids()) {
    std::optional<ProcStat> stat = read_stat(pid);
    if (stat && stat->pgid == pgid && stat->state != 'Z' && stat->state != 'X') {
      members.insert(pid);
    }
  }
  return members;
}

// Zombies whose parent is this test process: a launch that failed must not
// leave one behind.
int zombie_children() {
  int count = 0;
  for (int pid : all_pids()) {
    std::optional<ProcStat> stat = read_stat(pid);
    if (stat && stat->ppid == ::getpid() && stat->state == 'Z') {
      ++count;
    }
  }
  return count;
}

// fd number -> what it points at, for the descriptors `pid` has open now.
std::map<int, std::string> open_fds(int pid) {
  std::map<int, std::string> fds;
  std::error_code error;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error), end;
       !error && it != end; it.increment(error)) {
    std::error_code gone;  // the descriptor may be closed meanwhile
    fs::path target = fs::read_symlink(it->path(), gone);
    if (!gone) {
      fds[std::stoi(it->path().filename())] = target.string();
    }
  }
  return fds;
}

bool can_flock(const fs::path& path, int* error_number = nullptr) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (error_number != nullptr) {
      *error_number = errno;
    }
    return false;
  }
  bool locked = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  if (!locked && error_number != nullptr) {
    *error_number = errno;
  }
  ::close(fd);
  return locked;
}

// Collects the completion of runs; counts calls so that "exactly once" shows.
struct Completion {
  int calls = 0;
  std::optional<SyncRun> result;

  SyncRunner::Callback callback() {
    return [this](const SyncRun& run) {
      ++calls;
      result = run;
    };
  }
  bool done() const { return calls > 0; }
};

class SyncRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = himalaya::testing::make_temp_dir("sync_runner_test.");
    lock_file_ = dir_ / "run" / "himalaya" / "mbsync.lock";
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  SyncRunner::Options options(std::vector<std::string> command, double timeout = 30,
                              double kill_grace = 0.2) const {
    SyncRunner::Options o;
    o.command = std::move(command);
    o.timeout = timeout;
    o.lock_file = lock_file_;
    o.kill_grace = kill_grace;
    return o;
  }

  // Starts `command` and runs it to completion.
  SyncRun run_to_end(std::vector<std::string> command, double timeout = 30) {
    SyncRunner runner(io_, options(std::move(command), timeout));
    Completion completion;
    std::string error;
    EXPECT_TRUE(runner.start(completion.callback(), error)) << error;
    EXPECT_TRUE(run_until(io_, [&] { return completion.done(); }));
    EXPECT_EQ(completion.calls, 1);
    EXPECT_FALSE(runner.running());
    return completion.result.value_or(SyncRun{});
  }

  // Waits until the group `pgid` has `count` live members, and returns them.
  std::set<int> wait_for_members(int pgid, std::size_t count) {
    std::set<int> members;
    run_until(io_, [&] {
      members = live_group_members(pgid);
      return members.size() >= count;
    });
    return members;
  }

  // Waits until no process of the group `pgid`, and none of `members`, is
  // alive. The runner has sent SIGKILL by the time the run ends, but the
  // kernel finishes off the members asynchronously.
  bool wait_until_group_ended(int pgid, const std::set<int>& members = {}) {
    return run_until(io_, [&] {
      return live_group_members(pgid).empty() &&
             std::none_of(members.begin(), members.end(), alive);
    });
  }

  boost::asio::io_context io_;
  fs::path dir_;
  fs::path lock_file_;
};

TEST_F(SyncRunnerTest, SucceedsWithTrue) {
  SyncRun run = run_to_end({"true"});
  EXPECT_EQ(run.outcome, SyncOutcome::ok);
  EXPECT_EQ(run.exit_status, 0);
  EXPECT_EQ(run.signal, 0);
  EXPECT_EQ(run.message, "");
  EXPECT_EQ(run.output_tail, "");
  EXPECT_GE(run.seconds, 0);
  EXPECT_LT(run.seconds, 5);
  EXPECT_STREQ(to_string(run.outcome), "ok");
}

TEST_F(SyncRunnerTest, CapturesStdoutAndStderrInOrder) {
  SyncRun run = run_to_end({"sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(run.outcome, SyncOutcome::ok);
  EXPECT_EQ(run.output_tail, "out\nerr\n");
}

TEST_F(SyncRunnerTest, KeepsOnlyTheTailOfLongOutput) {
  SyncRun run = run_to_end({"seq", "1", "100000"});
  ASSERT_EQ(run.outcome, SyncOutcome::ok);
  std::string expected;
  for (int i = 99981; i <= 100000; ++i) {
    expected += std::to_string(i) + "\n";
  }
  EXPECT_EQ(run.output_tail, expected);
}

TEST_F(SyncRunnerTest, TailIsValidUtf8AndStartsAtALine) {
  // 5000 bytes on one line, then two lines, one of them with a stray byte.
  SyncRun run = run_to_end(
      {"sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x; echo; printf 'bad \\377 byte\\nlast\\n'"});
  ASSERT_EQ(run.outcome, SyncOutcome::ok);
  EXPECT_EQ(run.output_tail, "bad \xEF\xBF\xBD byte\nlast\n");
}

TEST_F(SyncRunnerTest, CallbackIsPostedNeverCalledFromStart) {
  SyncRunner runner(io_, options({"true"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  EXPECT_EQ(completion.calls, 0);
  EXPECT_TRUE(runner.running());
  EXPECT_GT(runner.pid(), 0);
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(runner.pid(), -1);
  // Nothing more arrives later.
  io_.restart();
  io_.poll();
  EXPECT_EQ(completion.calls, 1);
}

TEST_F(SyncRunnerTest, NonZeroExitFailsWithTheLastLine) {
  SyncRun run = run_to_end({"sh", "-c", "echo fetching; echo 'something broke' >&2; exit 3"});
  EXPECT_EQ(run.outcome, SyncOutcome::failed);
  EXPECT_EQ(run.exit_status, 3);
  EXPECT_EQ(run.message, "sync command exited with status 3: something broke");
  EXPECT_EQ(run.output_tail, "fetching\nsomething broke\n");
}

TEST_F(SyncRunnerTest, DeathBySignalFails) {
  SyncRun run = run_to_end({"sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(run.outcome, SyncOutcome::failed);
  EXPECT_EQ(run.exit_status, -1);
  EXPECT_EQ(run.signal, SIGKILL);
  EXPECT_EQ(run.message, "sync command was killed by signal 9 (SIGKILL)");
}

TEST_F(SyncRunnerTest, MissingCommandFailsAsNotFound) {
  for (const std::string& name : {std::string("himalaya-coord-no-such-command"),
                                  (dir_ / "no" / "such" / "mbsync").string()}) {
    SyncRunner runner(io_, options({name, "-a"}));
    Completion completion;
    std::string error;
    ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
    EXPECT_EQ(completion.calls, 0);  // reported through the callback, later
    EXPECT_EQ(runner.pid(), -1);
    ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
    EXPECT_EQ(completion.result->outcome, SyncOutcome::failed);
    EXPECT_EQ(completion.result->message, "sync command not found: " + name);
    EXPECT_EQ(completion.result->exit_status, -1);
    EXPECT_TRUE(can_flock(lock_file_)) << "the lock is released";
  }
  EXPECT_EQ(zombie_children(), 0);
}

TEST_F(SyncRunnerTest, NonExecutableCommandFails) {
  fs::path script = dir_ / "not-executable";
  std::ofstream(script) << "#!/bin/sh\nexit 0\n";
  fs::permissions(script, fs::perms::owner_read | fs::perms::owner_write);
  SyncRun run = run_to_end({script.string()});
  EXPECT_EQ(run.outcome, SyncOutcome::failed);
  EXPECT_EQ(run.message, "sync command is not executable: " + script.string());
  EXPECT_EQ(zombie_children(), 0);
}

TEST_F(SyncRunnerTest, TimeoutKillsAGroupThatIgnoresSigterm) {
  // The shell and both sleeps ignore SIGTERM (an ignored signal is inherited),
  // so only the SIGKILL after the grace period ends them.
  SyncRunner runner(
      io_, options({"sh", "-c", "trap '' TERM; sleep 60 & sleep 60 & wait"}, /*timeout=*/1.0,
                   /*kill_grace=*/0.2));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  const int pgid = runner.pid();
  ASSERT_GT(pgid, 0);
  std::set<int> members = wait_for_members(pgid, 3);
  EXPECT_EQ(members.size(), 3U) << "the shell and its two sleeps";
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.calls, 1);
  const SyncRun& run = *completion.result;
  EXPECT_EQ(run.outcome, SyncOutcome::timed_out);
  EXPECT_EQ(run.message, "sync timed out after 1 s and was stopped");
  EXPECT_EQ(run.signal, SIGKILL);
  EXPECT_GE(run.seconds, 1.0 + 0.2 - 0.05);
  EXPECT_TRUE(wait_until_group_ended(pgid, members));
  EXPECT_FALSE(runner.running());
  EXPECT_TRUE(can_flock(lock_file_));
}

TEST_F(SyncRunnerTest, TimeoutDoesNotWaitForTheGraceWhenSigtermWorks) {
  SyncRunner runner(io_, options({"sleep", "60"}, /*timeout=*/0.2, /*kill_grace=*/30));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.result->outcome, SyncOutcome::timed_out);
  EXPECT_EQ(completion.result->signal, SIGTERM);
  EXPECT_LT(completion.result->seconds, 10);
}

TEST_F(SyncRunnerTest, CancelTerminatesTheGroup) {
  SyncRunner runner(io_, options({"sh", "-c", "sleep 60 & sleep 60 & wait"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  const int pgid = runner.pid();
  std::set<int> members = wait_for_members(pgid, 3);
  ASSERT_EQ(members.size(), 3U);
  runner.cancel();
  runner.cancel();                 // a second call changes nothing
  EXPECT_EQ(completion.calls, 0);  // only once the command has really exited
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.calls, 1);
  EXPECT_EQ(completion.result->outcome, SyncOutcome::cancelled);
  EXPECT_EQ(completion.result->message, "sync cancelled");
  EXPECT_TRUE(wait_until_group_ended(pgid, members));
  runner.cancel();  // nothing runs: a no-op
  EXPECT_FALSE(runner.running());
}

TEST_F(SyncRunnerTest, TheCommandHoldsTheLockAndNothingElseOfTheHost) {
  SyncRunner runner(io_, options({"sleep", "60"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  const int pid = runner.pid();
  ASSERT_GT(pid, 0);

  // The command has exec'd by the time start() returns, but the dynamic
  // loader still opens (and closes) its libraries for a moment: wait until
  // it is down to what it inherited, which must be exactly stdin on
  // /dev/null, stdout and stderr on one pipe, and the sync lock.
  std::map<int, std::string> fds;
  bool settled = run_until(io_, [&] {
    fds = open_fds(pid);
    return fds.size() == 4;
  });
  ASSERT_TRUE(settled) << fds.size() << " descriptors";
  EXPECT_EQ(fds[0], "/dev/null");
  EXPECT_EQ(fds[1].rfind("pipe:", 0), 0U) << fds[1];
  EXPECT_EQ(fds[1], fds[2]);
  int lock_fds = 0;
  for (const auto& [fd, target] : fds) {
    lock_fds += target == lock_file_.string() ? 1 : 0;
  }
  EXPECT_EQ(lock_fds, 1);
  // The host itself no longer holds it: only the command does.
  int host_lock_fds = 0;
  for (const auto& [fd, target] : open_fds(::getpid())) {
    host_lock_fds += target == lock_file_.string() ? 1 : 0;
  }
  EXPECT_EQ(host_lock_fds, 0);

  int error_number = 0;
  EXPECT_FALSE(can_flock(lock_file_, &error_number));
  EXPECT_EQ(error_number, EWOULDBLOCK);

  struct stat st {};
  ASSERT_EQ(::stat(lock_file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  ASSERT_EQ(::stat(lock_file_.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
  ASSERT_EQ(::stat(lock_file_.parent_path().parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);

  runner.cancel();
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_TRUE(can_flock(lock_file_));
}

// The lock ends with the sync process, not with the host's handling of it: a
// host that is stopped (or just slow) after its command exited, and has not
// reaped it yet, does not keep another sync waiting.
TEST_F(SyncRunnerTest, TheLockIsFreeOnceTheCommandExitedEvenBeforeTheHostReapsIt) {
  SyncRunner runner(io_, options({"sleep", "0.2"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  const int pid = runner.pid();
  ASSERT_GT(pid, 0);
  EXPECT_FALSE(can_flock(lock_file_));
  // Without running io_: the runner sees nothing, as if the host were frozen.
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (alive(pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_FALSE(alive(pid)) << "the command did not exit";
  EXPECT_TRUE(can_flock(lock_file_)) << "the lock outlived the sync command";
  EXPECT_TRUE(runner.running());
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.result->outcome, SyncOutcome::ok);
}

TEST_F(SyncRunnerTest, RefusesToStartWhileTheLockIsHeld) {
  fs::create_directories(lock_file_.parent_path());
  int fd = ::open(lock_file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);

  SyncRunner runner(io_, options({"true"}));
  Completion completion;
  std::string error;
  EXPECT_FALSE(runner.start(completion.callback(), error));
  EXPECT_EQ(error, "another sync holds the lock " + lock_file_.string());
  EXPECT_FALSE(runner.running());
  io_.poll();
  EXPECT_EQ(completion.calls, 0);

  ::close(fd);
  EXPECT_TRUE(runner.start(completion.callback(), error)) << error;
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.result->outcome, SyncOutcome::ok);
}

TEST_F(SyncRunnerTest, RefusesASymlinkAsTheLock) {
  fs::create_directories(lock_file_.parent_path());
  fs::create_symlink(dir_ / "elsewhere", lock_file_);
  SyncRunner runner(io_, options({"true"}));
  Completion completion;
  std::string error;
  EXPECT_FALSE(runner.start(completion.callback(), error));
  EXPECT_EQ(error, "cannot lock " + lock_file_.string() + ": it is a symbolic link");
  EXPECT_FALSE(fs::exists(dir_ / "elsewhere"));
}

TEST_F(SyncRunnerTest, RefusesASecondRunWhileOneRuns) {
  SyncRunner runner(io_, options({"sleep", "60"}));
  Completion first;
  Completion second;
  std::string error;
  ASSERT_TRUE(runner.start(first.callback(), error)) << error;
  EXPECT_FALSE(runner.start(second.callback(), error));
  EXPECT_EQ(error, "a sync is already running");
  runner.cancel();
  ASSERT_TRUE(run_until(io_, [&] { return first.done(); }));
  io_.poll();
  EXPECT_EQ(second.calls, 0);
}

TEST_F(SyncRunnerTest, CallbackMayStartTheNextRun) {
  SyncRunner runner(io_, options({"true"}));
  Completion second;
  bool running_in_callback = true;
  bool restarted = false;
  std::string error;
  ASSERT_TRUE(runner.start(
      [&](const SyncRun&) {
        running_in_callback = runner.running();
        restarted = runner.start(second.callback(), error);
      },
      error));
  ASSERT_TRUE(run_until(io_, [&] { return second.done(); })) << error;
  EXPECT_FALSE(running_in_callback);
  EXPECT_TRUE(restarted);
  EXPECT_EQ(second.result->outcome, SyncOutcome::ok);
}

TEST_F(SyncRunnerTest, KillsWhatTheCommandLeftInItsGroup) {
  SyncRunner runner(io_, options({"sh", "-c", "sleep 60 & echo started"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  const int pgid = runner.pid();
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.result->outcome, SyncOutcome::ok);
  EXPECT_EQ(completion.result->output_tail, "started\n");
  EXPECT_TRUE(wait_until_group_ended(pgid));
}

TEST_F(SyncRunnerTest, AProcessThatLeftTheGroupDoesNotHoldTheRunOpen) {
  // The inner shell leaves the group (setsid) while keeping the output pipe,
  // and writes its pid to a file once it has; the outer shell waits for that.
  fs::path pid_file = dir_ / "escaped.pid";
  std::string script = "setsid sh -c 'echo $$ > " + pid_file.string() + ".tmp && mv " +
                       pid_file.string() + ".tmp " + pid_file.string() +
                       " && exec sleep 60' & while [ ! -e " + pid_file.string() +
                       " ]; do sleep 0.01; done; echo done";
  SyncRunner runner(io_, options({"sh", "-c", script}, /*timeout=*/30, /*kill_grace=*/0.3));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  int escaped = 0;
  std::ifstream(pid_file) >> escaped;
  ASSERT_GT(escaped, 0);
  EXPECT_TRUE(alive(escaped));
  ::kill(escaped, SIGKILL);
  EXPECT_EQ(completion.result->outcome, SyncOutcome::ok);
  EXPECT_EQ(completion.result->output_tail, "done\n");
  EXPECT_GE(completion.result->seconds, 0.25);
  EXPECT_LT(completion.result->seconds, 10);
}

TEST_F(SyncRunnerTest, DestructorKillsTheGroupWithoutCallingBack) {
  auto runner =
      std::make_unique<SyncRunner>(io_, options({"sh", "-c", "sleep 60 & sleep 60 & wait"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner->start(completion.callback(), error)) << error;
  const int pgid = runner->pid();
  std::set<int> members = wait_for_members(pgid, 3);
  ASSERT_EQ(members.size(), 3U);
  runner.reset();
  EXPECT_FALSE(alive(pgid)) << "the command is reaped by the destructor";
  EXPECT_TRUE(wait_until_group_ended(pgid, members));
  EXPECT_TRUE(can_flock(lock_file_));
  io_.restart();
  io_.poll();
  EXPECT_EQ(completion.calls, 0);
}

TEST_F(SyncRunnerTest, CommandDiesWithAKilledHost) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  pid_t host = ::fork();
  ASSERT_GE(host, 0);
  if (host == 0) {
    // A stand-in host: starts a run, reports the command's pid, and serves
    // its io_context until it is SIGKILLed.
    boost::asio::io_context io;
    SyncRunner runner(io, options({"sleep", "60"}));
    std::string error;
    if (!runner.start([](const SyncRun&) {}, error)) {
      ::_exit(1);
    }
    int pid = runner.pid();
    if (::write(fds[1], &pid, sizeof pid) != sizeof pid) {
      ::_exit(1);
    }
    io.run();
    ::_exit(0);
  }
  ::close(fds[1]);
  int command = 0;
  ASSERT_EQ(::read(fds[0], &command, sizeof command), static_cast<ssize_t>(sizeof command));
  ::close(fds[0]);
  ASSERT_TRUE(alive(command));
  ::kill(host, SIGKILL);
  ASSERT_EQ(::waitpid(host, nullptr, 0), host);
  EXPECT_TRUE(run_until(io_, [&] { return !alive(command); }));
  // The lock died with its holder.
  EXPECT_TRUE(can_flock(lock_file_));
}

// The launch has windows where a dying host could leave its command behind:
// between fork() and arming the parent-death signal, between that and
// execve(), and between execve() and start() returning. A stand-in host is
// SIGKILLed at spread-out moments around its start() (from before the fork to
// well after it), 100 times; no command of any of them may be left running.
TEST_F(SyncRunnerTest, NoCommandOutlivesAHostKilledAtAnyMomentOfItsLaunch) {
  // A unique argument marks this test's commands: "sleep 30 0.000<pid>" sleeps
  // 30 s and a bit (GNU sleep adds its arguments).
  const std::string marker = "0.000" + std::to_string(::getpid());
  auto commands_left = [&] {
    int count = 0;
    for (int pid : all_pids()) {
      // read(2), not a stream: a process that exits meanwhile makes the read
      // fail (ESRCH), which std::istreambuf_iterator reports by throwing.
      std::string cmdline;
      const int fd =
          ::open(("/proc/" + std::to_string(pid) + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        char buf[256];
        const ssize_t got = ::read(fd, buf, sizeof buf);
        ::close(fd);
        cmdline.assign(buf, got > 0 ? static_cast<std::size_t>(got) : 0);
      }
      if (cmdline.find(std::string("sleep") + '\0' + "30" + '\0' + marker) == 0 && alive(pid)) {
        ++count;
      }
    }
    return count;
  };
  int launched = 0;
  for (int round = 0; round < 100; ++round) {
    int ready[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    pid_t host = ::fork();
    ASSERT_GE(host, 0);
    if (host == 0) {
      boost::asio::io_context io;
      SyncRunner runner(io, options({"sleep", "30", marker}));
      char go = 0;
      if (::write(ready[1], &go, 1) != 1) {
        ::_exit(1);
      }
      std::string error;
      runner.start([](const SyncRun&) {}, error);
      io.run();
      ::_exit(0);
    }
    ::close(ready[1]);
    char go = 0;
    ASSERT_EQ(::read(ready[0], &go, 1), 1);
    ::close(ready[0]);
    // From 0 to ~3 ms after the stand-in is about to call start(): a launch
    // takes about a millisecond here, so the kills spread over all of it.
    const auto delay = std::chrono::microseconds((round * 37) % 3000);
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
    }
    ASSERT_EQ(::kill(host, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(host, &status, 0), host);
    launched += commands_left() > 0 ? 1 : 0;
  }
  EXPECT_TRUE(run_until(io_, [&] { return commands_left() == 0; }))
      << commands_left() << " sync commands outlived their killed hosts";
  EXPECT_TRUE(can_flock(lock_file_)) << "a killed host's command still holds the lock";
  std::printf("commands seen running right after their host was killed: %d of 100\n", launched);
}

// The mbsyncrc keyword for the TLS mode: isync 1.5 deprecates SSLType for
// TLSType, which 1.4 does not know.
std::string tls_keyword() {
  int major = 0;
  int minor = 0;
  if (FILE* pipe = ::popen("mbsync --version 2>/dev/null", "r")) {
    if (std::fscanf(pipe, "isync %d.%d", &major, &minor) != 2) {
      major = 0;
    }
    ::pclose(pipe);
  }
  return major > 1 || (major == 1 && minor >= 5) ? "TLSType" : "SSLType";
}

TEST_F(SyncRunnerTest, RealMbsyncAgainstAClosedPortSaysConnectionRefused) {
  if (::system("command -v mbsync >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "mbsync is not installed";
  }
  // A bound socket that does not listen: connecting to it is refused, and the
  // port cannot be taken by anything else meanwhile.
  int sock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), length), 0);
  ASSERT_EQ(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  const int port = ntohs(addr.sin_port);

  fs::create_directories(dir_ / "Mail");
  fs::path config = dir_ / "mbsyncrc";
  std::ofstream(config) << "IMAPAccount test\nHost 127.0.0.1\nPort " << port
                        << "\nUser alice\nPass secret\n"
                        << tls_keyword() << " None\nAuthMechs LOGIN\n\n"
                        << "IMAPStore remote\nAccount test\n\n"
                        << "MaildirStore local\nPath " << (dir_ / "Mail").string() << "/\nInbox "
                        << (dir_ / "Mail" / "INBOX").string() << "\nSubFolders Verbatim\n\n"
                        << "Channel test\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\n"
                        << "SyncState *\n";
  SyncRun run = run_to_end({"mbsync", "-c", config.string(), "-a"});
  ::close(sock);
  EXPECT_EQ(run.outcome, SyncOutcome::failed);
  EXPECT_EQ(run.exit_status, 1);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(run.message,
            "cannot connect to the mail server 127.0.0.1 (" + address + "): Connection refused");
  EXPECT_NE(run.output_tail.find("No working address found for 127.0.0.1"), std::string::npos)
      << run.output_tail;
  EXPECT_EQ(run.output_tail.find("deprecated"), std::string::npos) << run.output_tail;
}

// describe_failure() with mbsync 1.4.4's real output (recorded against
// Dovecot 2.3.19 and closed ports on loopback).

TEST(DescribeFailure, AuthenticationFailedWithLogin) {
  EXPECT_EQ(describe_failure(1, 0,
                             "*** IMAP Warning *** Password is being sent in the clear\n"
                             "IMAP command 'LOGIN <user> <pass>' returned an error: NO "
                             "[AUTHENTICATIONFAILED] Authentication failed.\n"),
            "authentication failed (check the user name and password): NO "
            "[AUTHENTICATIONFAILED] Authentication failed.");
}

TEST(DescribeFailure, AuthenticationFailedWithSasl) {
  EXPECT_EQ(describe_failure(1, 0,
                             "IMAP command 'AUTHENTICATE PLAIN <authdata>' returned an error: NO "
                             "[AUTHENTICATIONFAILED] Authentication failed.\n"),
            "authentication failed (check the user name and password): NO "
            "[AUTHENTICATIONFAILED] Authentication failed.");
}

TEST(DescribeFailure, AuthenticationFailureNeverQuotesTheCommand) {
  std::string message = describe_failure(1, 0, "LOGIN failed for alice with password hunter2\n");
  EXPECT_EQ(message, "authentication failed (check the user name and password)");
}

TEST(DescribeFailure, ConnectionRefusedLooksPastTheSummaryLine) {
  EXPECT_EQ(describe_failure(1, 0,
                             "Cannot connect to 127.0.0.1 (127.0.0.1:1): Connection refused\n"
                             "No working address found for 127.0.0.1\n"),
            "cannot connect to the mail server 127.0.0.1 (127.0.0.1:1): Connection refused");
}

TEST(DescribeFailure, NetworkUnreachable) {
  EXPECT_EQ(describe_failure(1, 0,
                             "Cannot connect to 10.255.255.1 (10.255.255.1:993): Network is "
                             "unreachable\nNo working address found for 10.255.255.1\n"),
            "cannot connect to the mail server 10.255.255.1 (10.255.255.1:993): Network is "
            "unreachable");
}

TEST(DescribeFailure, ConnectionRefusedFromAnotherTool) {
  EXPECT_EQ(describe_failure(2, 0, "imap.example.org:993: Connection refused\n"),
            "cannot connect to the mail server: connection refused "
            "(imap.example.org:993: Connection refused)");
}

TEST(DescribeFailure, CannotResolveServer) {
  EXPECT_EQ(describe_failure(1, 0,
                             "Error: Cannot resolve server 'mail.nonexistent.invalid': Temporary "
                             "failure in name resolution\n"),
            "cannot resolve the mail server 'mail.nonexistent.invalid': Temporary failure in "
            "name resolution");
}

TEST(DescribeFailure, ChannelLocked) {
  EXPECT_EQ(describe_failure(1, 0,
                             "*** IMAP Warning *** Password is being sent in the clear\n"
                             "Error: channel :remote:INBOX-:local:INBOX is locked\n"),
            "another sync of the same mailboxes is running "
            "(channel :remote:INBOX-:local:INBOX is locked)");
}

TEST(DescribeFailure, MissingConfigFile) {
  EXPECT_EQ(describe_failure(1, 0,
                             "Cannot open config file '/home/u/.mbsyncrc': No such file or "
                             "directory\n"),
            "cannot open the mbsync config file '/home/u/.mbsyncrc': No such file or directory");
}

TEST(DescribeFailure, GenericFallbackQuotesTheLastNonEmptyLine) {
  EXPECT_EQ(describe_failure(1, 0,
                             "No channel or group named 'nosuch' defined.\n"
                             "No channel specified. Try 'mbsync -h'\n\n  \n"),
            "sync command exited with status 1: No channel specified. Try 'mbsync -h'");
  EXPECT_EQ(describe_failure(2, 0, ""), "sync command exited with status 2");
  EXPECT_EQ(describe_failure(0, 0, "progress 1/3\rprogress 3/3\r"),
            "sync command exited with status 0: progress 3/3");
}

TEST(DescribeFailure, Signal) {
  EXPECT_EQ(describe_failure(-1, SIGSEGV, ""), "sync command was killed by signal 11 (SIGSEGV)");
  EXPECT_EQ(describe_failure(-1, SIGTERM, "Terminated\n"),
            "sync command was killed by signal 15 (SIGTERM): Terminated");
}

TEST(DescribeFailure, ClipsAVeryLongLine) {
  std::string message = describe_failure(1, 0, std::string(5000, 'x'));
  EXPECT_LT(message.size(), 400U);
  EXPECT_EQ(message.substr(message.size() - 3), "...");
}

TEST(DescribeSpawnFailure, ByErrno) {
  EXPECT_EQ(describe_spawn_failure("mbsync", ENOENT), "sync command not found: mbsync");
  EXPECT_EQ(describe_spawn_failure("/x/mbsync", EACCES),
            "sync command is not executable: /x/mbsync");
  EXPECT_EQ(describe_spawn_failure("mbsync", EMFILE),
            "cannot start the sync command mbsync: Too many open files");
}

TEST(LastNonemptyLine, TrimsAndSkipsBlankLines) {
  EXPECT_EQ(last_nonempty_line("a\n  b  \n\n \t\n"), "b");
  EXPECT_EQ(last_nonempty_line(""), "");
  EXPECT_EQ(last_nonempty_line("\n\n"), "");
}

}  // namespace
}  // namespace himalaya::host
