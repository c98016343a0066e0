// Away (SPEC §11): idle detection, fleet-wide, as pure functions of the state
// and one reading of the wall clock.
//
// An instance is away when its Neovim has had no keys, mouse or focus for
// `sync.away.after` seconds (its record's `last_input`), or when its desktop
// session is idle or locked (`session_away`, from logind). A record without
// `last_input` (an older host) is never away: its user may be typing. Only
// the primary's host reads logind; its `session_away` covers every instance
// on its machine (session_away_on_its_machine()). The
// fleet is away while every instance in `instances` is away; then the
// schedule's interval is `sync.away.interval` (choose_interval()).
//
// Catch-up: the first input after that makes the instance present again, so
// choose_interval() gives `sync.interval` back, and check_automatic_sync()
// finds a sync due at once if the last one started more than an interval ago
// (the cooldown still holds). For that to happen at once, the instance that
// got the input writes its record immediately when it turns from away to
// present, with a new `returned` stamp, which rings the doorbell
// (DoorbellFacts), so the primary re-evaluates within milliseconds.
#pragma once

#include <string>

#include "coordinator/state.h"
#include "coordinator/timings.h"

namespace himalaya::coordinator {

// This instance's own presence, as its host knows it.
struct Presence {
  double last_input = 0;  // wall seconds: the last input, or the start
  bool session_away = false;
};

bool away_enabled(const Timings& timings);

// Is this record away at `wall`?
bool instance_away(const InstanceRecord& record, const Timings& timings, double wall);

// The same for this instance's own presence (before it is written).
bool presence_away(const Presence& presence, const Timings& timings, double wall);

// Whether some record of the same machine (hostname and boot id) says the
// desktop session is idle or locked. Only the primary reads logind
// (host/session_process.h), and the instances on its machine share the
// session it reads, so its `session_away` holds for all of them.
bool session_away_on_its_machine(const State& state, const InstanceRecord& record);

// Every instance of the state is away (and there is at least one): idle for
// `after`, or on a machine whose session is idle or locked.
bool fleet_away(const State& state, const Timings& timings, double wall);

// Writes `presence` into `record` (this instance's own), stamping `returned`
// when the record was away and the presence is not. Returns true when the
// record must be written now rather than at the next heartbeat: it turned
// from away to present, or its session flag changed.
bool apply_presence(InstanceRecord& record, const Presence& presence, const Timings& timings,
                    double wall);

}  // namespace himalaya::coordinator
