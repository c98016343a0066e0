// Session: the watcher's protocol, driven by scripted server bytes split at
// every byte, with BYE at each step, refusals, literals, deadlines, STARTTLS
// and logout; the password never reaches the trace.
#include "imap/session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace himalaya::imap {
namespace {

using std::chrono::seconds;
using Kind = Event::Kind;

const TimePoint t0{};
const std::string password = "s3cret\"pw";
const std::string plain_b64 = "AHVzZXIAczNjcmV0InB3";  // base64("\0user\0s3cret\"pw")

Options options() {
  Options o;
  o.user = "user";
  o.password = password;
  o.reply_timeout = seconds(10);
  o.idle_refresh = seconds(100);
  return o;
}

// Everything the session said over a run.
struct Transcript {
  std::string bytes;
  std::string trace;
  std::vector<Event> events;

  void add(const Output& out) {
    bytes += out.bytes;
    trace += out.trace;
    events.insert(events.end(), out.events.begin(), out.events.end());
  }
  std::vector<Kind> kinds() const {
    std::vector<Kind> k;
    for (const auto& e : events) {
      k.push_back(e.kind);
    }
    return k;
  }
};

// Feeds the server's bytes in the given pieces.
Transcript run(Session& s, const std::vector<std::string>& pieces, TimePoint now = t0) {
  Transcript t;
  t.add(s.start(now));
  for (const auto& p : pieces) {
    t.add(s.receive(p.data(), p.size(), now));
  }
  return t;
}

const std::string greeting =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR IDLE AUTH=PLAIN LITERAL+] Dovecot ready.\r\n";
const std::string login_ok = "A1 OK [CAPABILITY IMAP4rev1 IDLE SORT] Logged in\r\n";
const std::string examine_ok =
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n* 3 EXISTS\r\n* 0 RECENT\r\n"
    "* OK [UIDVALIDITY 1700000000] UIDs valid\r\nA2 OK [READ-ONLY] Examine completed.\r\n";
const std::string idle_go = "+ idling\r\n";
const std::string changes =
    "* 4 EXISTS\r\n* 2 EXPUNGE\r\n* 1 FETCH (FLAGS (\\Seen) BODY[HEADER] {12}\r\nSubject: "
    "x\r\n)\r\n";

// The client's side of the same conversation.
const std::string client_bytes =
    "A1 AUTHENTICATE PLAIN " + plain_b64 + "\r\nA2 EXAMINE \"INBOX\"\r\nA3 IDLE\r\n";

TEST(ImapSession, LogsInExaminesAndReportsChanges) {
  Session s(options());
  auto t = run(s, {greeting, login_ok, examine_ok, idle_go, changes});
  EXPECT_EQ(t.bytes, client_bytes);
  ASSERT_EQ(t.kinds(), (std::vector<Kind>{Kind::ready, Kind::idling, Kind::mailbox_changed,
                                          Kind::mailbox_changed, Kind::mailbox_changed}));
  EXPECT_EQ(t.events[2].change, Event::Change::exists);
  EXPECT_EQ(t.events[2].number, 4u);
  EXPECT_EQ(t.events[3].change, Event::Change::expunge);
  EXPECT_EQ(t.events[4].change, Event::Change::fetch);
  EXPECT_STREQ(s.step_name(), "idling");
  EXPECT_EQ(t.trace.find(password), std::string::npos);
  EXPECT_EQ(t.trace.find(plain_b64), std::string::npos);
}

TEST(ImapSession, SplitAtEveryByteBoundaryGivesTheSameConversation) {
  const std::string server = greeting + login_ok + examine_ok + idle_go + changes;
  Session whole(options());
  const auto expected = run(whole, {server});
  ASSERT_EQ(expected.events.size(), 5u);
  for (std::size_t cut = 1; cut < server.size(); ++cut) {
    Session s(options());
    auto t = run(s, {server.substr(0, cut), server.substr(cut)});
    ASSERT_EQ(t.bytes, expected.bytes) << "cut at " << cut;
    ASSERT_EQ(t.kinds(), expected.kinds()) << "cut at " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : server) {
    bytes.emplace_back(1, c);
  }
  Session one_by_one(options());
  auto t = run(one_by_one, bytes);
  EXPECT_EQ(t.bytes, expected.bytes);
  EXPECT_EQ(t.kinds(), expected.kinds());
}

