// Dovecot's rawlog (mailserver.sh start --rawlog): the server's own record of
// what each IMAP session's client sent after login, in files named
// DIR/rawlog/<date>-<time>.<imap pid>.<n>.in, each line stamped with the
// wall-clock time the server read it ("1796217517.793640 5 SELECT "INBOX"").
// Each imap process serves one session here. Dovecot 2.3 writes one file for
// it (n = 1); 2.4 writes two (an empty n = 1 and the commands in n = 2), so
// the files of one imap pid are read as one session.
// Dovecot's normal log names no mailbox; this does, so a test can count the
// syncs of each mailbox from the server's side.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace himalaya::mail {

// One SELECT or EXAMINE a session sent: when the server read it (wall-clock
// seconds) and the mailbox, unquoted.
struct MailboxOpen {
  double time = 0;
  std::string mailbox;
};

struct RawlogSession {
  std::string file;  // the .in file's name
  double first = 0;  // the time of its first command (0: none)
  std::vector<MailboxOpen> opens;
};

// Every session in a rawlog directory, in the order of their first command.
std::vector<RawlogSession> read_rawlog(const std::filesystem::path& dir);

// The mailbox argument of an IMAP command line's arguments: a quoted string
// (with \" and \\ unescaped) or an atom.
std::string mailbox_argument(const std::string& arguments);

}  // namespace himalaya::mail
