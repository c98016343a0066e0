// How many messages a sync added to the local Maildirs: `new_messages` of the
// HimalayaSyncDone event (SPEC §9).
//
// A snapshot before the sync and one after it; the count is the messages in
// the second that were not in the first. A message is known by its unique
// name, the part of its file name before ":2," (Maildir's info part): mbsync
// and mail readers change the flags after it, and move a message from new/
// to cur/, and neither is a new message. A message that was deleted and one
// that arrived do not cancel out: the count is of arrivals only.
//
// It must stay cheap on large Maildirs, since it runs around every sync: a
// snapshot reads directory listings only. It never opens, reads or stats a
// message file, and it uses the d_type of each entry so that folders are told
// from files without a stat(2) (one stat only where the file system does not
// fill d_type, or for a symbolic link). bench/maildir_count_bench measures
// it on a 10,000-message Maildir (see the README).
//
// Which folders: every Maildir folder (a directory holding both cur/ and
// new/) found under the given roots, at any depth up to 32, so all three of
// mbsync's SubFolders styles and a nested INBOX are covered without
// interpreting them. tmp/ is never looked into: a message there is still
// being written. Roots come from selection.h (the MaildirStores' Path and
// Inbox of the channels a sync runs); this file knows nothing of mbsync's
// configuration.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace himalaya::mbsync {

// A place to look for Maildir folders: a directory, and, for a MaildirStore
// Path that does not end in '/' (a prefix, such as "~/Mail/work-"), the
// prefix that the names of its entries must start with.
struct MaildirRoot {
  std::string directory;
  std::string name_prefix;  // "" for the whole directory

  friend bool operator==(const MaildirRoot& a, const MaildirRoot& b) {
    return a.directory == b.directory && a.name_prefix == b.name_prefix;
  }
};

struct MaildirSnapshot {
  std::vector<std::string> unique_names;  // sorted, without duplicates
  std::size_t folders = 0;                // Maildir folders seen
  std::size_t unreadable = 0;             // directories that could not be listed
};

// The unique name of a message file: the name without its ":2,..." info part.
std::string unique_name(const std::string& file_name);

// The messages in new/ and cur/ of every Maildir folder under `roots` now.
// A root that does not exist yet (before mbsync's first run) gives nothing.
MaildirSnapshot snapshot(const std::vector<MaildirRoot>& roots);

// The number of messages in `after` that are not in `before`.
std::size_t new_messages(const MaildirSnapshot& before, const MaildirSnapshot& after);

}  // namespace himalaya::mbsync
