// The fixture of the runtime's fault tests: RuntimeTest (runtime_fixture.h),
// virtual time on the real state file, plus an instance that syncs whenever
// it is due. A test makes its fault on disk (fault_injection.h) or injects it
// (RuntimeTest::hold_lock_for, SkewedClock); no test waits on the wall clock
// for the coordinator's timing.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>

#include "coordinator/coordinator.h"
#include "recorder.h"
#include "runtime_fixture.h"

namespace himalaya::coordinator::testing {

class CoordinatorFaultTest : public RuntimeTest {
 protected:
  std::filesystem::path dir() { return config().state_file.parent_path(); }
  // An instance that syncs whenever it is due, for a moment.
  static void sync_when_due(Recorder& rec, Coordinator*& who) {
    rec.on_due = [&who] {
      auto g = who->begin_sync(SyncTrigger::automatic);
      EXPECT_TRUE(g.granted) << g.reason;
      if (g.granted) {
        who->end_sync(SyncOutcome::ok, "");
      }
    };
  }
};

}  // namespace himalaya::coordinator::testing
