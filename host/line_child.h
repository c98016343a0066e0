// A helper process the host talks to in lines: it is given one line on its
// stdin, which then stays open until close_input(); what it prints on stdout
// comes back line by line; its exit is reported once, after its output.
// The push watcher process (push_process.h) and the desktop-session reader
// (session_process.h) use it.
//
// What it promises:
// - Nothing blocks the io_context: output is read and the exit awaited
//   asynchronously (the exit is polled, briefly, once stdout has closed).
// - The process is spawned like the sync command (host/spawn.h): its own
//   process group, SIGTERM when the host dies, no other descriptor of the
//   host; stderr goes to /dev/null.
// - After detach() no callback runs; the child is still reaped when it exits
//   (the LineChild keeps itself alive until then), so no zombie is left. If
//   the io_context is destroyed first, the child is killed and reaped then.
// - A line longer than 64 KiB is cut there; the rest of it is dropped.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace himalaya::host {

// The path of the program `name` in this executable's directory (where the
// build and the install put the host's helper programs), or `name` alone,
// for PATH, when /proc/self/exe cannot be read.
std::string sibling_program(const std::string& name);

class LineChild {
 public:
  struct Callbacks {
    std::function<void(const std::string& line)> on_line;
    // The wait status (waitpid), or -1 when it could not be had.
    std::function<void(int status)> on_exit;
  };

  // Starts `program` with `argv` (argv[0] first) and writes `input` to its
  // stdin. Returns null, with `error` set, when it cannot be started.
  static std::shared_ptr<LineChild> start(boost::asio::io_context& io, const std::string& program,
                                          const std::vector<std::string>& argv,
                                          const std::string& input, Callbacks callbacks,
                                          std::string& error);
  virtual ~LineChild() = default;

  // Closes the child's stdin: the watcher's signal to finish.
  virtual void close_input() = 0;
  // SIGKILL to the child's process group (while it is not yet reaped).
  virtual void kill() = 0;
  // No callback from now on.
  virtual void detach() = 0;
  virtual pid_t pid() const = 0;
};

}  // namespace himalaya::host
