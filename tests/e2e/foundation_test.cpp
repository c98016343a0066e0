// End-to-end: the plugin in a real headless Neovim 0.7 starts the real host.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/support/nvim_process.h"

namespace himalaya::e2e {
namespace {

using testing::as_strings;
using testing::NvimProcess;
using testing::process_gone;
using testing::TestHome;
using testing::wait_until;
using namespace std::chrono_literals;

// The host's pid, or -1 while there is none. Between the host's death and
// Neovim's on_exit callback the old job id is still current, and jobpid()
// then raises: that also reads as "none".
constexpr const char* host_pid_lua =
    "local job = require('himalaya_coord').host_job() "
    "local ok, pid = pcall(vim.fn.jobpid, job or -1) "
    "return ok and pid or -1";

class Foundation : public ::testing::Test {
 protected:
  void start_with_setup(const std::string& extra = "") {
    home_.write_init("require('himalaya_coord').setup({" + home_.base_options() + extra + "})");
    nvim_ = std::make_unique<NvimProcess>(home_);
  }

  TestHome home_;
  std::unique_ptr<NvimProcess> nvim_;
};

TEST_F(Foundation, PluginStartsTheHostAndWaitReadyReturnsTrue) {
  start_with_setup();
  EXPECT_TRUE(nvim_->lua_bool("return require('himalaya_coord').wait_ready(5000)"));
  EXPECT_EQ(nvim_->lua_int("return vim.fn.exists(':HimalayaSyncStatus')"), 2);
  EXPECT_EQ(nvim_->lua_int("return vim.fn.exists(':HimalayaSyncNow')"), 2);
  // VimLeavePre, VimSuspend, VimResume, FocusGained, FocusLost (the last two: Away's input).
  EXPECT_EQ(nvim_->lua_int("return #vim.api.nvim_get_autocmds({group = 'himalaya_coord'})"), 5);
  // The host announced itself as a client of type "host".
  EXPECT_EQ(nvim_->lua_string("local job = require('himalaya_coord').host_job() "
                              "return vim.api.nvim_get_chan_info(job).client.type"),
            "host");
  EXPECT_GT(nvim_->lua_int(host_pid_lua), 0);
}

TEST_F(Foundation, ZeroConfigurationStartsTheHost) {
  // No setup() call: plugin/ starts the host with every default, including
  // the binary at <root>/build/himalaya-coord and the XDG paths.
  home_.write_init("");
  // Compared as real paths: the checkout may be reached through a symlink.
  const std::filesystem::path root = std::filesystem::weakly_canonical(HIMALAYA_SOURCE_DIR);
  const std::filesystem::path binary = std::filesystem::weakly_canonical(HIMALAYA_HOST_BINARY);
  if (binary != root / "build" / "himalaya-coord") {
    GTEST_SKIP() << "zero-config start is only checked in the default build directory";
  }
  nvim_ = std::make_unique<NvimProcess>(home_);
  EXPECT_TRUE(nvim_->lua_bool("return require('himalaya_coord').wait_ready(5000)"));
  EXPECT_TRUE(std::filesystem::exists(home_.log_file()));
}

TEST_F(Foundation, StatusCommandOpensAFloatWithTheStatusLines) {
  start_with_setup();
  ASSERT_TRUE(nvim_->lua_bool("return require('himalaya_coord').wait_ready(5000)"));
  std::vector<std::string> expected =
      as_strings(nvim_->lua("return require('himalaya_coord').status_lines()"));
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(expected[0], "# Himalaya Sync Coordination Status");
  std::int64_t nvim_pid = nvim_->pid();
  std::string id = nvim_->lua_string("return require('himalaya_coord').instance_id()");
  EXPECT_NE(std::find(expected.begin(), expected.end(), "  Instance ID: " + id), expected.end());
  EXPECT_NE(std::find(expected.begin(), expected.end(), "  PID: " + std::to_string(nvim_pid)),
            expected.end());
  EXPECT_EQ(id.rfind("nvim_", 0), 0u);
  EXPECT_EQ(id.substr(id.rfind('_') + 1), std::to_string(nvim_pid));

  // The report is live: the push watcher moves from Connecting to its
  // verdict, and "Last Heartbeat" ticks. So the float is compared with the
  // report only when the report read just before opening it and the one
  // read just after closing it are the same; a change in between is
  // retried, a few times.
  const std::int64_t windows = nvim_->lua_int("return #vim.api.nvim_list_wins()");
  bool compared = false;
  for (int attempt = 0; attempt < 5 && !compared; ++attempt) {
    const std::vector<std::string> before =
        as_strings(nvim_->lua("return require('himalaya_coord').status_lines()"));
    nvim_->lua("vim.cmd('HimalayaSyncStatus')");
    EXPECT_NE(nvim_->lua_string("return vim.api.nvim_win_get_config(0).relative"), "");
    const std::vector<std::string> shown =
        as_strings(nvim_->lua("return vim.api.nvim_buf_get_lines(0, 0, -1, false)"));
    EXPECT_EQ(nvim_->lua_int("return #vim.api.nvim_list_wins()"), windows + 1);
    // `q` closes the float.
    nvim_->lua("vim.api.nvim_feedkeys('q', 'x', false)");
    EXPECT_EQ(nvim_->lua_int("return #vim.api.nvim_list_wins()"), windows);
    const std::vector<std::string> after =
        as_strings(nvim_->lua("return require('himalaya_coord').status_lines()"));
    if (before == after) {
      EXPECT_EQ(shown, before);
      compared = true;
    }
  }
  EXPECT_TRUE(compared) << "the report changed during each of 5 attempts";
}

TEST_F(Foundation, CheckhealthShowsItsSections) {
  start_with_setup();
  ASSERT_TRUE(nvim_->lua_bool("return require('himalaya_coord').wait_ready(5000)"));
  nvim_->lua("vim.cmd('checkhealth himalaya_coord')", 20s);
  std::vector<std::string> lines =
      as_strings(nvim_->lua("return vim.api.nvim_buf_get_lines(0, 0, -1, false)"));
  std::string text;
  for (const auto& l : lines) {
    text += l + "\n";
  }
  for (const char* section : {"options", "host binary", "host process", "state file", "lock file",
                              "sync command", "coordination"}) {
    EXPECT_NE(text.find(section), std::string::npos) << "missing section " << section << "\n"
                                                     << text;
  }
  EXPECT_NE(text.find("himalaya-coord 0."), std::string::npos) << text;  // --version output
  EXPECT_EQ(text.find("ERROR"), std::string::npos) << text;
}

TEST_F(Foundation, InvalidOptionsNameTheKeyAndStartNoHost) {
  home_.write_init(
      "local ok, err = pcall(require('himalaya_coord').setup, {" + home_.base_options() +
      ", sync = {coordination = {heartbeat_interval = 90, takeover_threshold = 60}}})\n"
      "vim.g.setup_error = (not ok) and err or ''");
  nvim_ = std::make_unique<NvimProcess>(home_);
  std::string error = nvim_->lua_string("return vim.g.setup_error");
  EXPECT_NE(error.find("sync.coordination.heartbeat_interval"), std::string::npos) << error;
  // Let the scheduled autostart run, then check that nothing started.
  EXPECT_TRUE(
      nvim_->lua_bool("return vim.wait(2000, function() return vim.v.vim_did_enter == 1 end, 5)"));
  EXPECT_FALSE(nvim_->lua_bool("return require('himalaya_coord').wait_ready(300)"));
  EXPECT_EQ(nvim_->lua_int(host_pid_lua), -1);
  EXPECT_EQ(nvim_->lua_int("return vim.fn.exists(':HimalayaSyncStatus')"), 0);
}

TEST_F(Foundation, HostIsGoneWithinOneSecondAfterQuit) {
  start_with_setup();
  ASSERT_TRUE(nvim_->lua_bool("return require('himalaya_coord').wait_ready(5000)"));
  auto host = static_cast<pid_t>(nvim_->lua_int(host_pid_lua));
  ASSERT_GT(host, 0);
  nvim_->command_no_wait("qa!");
  auto quit = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return process_gone(host); }, 5s));
  auto took = std::chrono::steady_clock::now() - quit;
  EXPECT_LT(took, 1s) << "host took "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms to exit";
  EXPECT_TRUE(nvim_->wait_exit(5s));
}