TEST(ImapSession, ByeAtEachStepEndsTheSession) {
  const std::vector<std::string> steps = {greeting, login_ok, examine_ok, idle_go, changes};
  for (std::size_t at = 0; at <= steps.size(); ++at) {
    Session s(options());
    std::vector<std::string> pieces(steps.begin(), steps.begin() + at);
    pieces.push_back("* BYE server shutting down\r\n");
    auto t = run(s, pieces);
    ASSERT_FALSE(t.events.empty());
    EXPECT_EQ(t.events.back().kind, Kind::bye) << "after step " << at;
    EXPECT_NE(t.events.back().message.find("shutting down"), std::string::npos);
    EXPECT_TRUE(s.finished());
    EXPECT_FALSE(s.deadline());
    // Nothing more is read or written.
    auto after = s.receive(idle_go.data(), idle_go.size(), t0);
    EXPECT_TRUE(after.bytes.empty());
    EXPECT_TRUE(after.events.empty());
  }
}

TEST(ImapSession, NoToLoginIsAnAuthFailure) {
  Session s(options());
  auto t = run(s, {"* OK [CAPABILITY IMAP4rev1 IDLE] hi\r\n",
                   "A1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"});
  EXPECT_EQ(t.bytes, "A1 LOGIN \"user\" \"s3cret\\\"pw\"\r\n");
  EXPECT_EQ(t.kinds(), std::vector<Kind>{Kind::auth_failed});
  EXPECT_NE(t.events[0].message.find("Authentication failed"), std::string::npos);
  EXPECT_EQ(t.events[0].message.find(password), std::string::npos);
  EXPECT_EQ(t.trace.find("s3cret"), std::string::npos);
  EXPECT_TRUE(s.finished());
}

TEST(ImapSession, AsksForCapabilitiesWhenNotGivenAndPlainWithoutSaslIrWaitsForPlus) {
  Session s(options());
  auto t = run(s, {"* OK hi\r\n", "* CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE\r\nA1 OK\r\n", "+ \r\n",
                   "A2 OK done\r\n", "* CAPABILITY IMAP4rev1 IDLE\r\nA3 OK\r\n"});
  EXPECT_EQ(t.bytes, "A1 CAPABILITY\r\nA2 AUTHENTICATE PLAIN\r\n" + plain_b64 +
                         "\r\nA3 CAPABILITY\r\nA4 EXAMINE \"INBOX\"\r\n");
  EXPECT_EQ(t.trace.find(plain_b64), std::string::npos);
}

TEST(ImapSession, AuthMechsLoginAvoidsPlainAndNoCommonMechanismFails) {
  auto o = options();
  o.auth_mechs = {"LOGIN"};
  Session login(o);
  auto t = run(login, {greeting});
  EXPECT_EQ(t.bytes.rfind("A1 LOGIN ", 0), 0u);

  Session none(o);
  auto n = run(none, {"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED IDLE] hi\r\n"});
  EXPECT_EQ(n.kinds(), std::vector<Kind>{Kind::auth_failed});
  EXPECT_NE(n.events[0].message.find("no login mechanism"), std::string::npos);
}

TEST(ImapSession, ServerWithoutIdleLogsOutWithNoIdle) {
  Session s(options());
  auto t = run(s, {greeting, "A1 OK [CAPABILITY IMAP4rev1 SORT] Logged in\r\n"});
  ASSERT_EQ(t.kinds(), std::vector<Kind>{Kind::no_idle});
  EXPECT_NE(t.bytes.find("A2 LOGOUT\r\n"), std::string::npos);
  EXPECT_NE(t.events[0].message.find("IMAP4REV1 SORT"), std::string::npos);
  EXPECT_TRUE(s.finished());
}

TEST(ImapSession, PasswordNeedingALiteralWaitsForTheContinuation) {
  auto o = options();
  o.password = "p\xc3\xa4ss";  // 8-bit: not a quoted string
  Session s(o);
  auto t = run(s, {"* OK [CAPABILITY IMAP4rev1 IDLE] hi\r\n"});
  EXPECT_EQ(t.bytes, "A1 LOGIN \"user\" {5}\r\n");
  t.add(s.receive("+ OK\r\n", 6, t0));
  EXPECT_EQ(t.bytes, "A1 LOGIN \"user\" {5}\r\np\xc3\xa4ss\r\n");
  EXPECT_EQ(t.trace.find("p\xc3\xa4ss"), std::string::npos);
  EXPECT_EQ(astring_parts(std::string("a\0b", 3)), std::vector<std::string>{});
}

TEST(ImapSession, AMissingReplyTimesOutAtItsDeadline) {
  Session s(options());
  run(s, {greeting});
  ASSERT_TRUE(s.deadline());
  EXPECT_EQ(*s.deadline(), t0 + seconds(10));
  EXPECT_TRUE(s.on_timer(t0 + seconds(9)).events.empty());
  auto out = s.on_timer(t0 + seconds(10));
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].kind, Kind::timed_out);
  EXPECT_NE(out.events[0].message.find("login"), std::string::npos);
}

