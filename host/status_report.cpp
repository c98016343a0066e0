#include "host/status_report.h"

#include <cmath>

namespace himalaya::host {
namespace {

std::string count(long long n, const char* unit) {
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

}  // namespace

std::string format_duration(double seconds) {
  if (!(seconds > 0)) {  // also catches NaN
    return count(0, "second");
  }
  auto whole = static_cast<long long>(std::floor(std::min(seconds, 1e15)));
  if (whole < 60) {
    return count(whole, "second");
  }
  if (whole < 3600) {
    return count(whole / 60, "minute");
  }
  return count(whole / 3600, "hour");
}

std::vector<std::string> render_status(const StatusFacts& facts) {
  std::vector<std::string> lines{
      "# Himalaya Sync Coordination Status",
      "",
      "## Current Instance",
      "  Instance ID: " + facts.instance_id,
      "  Role: " + facts.role,
      "  PID: " + std::to_string(facts.nvim_pid),
  };
  if (!facts.coordination) {
    return lines;
  }
  const CoordinationFacts& c = *facts.coordination;
  lines.emplace_back("");
  lines.emplace_back("## Primary Coordinator");
  if (c.primary) {
    lines.push_back("  Instance: " + c.primary->instance_id);
    lines.push_back("  PID: " + std::to_string(c.primary->pid));
    lines.push_back("  Last Heartbeat: " + format_duration(c.primary->heartbeat_age) + " ago");
    lines.push_back(std::string("  Status: ") + (c.primary->active ? "Active" : "Stale"));
  } else {
    lines.emplace_back("  No primary coordinator");
  }
  lines.emplace_back("");
  lines.emplace_back("## Sync History");
  if (c.last_sync) {
    lines.push_back("  Last Sync: " + format_duration(c.last_sync->age) + " ago");
    lines.push_back("  By Instance: " + c.last_sync->instance_id);
  } else {
    lines.emplace_back("  Last Sync: Never");
  }
  if (c.cooldown_remaining > 0) {
    lines.push_back("  Cooldown: " + format_duration(c.cooldown_remaining) + " remaining");
  } else {
    lines.emplace_back("  Cooldown: Ready");
  }
  if (c.running_sync) {
    lines.push_back("  Running: a sync by " + *c.running_sync);
  }
  if (!c.instances.empty()) {
    lines.emplace_back("");
    lines.emplace_back("## Instances");
    for (const InstanceFacts& i : c.instances) {
      lines.push_back("  " + i.instance_id + "  " + i.role + "  host " + i.hostname + "  pid " +
                      std::to_string(i.pid) + "  heartbeat " + format_duration(i.heartbeat_age) +
                      " ago");
    }
  }
  if (c.last_result) {
    const LastResultFacts& r = *c.last_result;
    lines.emplace_back("");
    lines.emplace_back("## Last Result");
    lines.push_back("  Result: " + r.outcome);
    lines.push_back("  Ended: " + format_duration(r.age) + " ago");
    lines.push_back("  By Instance: " + r.instance_id);
    if (!r.message.empty()) {
      lines.push_back("  Message: " + r.message);
    }
  }
  return lines;
}

}  // namespace himalaya::host
