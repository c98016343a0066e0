// The coordinator runtime: one per host process, driving the election,
// heartbeats, sync schedule and failover of SPEC §5 on the caller's
// io_context. It knows the state file, time and processes, never Neovim.
//
// Threading: single-threaded. Construct, call every method and receive every
// event on the io_context's thread. Events are plain callbacks; any may be
// left empty, and is then skipped. Callbacks may call back into the
// Coordinator (e.g. begin_sync() from sync_due). Diagnostics go through
// Events::warning and Events::debug; this layer does no logging of its own.
//
// Lifecycle: Coordinator(...) does nothing; start() registers this instance
// and runs the first election synchronously, so role() is known when it
// returns; stop() hands over and cancels everything. The destructor stops.
//
// How it stays correct: every decision is a read-modify-write of the state
// file under its lock (StateFile::update), and every primary action
// (heartbeat, starting a sync) first checks, under that lock, that this
// instance still holds the lease. A primary that was stopped (SIGSTOP) and
// lost the lease therefore steps down before doing any primary work.
//
// How it stays fast: a secondary watches the primary's host process with a
// pidfd (same host and boot), so a primary that dies, even by SIGKILL, is
// replaced within milliseconds; and every instance watches the state
// directory with inotify for the lock file's doorbell (rung when the lease
// changes hands), so a handover is seen at once. Everything else happens on
// the heartbeat timer: each instance refreshes its own record every
// heartbeat_interval, the primary also its lease, and a primary whose lease
// heartbeat has not changed for takeover_threshold (on the readers' monotonic
// clocks) is replaced.
//
// When the file cannot be used (unwritable, wrong owner, symlink, lock held
// too long) the instance turns Uncoordinated: it reports one warning, keeps
// scheduling automatic syncs on its own timer (every interval), and retries
// the file every heartbeat, going back to coordinating as soon as it works.
// Config::enabled = false is Uncoordinated for good, without a warning.
// When the file is gone (deleted, or corrupt and moved aside with a warning)
// the first instance to notice rebuilds it from its last view of it, so the
// fleet keeps its primary, its instances and its sync record.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/channels.h"
#include "coordinator/clock.h"
#include "coordinator/election.h"
#include "coordinator/environment.h"
#include "coordinator/identity.h"
#include "coordinator/state.h"
#include "coordinator/sync_events.h"
#include "coordinator/timings.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace himalaya::coordinator {

struct Config {
  std::filesystem::path state_file;
  Timings timings;
  bool auto_sync = true;
  bool enabled = true;
  // True once this instance is on its way out (the host: its channel to
  // Neovim closed, or it is shutting down). Asked before a sync starts and
  // while a lock wait lasts. From the first true on, no sync is granted, and
  // state-file writes (the handover included) wait for the lock at most
  // timings.leave_lock_timeout in all, counted from then, instead of
  // lock_timeout each: SPEC §8 wants the host gone within a second even when
  // another process holds the lock. A write that cannot be made then is
  // skipped (logged as a decision); the others see the instance's process
  // gone.
  std::function<bool()> leaving;
  // The succession rule (election.h): senior for the host; the simulator
  // compares it with first_come.
  Succession succession = Succession::senior;
  // sync.channels (SPEC §11, channels.h): with specs, automatic syncs run
  // per channel, each by its owner (Events::channel_due), instead of the
  // whole command on the fleet's one schedule. A manual sync still runs the
  // whole command. Push does not trigger channel syncs yet.
  ChannelSettings channels;
};

enum class Role { primary, secondary, uncoordinated };
const char* to_string(Role role);

// The facts behind the SPEC §4 status report. Ages are seconds as of the
// status() call; heartbeat ages are observed ones (monotonic, this reader).
struct Status {
  struct Primary {
    std::string instance_id;
    int pid = 0;  // the primary's Neovim pid
    double heartbeat_age = 0;
    bool active = true;  // false: Stale (age beyond takeover_threshold)
  };
  struct LastSync {
    double time = 0;  // wall stamp of its start
    double age = 0;
    std::string instance_id;
  };
  struct RunningSync {
    std::string instance_id;
    double started = 0;
    double age = 0;
  };
  // The automatic schedule's interval now, and why (interval.h): an empty
  // reason is sync.interval itself.
  struct Interval {
    double seconds = 0;
    std::string reason;
  };
  struct Instance {
    std::string instance_id;
    bool primary = false;
    bool released = false;
    std::string hostname;
    int nvim_pid = 0;
    int host_pid = 0;
    double heartbeat_age = 0;
  };

  // One channel of Config::channels (SPEC §11 `## Channels`).
  struct Channel {
    std::string name;
    double interval = 0;
    std::string owner;                    // empty: no live instance to run it
    std::optional<double> last_sync_age;  // nullopt: never synced
    std::optional<double> next_due;       // seconds from now (0: due); nullopt while it runs
    std::optional<RunningSync> running;
    std::optional<SyncResult> last_result;
  };

