// One channel's sync at a time (sync.channels, SPEC §11): `mbsync [-c rc]
// <name>`, under a lock of that channel's own, on a SyncRunner.
//
// The command: the program of sync.command when it is mbsync (a path to
// mbsync included), else `mbsync`; the configuration given to sync.command
// with -c/--config, else sync.push.mbsyncrc, else none (mbsync's default);
// then the channel or group name. The lock: sync.lock_file with
// ".<name>" appended (a '/' in the name becomes '_'), so that channels run in
// parallel (up to sync.max_parallel in the fleet, coordinator/channels.h)
// while one channel never runs twice, even from a cron job taking that lock.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "host/sync_runner.h"

namespace himalaya::host {

class ChannelRuns {
 public:
  struct Options {
    std::vector<std::string> command;  // sync.command
    std::string mbsyncrc;              // sync.push.mbsyncrc; "" when not set
    std::filesystem::path lock_file;   // sync.lock_file
    double timeout = 600;              // sync.timeout
  };

  ChannelRuns(boost::asio::io_context& io, Options options);
  ~ChannelRuns();
  ChannelRuns(const ChannelRuns&) = delete;
  ChannelRuns& operator=(const ChannelRuns&) = delete;

  static std::vector<std::string> command_for(const std::vector<std::string>& command,
                                              const std::string& mbsyncrc,
                                              const std::string& channel);
  static std::filesystem::path lock_for(const std::filesystem::path& lock_file,
                                        const std::string& channel);

  // As SyncRunner::start(), for `channel`; refused while a run is in progress.
  bool start(const std::string& channel, SyncRunner::Callback done, std::string& error);
  void cancel();
  bool running() const;
  int pid() const;
  const std::string& channel() const { return channel_; }  // of the run in progress

 private:
  boost::asio::io_context& io_;
  Options options_;
  std::unique_ptr<SyncRunner> runner_;
  std::string channel_;
};

}  // namespace himalaya::host
