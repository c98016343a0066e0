#include "coordinator/sync_events.h"

namespace himalaya::coordinator {
namespace {

SyncEvent started_event(const std::string& instance_id, SyncTrigger trigger, double started) {
  SyncEvent e;
  e.kind = SyncEvent::Kind::started;
  e.instance_id = instance_id;
  e.trigger = trigger;
  e.started = started;
  return e;
}

}  // namespace

void SyncAnnouncer::remember(std::optional<Key>& slot, const Key& key) {
  if (!older(key, slot)) {
    slot = key;
  }
}

void SyncAnnouncer::announce_done(const SyncResult& result, bool start_announced,
                                  std::vector<SyncEvent>& out) {
  const Key key{result.instance_id, result.started};
  if (!start_announced && started_ != key) {
    out.push_back(started_event(result.instance_id, result.trigger, result.started));
    remember(started_, key);
  }
  SyncEvent e = started_event(result.instance_id, result.trigger, result.started);
  e.kind = SyncEvent::Kind::done;
  e.outcome = result.outcome;
  e.duration = result.ended > result.started ? result.ended - result.started : 0;
  e.message = result.message;
  e.new_messages = result.new_messages;
  out.push_back(std::move(e));
  remember(done_, key);
}

std::vector<SyncEvent> SyncAnnouncer::observe(const State& view) {
  std::vector<SyncEvent> out;
  if (!primed_) {
    primed_ = true;
    if (view.last_result) {
      done_ = Key{view.last_result->instance_id, view.last_result->started};
      started_ = done_;
    }
  } else if (view.last_result) {
    const Key key{view.last_result->instance_id, view.last_result->started};
    if (key != done_ && !older(key, done_) && !older(key, started_)) {
      announce_done(*view.last_result, false, out);
    }
  }
  if (view.running_sync) {
    const Key key{view.running_sync->instance_id, view.running_sync->started};
    if (key != started_ && key != done_ && !older(key, started_) && !older(key, done_)) {
      out.push_back(started_event(key.instance_id, view.running_sync->trigger, key.started));
      started_ = key;
    }
  }
  return out;
}

std::vector<SyncEvent> SyncAnnouncer::local_started(const SyncRecord& sync) {
  std::vector<SyncEvent> out;
  const Key key{sync.instance_id, sync.started};
  if (key != started_ && key != done_) {
    out.push_back(started_event(sync.instance_id, sync.trigger, sync.started));
    started_ = key;
  }
  return out;
}

std::vector<SyncEvent> SyncAnnouncer::local_done(const SyncResult& result) {
  std::vector<SyncEvent> out;
  if (Key{result.instance_id, result.started} != done_) {
    // This instance announced its own start when it began (from its own
    // write, or local_started()), even if later syncs moved started_ on.
    announce_done(result, true, out);
  }
  return out;
}

DoorbellFacts doorbell_facts(const State& state) {
  DoorbellFacts f;
  if (state.primary) {
    f.primary = state.primary->instance_id;
  }
  if (state.running_sync) {
    f.running.emplace(state.running_sync->instance_id, state.running_sync->started);
  }
  if (state.last_result) {
    f.result.emplace(state.last_result->instance_id, state.last_result->started);
  }
  for (const auto& [id, r] : state.instances) {
    if (r.returned > 0 || r.session_away) {
      f.presence.emplace(id, std::make_pair(r.returned, r.session_away));
    }
  }
  for (const auto& [name, c] : state.channels) {
    f.channels.emplace(name, std::make_pair(c.owner, c.running.has_value()));
  }
  return f;
}

}  // namespace himalaya::coordinator
