// The fleet's sync events (SPEC §9): every instance announces every sync of
// the fleet, whoever ran it, once as started and once as done.
//
// An instance learns of syncs from its views of the state file: the one it
// writes itself and the ones it reads when the doorbell rings (a sync's start
// and end ring it: see DoorbellFacts). SyncAnnouncer turns that sequence of
// views into events. It is a pure transition, with no I/O and no clock, so the
// rules below are unit-tested view by view:
// - A sync is known by its key: the instance that ran it and its start stamp.
//   Each key is announced started at most once and done at most once, in
//   that order; views that repeat what was announced give nothing.
// - The first view announces only a sync running then (the instance joined
//   during it). The last result it holds is history, not an event.
// - A result whose start was never seen running (a sync shorter than the
//   time between two views) is announced started and then done.
// - A record older than what was announced (a file rebuilt from an older
//   view) gives nothing.
// - A sync of this instance is also announced through local_started() and
//   local_done(), for when the file never recorded it (Uncoordinated, or a
//   later result had replaced it). The keys are the same, so a sync the file
//   did record is not announced twice.
// - With sync.channels (SPEC §11), each channel's syncs are told apart the
//   same way, from the channel's own records, and their events name it
//   (`channels`). The top-level `last_result` of a channel sync (which says
//   which channel it was) is not announced a second time as the whole
//   command's.
// What it cannot tell: if a sync starts and ends and a second one starts
// between two views, only the second is announced (the first result was
// overwritten before anyone read it). Views come within milliseconds of each
// write, and syncs run at least seconds apart.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "coordinator/state.h"

namespace himalaya::coordinator {

struct SyncEvent {
  enum class Kind { started, done };
  Kind kind = Kind::started;
  std::string instance_id;
  SyncTrigger trigger = SyncTrigger::automatic;
  double started = 0;  // wall stamp of the start, as recorded
  // The channels the sync ran (SPEC §11): empty for the whole command.
  std::vector<std::string> channels;
  // done only:
  SyncOutcome outcome = SyncOutcome::ok;
  double duration = 0;  // seconds, ended - started
  std::string message;
  std::optional<int> new_messages = std::nullopt;  // as recorded; nullopt when unknown
};

// The rules above for one sequence of syncs: the whole command's
// (`running_sync`, and the top-level `last_result` when it is not a
// channel's), or one channel's (its `running` and `last_result`). Channels
// run in parallel, so each has its own.
class SyncTrack {
 public:
  explicit SyncTrack(std::string channel = {}) : channel_(std::move(channel)) {}
  // A track that starts after the announcer's first view: its first result
  // is news, not history.
  void prime() { primed_ = true; }
  void observe(const std::optional<SyncRecord>& running, const std::optional<SyncResult>& result,
               std::vector<SyncEvent>& out);
  void local_started(const SyncRecord& sync, std::vector<SyncEvent>& out);
  void local_done(const SyncResult& result, std::vector<SyncEvent>& out);

 private:
  struct Key {
    std::string instance_id;
    double started = 0;
    bool operator==(const Key& o) const {
      return instance_id == o.instance_id && started == o.started;
    }
    bool operator!=(const Key& o) const { return !(*this == o); }
  };
  static bool older(const Key& key, const std::optional<Key>& than) {
    return than && key.started < than->started;
  }
  // Keys only move forward: announcing an older sync late (this instance's
  // own, after it was frozen) does not make newer ones announceable again.
  static void remember(std::optional<Key>& slot, const Key& key);
  SyncEvent started_event(const std::string& instance_id, SyncTrigger trigger,
                          double started) const;
  void announce_done(const SyncResult& result, bool start_announced, std::vector<SyncEvent>& out);

  std::string channel_;
  bool primed_ = false;
  std::optional<Key> started_;  // the last sync announced as started
  std::optional<Key> done_;     // the last sync announced as done (or history)
};

class SyncAnnouncer {
 public:
  // The events this view adds to the ones announced so far: the whole
  // command's first, then each channel's, by name.
  std::vector<SyncEvent> observe(const State& view);
  // A sync of this instance (the whole command) that was not recorded in the
  // file.
  std::vector<SyncEvent> local_started(const SyncRecord& sync);
  std::vector<SyncEvent> local_done(const SyncResult& result);

 private:
  bool primed_ = false;
  SyncTrack whole_;
  std::map<std::string, SyncTrack> channels_;
};

// The facts whose change rings the doorbell (watch.h): who holds the lease,
// and which sync is running or last ended, and each instance's presence
// changes that matter now (away.h: its `returned` stamp, its session flag).
// Heartbeats change none of them, so an idle fleet rings nothing.
struct DoorbellFacts {
  std::optional<std::string> primary;
  std::optional<std::pair<std::string, double>> running;
  std::optional<std::pair<std::string, double>> result;
  std::map<std::string, std::pair<double, bool>> presence;  // returned, session_away
  // Each channel's owner, and whether it runs (channels.h): a new owner
  // starts its timer at once, and a channel's end frees a max_parallel slot.
  // A change pushed for a channel (ChannelRecord::pushed) wakes its owner.
  std::map<std::string, std::tuple<std::string, bool, double>> channels;
  bool operator==(const DoorbellFacts& o) const {
    return primary == o.primary && running == o.running && result == o.result &&
           presence == o.presence && channels == o.channels;
  }
  bool operator!=(const DoorbellFacts& o) const { return !(*this == o); }
};
DoorbellFacts doorbell_facts(const State& state);

}  // namespace himalaya::coordinator
