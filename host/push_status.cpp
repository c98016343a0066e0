#include "host/push_status.h"

#include <cmath>

#include "host/status_report.h"

namespace himalaya::host {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) {
    text += (text.empty() ? "" : ", ") + item;
  }
  return text;
}

std::string state_line(const PushStatus& push) {
  switch (push.state) {
    case PushStatus::State::idling:
      return "Idling";
    case PushStatus::State::connecting:
      return "Connecting";
    case PushStatus::State::reconnecting:
      // Rounded up: "in 0 seconds" would read as "now, and stuck".
      return "Reconnecting in " + format_duration(std::ceil(push.retry_in));
    case PushStatus::State::off:
      break;
  }
  return "Off (" + push.why + ")";
}

}  // namespace

std::vector<std::string> render_push(const PushStatus& push, double now) {
  std::vector<std::string> lines{"", "## Push", "  State: " + state_line(push)};
  if (!push.servers.empty()) {
    lines.push_back("  Server: " + joined(push.servers));
  }
  if (!push.mailboxes.empty()) {
    lines.push_back("  Mailboxes: " + joined(push.mailboxes));
  }
  lines.push_back("  Last Event: " + (push.last_event
                                          ? format_duration(now - *push.last_event) + " ago"
                                          : std::string("Never")));
  return lines;
}

nlohmann::json push_json(const PushStatus& push, double now) {
  nlohmann::json value{
      {"state", to_string(push.state)}, {"servers", push.servers}, {"mailboxes", push.mailboxes}};
  if (push.state == PushStatus::State::off) {
    value["why"] = push.why;
  }
  if (push.state == PushStatus::State::reconnecting) {
    value["retry_in"] = push.retry_in;
  }
  if (!push.servers.empty()) {
    value["server"] = push.servers.front();
  }
  if (push.last_event) {
    value["last_event_age"] = now - *push.last_event;
  }
  return value;
}

}  // namespace himalaya::host