TEST(ImapSession, IdleIsReissuedEveryRefresh) {
  Session s(options());
  const TimePoint t1 = t0 + seconds(1);
  run(s, {greeting, login_ok, examine_ok});
  Transcript t;
  t.add(s.receive(idle_go.data(), idle_go.size(), t1));
  ASSERT_TRUE(s.deadline());
  EXPECT_EQ(*s.deadline(), t1 + seconds(100));
  t.add(s.on_timer(t1 + seconds(99)));
  EXPECT_TRUE(t.bytes.empty());
  t.add(s.on_timer(t1 + seconds(100)));
  EXPECT_EQ(t.bytes, "DONE\r\n");
  EXPECT_EQ(*s.deadline(), t1 + seconds(110));  // DONE has a reply deadline
  const std::string done_ok = "* 5 EXISTS\r\nA3 OK Idle completed.\r\n+ idling\r\n";
  t.add(s.receive(done_ok.data(), done_ok.size(), t1 + seconds(101)));
  EXPECT_EQ(t.bytes, "DONE\r\nA4 IDLE\r\n");
  EXPECT_EQ(t.kinds(), (std::vector<Kind>{Kind::idling, Kind::mailbox_changed, Kind::idling}));
  EXPECT_EQ(*s.deadline(), t1 + seconds(201));
}

TEST(ImapSession, LogoutEndsIdleThenLogsOut) {
  Session s(options());
  run(s, {greeting, login_ok, examine_ok, idle_go});
  Transcript t;
  t.add(s.logout(t0));
  EXPECT_EQ(t.bytes, "DONE\r\n");
  const std::string replies = "A3 OK Idle completed.\r\n* BYE Logging out\r\nA4 OK Logout.\r\n";
  t.add(s.receive(replies.data(), replies.size(), t0));
  EXPECT_EQ(t.bytes, "DONE\r\nA4 LOGOUT\r\n");
  EXPECT_EQ(t.kinds(), std::vector<Kind>{Kind::logged_out});
  EXPECT_TRUE(s.finished());
}

TEST(ImapSession, StarttlsAsksForAHandshakeAndRejectsInjectedBytes) {
  auto o = options();
  o.starttls = true;
  Session s(o);
  auto t = run(s, {"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n", "A1 OK go\r\n"});
  EXPECT_EQ(t.bytes, "A1 STARTTLS\r\n");
  EXPECT_EQ(t.kinds(), std::vector<Kind>{Kind::need_tls});
  t.add(s.tls_started(t0));
  EXPECT_EQ(t.bytes, "A1 STARTTLS\r\nA2 CAPABILITY\r\n");
  const std::string caps = "* CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE\r\nA2 OK\r\n+ \r\n";
  t.add(s.receive(caps.data(), caps.size(), t0));
  EXPECT_NE(t.bytes.find("A3 AUTHENTICATE PLAIN\r\n" + plain_b64), std::string::npos);

  Session injected(o);
  auto i = run(injected, {"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n",
                          "A1 OK go\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake\r\n"});
  EXPECT_EQ(i.kinds(), std::vector<Kind>{Kind::protocol_error});

  Session no_tls(o);
  auto n = run(no_tls, {"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE] hi\r\n"});
  EXPECT_EQ(n.kinds(), std::vector<Kind>{Kind::protocol_error});
  EXPECT_TRUE(n.bytes.empty());  // never logs in without TLS
}

TEST(ImapSession, UnexpectedTagsAndMalformedBytesAreProtocolErrors) {
  Session tag(options());
  auto t = run(tag, {greeting, "A7 OK what\r\n"});
  EXPECT_EQ(t.kinds(), std::vector<Kind>{Kind::protocol_error});
  Session bad(options());
  auto b = run(bad, {"* OK hi\n"});
  EXPECT_EQ(b.kinds(), std::vector<Kind>{Kind::protocol_error});
  EXPECT_NE(b.events[0].message.find("LF without CR"), std::string::npos);
  Session refused(options());
  auto r = run(refused, {greeting, login_ok, "A2 NO Mailbox doesn't exist: INBOX\r\n"});
  EXPECT_EQ(r.kinds(), std::vector<Kind>{Kind::protocol_error});
}

TEST(ImapSession, AnOverlongLineIsAProtocolErrorBeforeItEnds) {
  auto o = options();
  o.limits.max_line = 1024;
  Session s(o);
  const std::string flood = "* OK " + std::string(2000, 'x');  // no line end yet
  auto t = run(s, {greeting, login_ok, examine_ok, idle_go, flood});
  ASSERT_EQ(t.events.back().kind, Kind::protocol_error);
  EXPECT_NE(t.events.back().message.find("longer than 1024 bytes"), std::string::npos);
  EXPECT_TRUE(s.finished());
}

}  // namespace
}  // namespace himalaya::imap
