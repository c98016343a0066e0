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

}  // namespace himalaya::coordinator
