#include "tests/e2e/fleet.h"

#include <cstdio>
#include <thread>

#include "tests/support/host_setup.h"
#include "tests/support/shared_state.h"

namespace himalaya::e2e {

std::string seconds_arg(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) {
    text += l + "\n";
  }
  return text;
}

std::optional<LastSync> read_last_sync(const std::filesystem::path& state_file) {
  // Writers replace the file by rename, so a reader sees a whole file.
  const auto state = testing::read_shared_state(state_file);
  if (!state || !(state->last_sync_time > 0)) {
    return std::nullopt;  // unreadable, or no sync yet
  }
  return LastSync{state->last_sync_time, state->last_sync_instance};
}

void StartRecorder::poll() {
  auto last = read_last_sync(state_file_);
  if (last && (starts_.empty() || starts_.back().time != last->time)) {
    starts_.push_back(*last);
  }
}

std::string describe(const std::vector<Note>& notes) {
  std::string out;
  for (const auto& n : notes) {
    out += "  [" + std::to_string(n.level) + "] " + n.message + "\n";
  }
  return out;
}

bool Fleet::start(int count, const FleetOptions& options) {
  return NvimFleet::start(count, [&](std::size_t i) { return init_lua(i, options); });
}

std::size_t Fleet::add(const FleetOptions& options) {
  return NvimFleet::add([&](std::size_t i) { return init_lua(i, options); });
}

std::string Fleet::primary_label() {
  const auto primary = NvimFleet::primary();
  return primary ? label(*primary) : "";
}

std::vector<Note> Fleet::notes(std::size_t i) {
  std::vector<Note> out;
  for (const std::string& entry : as_strings(
           nvim(i).lua("local out = {} for _, n in ipairs(_G.notes) do "
                       "table.insert(out, tostring(n.level) .. ' ' .. n.msg) end return out"))) {
    Note note;
    std::size_t space = entry.find(' ');
    try {
      note.level = std::stoi(entry.substr(0, space));
    } catch (const std::exception&) {
      note.level = -1;  // level was nil or not a number
    }
    note.message = space == std::string::npos ? "" : entry.substr(space + 1);
    out.push_back(note);
  }
  return out;
}

std::string Fleet::init_lua(std::size_t i, const FleetOptions& o) const {
  std::string command =
      !o.command.empty()
          ? o.command
          : "{'/bin/sh', " +
                lua_quote(std::string(HIMALAYA_SOURCE_DIR) + "/tests/e2e/fake_sync.sh") + ", " +
                lua_quote(sync_log().string()) + ", " + lua_quote(label(i)) + ", " +
                lua_quote(seconds_arg(o.sync_seconds)) + "}";
  testing::HostSetup setup = host_setup(i);
  setup.debug = o.debug;
  setup.auto_sync = o.auto_sync;
  setup.interval = o.interval;
  setup.startup_delay = o.startup_delay;
  setup.command = command;
  setup.timeout = o.timeout;
  setup.heartbeat_interval = o.heartbeat_interval;
  setup.takeover_threshold = o.takeover_threshold;
  setup.sync_cooldown = o.sync_cooldown;
  setup.priority = i < o.priorities.size() ? o.priorities[i] : 0;
  setup.away = o.away;
  setup.channels = o.channels;
  setup.max_parallel = o.max_parallel;
  return o.extra_lua + "\n" +
         "_G.notes = {}\n"
         "vim.notify = function(msg, level, opts)\n"
         "  table.insert(_G.notes, {msg = tostring(msg), level = level})\n"
         "end\n" +
         testing::setup_lua(setup);
}

void sleep_until_wall(double wall) {
  double left = wall - wall_now();
  if (left > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(left));
  }
}

}  // namespace himalaya::e2e
