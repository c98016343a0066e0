// The JSON side of state.h, shared by its parts (state.cpp, channel_state.cpp):
// a field reader that records the first type error instead of throwing, and
// the JSON form of the sync records that both the top level and each channel
// hold (`running_sync`/`last_result`, `channels.<name>.running`/`.last_result`).
// Internal to the coordinator: callers use parse_state()/serialize_state().
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "coordinator/state.h"

namespace himalaya::coordinator::state_json {

using Json = nlohmann::json;

// A reader of one JSON object that records the first type error instead of
// throwing. Every getter leaves its target untouched when the key is absent or
// null, so missing keys take the defaults of the State types.
class Fields {
 public:
  Fields(const Json& object, std::string where, std::string* error)
      : object_(object), where_(std::move(where)), error_(error) {}

  const Json* find(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) {
      return nullptr;
    }
    return &*it;
  }

  void number(const char* key, double& out) {
    if (const Json* v = find(key)) {
      if (!v->is_number()) {
        fail(key, "a number");
        return;
      }
      double d = v->get<double>();
      if (!std::isfinite(d)) {
        fail(key, "a finite number");
        return;
      }
      out = d;
    }
  }

  void integer(const char* key, int& out) {
    double d = out;
    number(key, d);
    if (d < 0 || d > std::numeric_limits<int>::max()) {
      fail(key, "a process id");
      return;
    }
    out = static_cast<int>(d);
  }

  void ticks(const char* key, std::uint64_t& out) {
    if (const Json* v = find(key)) {
      if (!v->is_number_unsigned()) {
        fail(key, "a non-negative integer");
        return;
      }
      out = v->get<std::uint64_t>();
    }
  }

  void string(const char* key, std::string& out) {
    if (const Json* v = find(key)) {
      if (!v->is_string()) {
        fail(key, "a string");
        return;
      }
      out = v->get_ref<const std::string&>();
    }
  }

  void boolean(const char* key, bool& out) {
    if (const Json* v = find(key)) {
      if (!v->is_boolean()) {
        fail(key, "true or false");
        return;
      }
      out = v->get<bool>();
    }
  }

  const Json* object(const char* key) {
    const Json* v = find(key);
    if (v != nullptr && !v->is_object()) {
      fail(key, "an object");
      return nullptr;
    }
    return v;
  }

  void fail(const std::string& key, const char* expected) {
    if (error_->empty()) {
      *error_ = where_ + key + " is not " + expected;
    }
  }

 private:
  const Json& object_;
  std::string where_;
  std::string* error_;
};

std::optional<SyncOutcome> outcome_from(const std::string& s);
// An unknown or absent trigger reads as automatic (state.h).
SyncTrigger trigger_from(const std::string& s);

// The object of a running sync or of a result; `what` names it in errors
// ("running_sync.", "channels.inbox.last_result.").
SyncRecord read_running(const Json& object, const std::string& what, std::string* error);
SyncResult read_result(const Json& object, const std::string& what, std::string* error);
Json to_json(const SyncRecord& r);
Json to_json(const SyncResult& r);

// `channels`: each configured channel's record (state.h, ChannelRecord).
std::map<std::string, ChannelRecord> read_channels(const Json& object, std::string* error);
Json to_json(const std::map<std::string, ChannelRecord>& channels);

}  // namespace himalaya::coordinator::state_json
