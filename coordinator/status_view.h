// coordinator::Status from what the runtime knows: a pure function, so the
// runtime keeps only the knowing.
#pragma once

#include <optional>
#include <string>

#include "coordinator/channel_transitions.h"
#include "coordinator/coordinator.h"
#include "coordinator/transitions.h"

namespace himalaya::coordinator {

struct StatusInputs {
  const Identity& identity;
  const Config& config;
  Role role = Role::secondary;
  const std::string& problem;
  const State* view = nullptr;  // null: the file was never read, or coordination is off
  const Memory& memory;
  const std::optional<OwnSync>& own_sync;
  std::optional<double> own_last_boot;  // boottime of this instance's last sync start
  const ChannelMemory* channel_memory = nullptr;
};

Status make_status(const StatusInputs& in, const Now& now);

// The `channels` of a Status: each configured channel as the view records it.
std::vector<Status::Channel> channel_status(const State& s, const ChannelSettings& settings,
                                            const ChannelMemory* memory, const Timings& timings,
                                            const Now& now);

}  // namespace himalaya::coordinator
