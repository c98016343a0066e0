#include "coordinator/channel_transitions.h"

#include <algorithm>

namespace himalaya::coordinator {
namespace {

std::optional<double> since_last(const ChannelRecord& c, ChannelMemory& m, const std::string& name,
                                 const Now& now) {
  if (c.last_sync_time <= 0) {
    return std::nullopt;
  }
  return m.last_sync[name].since(c.last_sync_time, now.wall, now.boot);
}

void keep_latest(std::optional<SyncResult>& slot, const SyncResult& result) {
  if (!slot || slot->started <= result.started) {
    slot = result;
  }
}

}  // namespace

std::vector<ChannelSpec> owned_channels(const State& s, const std::vector<ChannelSpec>& specs,
                                        const std::string& self_id) {
  std::vector<ChannelSpec> mine;
  for (const auto& spec : specs) {
    auto it = s.channels.find(spec.name);
    if (it != s.channels.end() && it->second.owner == self_id) {
      mine.push_back(spec);
    }
  }
  return mine;
}

int running_channels(const State& s) {
  return static_cast<int>(std::count_if(s.channels.begin(), s.channels.end(), [](const auto& c) {
    return c.second.running.has_value();
  }));
}

bool settle_channel_syncs(State& s, ChannelMemory& m, const Self& self,
                          const std::optional<OwnChannelSync>& own, const Now& now, Notes& notes) {
  bool changed = false;
  for (auto& [name, c] : s.channels) {
    if (!c.running || (own && own->name == name && c.running->instance_id == self.id() &&
                       c.running->started == own->started)) {
      continue;  // none, or this instance's own: its end record says how it went
    }
    const SyncRecord& r = *c.running;
    const double age = m.running[name].since(r.started, now.wall, now.mono);
    const RunningVerdict v =
        running_sync_active(r, s, self.identity.host, self.probe, age, self.timings);
    if (v.process_exited) {
      auto [it, added] = m.exit_seen.try_emplace(name, r.started, now.mono);
      if (!added && it->second.first != r.started) {
        it->second = {r.started, now.mono};
      }
      if (now.mono - it->second.second < self.timings.exited_sync_settle_delay()) {
        continue;
      }
    }
    if (v.active) {
      continue;
    }
    notes.push_back("channel " + name + ": sync by " + r.instance_id +
                    " considered over: " + v.reason);
    SyncResult result{r.instance_id, r.started, now.wall, v.outcome, v.reason, r.trigger};
    result.channel = name;
    keep_latest(c.last_result, result);
    keep_latest(s.last_result, result);
    c.running.reset();
    changed = true;
  }
  return changed;
}

bool settle_channels(State& s, const ChannelSettings& settings, const Decision& decision,
                     Notes& notes) {
  if (settings.specs.empty()) {
    return false;
  }
  std::vector<std::string> moved;
  const bool changed = assign_channel_owners(s, settings.specs, decision.candidates, moved);
  for (const auto& move : moved) {
    notes.push_back("channel " + move);
  }
  return changed;
}

ChannelGrant grant_channel_sync(State& s, ChannelMemory& m, const Self& self,
                                const ChannelSpec& spec, int max_parallel, const Now& now) {
  ChannelGrant grant;
  auto it = s.channels.find(spec.name);
  if (it == s.channels.end()) {
    grant.check.block = ChannelBlock::not_owner;
    grant.reason = "channel " + spec.name + " has no record yet";
    return grant;
  }
  ChannelRecord& c = it->second;
  grant.check = check_channel_sync(c, spec, self.id(), since_last(c, m, spec.name, now),
                                   running_channels(s), max_parallel, self.timings);
  if (grant.check.start && s.running_sync) {
    // The whole command (a manual sync) covers every channel.
    grant.check = ChannelCheck{false, ChannelBlock::running, 0};
  }
  grant.reason = "channel " + spec.name + ": " + to_string(grant.check.block);
  if (!grant.check.start) {
    return grant;
  }
  grant.granted = true;
  grant.reason =
      "channel " + spec.name + (grant.check.push ? ": the server reported a change" : " is due");
  c.running = SyncRecord{self.id(), now.wall, self.identity.host_pid};
  c.running->trigger = grant.check.push ? SyncTrigger::push : SyncTrigger::automatic;
  c.running->hostname = self.identity.host.hostname;
  c.running->boot_id = self.identity.host.boot_id;
  c.last_sync_time = now.wall;
  m.last_sync[spec.name].restart(now.wall, now.boot);
  m.running[spec.name].restart(now.wall, now.mono);
  s.last_sync_time = now.wall;
  s.last_sync_instance = self.id();
  return grant;
}

std::vector<int> owner_pids_here(const State& s, const HostFacts& here,
                                 const std::string& self_id) {
  std::vector<int> pids;
  for (const auto& [name, c] : s.channels) {
    auto it = s.instances.find(c.owner);
    if (c.owner == self_id || it == s.instances.end()) {
      continue;
    }
    const InstanceRecord& r = it->second;
    if (r.hostname == here.hostname && r.boot_id == here.boot_id && r.host_pid > 0 &&
        std::find(pids.begin(), pids.end(), r.host_pid) == pids.end()) {
      pids.push_back(r.host_pid);
    }
  }
  return pids;
}

bool record_channel_push(State& s, const std::vector<std::string>& channels, double wall) {
  bool changed = false;
  for (const auto& name : channels) {
    auto it = s.channels.find(name);
    if (it != s.channels.end() && it->second.pushed < wall) {
      it->second.pushed = wall;
      changed = true;
    }
  }
  return changed;
}

bool record_channel_process(State& s, const Self& self, const std::string& channel, double started,
                            int pid, std::uint64_t start_ticks) {
  auto it = s.channels.find(channel);
  if (it == s.channels.end() || !it->second.running ||
      it->second.running->instance_id != self.id() || it->second.running->started != started) {
    return false;  // not its record any more (settled by another instance)
  }
  it->second.running->sync_pid = pid;
  it->second.running->sync_start_ticks = start_ticks;
  return true;
}

bool record_channel_end(State& s, const Self& self, const std::string& channel, SyncResult result) {
  result.channel = channel;
  ChannelRecord& c = s.channels[channel];
  if (c.running && c.running->instance_id == self.id() && c.running->started == result.started) {
    c.running.reset();
  }
  keep_latest(c.last_result, result);
  keep_latest(s.last_result, result);
  return true;
}

namespace {

// check_channel_sync() for each of this instance's channels, in
// configuration order, until `visit` returns false.
template <typename Visit>
void check_owned(const State& s, ChannelMemory& m, const Self& self,
                 const std::vector<ChannelSpec>& specs, int max_parallel, const Now& now,
                 Visit visit) {
  for (const auto& spec : owned_channels(s, specs, self.id())) {
    const ChannelRecord& c = s.channels.at(spec.name);
    const ChannelCheck check =
        check_channel_sync(c, spec, self.id(), since_last(c, m, spec.name, now),
                           running_channels(s), max_parallel, self.timings);
    if (!visit(spec, check)) {
      return;
    }
  }
}

}  // namespace

std::optional<double> next_channel_due(const State& s, ChannelMemory& m, const Self& self,
                                       const std::vector<ChannelSpec>& specs, int max_parallel,
                                       const Now& now) {
  std::optional<double> soonest;
  check_owned(s, m, self, specs, max_parallel, now,
              [&](const ChannelSpec&, const ChannelCheck& check) {
                double wait = 0;
                if (check.block == ChannelBlock::cooldown || check.block == ChannelBlock::not_due) {
                  wait = check.wait;
                } else if (!check.start) {
                  return true;  // running, or max_parallel: an end record rings the next look
                }
                soonest = std::min(soonest.value_or(wait), wait);
                return true;
              });
  return soonest;
}

std::optional<std::string> due_channel(const State& s, ChannelMemory& m, const Self& self,
                                       const std::vector<ChannelSpec>& specs, int max_parallel,
                                       const Now& now) {
  std::optional<std::string> due;
  check_owned(s, m, self, specs, max_parallel, now,
              [&](const ChannelSpec& spec, const ChannelCheck& check) {
                if (check.start) {
                  due = spec.name;
                }
                return !check.start;
              });
  return due;
}

}  // namespace himalaya::coordinator
