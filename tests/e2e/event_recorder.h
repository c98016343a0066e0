// The User events of SPEC §9 as each Neovim of an e2e fleet fires them:
// record_events_lua (a fleet's extra_lua) records every event in _G.events
// with the data a handler sees (args.data from Neovim 0.8 on, last_event()
// on 0.7) and the handler's wall time; events_of() reads them back with
// every bit of their numbers. Used by events_test.cpp and events-bench.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/nvim_process.h"

namespace himalaya::e2e {

using testing::NvimProcess;
using namespace std::chrono_literals;

// Runs in each Neovim before setup(): records every event as a handler sees it.
inline constexpr const char* record_events_lua = R"lua(
_G.events = {}
local uv = vim.uv or vim.loop
vim.api.nvim_create_autocmd('User', {
  pattern = { 'HimalayaSyncStarted', 'HimalayaSyncDone', 'HimalayaRoleChanged' },
  callback = function(args)
    local data = args.data
    if vim.fn.has('nvim-0.8') == 0 then
      data = require('himalaya_coord').last_event(args.match)
    end
    local sec, usec = uv.gettimeofday()
    table.insert(_G.events, { name = args.match, data = data, at = sec + usec / 1e6 })
  end,
})
)lua";

struct Event {
  std::string name;
  nlohmann::json data;
  double at = 0;  // wall time the handler ran
};

// A Lua value as JSON, with every bit of its numbers (vim.fn.json_encode
// would round the Unix times to whole seconds).
inline nlohmann::json to_json(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::BOOLEAN:
      return o.via.boolean;
    case msgpack::type::POSITIVE_INTEGER:
      return o.via.u64;
    case msgpack::type::NEGATIVE_INTEGER:
      return o.via.i64;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return o.via.f64;
    case msgpack::type::STR:
      return std::string(o.via.str.ptr, o.via.str.size);
    case msgpack::type::ARRAY: {
      nlohmann::json list = nlohmann::json::array();
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
        list.push_back(to_json(o.via.array.ptr[i]));
      }
      return list;
    }
    case msgpack::type::MAP: {
      nlohmann::json map = nlohmann::json::object();
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object& key = o.via.map.ptr[i].key;
        if (key.type == msgpack::type::STR) {
          map[std::string(key.via.str.ptr, key.via.str.size)] = to_json(o.via.map.ptr[i].val);
        }
      }
      return map;
    }
    default:
      return nullptr;
  }
}

inline std::vector<Event> events_of(NvimProcess& nvim) {
  nlohmann::json list = to_json(nvim.lua("return _G.events"));
  std::vector<Event> out;
  if (list.empty()) {
    return out;  // an empty Lua table comes as an empty map
  }
  if (!list.is_array()) {
    ADD_FAILURE() << "_G.events is not a list: " << list.dump();
    return out;
  }
  for (const auto& e : list) {
    out.push_back(
        Event{e.value("name", ""), e.value("data", nlohmann::json::object()), e.value("at", 0.0)});
  }
  return out;
}

inline std::string describe(const std::vector<Event>& events) {
  std::string out;
  for (const auto& e : events) {
    out += "  " + e.name + " " + e.data.dump() + "\n";
  }
  return out;
}

// The events named `name`, in the order they fired.
inline std::vector<Event> named(const std::vector<Event>& events, const std::string& name) {
  std::vector<Event> out;
  for (const auto& e : events) {
    if (e.name == name) {
      out.push_back(e);
    }
  }
  return out;
}

}  // namespace himalaya::e2e
