#include "coordinator/state.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "coordinator/state_json.h"

namespace himalaya::coordinator {
namespace {

using namespace state_json;  // NOLINT(google-build-using-namespace): this file's other half

// The deepest nesting of arrays and objects accepted. The known keys nest three
// levels; unknown keys, kept as their JSON text, get the rest. nlohmann parses
// iteratively but dumps recursively, so deeper input would overflow the stack.
constexpr int max_nesting = 64;

// `arrivals`, or nothing when it is malformed: the model alone is dropped and
// rebuilt from the next syncs (a learned statistic, not worth the whole file,
// which a corrupt verdict would move aside). Counts must be finite and
// non-negative, one per hour of the week.
bool fill_buckets(const Json* v, std::array<double, ArrivalModel::buckets>& out) {
  if (v == nullptr || !v->is_array() || v->size() != out.size()) {
    return false;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Json& x = (*v)[i];
    if (!x.is_number() || !std::isfinite(x.get<double>()) || x.get<double>() < 0) {
      return false;
    }
    out[i] = x.get<double>();
  }
  return true;
}

std::optional<ArrivalModel> arrivals_from(const Json& v) {
  ArrivalModel m;
  if (!v.is_object()) {
    return std::nullopt;
  }
  auto through = v.find("through");
  if (through == v.end() || !through->is_number() || !std::isfinite(through->get<double>()) ||
      !fill_buckets(v.contains("messages") ? &v["messages"] : nullptr, m.messages) ||
      !fill_buckets(v.contains("hours") ? &v["hours"] : nullptr, m.hours)) {
    return std::nullopt;
  }
  m.through = through->get<double>();
  if (auto recent = v.find("recent"); recent != v.end()) {
    if (!recent->is_number() || !std::isfinite(recent->get<double>()) ||
        recent->get<double>() < 0) {
      return std::nullopt;
    }
    m.recent = recent->get<double>();
  }
  return m;
}

// Counts to a millionth: the shortest text that keeps them (the model is a
// rough statistic; full doubles would double its size in the file).
Json rounded(const std::array<double, ArrivalModel::buckets>& values) {
  Json out = Json::array();
  for (double v : values) {
    out.push_back(std::round(v * 1e6) / 1e6);
  }
  return out;
}

Json to_json(const ArrivalModel& m) {
  return Json{{"through", m.through},
              {"messages", rounded(m.messages)},
              {"hours", rounded(m.hours)},
              {"recent", m.recent}};
}

Json to_json(const InstanceRecord& r) {
  Json j{{"instance_id", r.instance_id},
         {"hostname", r.hostname},
         {"boot_id", r.boot_id},
         {"nvim_pid", r.nvim_pid},
         {"nvim_start_ticks", r.nvim_start_ticks},
         {"host_pid", r.host_pid},
         {"host_start_ticks", r.host_start_ticks},
         {"started_at", r.started_at},
         {"last_heartbeat", r.last_heartbeat},
         {"nvim_version", r.nvim_version},
         {"released", r.released}};
  if (r.last_input) {
    j["last_input"] = *r.last_input;
    j["session_away"] = r.session_away;
    j["returned"] = r.returned;
  }
  if (r.priority != 0) {
    j["priority"] = r.priority;
  }
  return j;
}

}  // namespace

const char* to_string(SyncOutcome outcome) {
  switch (outcome) {
    case SyncOutcome::ok:
      return "ok";
    case SyncOutcome::failed:
      return "failed";
    case SyncOutcome::timed_out:
      return "timed_out";
    case SyncOutcome::cancelled:
      return "cancelled";
  }
  return "failed";
}

const char* to_string(SyncTrigger trigger) {
  switch (trigger) {
    case SyncTrigger::automatic:
      return "auto";
    case SyncTrigger::manual:
      return "manual";
    case SyncTrigger::push:
      return "push";
  }
  return "auto";
}

Result<State> parse_state(std::string_view text) {
  // Past max_nesting the callback discards every value, so nothing deep is built.
  bool too_deep = false;
  auto depth_limit = [&too_deep](int depth, Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        depth >= max_nesting) {
      too_deep = true;
    }
    return !too_deep;
  };
  Json root = Json::parse(text.begin(), text.end(), depth_limit, /*allow_exceptions=*/false);
  if (too_deep) {
    return Error{Error::Kind::corrupt,
                 "the state file nests deeper than " + std::to_string(max_nesting) + " levels"};
  }
  if (root.is_discarded()) {
    return Error{Error::Kind::corrupt, "the state file is not valid JSON"};
  }
  if (!root.is_object()) {
    return Error{Error::Kind::corrupt, "the state file does not hold a JSON object"};
  }
  std::string error;
  State s;
  Fields top(root, "", &error);
  if (const Json* v = top.find("version"); v != nullptr && !v->is_number() && !v->is_string()) {
    top.fail("version", "a number or a string");
  }
  top.number("created", s.created);
  top.number("last_modified", s.last_modified);
  top.number("last_sync_time", s.last_sync_time);
  top.string("last_sync_instance", s.last_sync_instance);

