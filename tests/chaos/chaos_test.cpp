// The chaos test: a fleet of real Neovims and hosts under a seeded random
// schedule of faults; tests/chaos/chaos.h says what it injects and which
// invariants it checks.
//
// Environment: CHAOS_SEED (the schedule's seed; printed), CHAOS_SECONDS
// (default 60), CHAOS_INSTANCES (M, default 4), CHAOS_VERBOSE=1 (print the
// event log even when everything holds).
#include "tests/chaos/chaos.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/clock.h"

namespace himalaya::chaos {

using testing::mono_now;

namespace {

Settings settings_from_env() {
  Settings s;
  if (const char* seed = std::getenv("CHAOS_SEED")) {
    s.seed = std::stoull(seed);
  } else {
    s.seed = (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  }
  if (const char* seconds = std::getenv("CHAOS_SECONDS")) {
    s.seconds = std::stod(seconds);
  }
  if (const char* instances = std::getenv("CHAOS_INSTANCES")) {
    s.instances = std::max(2, std::stoi(instances));
  }
  const char* verbose = std::getenv("CHAOS_VERBOSE");
  s.verbose = verbose != nullptr && std::string(verbose) == "1";
  return s;
}

}  // namespace

void Chaos::run() {
  std::printf("chaos seed: %llu (rerun with CHAOS_SEED=%llu), %.0f s, M = %d\n",
              static_cast<unsigned long long>(settings_.seed),
              static_cast<unsigned long long>(settings_.seed), settings_.seconds,
              settings_.instances);
  std::fflush(stdout);
  for (int i = 0; i < settings_.instances; ++i) {
    if (start_instance() == nullptr) {
      return;
    }
  }
  const double end = mono_now() + settings_.seconds;
  double next_check = mono_now() + uniform(3, 8);
  const std::vector<std::pair<Fault, double>> weights{{Fault::kill_nvim, 2},
                                                      {Fault::kill_host, 2},
                                                      {Fault::stop_short, 3},
                                                      {Fault::stop_long, 2.5},
                                                      {Fault::clean_exit, 1.5}};
  while (mono_now() < end && !::testing::Test::HasFatalFailure()) {
    resume_due();
    poll_restarts();
    if (mono_now() >= next_check) {
      checkpoint("scheduled");
      next_check = mono_now() + uniform(3, 8);
      continue;
    }
    const auto count = static_cast<int>(live_.size());
    if (count < settings_.instances - 1 || (count < settings_.instances && chance(0.5)) ||
        (count == settings_.instances && chance(0.03))) {
      inject(Fault::restart);
    } else {
      double sum = 0;
      for (const auto& w : weights) {
        sum += w.second;
      }
      double r = uniform(0, sum);
      Fault fault = weights.back().first;
      for (const auto& w : weights) {
        if (r < w.second) {
          fault = w.first;
          break;
        }
        r -= w.second;
      }
      inject(fault);
    }
    // Pauses between faults: some none at all, most short, some long.
    const double p = uniform(0, 1);
    const double pause = p < 0.1 ? 0 : p < 0.7 ? uniform(0.05, 0.5) : uniform(0.5, 1.5);
    idle_until(mono_now() + pause);
  }
  checkpoint("final");
  shut_down();
  check_records();
}

namespace {

TEST(Chaos, RandomFaultsKeepTheInvariants) {
  Chaos chaos(settings_from_env(), Timing{});
  chaos.run();
}

}  // namespace
}  // namespace himalaya::chaos
