// The sync log of tests/e2e/fake_sync.sh: each run of the fake sync command
// appends "start <label> <time>" and "end <label> <time>", where the label
// names the instance (nvim1, nvim2, ...) and the time is the wall clock
// (`date +%s.%N`). The chaos test's tests/chaos/chaos_sync.sh writes another
// format (pids, the host's stamp, terminations) and has its own reader.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace himalaya::testing {

// One run of the fake sync command.
struct SyncRun {
  std::string label;
  double start = 0;
  std::optional<double> end;
};

// The runs in the sync log, in the order they started. A start is matched with
// the next end of the same label (one instance runs one sync at a time). A
// line still being written (no newline yet) is ignored. A line that does not
// parse, or an end without a start, fails the calling test (ADD_FAILURE) and
// is skipped.
std::vector<SyncRun> read_sync_log(const std::filesystem::path& path);

// One line per run, its times relative to the first start, for failure messages.
std::string describe(const std::vector<SyncRun>& runs);

}  // namespace himalaya::testing
