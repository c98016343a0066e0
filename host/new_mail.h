// `new_messages` of HimalayaSyncDone (SPEC §9): how many messages one sync of
// this instance added to the local Maildirs.
//
// Known only when the sync command is mbsync (its argv[0] is named
// "mbsync"): then the configuration it reads (mbsync/locate.h: its `-c`, else
// mbsync's default files) says which channels it runs and where their
// Maildirs are, and a snapshot of their listings before the run is compared
// with one after it (mbsync/maildir_count.h). For any other command, or when
// the configuration cannot be read or selects nothing, the count is unknown
// and the event leaves the key out. The configuration is read again for every
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
  NewMailCounter(std::vector<std::string> command, mbsync::Environment env);

  // Takes the "before" snapshot for the sync about to start. Returns "" when
  // counting, else why the count will be unknown (for a debug log line).
  std::string before_sync();
  // The messages added since before_sync(); nullopt when unknown. Clears the
  // snapshot, so a second call is nullopt too.
  std::optional<int> after_sync();

 private:
  std::vector<std::string> command_;
  mbsync::Environment env_;
  std::vector<mbsync::MaildirRoot> roots_;
  std::optional<mbsync::MaildirSnapshot> before_;
};

}  // namespace himalaya::host
