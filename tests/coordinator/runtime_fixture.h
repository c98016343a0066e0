// The fixture of the in-process runtime tests: Coordinators on one real
// io_context sharing one state file in a temporary directory, with scaled
// (real) time. Several Coordinators in one process share a host pid, so these
// tests exercise the doorbell and heartbeat paths; the multi-process tests
// exercise the pidfd path.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <utility>

#include "coordinator/coordinator.h"
#include "coordinator/state_file.h"
#include "recorder.h"
#include "test_support.h"

namespace himalaya::coordinator::testing {

class RuntimeTest : public ::testing::Test {
 protected:
  // Heartbeat 0.05 s, takeover after 0.5 s, first check 0.05 s after start;
  // a test changes what it needs.
  Config config() {
    Config c;
    c.state_file = tmp_.path() / "himalaya" / "sync_coordinator.json";
    c.timings.interval = 60;
    c.timings.startup_delay = 0.05;
    c.timings.heartbeat_interval = 0.05;
    c.timings.takeover_threshold = 0.5;
    c.timings.sync_cooldown = 30;
    c.timings.sync_timeout = 10;
    return c;
  }
  std::unique_ptr<Coordinator> make(const std::string& name, Recorder& rec, Config c,
                                    double started_at) {
    Identity id = make_identity(::getpid(), "test", SystemClock{}, ProcProbe{}, name);
    id.started_at = started_at;
    return std::make_unique<Coordinator>(io_, std::move(c), id, nullptr, rec.events());
  }
  State file_state() {
    auto r = StateFile(config().state_file).read();
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : State{};
  }

  TempDir tmp_;
  boost::asio::io_context io_;
};

}  // namespace himalaya::coordinator::testing
