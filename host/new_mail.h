// `new_messages` of HimalayaSyncDone (SPEC §9): how many messages one sync of
// this instance added to the local Maildirs.
//
// When the sync command is mbsync (its argv[0] is named "mbsync"), the
// configuration it reads (mbsync/locate.h: its `-c`, else sync.push.mbsyncrc,
// else mbsync's default files) says which channels it runs and where their
// Maildirs are, and a snapshot of their listings before the run is compared
// with one after it (mbsync/maildir_count.h). Any other command (a wrapper
// script) is counted over every channel of sync.push.mbsyncrc when that is
// set: it may count a little more than the wrapper syncs, never less.
// Without it, or when the configuration cannot be read or selects nothing,
// the count is unknown and the event leaves the key out. The configuration is read again for every
// sync, so an edit to it needs no restart.
//
// The snapshots run on the host's thread, around the sync: a few
// milliseconds for 10,000 messages (README, Measured). They read directory
// listings only, never a message, and never anything of the password.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mbsync/environment.h"
#include "mbsync/maildir_count.h"

namespace himalaya::host {

class NewMailCounter {
 public:
  // `mbsyncrc`: sync.push.mbsyncrc, "" when unset.
  NewMailCounter(std::vector<std::string> command, std::string mbsyncrc, mbsync::Environment env);

  // Takes the "before" snapshot for the sync about to start. Returns "" when
  // counting, else why the count will be unknown (for a debug log line).
  std::string before_sync();
  // The messages added since before_sync(); nullopt when unknown. Clears the
  // snapshot, so a second call is nullopt too.
  std::optional<int> after_sync();

 private:
  std::vector<std::string> command_;
  std::string mbsyncrc_;
  mbsync::Environment env_;
  std::vector<mbsync::MaildirRoot> roots_;
  std::optional<mbsync::MaildirSnapshot> before_;
};

}  // namespace himalaya::host
