#include "host/channel_runs.h"

#include <algorithm>

#include "coordinator/timings.h"
#include "mbsync/locate.h"

namespace himalaya::host {

ChannelRuns::ChannelRuns(boost::asio::io_context& io, Options options)
    : io_(io), options_(std::move(options)) {}

ChannelRuns::~ChannelRuns() = default;

std::vector<std::string> ChannelRuns::command_for(const std::vector<std::string>& command,
                                                  const std::string& mbsyncrc,
                                                  const std::string& channel) {
  std::vector<std::string> argv;
  const bool is_mbsync =
      !command.empty() && std::filesystem::path(command.front()).filename() == "mbsync";
  argv.push_back(is_mbsync ? command.front() : "mbsync");
  std::string config = mbsyncrc;
  if (is_mbsync) {
    config = mbsync::config_argument(command).value_or(config);
  }
  if (!config.empty()) {
    argv.push_back("-c");
    argv.push_back(config);
  }
  argv.push_back(channel);
  return argv;
}

std::filesystem::path ChannelRuns::lock_for(const std::filesystem::path& lock_file,
                                            const std::string& channel) {
  std::string suffix = channel;
  std::replace(suffix.begin(), suffix.end(), '/', '_');
  std::filesystem::path lock = lock_file;
  lock += "." + suffix;
  return lock;
}

bool ChannelRuns::start(const std::string& channel, SyncRunner::Callback done, std::string& error) {
  if (running()) {
    error = "a sync is already running";
    return false;
  }
  runner_ = std::make_unique<SyncRunner>(
      io_, SyncRunner::Options{command_for(options_.command, options_.mbsyncrc, channel),
                               options_.timeout, lock_for(options_.lock_file, channel),
                               coordinator::sync_kill_grace});
  channel_ = channel;
  return runner_->start(std::move(done), error);
}

void ChannelRuns::cancel() {
  if (runner_) {
    runner_->cancel();
  }
}

bool ChannelRuns::running() const {
  return runner_ && runner_->running();
}

int ChannelRuns::pid() const {
  return runner_ ? runner_->pid() : -1;
}

}  // namespace himalaya::host
