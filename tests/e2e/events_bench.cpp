// events-bench: prints the numbers of SPEC §9. Not a test: no pass/fail.
//   1. Delay from a sync's record in the state file to the User autocmd, in
//      each of three Neovims (the primary that ran it and two secondaries),
//      for HimalayaSyncStarted and HimalayaSyncDone: median, p90 and max.
//      The start is the host's own stamp (`started`, taken just before the
//      state file is written, fsynced and renamed), the end is
//      `started + duration` (likewise); the autocmd time is the handler's
//      wall clock. The delay so includes the write itself.
//   2. statusline(): the cost per call, as lualine calls it.
// Usage: events-bench [syncs=20]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/e2e/event_recorder.h"
#include "tests/e2e/fleet.h"

namespace himalaya::e2e {
namespace {

double percentile(std::vector<double> v, double q) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void report(const std::string& what, const std::vector<double>& seconds) {
  std::printf("%-40s n=%-3zu median %7.2f ms  p90 %7.2f ms  max %7.2f ms\n", what.c_str(),
              seconds.size(), 1e3 * percentile(seconds, 0.5), 1e3 * percentile(seconds, 0.9),
              1e3 * percentile(seconds, 1.0));
  std::fflush(stdout);
}

int run(int syncs) {
  FleetOptions options;
  options.interval = 1.0;
  options.sync_cooldown = 0.8;
  options.heartbeat_interval = 0.1;
  options.extra_lua = record_events_lua;
  options.command = "{'/bin/sh', " +
                    lua_quote(std::string(HIMALAYA_SOURCE_DIR) + "/tests/e2e/event_sync.sh") +
                    ", '/nonexistent-mode-file'}";  // missing: ok, after 50 ms
  Fleet fleet;
  if (!fleet.start(3, options)) {
    std::fprintf(stderr, "events-bench: the fleet did not start\n");
    return 1;
  }
  const double ready = wall_now();
  std::string primary = fleet.primary_label();
  std::printf("fleet of 3, heartbeat %.1f s, a sync every %.1f s; %d syncs after all were ready\n",
              options.heartbeat_interval, options.interval, syncs);

  // Wait until every Neovim has fired Done for `syncs` syncs started after `ready`.
  auto count_done = [&](std::size_t i) {
    std::string text = fleet.nvim(i).lua_string(
        "local n = 0 for _, e in ipairs(_G.events) do if e.name == 'HimalayaSyncDone' and "
        "e.data.started > " +
        lua_number(ready) + " then n = n + 1 end end return tostring(n)");
    return std::stoi(text);
  };
  bool all = wait_until(
      [&] {
        for (std::size_t i = 0; i < fleet.size(); ++i) {
          if (count_done(i) < syncs) {
            return false;
          }
        }
        return true;
      },
      std::chrono::milliseconds(static_cast<int>(options.interval * 1000 * (syncs + 5))));
  if (!all) {
    std::fprintf(stderr, "events-bench: not every Neovim saw %d syncs\n", syncs);
    return 1;
  }

  for (std::size_t i = 0; i < fleet.size(); ++i) {
    std::vector<double> started;
    std::vector<double> done;
    for (const Event& e : events_of(fleet.nvim(i))) {
      const double start = e.data.value("started", 0.0);
      if (e.name == "HimalayaRoleChanged" || start <= ready) {
        continue;
      }
      if (e.name == "HimalayaSyncStarted") {
        started.push_back(e.at - start);
      } else {
        done.push_back(e.at - (start + e.data.value("duration", 0.0)));
      }
    }
    const std::string who =
        Fleet::label(i) + (Fleet::label(i) == primary ? " (primary)" : " (secondary)");
    report(who + " HimalayaSyncStarted", started);
    report(who + " HimalayaSyncDone", done);
  }

  // statusline(): a million calls in a loop, in the primary's Neovim, with a
  // sync in its cache (the 'mail 3s' form, which computes an age), then through
  // require() as a lualine component written inline does it.
  const std::size_t p = static_cast<std::size_t>(std::stoi(primary.substr(4)) - 1);
  const std::string per_call =
      "local uv = vim.uv or vim.loop local hc = require('himalaya_coord') "
      "local f = %s local n = 1000000 local t0 = uv.hrtime() local s "
      "for _ = 1, n do s = f() end "
      "return string.format('%%.3f %%s', (uv.hrtime() - t0) / n / 1e3, s)";
  for (const char* f :
       {"hc.statusline", "function() return require('himalaya_coord').statusline() end"}) {
    char code[1024];
    std::snprintf(code, sizeof code, per_call.c_str(), f);
    std::string out = fleet.nvim(p).lua_string(code, 60s);
    std::printf("statusline() via %-62s %s µs per call ('%s')\n", f,
                out.substr(0, out.find(' ')).c_str(), out.substr(out.find(' ') + 1).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace himalaya::e2e

int main(int argc, char** argv) {
  int syncs = argc > 1 ? std::atoi(argv[1]) : 20;
  return himalaya::e2e::run(syncs > 0 ? syncs : 20);
}
