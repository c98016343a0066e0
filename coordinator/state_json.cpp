#include "coordinator/state_json.h"

namespace himalaya::coordinator::state_json {

std::optional<SyncOutcome> outcome_from(const std::string& s) {
  for (auto o :
       {SyncOutcome::ok, SyncOutcome::failed, SyncOutcome::timed_out, SyncOutcome::cancelled}) {
    if (s == to_string(o)) {
      return o;
    }
  }
  return std::nullopt;
}

SyncTrigger trigger_from(const std::string& s) {
  for (auto t : {SyncTrigger::manual, SyncTrigger::push}) {
    if (s == to_string(t)) {
      return t;
    }
  }
  return SyncTrigger::automatic;
}

SyncRecord read_running(const Json& object, const std::string& what, std::string* error) {
  Fields f(object, what, error);
  SyncRecord r;
  f.string("instance", r.instance_id);
  f.number("started", r.started);
  f.integer("pid", r.pid);
  f.integer("sync_pid", r.sync_pid);
  f.ticks("sync_start_ticks", r.sync_start_ticks);
  f.string("hostname", r.hostname);
  f.string("boot_id", r.boot_id);
  std::string trigger;
  f.string("trigger", trigger);
  r.trigger = trigger_from(trigger);
  return r;
}

SyncResult read_result(const Json& object, const std::string& what, std::string* error) {
  Fields f(object, what, error);
  SyncResult r;
  std::string outcome = "ok";
  f.string("instance", r.instance_id);
  f.number("started", r.started);
  f.number("ended", r.ended);
  f.string("outcome", outcome);
  f.string("message", r.message);
  std::string trigger;
  f.string("trigger", trigger);
  r.trigger = trigger_from(trigger);
  if (f.find("new_messages") != nullptr) {
    int added = 0;
    f.integer("new_messages", added);
    r.new_messages = added;
  }
  f.string("channel", r.channel);
  if (auto o = outcome_from(outcome)) {
    r.outcome = *o;
  } else {
    f.fail("outcome", "ok, failed, timed_out or cancelled");
  }
  return r;
}

Json to_json(const SyncRecord& r) {
  return Json{{"instance", r.instance_id},
              {"started", r.started},
              {"pid", r.pid},
              {"sync_pid", r.sync_pid},
              {"sync_start_ticks", r.sync_start_ticks},
              {"hostname", r.hostname},
              {"boot_id", r.boot_id},
              {"trigger", to_string(r.trigger)}};
}

Json to_json(const SyncResult& r) {
  Json j{{"instance", r.instance_id}, {"started", r.started},
         {"ended", r.ended},          {"outcome", to_string(r.outcome)},
         {"message", r.message},      {"trigger", to_string(r.trigger)}};
  if (r.new_messages) {
    j["new_messages"] = *r.new_messages;
  }
  if (!r.channel.empty()) {
    j["channel"] = r.channel;
  }
  return j;
}

std::map<std::string, ChannelRecord> read_channels(const Json& object, std::string* error) {
  std::map<std::string, ChannelRecord> channels;
  Fields top(object, "channels.", error);
  for (const auto& [name, value] : object.items()) {
    if (!value.is_object()) {
      top.fail(name, "an object");
      break;
    }
    const std::string where = "channels." + name + ".";
    Fields f(value, where, error);
    ChannelRecord c;
    f.string("owner", c.owner);
    f.number("last_sync_time", c.last_sync_time);
    f.number("pushed", c.pushed);
    if (const Json* p = f.object("running")) {
      c.running = read_running(*p, where + "running.", error);
    }
    if (const Json* p = f.object("last_result")) {
      c.last_result = read_result(*p, where + "last_result.", error);
    }
    channels.emplace(name, std::move(c));
  }
  return channels;
}

Json to_json(const std::map<std::string, ChannelRecord>& channels) {
  Json out = Json::object();
  for (const auto& [name, c] : channels) {
    Json j{{"last_sync_time", c.last_sync_time}};
    if (!c.owner.empty()) {
      j["owner"] = c.owner;
    }
    if (c.pushed > 0) {
      j["pushed"] = c.pushed;
    }
    if (c.running) {
      j["running"] = to_json(*c.running);
    }
    if (c.last_result) {
      j["last_result"] = to_json(*c.last_result);
    }
    out[name] = std::move(j);
  }
  return out;
}

}  // namespace himalaya::coordinator::state_json
