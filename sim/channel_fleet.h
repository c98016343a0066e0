// Channels over simulated days (SPEC §11 "Channels", §13): coord-sim --channels.
//
// Editors open and close in `slots` slots with heavy-tailed lifetimes (most
// for minutes, a few for days); slot 0 is the editor a user keeps open, and
// reopens a few seconds after each close, so some editor is nearly always
// there to run the channels. With faults, editors are also SIGKILLed now and
// then, a sync running or not. Each editor is the real coordinator runtime
// with Config::channels; its stand-in host runs a channel's sync (a process
// of 1 to 15 s) when told the channel is due.
//
// Checked after every grant and exit: a channel's sync goes only to the
// channel's recorded owner; one channel never has two sync processes at once;
// at most max_parallel channel syncs run; starts of one channel are at least
// its cooldown apart. Reported: each channel's syncs against T/interval, the
// channel moves per day (an owner replaced while it had one), how long a
// channel's recorded owner stayed a gone one, and IMAP logins against
// `mbsync -a` every 2 minutes (a channel sync is one login; a run of
// `mbsync -a` one login per account, the most favourable case for it). With
// arrivals, how long mail waits for its channel's sync, with push or without;
// a push sync's start is checked against min_gap instead of the cooldown.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "coordinator/channels.h"
#include "coordinator/timings.h"

namespace himalaya::sim {

struct ChannelOptions {
  std::uint64_t seed = 1;
  int slots = 8;
  double days = 7;
  bool faults = true;
  coordinator::Timings timings;  // the defaults: heartbeat 30 s, cooldown 300 s
  // Six channels from 2 to 60 minutes over two accounts (`account` below).
  coordinator::ChannelSettings channels{{{"inbox", 120},
                                         {"work-inbox", 300},
                                         {"lists", 900},
                                         {"sent", 1800},
                                         {"work-sent", 1800},
                                         {"archive", 3600}},
                                        2};
  std::map<std::string, std::string> account{{"inbox", "home"},      {"lists", "home"},
                                             {"sent", "home"},       {"archive", "home"},
                                             {"work-inbox", "work"}, {"work-sent", "work"}};
  // Mail arriving in each channel's mailboxes (Poisson, per hour and
  // channel; 0: none), and whether push is on: the primary's watcher reports
  // an arrival `push_notify` seconds later (Dovecot's 500 ms), and the
  // covering channel's owner syncs it (Coordinator::mail_changed(channels)).
  double arrivals_per_hour = 0;
  bool push = false;
  double push_notify = 0.5;
  std::ostream* trace = nullptr;
};

struct ChannelRow {
  std::string name;
  double interval = 0;
  std::uint64_t syncs = 0;
  double expected = 0;  // simulated time / interval
};

struct ChannelReport {
  std::vector<ChannelRow> channels;
  std::uint64_t moves = 0;  // owner changes from one instance to another
  // The longest a channel's recorded owner was gone (closed or killed) while
  // another editor was open, to the second (the check runs every second).
  double longest_orphan = 0;
  std::uint64_t editors_opened = 0;
  std::uint64_t kills = 0;
  double covered = 0;                 // share of the time some editor was open
  std::uint64_t logins = 0;           // channel syncs
  std::uint64_t mbsync_a_logins = 0;  // mbsync -a every 2 minutes, one login per account
  std::uint64_t mbsync_a_channel_syncs = 0;
  std::uint64_t arrivals = 0;
  std::vector<double> delays;  // each arrival to the start of its channel's next sync, s
  std::vector<std::string> violations;
};

ChannelReport simulate_channels(const ChannelOptions& options);
void print_channel_report(std::ostream& out, const ChannelOptions& options,
                          const ChannelReport& report);

}  // namespace himalaya::sim
