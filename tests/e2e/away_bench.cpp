// away-bench: what watching input for Away (SPEC §11) costs Neovim per key.
// Not a test: no pass/fail.
//
// Three headless Neovims in the same run: one with the plugin disabled
// (vim.g.himalaya_coord_disable), one with the plugin and its host but
// sync.away off, and one with sync.away on (vim.on_key watches the keys:
// presence.lua). Each round sends each of them, in turn, one nvim_input of 10,000 keys (`i`, 9,998
// letters, <Esc>) into an empty buffer and times it until the line holds the letters and Neovim is
// back in Normal mode (polled over RPC; the same for both). Prints the median over the rounds for
// each, the ratio to the first, and the difference per key. Usage: away-bench [rounds=9]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <msgpack.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/fleet.h"

namespace himalaya::e2e {
namespace {

constexpr int letters = 9998;

FleetOptions options_with(FleetOptions o, double after) {
  o.away = testing::AwaySetup{after, 3600};
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Seconds from the nvim_input call until the keys are processed; < 0 on failure.
double type_keys(NvimProcess& nvim) {
  nvim.lua("vim.cmd('enew!')");
  const std::string keys = "i" + std::string(letters, 'a') + "<Esc>";
  msgpack::sbuffer params;
  msgpack::packer<msgpack::sbuffer> pk(params);
  pk.pack_array(1);
  pk.pack(keys);
  const auto start = std::chrono::steady_clock::now();
  auto r = nvim.call("nvim_input", params, 10s);
  if (!r) {
    std::fprintf(stderr, "away-bench: nvim_input failed: %s\n", r.error().message.c_str());
    return -1;
  }
  const std::string done =
      "return vim.api.nvim_get_mode().mode == 'n' and "
      "#vim.api.nvim_get_current_line() == " +
      std::to_string(letters);
  while (!nvim.lua_bool(done)) {
    if (std::chrono::steady_clock::now() - start > 30s) {
      std::fprintf(stderr, "away-bench: the keys were not processed within 30 s\n");
      return -1;
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run(int rounds) {
  FleetOptions options;
  options.auto_sync = false;
  Fleet with_away;
  Fleet without_away;  // after = false: no vim.on_key
  if (!with_away.start(1, options_with(options, 900)) ||
      !without_away.start(1, options_with(options, 0))) {
    std::fprintf(stderr, "away-bench: a Neovim with the plugin did not start\n");
    return 1;
  }
  TestHome bare_home;
  bare_home.write_init("vim.g.himalaya_coord_disable = true\n");
  NvimProcess bare(bare_home);
  std::vector<double> times[3];
  NvimProcess* nvims[3] = {&bare, &without_away.nvim(0), &with_away.nvim(0)};
  for (int i = 0; i < rounds + 1; ++i) {  // the first round warms up and is dropped
    // Past presence.lua's 2 s window, so that each round's first key finds
    // the vim.on_key callback registered and pays for the notification.
    std::this_thread::sleep_for(2100ms);
    for (int k = 0; k < 3; ++k) {
      const double t = type_keys(*nvims[k]);
      if (t < 0) {
        return 1;
      }
      if (i > 0) {
        times[k].push_back(t);
      }
    }
  }
  const double m0 = median(times[0]);
  std::printf("nvim_input of %d keys, median of %d rounds (each round: the three in turn):\n",
              letters + 2, rounds);
  const char* names[3] = {"without the plugin", "with the plugin, sync.away.after = false",
                          "with the plugin, sync.away on (vim.on_key)"};
  for (int k = 0; k < 3; ++k) {
    const double m = median(times[k]);
    std::printf("  %-44s %8.2f ms  ratio %.3f  %+.3f us per key\n", names[k], 1e3 * m, m / m0,
                1e6 * (m - m0) / (letters + 2));
  }
  return 0;
}

}  // namespace
}  // namespace himalaya::e2e

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  return himalaya::e2e::run(rounds);
}
