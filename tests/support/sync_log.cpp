#include "tests/support/sync_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "tests/support/files.h"

namespace himalaya::testing {

std::vector<SyncRun> read_sync_log(const std::filesystem::path& path) {
  std::vector<SyncRun> runs;
  for (const std::string& text : complete_lines(slurp(path))) {
    std::istringstream line(text);
    std::string kind;
    std::string label;
    std::string time;
    if (!(line >> kind >> label >> time)) {
      ADD_FAILURE() << "malformed sync log line in " << path;
      continue;
    }
    double t = std::stod(time);
    if (kind == "start") {
      runs.push_back(SyncRun{label, t, std::nullopt});
    } else if (kind == "end") {
      auto open = std::find_if(runs.begin(), runs.end(),
                               [&](const SyncRun& r) { return r.label == label && !r.end; });
      if (open == runs.end()) {
        ADD_FAILURE() << "end without a start for " << label;
        continue;
      }
      open->end = t;
    } else {
      ADD_FAILURE() << "unknown sync log line kind " << kind;
    }
  }
  std::stable_sort(runs.begin(), runs.end(),
                   [](const SyncRun& a, const SyncRun& b) { return a.start < b.start; });
  return runs;
}

std::string describe(const std::vector<SyncRun>& runs) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(3);
  double origin = runs.empty() ? 0 : runs.front().start;
  for (const auto& r : runs) {
    out << "  " << r.label << " " << (r.start - origin) << " .. ";
    if (r.end) {
      out << (*r.end - origin);
    } else {
      out << "(running)";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace himalaya::testing
