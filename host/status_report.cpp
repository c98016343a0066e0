#include "host/status_report.h"

#include <algorithm>
#include <cmath>

#include "host/events.h"

namespace himalaya::host {
namespace {

using coordinator::Status;

std::string count(long long n, const char* unit) {
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

const char* instance_role(const Status::Instance& instance) {
  if (instance.primary) {
    return "primary";
  }
  return instance.released ? "suspended" : "secondary";
}

// The one age the Status holds as a stamp rather than an age.
double last_result_age(const coordinator::SyncResult& result, double now) {
  return now - result.ended;
}

// The report's title and its first section: all of it before the coordinator
// has started.
std::vector<std::string> current_instance(const std::string& instance_id, const char* role,
                                          int nvim_pid) {
  return {
      "# Himalaya Sync Coordination Status",
      "",
      "## Current Instance",
      "  Instance ID: " + instance_id,
      std::string("  Role: ") + role,
      "  PID: " + std::to_string(nvim_pid),
  };
}

nlohmann::json instance_value(const std::string& instance_id, const char* role, int nvim_pid) {
  return {{"id", instance_id}, {"role", role}, {"pid", nvim_pid}};
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

// `## Channels` (SPEC §11): one line per channel, in configuration order.
std::string channel_line(const Status::Channel& c) {
  std::string line = "  " + c.name + "  every " + format_duration(c.interval) + "  owner " +
                     (c.owner.empty() ? "none" : c.owner) + "  last sync " +
                     (c.last_sync_age ? format_duration(*c.last_sync_age) + " ago" : "never");
  if (c.running) {
    line += "  running for " + format_duration(c.running->age);
  } else if (c.next_due) {
    line += *c.next_due > 0 ? "  next in " + format_duration(*c.next_due) : "  due now";
  }
  if (c.last_result) {
    line += std::string("  last result ") + to_string(c.last_result->outcome);
  }
  return line;
}

std::vector<std::string> render_status(const Status& status, double now) {
  std::vector<std::string> lines =
      current_instance(status.instance_id, role_label(status.role), status.nvim_pid);
  lines.emplace_back("");
  lines.emplace_back("## Primary Coordinator");
  if (status.primary) {
    const Status::Primary& p = *status.primary;
    lines.push_back("  Instance: " + p.instance_id);
    lines.push_back("  PID: " + std::to_string(p.pid));
    lines.push_back("  Last Heartbeat: " + format_duration(p.heartbeat_age) + " ago");
    lines.push_back(std::string("  Status: ") + (p.active ? "Active" : "Stale"));
  } else {
    lines.emplace_back("  No primary coordinator");
  }
  lines.emplace_back("");
  lines.emplace_back("## Sync History");
  if (status.last_sync) {
    lines.push_back("  Last Sync: " + format_duration(status.last_sync->age) + " ago");
    lines.push_back("  By Instance: " + status.last_sync->instance_id);
  } else {
    lines.emplace_back("  Last Sync: Never");
  }
  if (status.cooldown_remaining > 0) {
    lines.push_back("  Cooldown: " + format_duration(status.cooldown_remaining) + " remaining");
  } else {
    lines.emplace_back("  Cooldown: Ready");
  }
  if (!status.channels.empty()) {
    lines.emplace_back("  Interval: each channel its own (## Channels)");
  } else if (status.interval) {
    const std::string& why = status.interval->reason;
    lines.push_back("  Interval: " + format_duration(status.interval->seconds) +
                    (why.empty() ? "" : " (" + why + ")"));
  }
  if (status.running_sync) {
    lines.push_back("  Running: a sync by " + status.running_sync->instance_id);
  }
  if (!status.instances.empty()) {
    lines.emplace_back("");
    lines.emplace_back("## Instances");
    for (const Status::Instance& i : status.instances) {
      lines.push_back("  " + i.instance_id + "  " + instance_role(i) + "  host " + i.hostname +
                      "  pid " + std::to_string(i.nvim_pid) + "  heartbeat " +
                      format_duration(i.heartbeat_age) + " ago");
    }
  }
  if (!status.channels.empty()) {
    lines.emplace_back("");
    lines.emplace_back("## Channels");
    for (const Status::Channel& c : status.channels) {
      lines.push_back(channel_line(c));
    }
  }
  if (status.last_result) {
    const coordinator::SyncResult& r = *status.last_result;
    lines.emplace_back("");
    lines.emplace_back("## Last Result");
    lines.push_back(std::string("  Result: ") + to_string(r.outcome));
    lines.push_back("  Ended: " + format_duration(last_result_age(r, now)) + " ago");
    lines.push_back("  By Instance: " + r.instance_id);
    if (!r.channel.empty()) {
      lines.push_back("  Channel: " + r.channel);
    }
    if (!r.message.empty()) {
      lines.push_back("  Message: " + r.message);
    }
  }
  return lines;
}

std::vector<std::string> render_status_before_start(const std::string& instance_id, int nvim_pid) {
  return current_instance(instance_id, role_label(coordinator::Role::uncoordinated), nvim_pid);
}

nlohmann::json status_json(const Status& status, double now) {
  nlohmann::json value;
  value["instance"] = instance_value(status.instance_id, role_label(status.role), status.nvim_pid);
  if (status.primary) {
    const Status::Primary& p = *status.primary;
    value["primary"] = {{"instance_id", p.instance_id},
                        {"pid", p.pid},
                        {"heartbeat_age", p.heartbeat_age},
                        {"active", p.active}};
  }
  if (status.last_sync) {
    value["last_sync"] = {{"instance_id", status.last_sync->instance_id},
                          {"age", status.last_sync->age}};
  }
  value["cooldown_remaining"] = status.cooldown_remaining;
  if (status.interval) {
    value["interval"] = {
        {"seconds", status.interval->seconds},
        {"reason", status.interval->reason.empty() ? "fixed" : status.interval->reason}};
  }
  if (status.running_sync) {
    value["running_sync"] = status.running_sync->instance_id;
  }
  if (status.last_result) {
    const coordinator::SyncResult& r = *status.last_result;
    value["last_result"] = {{"outcome", to_string(r.outcome)},
                            {"age", last_result_age(r, now)},
                            {"instance_id", r.instance_id},
                            {"message", r.message}};
  }
  value["instances"] = nlohmann::json::array();
  for (const Status::Instance& i : status.instances) {
    value["instances"].push_back({{"instance_id", i.instance_id},
                                  {"role", instance_role(i)},
                                  {"hostname", i.hostname},
                                  {"pid", i.nvim_pid},
                                  {"heartbeat_age", i.heartbeat_age}});
  }
  if (!status.channels.empty()) {
    value["channels"] = nlohmann::json::array();
    for (const Status::Channel& c : status.channels) {
      nlohmann::json j{{"name", c.name}, {"interval", c.interval}, {"owner", c.owner}};
      if (c.last_sync_age) {
        j["last_sync_age"] = *c.last_sync_age;
      }
      if (c.next_due) {
        j["next_due"] = *c.next_due;
      }
      if (c.running) {
        j["running"] = c.running->instance_id;
      }
      if (c.last_result) {
        j["last_result"] = to_string(c.last_result->outcome);
      }
      value["channels"].push_back(std::move(j));
    }
  }
  value["lines"] = render_status(status, now);
  return value;
}

nlohmann::json status_json_before_start(const std::string& instance_id, int nvim_pid) {
  const char* role = role_label(coordinator::Role::uncoordinated);
  return {{"instance", instance_value(instance_id, role, nvim_pid)},
          {"lines", render_status_before_start(instance_id, nvim_pid)}};
}

}  // namespace himalaya::host
