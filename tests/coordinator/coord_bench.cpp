// coord-bench: prints the coordinator's numbers. Not a test: no pass/fail.
//   1. failover time after SIGKILL of the primary (pidfd path), fleet of 4
//   2. failover time after a clean exit (SIGTERM: stop() hands over)
//   3. lock hold time, 100 processes x 100 read-modify-writes on a state file
//      holding 100 instance records (the size a 100-instance fleet writes)
//   4. one uncontended update, for reference
// Usage: coord-bench [rounds=50] [state dir=a new temporary directory]
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "coordinator/state_file.h"
#include "test_support.h"
#include "tests/support/clock.h"
#include "tests/support/driver_fleet.h"

namespace hc = himalaya::coordinator;
using himalaya::testing::Driver;
using himalaya::testing::DriverFleet;
using himalaya::testing::mono_now;
using himalaya::testing::percentile;

namespace {

// Failover by pidfd does not depend on the heartbeat; a 1 s heartbeat keeps
// the fleet's own fsyncs from saturating the disk during the measurement (at
// 0.05 s, four instances fsync ~160 times a second).
std::vector<std::string> fast = {"--heartbeat", "1", "--threshold", "10", "--no-auto"};

void report(const char* what, const std::vector<double>& seconds) {
  std::printf("%-44s n=%-3zu median %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", what, seconds.size(),
              1e3 * percentile(seconds, 0.5), 1e3 * percentile(seconds, 0.99),
              1e3 * percentile(seconds, 1.0));
  std::fflush(stdout);
}

std::vector<double> failovers(const std::filesystem::path& state, int rounds, int sig) {
  DriverFleet fleet(COORD_DRIVER_PATH, state);
  for (int i = 0; i < 4; ++i) {
    fleet.spawn(fast);
  }
  std::vector<double> out;
  if (!fleet.wait_until([&] { return fleet.agreed(); }, 30)) {
    std::printf("fleet did not agree\n");
    return out;
  }
  for (int r = 0; r < rounds; ++r) {
    Driver* old = fleet.primaries().at(0);
    const double t0 = mono_now();
    ::kill(old->pid(), sig);
    Driver* successor = nullptr;
    bool ok = fleet.wait_until(
        [&] {
          for (Driver* d : fleet.alive()) {
            if (d != old && d->role == "primary" && d->role_mono >= t0) {
              successor = d;
              return true;
            }
          }
          return false;
        },
        20);
    if (!ok) {
      std::printf("round %d: no takeover\n", r);
      return out;
    }
    out.push_back(successor->role_mono - t0);
    if (std::getenv("COORD_BENCH_DEBUG") != nullptr && out.back() > 0.02) {
      std::printf("slow round %d: %.2f ms, killed %s\n", r, 1e3 * out.back(), old->id.c_str());
      for (auto& d : fleet.drivers()) {
        for (const auto& line : d->lines) {
          std::printf("  %s\n", line.c_str());
        }
      }
    }
    fleet.wait_until([&] { return old->eof(); }, 10);
    fleet.reap(*old);
    fleet.spawn(fast);
    if (!fleet.wait_until([&] { return fleet.agreed(); }, 20)) {
      std::printf("round %d: fleet did not agree\n", r);
      return out;
    }
    // Let the new instance settle so every round starts alike.
    const double until = mono_now() + 0.1;
    fleet.wait_until([&] { return mono_now() > until; }, 5);
  }
  return out;
}

void prefill(const std::filesystem::path& state, int instances) {
  hc::StateFile file(state);
  file.update([&](hc::State& s) {
    for (int i = 0; i < instances; ++i) {
      auto id = hc::testing::identity("nvim_1704123456_" + std::to_string(10000 + i), 10000 + i,
                                      1704123456.0 + i);
      id.host.hostname = "bench-host";
      s.instances[id.instance_id] = hc::to_record(id, 1704123456.5, false);
    }
    s.primary = hc::Lease{"nvim_1704123456_10000", 1704123456.5, 20000, "0.9.5"};
    return true;
  });
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 50;
  if (const char* hb = std::getenv("COORD_BENCH_HEARTBEAT")) {
    fast = {"--heartbeat", hb, "--threshold", std::to_string(10 * std::atof(hb)), "--no-auto"};
  }
  if (std::getenv("COORD_BENCH_DEBUG") != nullptr) {
    fast.push_back("--debug");
  }
  std::unique_ptr<hc::testing::TempDir> tmp;
  std::filesystem::path dir;
  if (argc > 2) {
    dir = argv[2];
  } else {
    tmp = std::make_unique<hc::testing::TempDir>();
    dir = tmp->path();
  }
  std::printf("state directory: %s\n", dir.c_str());

  report("failover after SIGKILL of the primary",
         failovers(dir / "kill" / "sync_coordinator.json", rounds, SIGKILL));
  report("failover after a clean exit (SIGTERM)",
         failovers(dir / "term" / "sync_coordinator.json", rounds, SIGTERM));

  {
    const auto state = dir / "uncontended" / "sync_coordinator.json";
    prefill(state, 100);
    hc::StateFile file(state);
    std::vector<double> holds;
    for (int i = 0; i < 200; ++i) {
      auto u = file.update([](hc::State& s) {
        s.extra["counter"] = std::to_string(s.extra.size());
        return true;
      });
      if (u) {
        holds.push_back(u.value().lock_held);
      }
    }
    report("lock hold, 1 process, 100-record file", holds);
  }

  {
    const auto state = dir / "contended" / "sync_coordinator.json";
    prefill(state, 100);
    DriverFleet fleet(COORD_DRIVER_PATH, state);
    const double t0 = mono_now();
    for (int i = 0; i < 100; ++i) {
      fleet.spawn({"--increment", "100"});
    }
    fleet.wait_until(
        [&] {
          for (auto& d : fleet.drivers()) {
            if (!d->eof()) {
              return false;
            }
          }
          return true;
        },
        300);
    const double took = mono_now() - t0;
    std::vector<double> p50s, p99s, maxes, all;
    int torn = 0, errors = 0, done = 0;
    for (auto& d : fleet.drivers()) {
      fleet.reap(*d);
      for (const auto& line : d->lines) {
        if (line.rfind("holds", 0) == 0) {
          std::istringstream in(line.substr(5));
          for (double us = 0; in >> us;) {
            all.push_back(us * 1e-6);
          }
        }
      }
      int n = 0, e = 0, t = 0;
      double p50 = 0, p99 = 0, max = 0;
      if (!d->lines.empty() &&
          std::sscanf(d->lines.back().c_str(), "increment %d %d %d %lf %lf %lf", &n, &e, &t, &p50,
                      &p99, &max) == 6) {
        done += n;
        errors += e;
        torn += t;
        p50s.push_back(p50 * 1e-6);
        p99s.push_back(p99 * 1e-6);
        maxes.push_back(max * 1e-6);
      }
    }
    auto r = hc::StateFile(state).read();
    std::printf("100 x 100 increments: %d done, %d errors, %d torn, counter %s, %.1f s\n", done,
                errors, torn,
                r && r.value().extra.count("counter") ? r.value().extra.at("counter").c_str() : "?",
                took);
    report("lock hold, all updates (100 procs)", all);
    report("lock hold p50 per process (100 procs)", p50s);
    report("lock hold p99 per process (100 procs)", p99s);
    report("lock hold max per process (100 procs)", maxes);
  }
  return 0;
}
