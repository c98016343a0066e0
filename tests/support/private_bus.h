// A private dbus-daemon with the stand-in logind (tests/logind/fake_logind.cpp)
// on it, for the tests of the logind reader, of its process, and of a locked
// desktop with real Neovims (tests/e2e/away_test.cpp). A target that includes
// this defines HIMALAYA_FAKE_LOGIND and links libsystemd. Each test starts its
// own bus; skipped only when dbus-daemon is not installed; one that fails to
// start is a failure.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/files.h"

namespace himalaya::host::testing_logind {

using std::chrono::seconds;
using testing::ChildProcess;

inline bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

// The first line `child` prints, within `timeout`; "" if none came.
inline std::string first_line(ChildProcess& child, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline && !child.eof()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    testing::wait_for_output({&child}, static_cast<int>(std::max<long>(1, left.count())));
    const std::vector<std::string> lines = child.read_lines();
    if (!lines.empty()) {
      return lines.front();
    }
  }
  return "";
}

class PrivateBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!on_path("dbus-daemon")) {
      GTEST_SKIP() << "dbus-daemon is not installed (Debian: dbus-daemon)";
    }
    // A bus of the test's own: anyone may own and call anything on it.
    const std::filesystem::path config = dir_.path() / "bus.conf";
    testing::spit(config,
                  "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
                  "1.0//EN\" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                  "<busconfig><type>session</type><listen>unix:path=" +
                      (dir_.path() / "bus").string() +
                      "</listen><auth>EXTERNAL</auth><policy context=\"default\">"
                      "<allow send_destination=\"*\" eavesdrop=\"true\"/>"
                      "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n");
    daemon_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        "dbus-daemon", "--config-file=" + config.string(), "--print-address", "--nofork"});
    address_ = first_line(*daemon_, seconds(10));
    ASSERT_FALSE(address_.empty()) << "dbus-daemon is installed but did not start";
  }

  void TearDown() override {
    if (control_) {
      sd_bus_flush_close_unref(control_);
    }
  }

  // Starts the stand-in logind with `flags`; fails the test if it does not
  // own its name within 10 s.
  void start_logind(const std::vector<std::string>& flags = {}) {
    std::vector<std::string> argv = {HIMALAYA_FAKE_LOGIND, "--address", address_, "--uid",
                                     std::to_string(::getuid())};
    argv.insert(argv.end(), flags.begin(), flags.end());
    logind_ = std::make_unique<ChildProcess>(argv);
    ASSERT_EQ(first_line(*logind_, seconds(10)), "ready");
  }

  // Sets a hint in the stand-in (with or without PropertiesChanged).
  void set_hint(const char* name, bool value, bool signal = true) {
    if (!control_) {
      int r = sd_bus_new(&control_);
      if (r >= 0)
        r = sd_bus_set_address(control_, address_.c_str());
      if (r >= 0)
        r = sd_bus_set_bus_client(control_, 1);
      if (r >= 0)
        r = sd_bus_start(control_);
      ASSERT_GE(r, 0) << std::strerror(-r);
    }
    sd_bus_error error = SD_BUS_ERROR_NULL;
    const int r = sd_bus_call_method(control_, "org.freedesktop.login1", "/org/himalaya/FakeLogind",
                                     "org.himalaya.FakeLogind", "Set", &error, nullptr, "sbb", name,
                                     static_cast<int>(value), static_cast<int>(signal));
    ASSERT_GE(r, 0) << (error.message ? error.message : std::strerror(-r));
    sd_bus_error_free(&error);
  }

  testing::TempDir dir_{"logind-test-"};
  std::unique_ptr<ChildProcess> daemon_;
  std::unique_ptr<ChildProcess> logind_;
  std::string address_;
  sd_bus* control_ = nullptr;
};

}  // namespace himalaya::host::testing_logind
