// Starting the sync command: fork(2) and execve(2), with the child set up so
// that it can never outlive the host or reach the host's stdout (SPEC §8).
//
// What spawn() promises when it returns a pid:
// - The child leads a process group of its own (its pgid is its pid), so the
//   runner can signal the command and whatever it starts as one.
// - It has a parent-death signal (PR_SET_PDEATHSIG, SIGTERM): if the host dies
//   in any way, at any moment after fork() returned in the child, the kernel
//   sends the command SIGTERM, which ends mbsync and lets a wrapper script
//   record how it ended (tests/chaos relies on that). The window between
//   fork() and arming it is closed by checking the parent's pid after
//   arming: a host that died before that point is noticed, and the child
//   exits. The signal is tied to the thread that forked; the host runs on one
//   thread, so that is the host's life. It reaches the command only, not
//   what the command started: a command that ignores SIGTERM, or its
//   children, outlive a SIGKILLed host (they keep the sync lock while they
//   run, so no other sync overlaps them).
// - It has execve()d already: spawn() waits on a close-on-exec pipe, so a
//   failed exec (not found, not executable) is an error of spawn(), not a
//   child that exits 127 later.
// - stdin is /dev/null; stdout is `output_fd`, stderr `error_fd` (or
//   `output_fd` too); of the host's other
//   descriptors only `inherit_fd` survives execve() (the sync lock, handed to
//   the command like flock(1) does). All signals have their default action and
//   none is blocked.
//
// The child runs only async-signal-safe calls between fork() and execve(): the
// argument and environment vectors are built before fork().
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace himalaya::host {

struct SpawnRequest {
  std::string program;            // a path, as resolve_program() gives it
  std::vector<std::string> argv;  // argv[0] first; the program is not looked up again
  int output_fd = -1;             // becomes stdout, and stderr unless error_fd is set
  int inherit_fd = -1;            // kept open across execve(); -1 for none
  int error_fd = -1;              // becomes stderr; -1: the same as output_fd
};

// Starts the command; returns its pid, or -1 with `error_number` set to the
// errno of the step that failed (the fork, the pipe, or the child's setup or
// execve()). Never leaves a child behind when it returns -1.
pid_t spawn(const SpawnRequest& request, int& error_number);

// Like execvp(3)'s search: a name with a '/' is returned as it is; a bare name
// is looked up in PATH (an empty entry meaning the current directory), and ""
// is returned when it is found nowhere as an executable regular file.
std::string resolve_program(const std::string& name);

}  // namespace himalaya::host
