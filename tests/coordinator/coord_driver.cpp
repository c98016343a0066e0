// coord-driver: one Coordinator on an io_context, for the multi-process tests
// and the benchmark. Not installed; built only with the tests.
//
// Events are printed to stdout, one line each, flushed at once:
//   ready <id> <host pid> <role> <mono>
//   role <id> <role> <wall> <mono>
//   sync-start <id> <wall> <mono> <recorded start, wall> | sync-denied <id> <reason> |
//   sync-end <id> <wall>
//   warning <id> <text> | debug <id> <text> (with --debug)
//   exit <id>
// where mono is CLOCK_MONOTONIC seconds, comparable across processes.
// Signals: SIGTERM/SIGINT stop() (handover) and exit 0; SIGUSR1 release();
// SIGUSR2 resume(); SIGHUP begin_sync(manual); SIGWINCH arms a freeze: the
// next state-file write, with the lock held and just before the rename that
// publishes it, prints
//   stop-in-lock <id> <mono>
// and SIGSTOPs the driver, a host frozen in the middle of an update.
//
// --increment N instead does N read-modify-write increments of the key
// "counter" through StateFile::update, checking a lockless read after each,
// and prints every lock hold time (holds <us> <us> ...), then
//   increment <done> <errors> <torn reads> <hold p50 us> <p99 us> <max us>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "coordinator/coordinator.h"
#include "coordinator/lock_holder.h"
#include "coordinator/state_file.h"

namespace hc = himalaya::coordinator;

