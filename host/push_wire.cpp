#include "host/push_wire.h"

#include <algorithm>

namespace himalaya::host {
namespace {

using nlohmann::json;

bool strings(const json& value, std::vector<std::string>& out) {
  if (!value.is_array()) {
    return false;
  }
  out.clear();
  for (const json& item : value) {
    if (!item.is_string()) {
      return false;
    }
    out.push_back(item.get<std::string>());
  }
  return true;
}

}  // namespace

std::string encode_settings(const PushSettings& settings) {
  json push{{"mailboxes", settings.push.mailboxes}};
  switch (settings.push.mode) {
    case PushMode::automatic:
      push["enabled"] = "auto";
      break;
    case PushMode::on:
      push["enabled"] = true;
      break;
    case PushMode::off:
      push["enabled"] = false;
      break;
  }
  if (!settings.push.mbsyncrc.empty()) {
    push["mbsyncrc"] = settings.push.mbsyncrc;
  }
  json value{{"mode", settings.mode == PushSettings::Mode::check ? "check" : "watch"},
             {"command", settings.command},
             {"push", push}};
  return value.dump() + "\n";
}

std::optional<PushSettings> decode_settings(const std::string& line, std::string& error) {
  json value = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) {
    error = "settings: expected a JSON object";
    return std::nullopt;
  }
  PushSettings settings;
  const json mode = value.value("mode", json());
  if (mode == "check") {
    settings.mode = PushSettings::Mode::check;
  } else if (mode != "watch") {
    error = "settings: mode must be \"watch\" or \"check\"";
    return std::nullopt;
  }
  if (!strings(value.value("command", json()), settings.command) || settings.command.empty()) {
    error = "settings: command must be a non-empty list of strings";
    return std::nullopt;
  }
  const json push = value.value("push", json::object());
  if (!push.is_object()) {
    error = "settings: push must be an object";
    return std::nullopt;
  }
  const json enabled = push.value("enabled", json("auto"));
  if (enabled == "auto") {
    settings.push.mode = PushMode::automatic;
  } else if (enabled.is_boolean()) {
    settings.push.mode = enabled.get<bool>() ? PushMode::on : PushMode::off;
  } else {
    error = "settings: push.enabled must be \"auto\", true or false";
    return std::nullopt;
  }
  const json rc = push.value("mbsyncrc", json(""));
  if (!rc.is_string()) {
    error = "settings: push.mbsyncrc must be a string";
    return std::nullopt;
  }
  settings.push.mbsyncrc = rc.get<std::string>();
  if (!strings(push.value("mailboxes", json::array({"INBOX"})), settings.push.mailboxes) ||
      settings.push.mailboxes.empty()) {
    error = "settings: push.mailboxes must be a non-empty list of strings";
    return std::nullopt;
  }
  return settings;
}

json status_to_wire(const PushStatus& status, double now) {
  json value{{"state", to_string(status.state)},
             {"why", status.why},
             {"servers", status.servers},
             {"mailboxes", status.mailboxes}};
  if (status.state == PushStatus::State::reconnecting) {
    value["retry_at"] = now + status.retry_in;
  }
  if (status.last_event) {
    value["last_event"] = *status.last_event;
  }
  return value;
}

std::optional<PushStatus> status_from_wire(const json& value, double now) {
  if (!value.is_object() || !value.value("state", json()).is_string() ||
      !value.value("why", json("")).is_string()) {
    return std::nullopt;
  }
  PushStatus status;
  auto state = push_state_named(value["state"].get<std::string>());
  if (!state || !strings(value.value("servers", json::array()), status.servers) ||
      !strings(value.value("mailboxes", json::array()), status.mailboxes)) {
    return std::nullopt;
  }
  status.state = *state;
  status.why = value.value("why", json("")).get<std::string>();
  const json retry_at = value.value("retry_at", json());
  if (retry_at.is_number()) {
    status.retry_in = std::max(0.0, retry_at.get<double>() - now);
  }
  const json last_event = value.value("last_event", json());
  if (last_event.is_number()) {
    status.last_event = last_event.get<double>();
  }
  return status;
}

}  // namespace himalaya::host
