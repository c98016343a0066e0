// Runs a shell command and returns the first line of what it prints: mbsync's
// `UserCmd` and `PassCmd` (SPEC §10), which push runs the way mbsync does,
// with `/bin/sh -c`.
//
// What it promises:
// - It never blocks the io_context: a PassCmd that waits for a pinentry must
//   not stop the host's heartbeats. The output is read and the exit watched
//   on the io_context; the command is killed (its whole process group) when
//   it runs past `timeout`.
// - Only stdout is read, and only its first line is kept (without the line
//   end), as mbsync does. stderr goes to /dev/null: it is never logged,
//   because what a password manager prints there is not ours to keep.
// - The line is handed to the callback and to nobody else: an error message
//   never contains any of the output.
// - The command gets the host's environment, stdin on /dev/null, its own
//   process group, and SIGTERM if the host dies (host/spawn.h).
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace boost::asio {
class io_context;
}

namespace himalaya::host {

struct ShellResult {
  bool ok = false;
  std::string line;  // the first line of stdout, when ok
  std::string
      error;  // what went wrong, when not ok: "exited with status 1", "timed out after 60 s"
};

// Starts `command` under /bin/sh -c; `done` is called exactly once, later,
// from the io_context. The run keeps itself alive until then.
void run_shell(boost::asio::io_context& io, const std::string& command,
               std::chrono::milliseconds timeout, std::function<void(ShellResult)> done);

}  // namespace himalaya::host
