#include "host/channel_push.h"

#include <filesystem>
#include <system_error>

#include "host/channel_runs.h"
#include "mbsync/coverage.h"
#include "mbsync/locate.h"

namespace himalaya::host {

std::vector<std::string> push_command_for_channels(
    const std::vector<std::string>& command, const std::string& mbsyncrc,
    const std::vector<coordinator::ChannelSpec>& specs) {
  if (specs.empty()) {
    return command;
  }
  std::vector<std::string> argv = ChannelRuns::command_for(command, mbsyncrc, specs.front().name);
  for (std::size_t i = 1; i < specs.size(); ++i) {
    argv.push_back(specs[i].name);
  }
  return argv;
}

ChangedChannels channels_for_change(const std::vector<std::string>& command,
                                    const std::string& mbsyncrc,
                                    const std::vector<coordinator::ChannelSpec>& specs,
                                    const std::string& account, const std::string& mailbox,
                                    const mbsync::Environment& env) {
  ChangedChannels out;
  const std::vector<std::string> argv = push_command_for_channels(command, mbsyncrc, specs);
  const mbsync::Location where = mbsync::locate(argv, mbsyncrc, env, [](const std::string& path) {
    std::error_code ignored;
    return std::filesystem::exists(path, ignored);
  });
  const mbsync::Result<mbsync::Config> config = mbsync::load(where.path, env);
  for (const auto& spec : specs) {
    if (!config || mbsync::covers(config.value(), spec.name, account, mailbox)) {
      out.names.push_back(spec.name);
    }
  }
  if (!config) {
    out.problem = config.error().describe();
  }
  return out;
}

}  // namespace himalaya::host
