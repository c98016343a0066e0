// The coordinator's decisions for channels (SPEC §11), as pure transitions in
// the manner of transitions.h: each takes the state as read under the lock,
// who this instance is (Self), what it remembers of the channels
// (ChannelMemory) and one reading of the clocks (Now), changes the state in
// place and returns whether it must be written.
//
// Each channel is a small copy of the fleet's one schedule: its own
// last_sync_time, running sync and last result (state.h, ChannelRecord). Its
// owner (channels.h) starts it when it is due; one channel never runs twice
// at once, and at most max_parallel channels run in the fleet. Every start
// and end is also written to the old top-level keys (`last_sync_time`,
// `last_sync_instance`, `last_result`), which keep describing the fleet's
// latest sync for the original plugin. `running_sync` stays the whole
// command's (a manual sync), so a manual sync and a channel sync never
// mistake each other's records.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/channels.h"
#include "coordinator/transitions.h"

namespace himalaya::coordinator {

// What one instance has observed of the channels, kept from step to step.
struct ChannelMemory {
  std::map<std::string, SyncClock> last_sync;  // since each channel's last_sync_time
  std::map<std::string, SyncClock> running;    // age of each channel's running sync (monotonic)
  // A running record whose process this reader first saw gone, and when
  // (monotonic), as Memory::exit_seen for the whole command.
  std::map<std::string, std::pair<double, double>> exit_seen;  // channel -> (started, seen at)
};

// This instance's running channel sync (an instance runs one sync at a time).
struct OwnChannelSync {
  std::string name;
  double started = 0;  // wall stamp, as recorded
  SyncTrigger trigger = SyncTrigger::automatic;
};

// The channels this instance owns, in configuration order.
std::vector<ChannelSpec> owned_channels(const State& s, const std::vector<ChannelSpec>& specs,
                                        const std::string& self_id);

// How many channel syncs run in the fleet, by the records.
int running_channels(const State& s);

// Ends the recorded channel syncs of other instances that are over
// (running_sync_active()), recording each result, like settle_running_sync().
// `own`: this instance's running channel sync, which its end record settles.
bool settle_channel_syncs(State& s, ChannelMemory& m, const Self& self,
                          const std::optional<OwnChannelSync>& own, const Now& now, Notes& notes);

// The channels' part of every read-modify-write, after settle()
// (transitions.h) and its election: shares the channels out over the
// decision's candidates, noting each move. Nothing without channels.
// settle_channel_syncs() comes before settle(), whose election prunes the
// records of dead instances: a channel sync of an instance that died before
// recording its sync process is over by that record (see
// running_sync_active()), and would otherwise wait for the sync timeout.
bool settle_channels(State& s, const ChannelSettings& settings, const Decision& decision,
                     Notes& notes);

struct ChannelGrant {
  bool granted = false;
  ChannelCheck check;
  std::string reason;
};

// Checks check_channel_sync() for this instance and, if it allows, records
// the start in the channel and in the top-level schedule keys.
ChannelGrant grant_channel_sync(State& s, ChannelMemory& m, const Self& self,
                                const ChannelSpec& spec, int max_parallel, const Now& now);

// Push (SPEC §10): the server reported a change in a mailbox these channels
// cover, at `wall`. Each one's owner syncs it at once (check_channel_sync()).
// Names without a record (not configured here) are left alone.
bool record_channel_push(State& s, const std::vector<std::string>& channels, double wall);

// The sync's process, once spawned, into the channel's running record.
bool record_channel_process(State& s, const Self& self, const std::string& channel, double started,
                            int pid, std::uint64_t start_ticks);

// The end of this instance's sync of `channel` (the result is recorded with
// the channel's name). A later result stays.
bool record_channel_end(State& s, const Self& self, const std::string& channel, SyncResult result);

// The host pids of the channels' other owners that run on this host and boot
// (`here`), each once: watched with a pidfd, so that a dead owner's channels
// move within milliseconds rather than at the next heartbeat.
std::vector<int> owner_pids_here(const State& s, const HostFacts& here, const std::string& self_id);

// Seconds until the first of this instance's channels may be due (0: one is
// due now); nullopt when it owns none, or all of them are running.
std::optional<double> next_channel_due(const State& s, ChannelMemory& m, const Self& self,
                                       const std::vector<ChannelSpec>& specs, int max_parallel,
                                       const Now& now);

// The first of this instance's channels that may start now, if any.
std::optional<std::string> due_channel(const State& s, ChannelMemory& m, const Self& self,
                                       const std::vector<ChannelSpec>& specs, int max_parallel,
                                       const Now& now);

}  // namespace himalaya::coordinator
