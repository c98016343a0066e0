#include "host/config.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace himalaya::host {
namespace {

using nlohmann::json;

// Raised only inside this file, and turned into ConfigResult::error below.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string join(const std::string& prefix, const char* key) {
  return prefix.empty() ? std::string(key) : prefix + "." + key;
}

const json* find(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

void read_bool(const json& object, const std::string& prefix, const char* key, bool& out) {
  if (const json* v = find(object, key)) {
    if (!v->is_boolean()) {
      throw ConfigError(join(prefix, key) + ": expected a boolean");
    }
    out = v->get<bool>();
  }
}

// Durations are seconds, fractional allowed. `allow_zero` is for startup_delay.
void read_duration(const json& object, const std::string& prefix, const char* key, double& out,
                   bool allow_zero = false) {
  if (const json* v = find(object, key)) {
    if (!v->is_number()) {
      throw ConfigError(join(prefix, key) + ": expected a number of seconds");
    }
    double d = v->get<double>();
    if (!(allow_zero ? d >= 0 : d > 0) || d > 1e9) {
      throw ConfigError(join(prefix, key) + (allow_zero
                                                 ? ": must be zero or positive"
                                                 : ": must be a positive number of seconds"));
    }
    out = d;
  }
}

void read_path(const json& object, const std::string& prefix, const char* key,
               std::filesystem::path& out) {
  if (const json* v = find(object, key)) {
    if (!v->is_string() || v->get<std::string>().empty()) {
      throw ConfigError(join(prefix, key) + ": expected a non-empty path");
    }
    out = v->get<std::string>();
    if (!out.is_absolute()) {
      throw ConfigError(join(prefix, key) + ": expected an absolute path");
    }
  }
}

const json& read_object(const json& object, const std::string& prefix, const char* key) {
  static const json empty = json::object();
  const json* v = find(object, key);
  if (v == nullptr) {
    return empty;
  }
  if (!v->is_object()) {
    throw ConfigError(join(prefix, key) + ": expected a table");
  }
  return *v;
}

void read_push(const json& sync, HostConfig& config) {
  const json& push = read_object(sync, "sync", "push");
  PushConfig& p = config.sync.push;
  if (const json* v = find(push, "enabled")) {
    if (v->is_boolean()) {
      p.mode = v->get<bool>() ? PushMode::on : PushMode::off;
    } else if (v->is_string() && v->get<std::string>() == "auto") {
      p.mode = PushMode::automatic;
    } else {
      throw ConfigError("sync.push.enabled: expected 'auto', true or false");
    }
  }
  std::filesystem::path rc;
  read_path(push, "sync.push", "mbsyncrc", rc);
  p.mbsyncrc = rc.string();
  if (const json* v = find(push, "mailboxes")) {
    if (!v->is_array() || v->empty()) {
      throw ConfigError("sync.push.mailboxes: expected a non-empty list of mailbox names");
    }
    p.mailboxes.clear();
    for (const json& box : *v) {
      if (!box.is_string() || box.get<std::string>().empty()) {
        throw ConfigError("sync.push.mailboxes: expected a non-empty list of mailbox names");
      }
      p.mailboxes.push_back(box.get<std::string>());
    }
  }
  read_duration(push, "sync.push", "min_gap", config.timings.push_min_gap, /*allow_zero=*/true);
}

void read_adaptive(const json& sync, HostConfig& config) {
  const json& adaptive = read_object(sync, "sync", "adaptive");
  coordinator::AdaptiveTimings& a = config.timings.adaptive;
  read_bool(adaptive, "sync.adaptive", "enabled", a.enabled);
  read_duration(adaptive, "sync.adaptive", "min_interval", a.min_interval);
  read_duration(adaptive, "sync.adaptive", "max_interval", a.max_interval);
  if (a.min_interval > a.max_interval) {
    throw ConfigError("sync.adaptive.min_interval: must be at most sync.adaptive.max_interval");
  }
}

// sync.away (SPEC §11): `after` is seconds or false (off: Timings::away_after 0).
void read_away(const json& sync, HostConfig& config) {
  const json& away = read_object(sync, "sync", "away");
  if (const json* v = find(away, "after"); v != nullptr && v->is_boolean()) {
    if (v->get<bool>()) {
      throw ConfigError("sync.away.after: expected a number of seconds or false");
    }
    config.timings.away_after = 0;
  } else {
    read_duration(away, "sync.away", "after", config.timings.away_after);
  }
  read_duration(away, "sync.away", "interval", config.timings.away_interval);
}

// sync.channels (SPEC §11): a list of { name, interval }, each name once;
// sync.max_parallel: a whole number from 1. Whether each name is a channel or
// group of the mbsync configuration is the Lua side's check at setup().
void read_channels(const json& sync, HostConfig& config) {
  coordinator::ChannelSettings& out = config.sync.channels;
  const json* list = find(sync, "channels");
  if (list != nullptr && list->is_object() && list->empty()) {
    list = nullptr;  // an empty Lua table may come as {} rather than []
  }
  if (const json* v = list) {
    if (!v->is_array()) {
      throw ConfigError("sync.channels: expected a list of { name = ..., interval = ... }");
    }
    for (std::size_t i = 0; i < v->size(); ++i) {
      const std::string where = "sync.channels[" + std::to_string(i + 1) + "]";
      const json& entry = (*v)[i];
      if (!entry.is_object()) {
        throw ConfigError(where + ": expected { name = ..., interval = ... }");
      }
      const json* name = find(entry, "name");
      if (name == nullptr || !name->is_string() || name->get<std::string>().empty()) {
        throw ConfigError(where + ".name: expected the name of an mbsync channel or group");
      }
      coordinator::ChannelSpec spec{name->get<std::string>(), 0};
      read_duration(entry, where, "interval", spec.interval);
      if (spec.interval <= 0) {
        throw ConfigError(where + ".interval: expected a positive number of seconds");
      }
      for (const auto& other : out.specs) {
        if (other.name == spec.name) {
          throw ConfigError(where + ".name: channel '" + spec.name + "' is listed twice");
        }
      }
      out.specs.push_back(std::move(spec));
    }
  }
  if (const json* v = find(sync, "max_parallel")) {
    if (!v->is_number_integer() || v->get<long long>() < 1 || v->get<long long>() > 64) {
      throw ConfigError("sync.max_parallel: expected a whole number from 1 to 64");
    }
    out.max_parallel = static_cast<int>(v->get<long long>());
  }
}

HostConfig parse(const json& root) {
  if (!root.is_object()) {
    throw ConfigError("config: expected a JSON object");
  }
  HostConfig config;
  const json* id = find(root, "instance_id");
  if (id == nullptr || !id->is_string() || id->get<std::string>().empty()) {
    throw ConfigError("instance_id: expected a non-empty string");
  }
  config.instance_id = id->get<std::string>();
  const json* pid = find(root, "nvim_pid");
  if (pid == nullptr || !pid->is_number_integer() || pid->get<long long>() <= 0 ||
      pid->get<long long>() > 0x7fffffff) {
    throw ConfigError("nvim_pid: expected a positive process id");
  }
  config.nvim_pid = static_cast<int>(pid->get<long long>());
  if (const json* v = find(root, "nvim_version")) {
    if (!v->is_string()) {
      throw ConfigError("nvim_version: expected a string");
    }
    config.nvim_version = v->get<std::string>();
  }
  read_bool(root, "", "debug", config.debug);
  read_path(root, "", "state_file", config.state_file);
  read_path(root, "", "log_file", config.log_file);

  const json& sync = read_object(root, "", "sync");
  SyncConfig& s = config.sync;
  read_bool(sync, "sync", "auto_sync", s.auto_sync);
  read_duration(sync, "sync", "interval", config.timings.interval);
  read_duration(sync, "sync", "startup_delay", config.timings.startup_delay,
                /*allow_zero=*/true);
  read_duration(sync, "sync", "timeout", config.timings.sync_timeout);
  read_path(sync, "sync", "lock_file", s.lock_file);
  if (const json* v = find(sync, "command")) {
    if (!v->is_array() || v->empty()) {
      throw ConfigError("sync.command: expected a non-empty list of strings");
    }
    s.command.clear();
    for (const json& arg : *v) {
      if (!arg.is_string()) {
        throw ConfigError("sync.command: expected a non-empty list of strings");
      }
      s.command.push_back(arg.get<std::string>());
    }
    if (s.command.front().empty()) {
      throw ConfigError("sync.command: the program name is empty");
    }
  }

  const json& coord = read_object(sync, "sync", "coordination");
  CoordinationConfig& c = s.coordination;
  read_bool(coord, "sync.coordination", "enabled", c.enabled);
  if (const json* v = find(coord, "priority")) {
    if (!v->is_number() || !std::isfinite(v->get<double>()) || std::abs(v->get<double>()) > 1e9) {
      throw ConfigError("sync.coordination.priority: expected a number");
    }
    c.priority = v->get<double>();
  }
  coordinator::Timings& t = config.timings;
  read_duration(coord, "sync.coordination", "heartbeat_interval", t.heartbeat_interval);
  read_duration(coord, "sync.coordination", "takeover_threshold", t.takeover_threshold);
  read_duration(coord, "sync.coordination", "sync_cooldown", t.sync_cooldown);
  if (t.heartbeat_interval >= t.takeover_threshold) {
    throw ConfigError(
        "sync.coordination.heartbeat_interval: must be less than "
        "sync.coordination.takeover_threshold");
  }
  read_push(sync, config);
  read_adaptive(sync, config);
  read_away(sync, config);
  read_channels(sync, config);
  return config;
}

}  // namespace

const char* to_string(PushMode mode) {
  switch (mode) {
    case PushMode::on:
      return "true";
    case PushMode::off:
      return "false";
    case PushMode::automatic:
      break;
  }
  return "auto";
}

ConfigResult parse_config(std::string_view json_text) {
  ConfigResult result;
  json root = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    result.error = "config: not valid JSON";
    return result;
  }
  try {
    result.config = parse(root);
  } catch (const ConfigError& e) {
    result.error = e.what();
  } catch (const nlohmann::json::exception& e) {
    result.error = std::string("config: ") + e.what();
  }
  return result;
}

}  // namespace himalaya::host
