// Shared steps of the mail tests with sync.channels (SPEC §11): a server with
// one mailbox per channel, an mbsyncrc with one channel per mailbox, and
// deliveries into any mailbox.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tests/mail/mail_fixture.h"

namespace himalaya::mail {

struct MailChannel {
  std::string name;     // the mbsync channel
  std::string mailbox;  // the one mailbox it syncs, on both sides
  double interval = 0;  // its sync.channels interval
};

// The channels' folders besides INBOX in alice's server Maildir (Maildir++:
// ".Work" and so on), owned by the mail user like the rest.
void make_folders(const MailServer& server, const std::vector<MailChannel>& channels);

// The server's mbsyncrc with its one all-mailbox channel replaced by one
// channel per mailbox; returns the new file's path.
std::filesystem::path write_channels_rc(const MailServer& server,
                                        const std::vector<MailChannel>& channels);

// sync.channels as a Lua list literal.
std::string channels_lua(const std::vector<MailChannel>& channels);

// Drops a message with this subject into `mailbox` of alice on the server, as
// a delivery agent does (written in tmp/, renamed into new/).
void deliver_to(const MailServer& server, const std::string& mailbox, const std::string& subject);

}  // namespace himalaya::mail
