// Two kernel notifications on the io_context, used to react in milliseconds
// instead of waiting for the next heartbeat.
//
// PidWatch: a pidfd (pidfd_open(2), Linux 5.3+) becomes readable when the
// process exits, however it dies (SIGKILL included). It names the process, not
// the number, so a reused pid cannot fool it. A stopped process gives no
// event; staleness covers that case.
//
// DoorbellWatch: inotify on a directory, firing when one named file in it gets
// IN_ATTRIB. StateFile touches its lock file when the primary lease changes
// hands and when a sync starts or ends, so watching that name wakes instances
// on role changes and syncs only, not on every heartbeat write. (inotify sees nothing done by other
// machines over NFS; there the heartbeat timer still works.)
//
// Both call their callback on the io_context's thread, never after cancel()
// or destruction. Neither throws: if the kernel refuses, watch() returns false
// and the caller relies on its timer.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace himalaya::coordinator {

class PidWatch {
 public:
  explicit PidWatch(boost::asio::io_context& io);
  ~PidWatch();
  PidWatch(const PidWatch&) = delete;
  PidWatch& operator=(const PidWatch&) = delete;

  // Replaces any earlier watch. on_exit runs once when pid exits; if pid does
  // not exist any more, it runs soon (posted), not from inside watch().
  bool watch(int pid, std::function<void()> on_exit);
  void cancel();
  int pid() const { return pid_; }

 private:
  struct Shared;
  boost::asio::io_context& io_;
  std::shared_ptr<Shared> shared_;
  int pid_ = 0;
};

class DoorbellWatch {
 public:
  explicit DoorbellWatch(boost::asio::io_context& io);
  ~DoorbellWatch();
  DoorbellWatch(const DoorbellWatch&) = delete;
  DoorbellWatch& operator=(const DoorbellWatch&) = delete;

  bool watch(const std::filesystem::path& dir, const std::string& name,
             std::function<void()> on_ring);
  void cancel();
  bool active() const { return shared_ != nullptr; }

 private:
  struct Shared;
  static void arm(const std::shared_ptr<Shared>& shared);
  boost::asio::io_context& io_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace himalaya::coordinator