  std::string instance_id;
  Role role = Role::secondary;
  int nvim_pid = 0;
  std::optional<Primary> primary;
  std::optional<LastSync> last_sync;
  double cooldown_remaining = 0;     // 0: Ready
  std::optional<Interval> interval;  // absent: no state read yet
  std::optional<RunningSync> running_sync;
  std::optional<SyncResult> last_result;
  std::vector<Instance> instances;
  std::vector<Channel> channels;  // in configuration order; empty without channels
  std::string problem;            // why this instance is Uncoordinated, if it is
  std::filesystem::path state_file;
};

struct Events {
  std::function<void(Role before, Role after)> role_changed;
  // A sync should start now: `automatic` (the timer) or `push` (the server
  // reported a change, mail_changed()). The caller calls begin_sync() with
  // that trigger, which checks the rules again under the lock. Fired at most
  // once per due time; fired again at the next heartbeat if no sync began.
  std::function<void(SyncTrigger)> sync_due;
  // A channel of this instance (Config::channels) is due: the caller calls
  // begin_channel_sync() for it. Fired at most once per heartbeat and
  // channel while no sync of this instance runs.
  std::function<void(const std::string& channel)> channel_due;
  // A sync of the fleet started or ended, whoever ran it (SPEC §9), as this
  // instance learned it from the state file (sync_events.h), or this
  // instance's own sync when the file did not record it.
  std::function<void(const SyncEvent&)> sync_event;
  // One warning per problem: a coordination failure forcing Uncoordinated, a
  // corrupt state file moved aside.
  std::function<void(const std::string&)> warning;
  // Decisions, for debug mode: who is primary, role changes, failovers, each
  // sync decision and the cooldown left.
  std::function<void(const std::string&)> debug;
};

class Coordinator {
 public:
  // In the host: an AsioEnvironment on `io` (clock may be null: SystemClock).
  Coordinator(boost::asio::io_context& io, Config config, Identity identity,
              std::shared_ptr<const Clock> clock, Events events);
  // On any environment (the simulator's, the virtual-time tests').
  Coordinator(std::unique_ptr<Environment> environment, Config config, Identity identity,
              Events events);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  void start();

  struct SyncGrant {
    bool granted = false;
    std::string reason;  // why not, or what kind of sync it is
  };
  // Atomically (under the lock) checks the rules and records the start:
  // automatic needs the primary role, the schedule and the cooldown; manual
  // ignores role and cooldown. Both are refused while a sync runs anywhere.
  // The caller must call end_sync() exactly once after a granted sync.
  SyncGrant begin_sync(SyncTrigger trigger);
  // Records the sync command's process (pid and start time) in the running
  // sync, once it is spawned. Then another instance on this host and boot
  // sees the sync as over as soon as that process has exited, even if this
  // instance is frozen before it can call end_sync(). Without it, a frozen
  // instance's sync blocks every other until sync_timeout.
  void sync_process_started(int pid);
  // Records the end of this instance's sync with its outcome, and how many
  // messages it added to the local Maildirs when the caller could tell.
  void end_sync(SyncOutcome outcome, const std::string& message,
                std::optional<int> new_messages = std::nullopt);

  // Channels (Config::channels): the same three steps for one channel. The
  // grant checks, under the lock, that this instance owns the channel, that
  // it is due and idle, that fewer than max_parallel channels run, and that
  // no sync of this instance runs.
  SyncGrant begin_channel_sync(const std::string& channel);
  void channel_process_started(const std::string& channel, int pid);
  void end_channel_sync(const std::string& channel, SyncOutcome outcome, const std::string& message,
                        std::optional<int> new_messages = std::nullopt);

  // Push (SPEC §10): the primary's IMAP IDLE watcher saw the server's mailbox
  // change. A push sync becomes due (sync_due(push)) as check_push_sync()
  // allows: at once, or push_min_gap after the last sync start, or once the
  // running sync has ended (one follow-up for every change meanwhile). Ignored
  // unless this instance is primary.
  void mail_changed();
  // The same with sync.channels (SPEC §11): the change was in a mailbox that
  // `channels` cover (the host finds them in the mbsync configuration). Each
  // one is marked in the state file (ChannelRecord::pushed), and its owner,
  // woken by the doorbell, syncs it as a push sync. Ignored unless this
  // instance is primary.
  void mail_changed(const std::vector<std::string>& channels);

  // Away (SPEC §11, away.h). input(): Neovim had a key, mouse or focus
  // event now (the host also calls it once at start, which turns presence
  // tracking on; without any call the instance never counts as away). When
  // this instance's record says it is away, the record is written at once, so
  // the primary learns within milliseconds and a catch-up sync can start.
  // session_away(): the desktop session turned idle or locked (true) or back
  // (false); written at once.
  void input();
  void session_away(bool away);

  // VimSuspend: give up the primary role now and stop contending.
  void release();
  // VimResume: contend again.
  void resume();
  // Clean exit: hand the role over at once. If a sync of this instance is
  // still recorded as running, it is recorded as cancelled first (the caller
  // should have ended or killed it). Cancels timers and watches; afterwards
  // every method is a no-op.
  void stop();

  Status status() const;
  Role role() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace himalaya::coordinator
