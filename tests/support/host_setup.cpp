#include "tests/support/host_setup.h"

#include "tests/support/nvim_process.h"

namespace himalaya::testing {

namespace {

std::string push_lua(const PushSetup& p) {
  std::string boxes;
  for (const std::string& box : p.mailboxes) {
    boxes += lua_quote(box) + ", ";
  }
  return "    push = {\n      enabled = " + p.enabled + ",\n      mailboxes = { " + boxes +
         "},\n      min_gap = " + lua_number(p.min_gap) + ",\n    },\n";
}

std::string away_lua(const AwaySetup& a) {
  return "    away = {\n      after = " + (a.after > 0 ? lua_number(a.after) : "false") +
         ",\n      interval = " + lua_number(a.interval) + ",\n    },\n";
}

}  // namespace

std::string setup_lua(const HostSetup& s) {
  std::string debug;
  if (s.debug) {
    debug = std::string("  debug = ") + (*s.debug ? "true" : "false") + ",\n";
  }
  return "require('himalaya_coord').setup({\n"
         "  binary = " +
         lua_quote(s.binary) + ",\n" + debug +
         "  state_file = " + lua_quote(s.state_file.string()) +
         ",\n  log_file = " + lua_quote(s.log_file.string()) +
         ",\n  sync = {\n    auto_sync = " + (s.auto_sync ? "true" : "false") +
         ",\n    interval = " + lua_number(s.interval) +
         ",\n    startup_delay = " + lua_number(s.startup_delay) + ",\n    command = " + s.command +
         ",\n    timeout = " + lua_number(s.timeout) +
         ",\n    lock_file = " + lua_quote(s.lock_file.string()) +
         ",\n    coordination = {\n      enabled = true,\n      heartbeat_interval = " +
         lua_number(s.heartbeat_interval) +
         ",\n      takeover_threshold = " + lua_number(s.takeover_threshold) +
         ",\n      sync_cooldown = " + lua_number(s.sync_cooldown) +
         (s.priority != 0 ? ",\n      priority = " + lua_number(s.priority) : std::string()) +
         ",\n    },\n" + (s.push ? push_lua(*s.push) : std::string()) +
         (s.away ? away_lua(*s.away) : std::string()) +
         (s.channels.empty() ? std::string() : "    channels = " + s.channels + ",\n") +
         (s.max_parallel > 0 ? "    max_parallel = " + std::to_string(s.max_parallel) + ",\n"
                             : std::string()) +
         "  },\n})\n";
}

}  // namespace himalaya::testing