namespace {

void say(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// Set by SIGWINCH (on the io_context's thread), read by the before-publish hook.
bool freeze_armed = false;
std::string freeze_id;

void freeze_if_armed() {
  if (freeze_armed) {
    freeze_armed = false;
    say("stop-in-lock " + freeze_id + " " + num(hc::SystemClock{}.monotonic()));
    ::raise(SIGSTOP);
  }
}

int run_increments(const hc::Config& config, int n) {
  hc::StateFile file(config.state_file, hc::StateFile::Options{1 << 20, 30.0}, nullptr);
  int done = 0;
  int errors = 0;
  int torn = 0;
  std::vector<double> holds;
  for (int i = 0; i < n; ++i) {
    auto u = file.update([](hc::State& s) {
      auto it = s.extra.find("counter");
      long value = it == s.extra.end() ? 0 : std::strtol(it->second.c_str(), nullptr, 10);
      s.extra["counter"] = std::to_string(value + 1);
      return true;
    });
    if (!u) {
      ++errors;
      say("error " + one_line(u.error().message));
      continue;
    }
    if (u.value().moved_aside) {
      ++torn;  // the file was found corrupt under the lock
    }
    ++done;
    holds.push_back(u.value().lock_held * 1e6);
    auto r = file.read();
    if (!r) {
      ++torn;
    }
  }
  std::string all = "holds";
  for (double h : holds) {
    all += " " + std::to_string(static_cast<long long>(h));
  }
  say(all);
  std::sort(holds.begin(), holds.end());
  auto at = [&](double q) {
    return holds.empty()
               ? 0.0
               : holds[std::min(holds.size() - 1,
                                static_cast<std::size_t>(q * static_cast<double>(holds.size())))];
  };
  say("increment " + std::to_string(done) + " " + std::to_string(errors) + " " +
      std::to_string(torn) + " " + num(at(0.5)) + " " + num(at(0.99)) + " " +
      num(holds.empty() ? 0 : holds.back()));
  return errors == 0 && torn == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  hc::Config config;
  config.timings.heartbeat_interval = 0.05;
  config.timings.takeover_threshold = 0.3;
  config.timings.interval = 3600;
  config.timings.sync_cooldown = 1;
  config.timings.startup_delay = 0.05;
  config.timings.sync_timeout = 10;
  double sync_duration = 0.05;
  int increments = -1;
  bool debug = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "coord-driver: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--state") {
      config.state_file = next();
    } else if (a == "--heartbeat") {
      config.timings.heartbeat_interval = std::stod(next());
    } else if (a == "--threshold") {
      config.timings.takeover_threshold = std::stod(next());
    } else if (a == "--interval") {
      config.timings.interval = std::stod(next());
    } else if (a == "--cooldown") {
      config.timings.sync_cooldown = std::stod(next());
    } else if (a == "--startup-delay") {
      config.timings.startup_delay = std::stod(next());
    } else if (a == "--sync-timeout") {
      config.timings.sync_timeout = std::stod(next());
    } else if (a == "--lock-timeout") {
      config.timings.lock_timeout = std::stod(next());
    } else if (a == "--sync-duration") {
      sync_duration = std::stod(next());
    } else if (a == "--no-auto") {
      config.auto_sync = false;
    } else if (a == "--disabled") {
      config.enabled = false;
    } else if (a == "--debug") {
      debug = true;
    } else if (a == "--increment") {
      increments = std::stoi(next());
    } else {
      std::fprintf(stderr, "coord-driver: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (config.state_file.empty()) {
    std::fprintf(stderr, "coord-driver: --state is required\n");
    return 2;
  }
  if (increments >= 0) {
    return run_increments(config, increments);
  }

  auto clock = std::make_shared<hc::SystemClock>();
  hc::Identity identity =
      hc::make_identity(static_cast<int>(::getpid()), "coord-driver", *clock, hc::ProcProbe{});
  const std::string id = identity.instance_id;
  boost::asio::io_context io;
  boost::asio::steady_timer sync_timer(io);
  std::unique_ptr<hc::Coordinator> coordinator;

  hc::Events events;
  events.role_changed = [&](hc::Role, hc::Role after) {
    say("role " + id + " " + hc::to_string(after) + " " + num(clock->wall()) + " " +
        num(clock->monotonic()));
  };
  events.warning = [&](const std::string& w) { say("warning " + id + " " + one_line(w)); };
  if (debug) {
    events.debug = [&](const std::string& d) { say("debug " + id + " " + one_line(d)); };
  }
  auto run_sync = [&](hc::SyncTrigger trigger) {
    auto grant = coordinator->begin_sync(trigger);
    if (!grant.granted) {
      say("sync-denied " + id + " " + one_line(grant.reason));
      return;
    }
    const auto last = coordinator->status().last_sync;
    say("sync-start " + id + " " + num(clock->wall()) + " " + num(clock->monotonic()) + " " +
        num(last ? last->time : clock->wall()));
    sync_timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(sync_duration)));
    sync_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) {
        return;
      }
      coordinator->end_sync(hc::SyncOutcome::ok, "");
      say("sync-end " + id + " " + num(clock->wall()));
    });
  };
  events.sync_due = [&](hc::SyncTrigger trigger) { run_sync(trigger); };

  coordinator = std::make_unique<hc::Coordinator>(io, config, identity, clock, events);

  boost::asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  stop_signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) {
      return;
    }
    sync_timer.cancel();
    coordinator->stop();
    io.stop();
  });
  freeze_id = id;
  hc::set_before_publish_hook(freeze_if_armed);
  boost::asio::signal_set control(io, SIGUSR1, SIGUSR2, SIGHUP);
  control.add(SIGWINCH);
  std::function<void()> arm_control = [&] {
    control.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) {
        return;
      }
      if (sig == SIGUSR1) {
        coordinator->release();
      } else if (sig == SIGUSR2) {
        coordinator->resume();
      } else if (sig == SIGWINCH) {
        freeze_armed = true;
      } else {
        run_sync(hc::SyncTrigger::manual);
      }
      arm_control();
    });
  };
  arm_control();

  coordinator->start();
  say("ready " + id + " " + std::to_string(::getpid()) + " " + hc::to_string(coordinator->role()) +
      " " + num(clock->monotonic()));
  io.run();
  coordinator.reset();
  say("exit " + id);
  return 0;
}
