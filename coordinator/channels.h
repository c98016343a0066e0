// Channels (SPEC §11, "load-balanced folder sync"): which instance runs which
// channel, and when a channel's sync may start. Pure functions, like the
// election: the runtime calls them under the state file's lock.
//
// Assignment is rendezvous (highest-random-weight) hashing with bounded loads,
// and sticky:
// - every (channel, instance) pair has a fixed pseudo-random weight, the same
//   on every host (rendezvous_weight());
// - with C channels over N candidates (the live, unreleased instances), every
//   instance runs floor(C/N) or ceil(C/N) of them, so the spread is at most
//   one channel;
// - a channel stays with its owner while that owner is a candidate and not
//   over ceil(C/N). A departure therefore moves only the departed instance's
//   channels, each to the candidate that weighs it highest among those with
//   room (the least loaded first); an arrival moves only channels to the
//   newcomer, the ones that weigh it highest, as many as it needs.
// Plain highest-weight hashing, without the bounds, would move as little but
// leave 6 channels over 3 instances evenly spread in only 90 of 729 cases.
// Every reader computes the same result from the same state and candidates,
// so whoever writes first writes what the others would have.
//
// Schedule: each channel is due at its own last_sync_time + interval, and
// never earlier than its cooldown, min(sync_cooldown, interval), after that
// start (a channel every 2 minutes is not held to a 5-minute cooldown). One
// channel never runs twice at once, and at most max_parallel channels run at
// once in the whole fleet.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/state.h"
#include "coordinator/timings.h"

namespace himalaya::coordinator {

// One entry of sync.channels: an mbsync channel or group, run as
// `mbsync [-c rc] <name>`, every `interval` seconds.
struct ChannelSpec {
  std::string name;
  double interval = 0;
};

// sync.channels and sync.max_parallel (SPEC §11). No specs: the plain
// `sync.command` on the fleet's one schedule.
struct ChannelSettings {
  std::vector<ChannelSpec> specs;
  int max_parallel = 2;
};

// The weight of `instance` for `channel`: a 64-bit hash of both, the same on
// every host and build (FNV-1a, then a SplitMix64 finaliser).
std::uint64_t rendezvous_weight(std::string_view channel, std::string_view instance);

// channel name -> owning instance id.
using Owners = std::map<std::string, std::string>;

// The owners of `channels` over `candidates`, starting from `current` (see
// above). Empty when there is no candidate. Deterministic: the order of
// `channels` and `candidates` does not matter.
Owners assign_channels(const std::vector<std::string>& channels,
                       const std::vector<std::string>& candidates, const Owners& current);

// Writes the assignment into the state's channel records (creating those of
// configured channels it lacks), and returns whether anything changed. Moves
// are appended to `moved` as "name: old -> new" (old empty for a first owner).
bool assign_channel_owners(State& state, const std::vector<ChannelSpec>& specs,
                           const std::vector<std::string>& candidates,
                           std::vector<std::string>& moved);

enum class ChannelBlock { none, not_owner, running, max_parallel, cooldown, not_due };
const char* to_string(ChannelBlock block);

struct ChannelCheck {
  bool start = false;
  ChannelBlock block = ChannelBlock::none;
  double wait = 0;    // seconds until it may be due (cooldown, not_due)
  bool push = false;  // it starts for a change the server reported (ChannelRecord::pushed)
};

// May `self_id` start an automatic sync of `spec` now? `since_last` is the
// jump-proof time since the channel's last start (nullopt: never synced, due
// at once); `running_now` counts the channel syncs running in the fleet. A
// change pushed since the last start makes it due push_min_gap after that
// start, without its cooldown (SPEC §10: a push sync).
ChannelCheck check_channel_sync(const ChannelRecord& record, const ChannelSpec& spec,
                                const std::string& self_id, std::optional<double> since_last,
                                int running_now, int max_parallel, const Timings& timings);

// The cooldown of a channel: min(sync_cooldown, its interval).
double channel_cooldown(const ChannelSpec& spec, const Timings& timings);

}  // namespace himalaya::coordinator