TEST_F(Foundation, HostIsGoneWithinOneSecondAfterNeovimIsKilled) {
  start_with_setup();
  ASSERT_TRUE(nvim_->lua_bool("return require('himalaya_coord').wait_ready(5000)"));
  auto host = static_cast<pid_t>(nvim_->lua_int(host_pid_lua));
  ASSERT_GT(host, 0);
  nvim_->kill(SIGKILL);
  auto killed = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return process_gone(host); }, 5s));
  auto took = std::chrono::steady_clock::now() - killed;
  EXPECT_LT(took, 1s) << "host took "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms to exit";
}

// Another process holds the state file's lock (a frozen instance, say): the
// handover cannot be written, and the host still leaves within a second,
// not after lock_timeout (1.5 s) for each write it has left to make.
TEST_F(Foundation, HostIsGoneWithinOneSecondAfterNeovimIsKilledWhileTheLockIsHeld) {
  start_with_setup(
      ", sync = { auto_sync = false, coordination = "
      "{ heartbeat_interval = 0.05, takeover_threshold = 0.5 } }");
  ASSERT_TRUE(nvim_->lua_bool("return require('himalaya_coord').wait_ready(5000)"));
  auto host = static_cast<pid_t>(nvim_->lua_int(host_pid_lua));
  ASSERT_GT(host, 0);
  std::filesystem::path lock = home_.state_file();
  lock += ".lock";
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(lock); }, 5s));
  int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  nvim_->kill(SIGKILL);
  auto killed = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return process_gone(host); }, 10s));
  auto took = std::chrono::steady_clock::now() - killed;
  ::close(fd);
  EXPECT_LT(took, 1s) << "host took "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms to exit";
  std::ifstream log(home_.log_file());
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("leaving without updating the state file"), std::string::npos) << text;
}

TEST_F(Foundation, KilledHostIsRestarted) {
  start_with_setup();
  ASSERT_TRUE(nvim_->lua_bool("return require('himalaya_coord').wait_ready(5000)"));
  auto first = static_cast<pid_t>(nvim_->lua_int(host_pid_lua));
  ASSERT_GT(first, 0);
  ::kill(first, SIGKILL);
  ASSERT_TRUE(wait_until([&] { return process_gone(first); }, 5s));
  pid_t second = -1;
  EXPECT_TRUE(wait_until(
      [&] {
        second = static_cast<pid_t>(nvim_->lua_int(host_pid_lua));
        return second > 0 && second != first;
      },
      10s));
  EXPECT_TRUE(nvim_->lua_bool("return require('himalaya_coord').wait_ready(5000)"));
  EXPECT_FALSE(process_gone(second));
  // The restarted host answers.
  std::vector<std::string> lines =
      as_strings(nvim_->lua("return require('himalaya_coord').status_lines()"));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "# Himalaya Sync Coordination Status");
  EXPECT_GE(lines.size(), 6u);
}

}  // namespace
}  // namespace himalaya::e2e
