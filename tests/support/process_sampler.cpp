#include "tests/support/process_sampler.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "tests/support/clock.h"
#include "tests/support/processes.h"

namespace himalaya::testing {

namespace {

// What one sample reads of a process: its stat line's fields that matter here.
struct StatLine {
  std::string comm;
  char state = '?';
  pid_t parent = 0;
  std::uint64_t start_ticks = 0;
};

bool read_stat(pid_t pid, StatLine& out) {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  char buf[1024];
  const ssize_t got = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (got <= 0) {
    return false;
  }
  const std::string text(buf, static_cast<std::size_t>(got));
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= text.size()) {
    return false;
  }
  out.comm = text.substr(open + 1, close - open - 1);
  // After the name: state (field 3), ppid (4), ..., starttime (22).
  std::istringstream rest(text.substr(close + 2));
  std::string skip;
  rest >> out.state >> out.parent;
  for (int field = 5; field < 22 && rest; ++field) {
    rest >> skip;
  }
  rest >> out.start_ticks;
  return static_cast<bool>(rest);
}

std::vector<std::string> split_cmdline(const std::string& raw) {
  std::vector<std::string> argv;
  std::size_t from = 0;
  while (from < raw.size()) {
    const auto end = raw.find('\0', from);
    argv.push_back(raw.substr(from, end == std::string::npos ? std::string::npos : end - from));
    from = end == std::string::npos ? raw.size() : end + 1;
  }
  return argv;
}

double boottime_now() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

struct ProcessSampler::Shared {
  std::string comm;
  std::string argument;
  std::chrono::milliseconds period{10};
  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::vector<SampledProcess> processes;
  std::map<std::pair<pid_t, std::uint64_t>, std::size_t> index;
  std::size_t most_at_once = 0;
  std::size_t samples = 0;
  double last_sample = 0;
  double longest_pause = 0;
  std::thread thread;

  void sample() {
    const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double now = wall_now();
    // The wall time of boot, to place start_ticks (time since boot) on the wall clock.
    const double boot = now - boottime_now();
    std::vector<std::pair<pid_t, StatLine>> found;
    if (DIR* proc = ::opendir("/proc")) {
      while (const dirent* entry = ::readdir(proc)) {
        char* end = nullptr;
        const long pid = std::strtol(entry->d_name, &end, 10);
        StatLine stat;
        if (pid <= 0 || *end != '\0' || !read_stat(static_cast<pid_t>(pid), stat) ||
            stat.comm != comm || stat.state == 'Z' || stat.state == 'X') {
          continue;
        }
        found.emplace_back(static_cast<pid_t>(pid), stat);
      }
      ::closedir(proc);
    }
    std::vector<std::size_t> running;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (const auto& [pid, stat] : found) {
        const auto key = std::make_pair(pid, stat.start_ticks);
        auto it = index.find(key);
        if (it == index.end()) {
          // A fork of one of them (isync 1.5's mbsync forks a short-lived
          // child of the same name) is part of its parent's run.
          if (std::any_of(found.begin(), found.end(),
                          [&](const auto& other) { return other.first == stat.parent; })) {
            continue;
          }
          // Its command line decides (empty while inside execve(): next time).
          std::vector<std::string> argv = split_cmdline(proc_cmdline(pid));
          if (argv.empty() ||
              (!argument.empty() && std::find(argv.begin(), argv.end(), argument) == argv.end())) {
            continue;
          }
          SampledProcess p;
          p.pid = pid;
          p.start_ticks = stat.start_ticks;
          p.parent = stat.parent;
          p.argv = std::move(argv);
          p.started = boot + static_cast<double>(stat.start_ticks) / ticks_per_second;
          p.first_seen = now;
          it = index.emplace(key, processes.size()).first;
          processes.push_back(std::move(p));
        }
        processes[it->second].last_seen = now;
        running.push_back(it->second);
      }
      for (std::size_t a : running) {
        for (std::size_t b : running) {
          auto& with = processes[a].seen_with;
          if (a != b && std::find(with.begin(), with.end(), b) == with.end()) {
            with.push_back(b);
          }
        }
      }
      most_at_once = std::max(most_at_once, running.size());
      if (samples > 0) {
        longest_pause = std::max(longest_pause, now - last_sample);
      }
      last_sample = now;
      ++samples;
    }
  }

  void run() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      lock.unlock();
      sample();
      lock.lock();
      wake.wait_for(lock, period, [this] { return stopping; });
    }
  }
};

ProcessSampler::ProcessSampler(std::string comm, std::string argument,
                               std::chrono::milliseconds period)
    : shared_(std::make_shared<Shared>()) {
  shared_->comm = std::move(comm);
  shared_->argument = std::move(argument);
  shared_->period = period;
  shared_->thread = std::thread([shared = shared_] { shared->run(); });
}

ProcessSampler::~ProcessSampler() {
  stop();
}

void ProcessSampler::stop() {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stopping = true;
  }
  shared_->wake.notify_all();
  if (shared_->thread.joinable()) {
    shared_->thread.join();
  }
}

std::vector<SampledProcess> ProcessSampler::processes() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->processes;
}

std::size_t ProcessSampler::most_at_once() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->most_at_once;
}

std::size_t ProcessSampler::samples() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->samples;
}

double ProcessSampler::longest_pause() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->longest_pause;
}

std::string describe(const std::vector<SampledProcess>& processes, double origin) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(3);
  for (const SampledProcess& p : processes) {
    out << "  " << (p.argv.empty() ? std::string("?") : p.argv.back()) << "  pid " << p.pid
        << " parent " << p.parent << "  started " << (p.started - origin) << " seen "
        << (p.first_seen - origin) << ".." << (p.last_seen - origin) << "\n";
  }
  return out.str();
}

}  // namespace himalaya::testing
