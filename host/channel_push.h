// Push with sync.channels (SPEC §10 and §11): the watcher watches the
// accounts of every configured channel, and a change it reports in one
// mailbox syncs only the channels that cover that mailbox
// (mbsync/coverage.h). The rest keep their own schedules.
#pragma once

#include <string>
#include <vector>

#include "coordinator/channels.h"
#include "mbsync/environment.h"

namespace himalaya::host {

// The command the push watcher plans from (push/plan.h): `mbsync [-c rc]`
// and every channel name, so it watches the accounts those channels sync.
std::vector<std::string> push_command_for_channels(
    const std::vector<std::string>& command, const std::string& mbsyncrc,
    const std::vector<coordinator::ChannelSpec>& specs);

struct ChangedChannels {
  std::vector<std::string> names;  // in configuration order
  std::string problem;             // why none could be found (the configuration could not be read)
};

// The configured channels that cover `mailbox` of `account` in the mbsync
// configuration the channel syncs read. Read again at each change, so an
// edit needs no restart. When it cannot be read, every channel (a sync too
// many rather than mail left waiting), with `problem` saying why.
ChangedChannels channels_for_change(const std::vector<std::string>& command,
                                    const std::string& mbsyncrc,
                                    const std::vector<coordinator::ChannelSpec>& specs,
                                    const std::string& account, const std::string& mailbox,
                                    const mbsync::Environment& env);

}  // namespace himalaya::host
