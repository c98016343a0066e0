// The process table as /proc shows it, for tests that signal processes they
// did not start themselves (a Neovim's hosts, a driver inside a namespace):
// a process's parent, state and name, its children, whether it holds an
// flock, and a pidfd that signals a process without any risk of hitting a
// recycled pid.
//
// Every reading is a snapshot: a process may exit just after it. Tests signal
// a process found here only while it is still what they looked for (the live
// child of the expected parent), or through a PidFd opened while it was.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace himalaya::testing {

// One line of /proc/<pid>/stat: the parent pid, the process group, the state
// letter (R, S, T, Z, X, ...) and the command name (comm, at most 15
// characters).
struct ProcStat {
  pid_t ppid = 0;
  pid_t pgid = 0;
  char state = '?';
  std::string comm;
};

// nullopt when there is no such process.
std::optional<ProcStat> proc_stat(pid_t pid);

// Every pid in /proc now.
std::vector<pid_t> all_pids();

// The first 4096 bytes of /proc/<pid>/cmdline: the arguments, each ended by a
// NUL. "" when the process is gone (it is read with read(2), which fails with
// ESRCH for a process that exits meanwhile, rather than through a stream,
// which reports that by throwing).
std::string proc_cmdline(pid_t pid);

// fd number -> what it points at, for the descriptors `pid` has open now.
std::map<int, std::string> open_fds(pid_t pid);

// The live (not zombie) children of `parent` whose command name is `comm`.
std::vector<pid_t> children_named(pid_t parent, const std::string& comm);

// The first pid in /proc/<pid>/task/<pid>/children; 0 when there is none.
int first_child(pid_t pid);

// True when `pid` holds an exclusive flock(2) on some file (/proc/locks).
bool holds_write_flock(pid_t pid);

// Sends `sig` to `pid` only while it is still the live child of `parent`, so
// that a recycled pid is never hit. Nothing happens for pid <= 0.
void signal_child_of(pid_t parent, pid_t pid, int sig);

// A process held by a pidfd (pidfd_open(2)), which can be signalled without
// any risk of hitting a recycled pid once it is gone. Open it while `pid` is
// known to be the process meant (a live child of a known parent).
class PidFd {
 public:
  explicit PidFd(pid_t pid);
  PidFd(PidFd&& other) noexcept;
  PidFd& operator=(PidFd&&) = delete;
  PidFd(const PidFd&) = delete;
  PidFd& operator=(const PidFd&) = delete;
  ~PidFd();
  // Does nothing if the pidfd could not be opened.
  void signal(int sig) const;

 private:
  int fd_ = -1;
};

}  // namespace himalaya::testing
