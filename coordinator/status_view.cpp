#include "coordinator/status_view.h"

#include <algorithm>

#include "coordinator/interval.h"

namespace himalaya::coordinator {

Status make_status(const StatusInputs& in, const Now& now) {
  Status st;
  const Timings& t = in.config.timings;
  st.instance_id = in.identity.instance_id;
  st.role = in.role;
  st.nvim_pid = in.identity.nvim_pid;
  st.problem = in.problem;
  st.state_file = in.config.state_file;
  if (in.view != nullptr) {
    const State& s = *in.view;
    if (s.primary) {
      Status::Primary p;
      p.instance_id = s.primary->instance_id;
      p.pid = s.primary->pid;
      p.heartbeat_age = in.memory.seen.lease_age(now.mono).value_or(0);
      p.active = p.heartbeat_age <= t.takeover_threshold;
      st.primary = p;
    }
    if (s.last_sync_time > 0) {
      const double age = in.memory.last_sync.peek(s.last_sync_time, now.wall, now.boot);
      st.last_sync = Status::LastSync{s.last_sync_time, age, s.last_sync_instance};
      st.cooldown_remaining = std::max(0.0, t.sync_cooldown - age);
    }
    if (s.running_sync) {
      st.running_sync =
          Status::RunningSync{s.running_sync->instance_id, s.running_sync->started,
                              in.memory.running.peek(s.running_sync->started, now.wall, now.mono)};
    }
    const IntervalChoice interval = choose_interval(s, t, now.wall);
    st.interval = Status::Interval{interval.seconds, to_string(interval.reason)};
    st.last_result = s.last_result;
    for (const auto& [id, r] : s.instances) {
      Status::Instance i;
      i.instance_id = id;
      i.primary = s.primary && s.primary->instance_id == id;
      i.released = r.released;
      i.hostname = r.hostname;
      i.nvim_pid = r.nvim_pid;
      i.host_pid = r.host_pid;
      i.heartbeat_age =
          id == in.identity.instance_id ? 0 : in.memory.seen.instance_age(id, now.mono).value_or(0);
      st.instances.push_back(std::move(i));
    }
    st.channels = channel_status(s, in.config.channels, in.channel_memory, t, now);
  } else if (in.own_last_boot) {
    const double age = now.boot - *in.own_last_boot;
    st.last_sync = Status::LastSync{now.wall - age, age, in.identity.instance_id};
  }
  if (in.own_sync && !st.running_sync) {
    st.running_sync = Status::RunningSync{in.identity.instance_id, in.own_sync->started,
                                          now.wall - in.own_sync->started};
  }
  return st;
}

std::vector<Status::Channel> channel_status(const State& s, const ChannelSettings& settings,
                                            const ChannelMemory* memory, const Timings& timings,
                                            const Now& now) {
  std::vector<Status::Channel> out;
  for (const ChannelSpec& spec : settings.specs) {
    Status::Channel c;
    c.name = spec.name;
    c.interval = spec.interval;
    auto it = s.channels.find(spec.name);
    if (it == s.channels.end()) {
      out.push_back(std::move(c));
      continue;
    }
    const ChannelRecord& r = it->second;
    c.owner = r.owner;
    c.last_result = r.last_result;
    auto age_of = [&](const std::map<std::string, SyncClock>* clocks, double stamp, double base) {
      if (clocks != nullptr) {
        if (auto clock = clocks->find(spec.name); clock != clocks->end()) {
          return clock->second.peek(stamp, now.wall, base);
        }
      }
      return std::max(0.0, now.wall - stamp);
    };
    if (r.last_sync_time > 0) {
      c.last_sync_age = age_of(memory ? &memory->last_sync : nullptr, r.last_sync_time, now.boot);
    }
    if (r.running) {
      c.running = Status::RunningSync{
          r.running->instance_id, r.running->started,
          age_of(memory ? &memory->running : nullptr, r.running->started, now.mono)};
    } else if (!c.last_sync_age) {
      c.next_due = 0;
    } else {
      c.next_due = std::max({0.0, spec.interval - *c.last_sync_age,
                             channel_cooldown(spec, timings) - *c.last_sync_age});
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace himalaya::coordinator
