// The fixture's reading of Dovecot's log (parse_sessions), on real lines from
// Dovecot 2.3.19: sessions must pair by id whichever of their lines comes
// first, or a session that ended before its "Login" line was written reads as
// open forever (issue 17: a green mail stack reported as an orphaned sync).
#include <gtest/gtest.h>

#include <sstream>

#include "tests/mail/mail_fixture.h"

namespace himalaya::mail {
namespace {

// Three mbsync runs against a Dovecot whose imap-login was starved of CPU: the
// first two ended before imap-login logged their login; the third is in order.
constexpr const char* kLog =
    "2026-11-30 14:58:51.644218 imap(alice)<9602><rMXapX9hLLh/AAAB>: Info: Disconnected: "
    "Logged out in=54 out=941 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 "
    "body_count=0 body_bytes=0\n"
    "2026-11-30 14:58:51.699441 imap-login: Info: Login: user=<alice>, method=PLAIN, "
    "rip=127.0.0.1, lip=127.0.0.1, mpid=9602, secured, session=<rMXapX9hLLh/AAAB>\n"
    "2026-11-30 14:58:51.843418 imap(alice)<9608><x+bdpX9hNrh/AAAB>: Info: Disconnected: "
    "Logged out in=54 out=933 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 "
    "body_count=0 body_bytes=0\n"
    "2026-11-30 14:58:51.875046 imap-login: Info: Login: user=<alice>, method=PLAIN, "
    "rip=127.0.0.1, lip=127.0.0.1, mpid=9608, secured, session=<x+bdpX9hNrh/AAAB>\n"
    "2026-11-30 14:58:52.157461 imap-login: Info: Login: user=<alice>, method=PLAIN, "
    "rip=127.0.0.1, lip=127.0.0.1, mpid=9618, secured, session=<2MjipX9hRLh/AAAB>\n"
    "2026-11-30 14:58:52.164755 imap(alice)<9618><2MjipX9hRLh/AAAB>: Info: Disconnected: "
    "Logged out in=54 out=925 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 "
    "body_count=0 body_bytes=0\n";

TEST(DovecotLog, AnEndLoggedBeforeItsLoginClosesTheSession) {
  std::istringstream log(kLog);
  std::vector<Session> sessions = parse_sessions(log);
  ASSERT_EQ(sessions.size(), 3U) << describe(sessions);
  for (const Session& s : sessions) {
    ASSERT_TRUE(s.logout.has_value()) << "session " << s.id << " reads as open\n"
                                      << describe(sessions);
    EXPECT_LE(s.login, *s.logout) << describe(sessions);
    EXPECT_EQ(s.end.rfind("Disconnected: Logged out", 0), 0U) << s.end;
  }
  EXPECT_EQ(sessions[0].id, "rMXapX9hLLh/AAAB");
  EXPECT_TRUE(sessions[0].login_logged_late);
  EXPECT_TRUE(sessions[1].login_logged_late);
  EXPECT_FALSE(sessions[2].login_logged_late);
  // In order and apart: no overlap is made up either.
  EXPECT_LT(*sessions[0].logout, sessions[1].login);
  EXPECT_LT(*sessions[1].logout, sessions[2].login);
}

TEST(DovecotLog, ASessionWithoutAnEndStaysOpen) {
  std::istringstream log(
      "2026-11-30 14:58:52.157461 imap-login: Info: Login: user=<alice>, method=PLAIN, "
      "rip=127.0.0.1, lip=127.0.0.1, mpid=9618, secured, session=<2MjipX9hRLh/AAAB>\n"
      "2026-11-30 14:58:52.164755 imap(alice)<9619><other/AAAB>: Info: Disconnected: "
      "Logged out in=54 out=925\n");
  std::vector<Session> sessions = parse_sessions(log);
  ASSERT_EQ(sessions.size(), 1U);
  EXPECT_FALSE(sessions[0].logout.has_value()) << describe(sessions);
}

// The login lines of Dovecot 2.3.19 and 2.4.1 for a session over TLS, and
// one secured only by coming from the server's own address.
TEST(DovecotLog, TheLoginLineTellsATlsSession) {
  std::istringstream log(
      "2026-11-30 21:44:05.333255 imap-login: Info: Login: user=<alice>, method=PLAIN, "
      "rip=127.0.0.1, lip=127.0.0.2, mpid=13234, TLS, session=<JS4QT4VhDJB/AAAB>\n"
      "2026-11-30 22:02:54.730059 imap-login: Info: Logged in: user=<alice>, method=PLAIN, "
      "rip=127.0.0.1, lip=127.0.0.2, mpid=31736, TLS, session=<WptckoVh8LR/AAAB>\n"
      "2026-11-30 22:03:10.681686 imap-login: Info: Logged in: user=<alice>, method=PLAIN, "
      "rip=127.0.0.1, lip=127.0.0.1, mpid=31999, secured, session=<YxhPk4VhWst/AAAB>\n");
  std::vector<Session> sessions = parse_sessions(log);
  ASSERT_EQ(sessions.size(), 3U) << describe(sessions);
  EXPECT_TRUE(sessions[0].tls);
  EXPECT_TRUE(sessions[1].tls);
  EXPECT_FALSE(sessions[2].tls);
}

}  // namespace
}  // namespace himalaya::mail