  if (const Json* p = top.object("primary")) {
    Fields f(*p, "primary.", &error);
    Lease lease;
    f.string("instance_id", lease.instance_id);
    f.number("last_heartbeat", lease.last_heartbeat);
    f.integer("pid", lease.pid);
    f.string("nvim_version", lease.nvim_version);
    if (lease.instance_id.empty()) {
      f.fail("instance_id", "a non-empty string");
    }
    s.primary = std::move(lease);
  }

  if (const Json* map = top.object("instances")) {
    for (const auto& [id, value] : map->items()) {
      if (!value.is_object()) {
        top.fail("instances." + id, "an object");
        break;
      }
      Fields f(value, "instances." + id + ".", &error);
      InstanceRecord r;
      f.string("instance_id", r.instance_id);
      f.string("hostname", r.hostname);
      f.string("boot_id", r.boot_id);
      f.integer("nvim_pid", r.nvim_pid);
      f.ticks("nvim_start_ticks", r.nvim_start_ticks);
      f.integer("host_pid", r.host_pid);
      f.ticks("host_start_ticks", r.host_start_ticks);
      f.number("started_at", r.started_at);
      f.number("last_heartbeat", r.last_heartbeat);
      f.string("nvim_version", r.nvim_version);
      f.boolean("released", r.released);
      f.number("priority", r.priority);
      if (f.find("last_input") != nullptr) {
        double input = 0;
        f.number("last_input", input);
        r.last_input = input;
      }
      f.boolean("session_away", r.session_away);
      f.number("returned", r.returned);
      if (r.instance_id != id) {
        f.fail("instance_id", "the key it is stored under");
      }
      s.instances.emplace(id, std::move(r));
    }
  }

  if (const Json* p = top.object("running_sync")) {
    s.running_sync = read_running(*p, "running_sync.", &error);
  }
  if (const Json* p = top.object("last_result")) {
    s.last_result = read_result(*p, "last_result.", &error);
  }
  if (const Json* p = top.object("channels")) {
    s.channels = read_channels(*p, &error);
  }

  if (const Json* p = top.find("arrivals")) {
    s.arrivals = arrivals_from(*p);  // malformed: dropped alone (see arrivals_from)
  }

  static const char* const known[] = {
      "version", "created",   "last_modified", "last_sync_time", "last_sync_instance",
      "primary", "instances", "running_sync",  "last_result",    "arrivals",
      "channels"};
  for (const auto& [key, value] : root.items()) {
    bool is_known = false;
    for (const char* k : known) {
      is_known = is_known || key == k;
    }
    if (!is_known) {
      s.extra.emplace(key, value.dump());
    }
  }

  if (!error.empty()) {
    return Error{Error::Kind::corrupt, "the state file is invalid: " + error};
  }
  return s;
}

std::string serialize_state(const State& s) {
  Json root = Json::object();
  for (const auto& [key, text] : s.extra) {
    Json v = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!v.is_discarded()) {
      root[key] = std::move(v);
    }
  }
  root["version"] = state_schema_version;
  root["created"] = s.created;
  root["last_modified"] = s.last_modified;
  root["last_sync_time"] = s.last_sync_time;
  if (!s.last_sync_instance.empty()) {
    root["last_sync_instance"] = s.last_sync_instance;
  }
  if (s.primary) {
    root["primary"] = Json{{"instance_id", s.primary->instance_id},
                           {"last_heartbeat", s.primary->last_heartbeat},
                           {"pid", s.primary->pid},
                           {"nvim_version", s.primary->nvim_version}};
  }
  Json instances = Json::object();
  for (const auto& [id, r] : s.instances) {
    instances[id] = to_json(r);
  }
  root["instances"] = std::move(instances);
  if (s.running_sync) {
    root["running_sync"] = to_json(*s.running_sync);
  }
  if (s.last_result) {
    root["last_result"] = to_json(*s.last_result);
  }
  if (!s.channels.empty()) {
    root["channels"] = to_json(s.channels);
  }
  if (s.arrivals) {
    root["arrivals"] = to_json(*s.arrivals);
  }
  return root.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace himalaya::coordinator
