// What we need to know of a user's mbsync configuration, read the way mbsync
// reads it.
//
// Push (SPEC §10) needs the IMAP accounts: where the server is, how to log in
// and how to secure the connection. new_messages (SPEC §9) and the channel
// selection (section 11) need the Maildir stores, the channels and the groups.
// parse() is a pure function of the text and an Environment (the home
// directory and XDG_CONFIG_HOME, so '~' expansion is testable); reading the
// file is locate.h's job.
//
// It follows mbsync(1) (isync 1.4 and 1.5) where the two could disagree:
// - keywords, and keywords used as values (IMAPS, yes, Verbatim), are
//   case-insensitive; names of accounts, stores, channels and groups are not;
// - a section starts with its keyword (IMAPAccount, IMAPStore, MaildirStore,
//   Channel, Group) and ends at an empty line or the end of the file. A line
//   holding only a comment does not end it. A section keyword inside an open
//   section is an error, as in mbsync ("keyword 'IMAPStore' is not recognized
//   in IMAPAccount sections"), except `Channel` inside a Group, which names a
//   member;
// - a store must name an account defined above it, and a channel stores
//   defined above it, as mbsync resolves them while it reads;
// - an IMAPStore may carry the account's options itself instead of an
//   `Account` line (not both); that account is named after the store;
// - defaults: TLSType STARTTLS (None with a Tunnel), Port 993 for IMAPS and
//   143 otherwise, SystemCertificates yes, AuthMechs *, Inbox ~/Maildir;
// - `SSLType` is the older name of `TLSType`, `Master`/`Slave` of
//   `Far`/`Near`, `Pattern` of `Patterns`;
// - '~' and '~user' are expanded in local paths (Path and Inbox of a
//   MaildirStore, CertificateFile), never in server-side ones.
// Keywords we do not model (mbsync has many) are skipped, not checked. A
// malformed line is an Error naming the line: a quote left open, a keyword
// without its value, extra words after a one-word value (an unquoted
// `PassCmd pass show x` is the usual one), a bad port, TLS type or boolean,
// an unknown account or store, or an account with neither Host nor Tunnel or
// with both Pass and PassCmd. Like mbsync, a name used twice is no error: the
// first one defined is the one found.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mbsync/environment.h"
#include "mbsync/error.h"
#include "mbsync/secret.h"

namespace himalaya::mbsync {

enum class TlsType { none, starttls, imaps };
const char* to_string(TlsType tls);

struct Account {
  std::string name;
  int line = 0;                  // where its section starts
  bool inline_in_store = false;  // options given in an IMAPStore (named after it)
  std::string host;
  int port = 0;  // 993 for IMAPS, else 143, unless given
  std::string user;
  std::string user_cmd;  // a shell command printing the user name
  std::optional<Secret> pass;
  std::string pass_cmd;           // a shell command printing the password, '+' removed
  bool pass_cmd_prompts = false;  // it was written "+command": it talks to a TTY
  std::string tunnel;             // a command to connect through instead of TCP
  TlsType tls = TlsType::starttls;
  std::string certificate_file;  // expanded; "" when not given
  bool system_certificates = true;
  std::vector<std::string> auth_mechs{"*"};
};

struct ImapStore {
  std::string name;
  int line = 0;
  std::string account;          // the Account's name (the store's own for an inline one)
  bool account_inline = false;  // the account's options were given in the store
  std::string path;             // the server-side Path prefix, as written
};

enum class SubFolders { unset, verbatim, maildirpp, legacy };

struct MaildirStore {
  std::string name;
  int line = 0;
  std::string path;   // expanded; "" when not given; a prefix unless it ends in '/'
  std::string inbox;  // expanded; ~/Maildir unless given
  SubFolders sub_folders = SubFolders::unset;
};

// One side of a channel: `:store:` or `:store:box`.
struct ChannelSide {
  std::string store;
  std::string box;  // "" when the channel side names the whole store
};

struct Channel {
  std::string name;
  int line = 0;
  ChannelSide far;   // Far, or the older Master
  ChannelSide near;  // Near, or the older Slave
  std::vector<std::string> patterns;
};

struct Group {
  std::string name;
  int line = 0;
  std::vector<std::string> channels;  // as written, maybe "channel:box"
};

// Every object in the order of the file.
struct Config {
  std::vector<Account> accounts;  // IMAPAccounts, then inline ones as their stores appear
  std::vector<ImapStore> imap_stores;
  std::vector<MaildirStore> maildir_stores;
  std::vector<Channel> channels;
  std::vector<Group> groups;

  const Account* find_account(std::string_view name) const;  // IMAPAccounts only
  const Account* account_of(const ImapStore& store) const;
  const ImapStore* find_imap_store(std::string_view name) const;
  const MaildirStore* find_maildir_store(std::string_view name) const;
  const Channel* find_channel(std::string_view name) const;
  const Group* find_group(std::string_view name) const;
};

// The configuration held in `text`, or the first error in it (its line and
// what is wrong; Error::file stays empty).
Result<Config> parse(std::string_view text, const Environment& env);

}  // namespace himalaya::mbsync
