#include "host/new_mail.h"

#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#include "mbsync/locate.h"
#include "mbsync/selection.h"

namespace himalaya::host {

NewMailCounter::NewMailCounter(std::vector<std::string> command, std::string mbsyncrc,
                               mbsync::Environment env)
    : command_(std::move(command)), mbsyncrc_(std::move(mbsyncrc)), env_(std::move(env)) {}

std::string NewMailCounter::before_sync() {
  before_.reset();
  roots_.clear();
  if (command_.empty()) {
    return "no sync command";
  }
  const std::string& program = command_[0];
  const std::size_t slash = program.rfind('/');
  const bool mbsync = program.substr(slash == std::string::npos ? 0 : slash + 1) == "mbsync";
  if (!mbsync && mbsyncrc_.empty()) {
    return "the sync command is not mbsync, and sync.push.mbsyncrc is not set";
  }
  // A wrapper's channels are unknown: all of those in sync.push.mbsyncrc.
  const std::vector<std::string> argv =
      mbsync ? command_ : std::vector<std::string>{"mbsync", "-a"};
  const mbsync::Location where = mbsync::locate(argv, mbsyncrc_, env_, [](const std::string& path) {
    std::error_code ignored;
    return std::filesystem::exists(path, ignored);
  });
  mbsync::Result<mbsync::Config> config = mbsync::load(where.path, env_);
  if (!config) {
    return config.error().describe();
  }
  mbsync::Result<std::vector<const mbsync::Channel*>> channels =
      mbsync::selected_channels(config.value(), argv);
  if (!channels) {
    return channels.error().describe();
  }
  roots_ = mbsync::maildir_roots(config.value(), channels.value());
  if (roots_.empty()) {
    return "the selected channels have no Maildir side";
  }
  before_ = mbsync::snapshot(roots_);
  return "";
}

std::optional<int> NewMailCounter::after_sync() {
  if (!before_) {
    return std::nullopt;
  }
  const std::size_t added = mbsync::new_messages(*before_, mbsync::snapshot(roots_));
  before_.reset();
  if (added > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return std::numeric_limits<int>::max();
  }
  return static_cast<int>(added);
}

}  // namespace himalaya::host
