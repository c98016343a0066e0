// A child process whose standard output the test reads line by line: started
// with posix_spawn, its stdout a pipe read without blocking, signalled and
// reaped by the test. The coordinator's multi-process tests and coord-bench run
// their coord-driver fleets (driver_fleet.h) on it.
//
// The child inherits stdin, stderr and the environment. The pipe is opened
// O_CLOEXEC, so a child never inherits another child's pipe and the test sees
// EOF as soon as the child (and anything it exec'd into) is gone. A child not
// reaped by the test is SIGKILLed and reaped on destruction, so no test leaves
// a process behind, whatever it asserted.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace himalaya::testing {

class ChildProcess {
 public:
  // Starts argv[0] (looked up in PATH) with `argv`; throws std::runtime_error
  // if the pipe or the spawn fails. With `own_process_group` the child leads a
  // new process group, so kill(-pid(), ...) reaches it and whatever it starts.
  explicit ChildProcess(const std::vector<std::string>& argv, bool own_process_group = false);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The read end of the stdout pipe (non-blocking), for poll(2).
  int output_fd() const { return out_; }
  // The child's stdout has closed: it exited, or was killed.
  bool eof() const { return eof_; }
  bool reaped() const { return reaped_; }
  // The waitpid(2) status once reaped (WIFEXITED, WEXITSTATUS, ...).
  int wait_status() const { return status_; }

  // Reads what the pipe holds now, without blocking, and returns the complete
  // lines that arrived (without their newlines); a partial line is kept for
  // the next call. Sets eof() when the pipe has closed.
  std::vector<std::string> read_lines();

  // Sends `sig` to the child (unless it has been reaped, so a recycled pid is
  // never hit).
  void signal(int sig) const;
  // Waits for the child to exit and reaps it.
  void reap();
  // Reaps the child if it has exited; returns reaped().
  bool try_reap();

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
  bool eof_ = false;
  bool reaped_ = false;
  int status_ = 0;
};

// Waits up to `timeout_ms` until at least one of `children` has output to
// read or has closed its stdout; returns those that have (none on timeout).
// Children already at EOF are not waited for.
std::vector<ChildProcess*> wait_for_output(const std::vector<ChildProcess*>& children,
                                           int timeout_ms);

}  // namespace himalaya::testing
