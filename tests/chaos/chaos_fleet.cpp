#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/chaos/chaos.h"
#include "tests/chaos/chaos_records.h"
#include "tests/support/clock.h"
#include "tests/support/files.h"
#include "tests/support/host_setup.h"
#include "tests/support/shared_state.h"
#include "tests/support/wait.h"

namespace himalaya::chaos {

using testing::mono_now;
using testing::process_gone;
using testing::wait_until;
using testing::wall_now;
using namespace std::chrono_literals;

using testing::lua_quote;

std::string Chaos::init_lua(std::size_t i, double sync_seconds) const {
  const std::string script = std::string(HIMALAYA_SOURCE_DIR) + "/tests/chaos/chaos_sync.sh";
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", sync_seconds);
  testing::HostSetup setup = fleet_.host_setup(i);
  setup.debug = true;
  setup.auto_sync = true;
  setup.interval = timing_.interval;
  setup.startup_delay = timing_.startup_delay;
  setup.command = "{'/bin/bash', " + lua_quote(script) + ", " + lua_quote(sync_log().string()) +
                  ", " + lua_quote(state_file().string()) + ", " +
                  lua_quote(testing::NvimFleet::label(i)) + ", " + lua_quote(seconds) + "}";
  setup.timeout = timing_.sync_timeout;
  setup.heartbeat_interval = timing_.heartbeat_interval;
  setup.takeover_threshold = timing_.takeover_threshold;
  setup.sync_cooldown = timing_.sync_cooldown;
  std::ostringstream lua;
  lua << "local notes_path = " << lua_quote(notes_file(i).string()) << "\n"
      << "vim.notify = function(msg, level)\n"
         "  local s, us = vim.loop.gettimeofday()\n"
         "  local f = io.open(notes_path, 'a')\n"
         "  if f then\n"
         "    f:write(string.format('%d.%06d %s %s\\n', s, us, tostring(level),\n"
         "      (tostring(msg):gsub('\\n', ' '))))\n"
         "    f:close()\n"
         "  end\n"
         "end\n"
      << testing::setup_lua(setup);
  return lua.str();
}

Instance* Chaos::start_instance() {
  auto inst = std::make_unique<Instance>();
  // Most syncs are short; some outlast the cooldown and even the interval.
  inst->sync_seconds = chance(0.25) ? uniform(1.0, 1.4) : uniform(0.05, 0.4);
  inst->index = fleet_.add([&](std::size_t i) { return init_lua(i, inst->sync_seconds); });
  inst->nvim = &fleet_.nvim(inst->index);
  // Waited for in short steps, so that stopped instances resume on time: a
  // host frozen while it holds the state file's lock delays every other
  // host's start (each waits for the lock, up to 1.5 s at a time).
  bool ready = false;
  const double deadline = mono_now() + 20;
  while (!ready && mono_now() < deadline) {
    ready = fleet_.wait_ready(inst->index, 50ms);
    resume_due();
  }
  if (!ready) {
    ADD_FAILURE() << inst->label() << ": the host did not become ready";
    fleet_.mark_gone(inst->index);
    retired_.push_back(std::move(inst));
    return nullptr;
  }
  inst->id = fleet_.instance_id(inst->index);
  inst->host_pid = fleet_.query_host_pid(inst->index);
  event("started " + inst->label() + " (" + inst->id + ", host " + std::to_string(inst->host_pid) +
        ", syncs take " + fixed(inst->sync_seconds, 2) + " s)");
  live_.push_back(std::move(inst));
  return live_.back().get();
}

void Chaos::retire(std::size_t index) {
  fleet_.mark_gone(live_.at(index)->index);
  retired_.push_back(std::move(live_.at(index)));
  live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(index));
}

std::size_t Chaos::index_of(const Instance* inst) const {
  for (std::size_t i = 0; i < live_.size(); ++i) {
    if (live_[i].get() == inst) {
      return i;
    }
  }
  return live_.size();
}

// SPEC §8: a host exits within a second of its channel closing. Under load and
// ASan that second stretches; 10 s is the bound asserted, and the longest
// time seen is printed.
void Chaos::wait_hosts_gone(const std::vector<pid_t>& hosts, const std::string& what) {
  const double started = mono_now();
  for (pid_t host : hosts) {
    EXPECT_TRUE(wait_until([&] { return process_gone(host); }, 10s))
        << what << ": host " << host << " still runs 10 s later";
  }
  longest_host_exit_ = std::max(longest_host_exit_, mono_now() - started);
}

void Chaos::resume(Instance& inst) {
  testing::signal_child_of(inst.nvim->pid(), inst.host_pid, SIGCONT);
  inst.nvim->kill(SIGCONT);
  inst.stopped = false;
  event("SIGCONT " + inst.label() + " after " + fixed(mono_now() - inst.stopped_at) + " s");
}

void Chaos::resume_due() {
  for (auto& inst : live_) {
    if (inst->stopped && mono_now() >= inst->resume_at) {
      resume(*inst);
    }
  }
}

// A killed host is back once the Neovim reports a ready host with a new pid.
void Chaos::poll_restarts() {
  for (std::size_t i = 0; i < live_.size(); ++i) {
    Instance& inst = *live_[i];
    if (!inst.restart_pending || inst.stopped) {
      continue;
    }
    pid_t pid = fleet_.query_host_pid(inst.index);
    if (pid > 0 && pid != inst.killed_host) {
      inst.host_pid = pid;
      inst.restart_pending = false;
      event(inst.label() + ": host restarted as " + std::to_string(pid) + " after " +
            fixed(mono_now() - inst.host_killed_at) + " s");
    } else if (mono_now() - inst.host_killed_at > 20) {
      ADD_FAILURE() << inst.label() << ": the Lua side did not restart the host within 20 s";
      violation(inst.label() + ": host not restarted within 20 s");
      kill_nvim(inst);
      --i;
    }
  }
}

void Chaos::wait_restarts() {
  auto pending = [&] {
    return std::any_of(live_.begin(), live_.end(),
                       [](const auto& inst) { return inst->restart_pending; });
  };
  while (pending()) {
    poll_restarts();
    if (pending()) {
      std::this_thread::sleep_for(20ms);
    }
  }
}

// Waits until `until`, resuming stopped instances on time.
void Chaos::idle_until(double until) {
  while (true) {
    resume_due();
    double now = mono_now();
    if (now >= until) {
      return;
    }
    double next = until;
    for (const auto& inst : live_) {
      if (inst->stopped) {
        next = std::min(next, inst->resume_at);
      }
    }
    sleep_for_seconds(next - now);
  }
}

Instance* Chaos::primary_instance() {
  auto id = testing::primary_in_state_file(state_file());
  if (!id) {
    return nullptr;
  }
  for (auto& inst : live_) {
    if (inst->id == *id) {
      return inst.get();
    }
  }
  return nullptr;
}

}  // namespace himalaya::chaos
