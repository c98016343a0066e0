// plan_from_config(): which accounts and mailboxes push watches for a sync
// command, on configurations in the shapes people publish; and plan_push()
// on a file that is missing.
#include "host/push_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mbsync/config.h"

namespace himalaya::host {
namespace {

mbsync::Config parsed(const std::string& text) {
  mbsync::Environment env;
  env.home = "/home/u";
  auto config = mbsync::parse(text, env);
  EXPECT_TRUE(config) << config.error().describe();
  return config ? config.value() : mbsync::Config{};
}

const char* const two_accounts = R"(IMAPAccount gmail
Host imap.gmail.com
User me@gmail.com
PassCmd "pass show gmail"
TLSType IMAPS
AuthMechs LOGIN

IMAPStore gmail-remote
Account gmail

MaildirStore gmail-local
Path ~/Mail/gmail/
Inbox ~/Mail/gmail/INBOX

Channel gmail
Far :gmail-remote:
Near :gmail-local:

IMAPAccount work
Host mail.example.org
User me
Pass secret-work
CertificateFile ~/certs/work.pem

IMAPStore work-remote
Account work

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work/INBOX

Channel work
Far :work-remote:
Near :work-local:

Group everything
Channel gmail
Channel work
)";

std::vector<std::string> accounts_of(const PushPlan& plan) {
  std::vector<std::string> names;
  for (const PushTarget& t : plan.targets) {
    names.push_back(t.account + "/" + t.mailbox);
  }
  return names;
}

TEST(PushPlan, AllChannelsWatchEveryAccountWithItsServerAndTls) {
  PushPlan plan = plan_from_config(parsed(two_accounts), {"mbsync", "-a"}, {"INBOX"});
  ASSERT_EQ(accounts_of(plan), (std::vector<std::string>{"gmail/INBOX", "work/INBOX"}));
  const PushTarget& gmail = plan.targets[0];
  EXPECT_EQ(gmail.server(), "imap.gmail.com:993");
  EXPECT_EQ(gmail.endpoint.tls, imap::Endpoint::Tls::implicit);
  EXPECT_EQ(gmail.pass_cmd, "pass show gmail");
  EXPECT_TRUE(gmail.pass.empty());
  EXPECT_EQ(gmail.auth_mechs, std::vector<std::string>{"LOGIN"});
  const PushTarget& work = plan.targets[1];
  EXPECT_EQ(work.server(), "mail.example.org:143");
  EXPECT_EQ(work.endpoint.tls, imap::Endpoint::Tls::starttls);  // mbsync's default
  EXPECT_EQ(work.endpoint.certificate_file, "/home/u/certs/work.pem");
  EXPECT_EQ(work.pass.reveal(), "secret-work");
  EXPECT_TRUE(plan.problem.empty());
}

TEST(PushPlan, OneChannelOnTheCommandLineWatchesOnlyItsAccount) {
  PushPlan plan = plan_from_config(parsed(two_accounts), {"mbsync", "work"}, {"INBOX"});
  EXPECT_EQ(accounts_of(plan), std::vector<std::string>{"work/INBOX"});
}

TEST(PushPlan, AGroupWatchesItsChannelsAccounts) {
  PushPlan plan = plan_from_config(parsed(two_accounts), {"mbsync", "-V", "everything"}, {"INBOX"});
  EXPECT_EQ(accounts_of(plan), (std::vector<std::string>{"gmail/INBOX", "work/INBOX"}));
}

TEST(PushPlan, EachAccountWatchesEachConfiguredMailbox) {
  PushPlan plan = plan_from_config(parsed(two_accounts), {"mbsync", "gmail"}, {"INBOX", "Lists"});
  EXPECT_EQ(accounts_of(plan), (std::vector<std::string>{"gmail/INBOX", "gmail/Lists"}));
}

TEST(PushPlan, AWrapperScriptWatchesEveryAccount) {
  PushPlan plan = plan_from_config(parsed(two_accounts), {"/home/u/bin/sync-mail"}, {"INBOX"});
  EXPECT_EQ(accounts_of(plan), (std::vector<std::string>{"gmail/INBOX", "work/INBOX"}));
}

TEST(PushPlan, ATunnelAccountIsLeftOutWithItsReason) {
  PushPlan plan = plan_from_config(parsed("IMAPAccount local\nTunnel \"dovecot --exec-mail imap\"\n"
                                          "\nIMAPStore local-remote\nAccount local\n"),
                                   {"mbsync", "-a"}, {"INBOX"});
  EXPECT_TRUE(plan.targets.empty());
  EXPECT_EQ(plan.problem, "account 'local' connects through a Tunnel, which push does not use");
}

TEST(PushPlan, NoImapAccountIsAProblem) {
  PushPlan plan =
      plan_from_config(parsed("MaildirStore local\nPath ~/Mail/\n"), {"mbsync", "-a"}, {"INBOX"});
  EXPECT_EQ(plan.problem, "the mbsync configuration has no IMAP account");
}

TEST(PushPlan, AMissingConfigurationIsAProblemNamingTheFile) {
  PushConfig push;
  mbsync::Environment env;
  env.home = "/nonexistent-home";
  PushPlan plan = plan_push({"mbsync", "-c", "/nonexistent/rc", "-a"}, push, env);
  EXPECT_TRUE(plan.targets.empty());
  EXPECT_NE(plan.problem.find("/nonexistent/rc"), std::string::npos) << plan.problem;
}

}  // namespace
}  // namespace himalaya::host
