// Which channels a sync runs, and which local Maildirs they cover.
//
// mbsync's command line names channels and groups (`mbsync work`,
// `mbsync gmail-inbox:INBOX`), or all channels (`-a`). The channel schedules
// of SPEC §11 check their names against the configuration, and new_messages
// (SPEC §9) counts in the Maildirs the selected channels write to.
//
// mbsync's rules: a group shadows a channel of the same name; "name:box,..."
// selects boxes of one channel (we take the whole channel: the count covers a
// little more, never less); a group lists channels, maybe with boxes; `-a`
// selects every channel and makes any names irrelevant. Options end at the
// first word that does not begin with '-' (or at "--"), and `-c` takes the
// next word.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mbsync/config.h"
#include "mbsync/error.h"
#include "mbsync/maildir_count.h"

namespace himalaya::mbsync {

// The names of all channels, in the order of the file.
std::vector<std::string> channel_names(const Config& config);

// The channels that `name` (a group, a channel, or "channel:boxes") selects;
// an Error when there is no such channel or group, or when a group names a
// channel that does not exist.
Result<std::vector<const Channel*>> resolve(const Config& config, std::string_view name);

// The channels an mbsync command line (argv[0] is the program) selects, each
// once; an Error for an unknown name or when it selects none.
Result<std::vector<const Channel*>> selected_channels(const Config& config,
                                                      const std::vector<std::string>& argv);

// Where the channels' Maildir sides keep their mail: each MaildirStore's Path
// (a directory when it ends in '/', else a prefix in its parent directory)
// and its Inbox, each once, and without an Inbox that lies inside a Path
// already listed (the scan finds it there).
std::vector<MaildirRoot> maildir_roots(const Config& config,
                                       const std::vector<const Channel*>& channels);

}  // namespace himalaya::mbsync
