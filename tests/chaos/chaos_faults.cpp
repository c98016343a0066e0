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
#include "tests/support/shared_state.h"
#include "tests/support/wait.h"

namespace himalaya::chaos {

using testing::mono_now;
using testing::process_gone;
using testing::wait_until;
using testing::wall_now;
using namespace std::chrono_literals;

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::kill_nvim:
      return "SIGKILL Neovim";
    case Fault::kill_host:
      return "SIGKILL host alone";
    case Fault::stop_short:
      return "SIGSTOP < takeover_threshold";
    case Fault::stop_long:
      return "SIGSTOP > takeover_threshold";
    case Fault::clean_exit:
      return "clean exit (:qa!)";
    case Fault::restart:
      return "restart (new Neovim)";
  }
  return "?";
}

std::vector<Instance*> Chaos::eligible(Fault fault) {
  std::vector<Instance*> out;
  const auto stopped =
      std::count_if(live_.begin(), live_.end(), [](const auto& inst) { return inst->stopped; });
  const auto running = static_cast<long>(live_.size()) - stopped;
  for (auto& p : live_) {
    Instance& inst = *p;
    bool ok = false;
    switch (fault) {
      case Fault::kill_nvim:
        ok = live_.size() >= 2;
        break;
      case Fault::kill_host: {
        while (!inst.host_kills.empty() &&
               mono_now() - inst.host_kills.front() > host_kill_window) {
          inst.host_kills.pop_front();
        }
        ok = inst.running() && !inst.restart_pending &&
             static_cast<int>(inst.host_kills.size()) < host_kill_budget;
        break;
      }
      case Fault::stop_short:
      case Fault::stop_long:
        ok = inst.running() && !inst.restart_pending && running >= 2;
        break;
      case Fault::clean_exit:
        ok = inst.running() && live_.size() >= 2;
        break;
      case Fault::restart:
        break;
    }
    if (ok) {
      out.push_back(&inst);
    }
  }
  return out;
}

// Waits (at most two intervals) for the next sync to start, and returns the
// instance that started it if it is still eligible for `fault`.
Instance* Chaos::aim_at_new_sync(Fault fault) {
  std::string label;
  std::size_t seen = testing::slurp(sync_log()).rfind('\n');
  seen = seen == std::string::npos ? 0 : seen + 1;
  const double deadline = mono_now() + 2 * timing_.interval;
  while (label.empty() && mono_now() < deadline) {
    std::string text = testing::slurp(sync_log());
    if (text.size() > seen) {
      std::size_t last_newline = text.rfind('\n');
      if (last_newline != std::string::npos && last_newline + 1 > seen) {
        for (const std::string& line :
             testing::complete_lines(text.substr(seen, last_newline + 1 - seen))) {
          std::istringstream in(line);
          std::string kind;
          std::string pid;
          std::string who;
          if (in >> kind >> pid >> who && kind == "start") {
            label = who;
          }
        }
        seen = last_newline + 1;
      }
    }
    if (label.empty()) {
      resume_due();
      std::this_thread::sleep_for(3ms);
    }
  }
  for (Instance* inst : eligible(fault)) {
    if (inst->label() == label) {
      return inst;
    }
  }
  return nullptr;
}

void Chaos::kill_nvim(Instance& inst) {
  const std::vector<pid_t> hosts = testing::children_named(inst.nvim->pid(), "himalaya-coord");
  // Once Neovim is dead its hosts are no longer its children, so they are
  // held by pidfd to be signalled safely.
  std::vector<testing::PidFd> handles;
  for (pid_t host : hosts) {
    handles.emplace_back(host);
  }
  event("SIGKILL " + inst.label() + (inst.stopped ? " (stopped)" : ""));
  inst.nvim->kill(SIGKILL);
  if (inst.stopped) {
    // A frozen host cannot see its channel close; let it.
    for (const testing::PidFd& host : handles) {
      host.signal(SIGCONT);
    }
    inst.stopped = false;
  }
  EXPECT_TRUE(inst.nvim->wait_exit(10s)) << inst.label() << " did not die of SIGKILL";
  wait_hosts_gone(hosts, inst.label() + " killed");
  retire(index_of(&inst));
}

void Chaos::kill_host(Instance& inst) {
  event("SIGKILL host " + std::to_string(inst.host_pid) + " of " + inst.label());
  testing::signal_child_of(inst.nvim->pid(), inst.host_pid, SIGKILL);
  inst.killed_host = inst.host_pid;
  inst.host_killed_at = mono_now();
  inst.host_kills.push_back(mono_now());
  inst.restart_pending = true;
  const pid_t host = inst.host_pid;
  EXPECT_TRUE(wait_until([&] { return process_gone(host); }, 5s)) << "host " << host;
}

void Chaos::stop(Instance& inst, double seconds, Fault kind) {
  event("SIGSTOP " + inst.label() + " for " + fixed(seconds) + " s (" + fault_name(kind) + ")");
  testing::signal_child_of(inst.nvim->pid(), inst.host_pid, SIGSTOP);
  inst.nvim->kill(SIGSTOP);
  inst.stopped = true;
  inst.stopped_at = mono_now();
  inst.resume_at = inst.stopped_at + seconds;
}

void Chaos::clean_exit(Instance& inst) {
  const std::vector<pid_t> hosts = testing::children_named(inst.nvim->pid(), "himalaya-coord");
  event(":qa! in " + inst.label());
  inst.nvim->command_no_wait("qa!");
  EXPECT_TRUE(inst.nvim->wait_exit(10s)) << inst.label() << " did not exit on :qa!";
  wait_hosts_gone(hosts, inst.label() + " exited");
  retire(index_of(&inst));
}

bool Chaos::inject(Fault fault) {
  if (fault == Fault::restart) {
    if (start_instance() == nullptr) {
      return false;
    }
    ++injected_[fault];
    return true;
  }
  Instance* target = nullptr;
  const bool aim =
      (fault == Fault::kill_host || fault == Fault::stop_short || fault == Fault::stop_long) &&
      chance(1.0 / 3);
  if (aim) {
    target = aim_at_new_sync(fault);
    if (target != nullptr) {
      ++aimed_;
      sleep_for_seconds(uniform(0, 0.12));  // into the sync
      resume_due();
      if (index_of(target) == live_.size() || !target->running()) {
        target = nullptr;
      }
    }
  }
  if (target == nullptr) {
    std::vector<Instance*> candidates = eligible(fault);
    if (candidates.empty()) {
      return false;
    }
    Instance* primary = primary_instance();
    const bool primary_ok = primary != nullptr && std::find(candidates.begin(), candidates.end(),
                                                            primary) != candidates.end();
    target = primary_ok && chance(0.5) ? primary : pick(candidates);
  }
  switch (fault) {
    case Fault::kill_nvim:
      kill_nvim(*target);
      break;
    case Fault::kill_host:
      kill_host(*target);
      break;
    case Fault::stop_short:
      stop(*target, uniform(0.05, 0.5 * timing_.takeover_threshold), fault);
      break;
    case Fault::stop_long:
      stop(*target, uniform(1.5, 4) * timing_.takeover_threshold, fault);
      break;
    case Fault::clean_exit:
      clean_exit(*target);
      break;
    case Fault::restart:
      break;
  }
  ++injected_[fault];
  return true;
}

}  // namespace himalaya::chaos
