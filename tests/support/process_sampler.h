// A background sampler of the process table, for tests that must see every
// run of a short-lived program they do not start themselves (the mbsync runs
// a fleet's hosts spawn): which ran, from which parent, from when until when,
// and which ran at the same time.
//
// A thread reads /proc every `period`. It reads only the stat line of each
// process, and the command line only of those whose command name matches, so
// that a sample stays cheap on a loaded machine. A process is known by its pid
// and its start time (field 22 of /proc/<pid>/stat), so a recycled pid is a
// new process. Zombies do not count as running: a run is over when its
// program exits, even before its parent reaps it. A process whose parent is
// another of the same name running (a fork, as isync 1.5's mbsync makes) is
// part of that run, not a run of its own.
//
// What a sampler cannot promise: a run shorter than the time between two
// samples can be missed. longest_pause() says how long the thread went
// without a sample (it is not scheduled on time on a busy machine), so a test
// can tell a missed run from a run that never happened.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace himalaya::testing {

// One process the sampler saw. Times are wall-clock seconds (wall_now()).
struct SampledProcess {
  pid_t pid = 0;
  std::uint64_t start_ticks = 0;  // field 22 of /proc/<pid>/stat
  pid_t parent = 0;               // its parent when first seen
  std::vector<std::string> argv;  // its command line
  double started = 0;             // its start, from start_ticks (clock-tick resolution)
  double first_seen = 0;
  double last_seen = 0;  // the last sample that found it running
  // The other sampled processes (indices into processes()) found running in
  // the same sample at least once.
  std::vector<std::size_t> seen_with;
};

class ProcessSampler {
 public:
  // Starts sampling processes whose command name (comm) is `comm` and that
  // have `argument` among their arguments (any, if it is empty): other
  // tests' processes of the same name on the machine are not this test's.
  ProcessSampler(std::string comm, std::string argument, std::chrono::milliseconds period);
  // Stops sampling (stop()).
  ~ProcessSampler();
  ProcessSampler(const ProcessSampler&) = delete;
  ProcessSampler& operator=(const ProcessSampler&) = delete;

  // Stops the thread and waits for it; idempotent.
  void stop();
  // Every process seen so far, in the order first seen.
  std::vector<SampledProcess> processes() const;
  // The most processes found running in one sample.
  std::size_t most_at_once() const;
  std::size_t samples() const;
  // The longest time between two consecutive samples, in seconds.
  double longest_pause() const;

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

// A printable list of sampled processes, one a line: the last argument,
// the parent, and the start and last sighting relative to `origin`.
std::string describe(const std::vector<SampledProcess>& processes, double origin);

}  // namespace himalaya::testing
