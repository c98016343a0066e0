// Numbers, not a test: how long a new_messages snapshot takes on a
// 10,000-message Maildir (one INBOX, and the same spread over 20 folders),
// median of 51 runs with a warm page cache. The snapshot runs twice around
// every sync, so this is its whole cost to the host.
//
//   build/tests/mbsync/maildir-count-bench
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "mbsync/maildir_count.h"
#include "tests/support/files.h"

namespace {

namespace fs = std::filesystem;
using himalaya::mbsync::MaildirRoot;
using himalaya::mbsync::MaildirSnapshot;

constexpr int total_messages = 10000;
constexpr int runs = 51;

void make_folder(const fs::path& folder, int first, int count) {
  for (const char* sub : {"cur", "new", "tmp"}) {
    fs::create_directories(folder / sub);
  }
  for (int i = first; i < first + count; ++i) {
    // The shape of an mbsync-written name: time.pid_serial.host,U=uid:2,flags.
    const std::string base = "17000" + std::to_string(10000 + i) + ".12345_" + std::to_string(i) +
                             ".laptop,U=" + std::to_string(i + 1);
    const bool unseen = i % 100 == 0;
    himalaya::testing::spit(unseen ? folder / "new" / base : folder / "cur" / (base + ":2,S"), "");
  }
}

double thread_cpu_ms() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Medians {
  double wall_ms;
  double cpu_ms;  // the thread's own CPU time: what the wall time is on an idle machine
};

template <class F>
Medians medians(F&& f) {
  std::vector<double> wall;
  std::vector<double> cpu;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = thread_cpu_ms();
    f();
    cpu.push_back(thread_cpu_ms() - cpu_start);
    wall.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return Medians{wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

void measure(const char* label, const fs::path& root) {
  const std::vector<MaildirRoot> roots{{root.string(), ""}};
  MaildirSnapshot last;
  const Medians snap = medians([&] { last = himalaya::mbsync::snapshot(roots); });
  std::size_t added = 0;
  const Medians diff = medians([&] { added = himalaya::mbsync::new_messages(last, last); });
  std::printf(
      "%-12s %zu messages in %2zu folders: snapshot median %.2f ms (CPU %.2f ms), "
      "new_messages median %.3f ms (CPU %.3f ms)\n",
      label, last.unique_names.size(), last.folders, snap.wall_ms, snap.cpu_ms, diff.wall_ms,
      diff.cpu_ms);
  if (added != 0) {
    std::printf("  unexpected: %zu new between equal snapshots\n", added);
  }
}

}  // namespace

int main() {
  himalaya::testing::TempDir dir("maildir-bench-");
  make_folder(dir.path() / "one" / "INBOX", 0, total_messages);
  for (int f = 0; f < 20; ++f) {
    make_folder(dir.path() / "spread" / ("folder" + std::to_string(f)), f * (total_messages / 20),
                total_messages / 20);
  }
  measure("one INBOX:", dir.path() / "one");
  measure("20 folders:", dir.path() / "spread");
  return 0;
}
