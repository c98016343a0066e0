#include "coordinator/sync_events.h"

namespace himalaya::coordinator {

SyncEvent SyncTrack::started_event(const std::string& instance_id, SyncTrigger trigger,
                                   double started) const {
  SyncEvent e;
  e.kind = SyncEvent::Kind::started;
  e.instance_id = instance_id;
  e.trigger = trigger;
  e.started = started;
  if (!channel_.empty()) {
    e.channels.push_back(channel_);
  }
  return e;
}

void SyncTrack::remember(std::optional<Key>& slot, const Key& key) {
  if (!older(key, slot)) {
    slot = key;
  }
}

void SyncTrack::announce_done(const SyncResult& result, bool start_announced,
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

void SyncTrack::observe(const std::optional<SyncRecord>& running,
                        const std::optional<SyncResult>& result, std::vector<SyncEvent>& out) {
  if (!primed_) {
    primed_ = true;
    if (result) {
      done_ = Key{result->instance_id, result->started};
      started_ = done_;
    }
  } else if (result) {
    const Key key{result->instance_id, result->started};
    if (key != done_ && !older(key, done_) && !older(key, started_)) {
      announce_done(*result, false, out);
    }
  }
  if (running) {
    const Key key{running->instance_id, running->started};
    if (key != started_ && key != done_ && !older(key, started_) && !older(key, done_)) {
      out.push_back(started_event(key.instance_id, running->trigger, key.started));
      started_ = key;
    }
  }
}

void SyncTrack::local_started(const SyncRecord& sync, std::vector<SyncEvent>& out) {
  const Key key{sync.instance_id, sync.started};
  if (key != started_ && key != done_) {
    out.push_back(started_event(sync.instance_id, sync.trigger, sync.started));
    started_ = key;
  }
}

void SyncTrack::local_done(const SyncResult& result, std::vector<SyncEvent>& out) {
  if (Key{result.instance_id, result.started} != done_) {
    // This instance announced its own start when it began (from its own
    // write, or local_started()), even if later syncs moved started_ on.
    announce_done(result, true, out);
  }
}

std::vector<SyncEvent> SyncAnnouncer::observe(const State& view) {
  std::vector<SyncEvent> out;
  std::optional<SyncResult> whole_result;
  if (view.last_result && view.last_result->channel.empty()) {
    whole_result = view.last_result;
  }
  whole_.observe(view.running_sync, whole_result, out);
  for (const auto& [name, c] : view.channels) {
    auto [it, added] = channels_.try_emplace(name, name);
    if (added && primed_) {
      it->second.prime();
    }
    it->second.observe(c.running, c.last_result, out);
  }
  primed_ = true;
  return out;
}

std::vector<SyncEvent> SyncAnnouncer::local_started(const SyncRecord& sync) {
  std::vector<SyncEvent> out;
  whole_.local_started(sync, out);
  return out;
}

std::vector<SyncEvent> SyncAnnouncer::local_done(const SyncResult& result) {
  std::vector<SyncEvent> out;
  whole_.local_done(result, out);
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
    f.channels.emplace(name, std::make_tuple(c.owner, c.running.has_value(), c.pushed));
  }
  return f;
}

}  // namespace himalaya::coordinator
