// Which mailboxes of which account a channel covers: with sync.channels and
// push (SPEC §10 and §11), a change the server reports in one mailbox syncs
// only the channels that cover it.
//
// mbsync's rules: a channel side is `:store:` or `:store:box`. Without
// Patterns the channel syncs that one box, INBOX when none is named. With
// Patterns it syncs the mailboxes they select: IMAP wildcards ('*' matches
// anything, '%' anything but the hierarchy delimiter, which mbsync shows as
// '/'), a leading '!' excludes, and of several patterns that match a
// mailbox the last one decides. INBOX is INBOX in any case. A "channel:box"
// name counts as its whole channel (it covers a little more, never less).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mbsync/config.h"

namespace himalaya::mbsync {

// Whether `patterns` (a Channel's Patterns) select `mailbox`.
bool patterns_select(const std::vector<std::string>& patterns, std::string_view mailbox);

// Whether a sync of `name` (a channel, a group, or "channel:boxes", as
// resolve() takes them) covers `mailbox` of the IMAPAccount `account`: one
// of its channels has a side on an IMAPStore of that account that selects
// the mailbox. An empty `account` or `mailbox` stands for any. False for a
// name the configuration does not have.
bool covers(const Config& config, std::string_view name, std::string_view account,
            std::string_view mailbox);

}  // namespace himalaya::mbsync
