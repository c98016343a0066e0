// The coordinator's environment in the host: the system clocks (or a given
// one), /proc, the flock'd state file, Asio timers, pidfd and inotify, all on
// one io_context (environment.h).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "coordinator/environment.h"
#include "coordinator/guard.h"
#include "coordinator/state_file.h"
#include "coordinator/watch.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace himalaya::coordinator {

class AsioEnvironment final : public Environment {
 public:
  // clock may be null (SystemClock). The store defers its directory fsync to
  // the runtime (StateFile::Options::defer_directory_sync).
  AsioEnvironment(boost::asio::io_context& io, const std::filesystem::path& state_file,
                  double lock_timeout, std::shared_ptr<const Clock> clock);

  const Clock& clock() const override { return *clock_; }
  const ProcessProbe& probe() const override { return probe_; }
  StateStore& store() override { return file_; }
  std::unique_ptr<Timer> make_timer() override;
  void post(std::function<void()> fn) override;
  void watch_process(int pid, std::function<void()> on_exit) override;
  int watched_pid() const override { return pid_watch_.pid(); }
  void watch_owners(const std::vector<int>& pids, std::function<void()> on_exit) override;
  void watch_doorbell(std::function<void()> on_ring) override;
  bool doorbell_watched() const override { return doorbell_.active(); }
  void cancel_watches() override;

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<const Clock> clock_;
  ProcProbe probe_;
  StateFile file_;
  PidWatch pid_watch_;
  std::map<int, std::unique_ptr<PidWatch>> owner_watches_;
  DoorbellWatch doorbell_;
  Guard guard_;
};

}  // namespace himalaya::coordinator
