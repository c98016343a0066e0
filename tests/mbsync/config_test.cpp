// The configuration reader on configurations in the shapes people publish.
#include "mbsync/config.h"

#include <gtest/gtest.h>

#include <sstream>
#include <type_traits>

namespace himalaya::mbsync {
namespace {

Environment test_env() {
  Environment env;
  env.home = "/home/u";
  env.home_of = [](const std::string& user) -> std::optional<std::string> {
    if (user == "bob") {
      return std::string("/srv/bob");
    }
    return std::nullopt;
  };
  return env;
}

Config parse_ok(std::string_view text) {
  Result<Config> config = parse(text, test_env());
  EXPECT_TRUE(config.ok()) << (config.ok() ? "" : config.error().describe());
  return config.ok() ? config.value() : Config{};
}

TEST(MbsyncConfig, GmailWithPassCmdImapsAndQuotedGmailFolders) {
  const Config config = parse_ok(R"(# ~/.mbsyncrc for Gmail
IMAPAccount gmail
Host imap.gmail.com
User someone@gmail.com
PassCmd "pass show mail/gmail"
TLSType IMAPS
CertificateFile /etc/ssl/certs/ca-certificates.crt

IMAPStore gmail-remote
Account gmail

MaildirStore gmail-local
SubFolders Verbatim
Path ~/Mail/gmail/
Inbox ~/Mail/gmail/Inbox

Channel gmail-inbox
Far :gmail-remote:
Near :gmail-local:
Patterns "INBOX"
Create Near
SyncState *

Channel gmail-all
Far :gmail-remote:"[Gmail]/All Mail"
Near :gmail-local:all

Channel gmail-folders
Far :gmail-remote:
Near :gmail-local:
Patterns * ![Gmail]* "[Gmail]/Sent Mail" "[Gmail]/Starred"

Group gmail
Channel gmail-inbox
Channel gmail-all
Channel gmail-folders
)");
  ASSERT_EQ(config.accounts.size(), 1u);
  const Account& a = config.accounts[0];
  EXPECT_EQ(a.name, "gmail");
  EXPECT_EQ(a.line, 2);
  EXPECT_EQ(a.host, "imap.gmail.com");
  EXPECT_EQ(a.user, "someone@gmail.com");
  EXPECT_EQ(a.pass_cmd, "pass show mail/gmail");
  EXPECT_FALSE(a.pass_cmd_prompts);
  EXPECT_FALSE(a.pass.has_value());
  EXPECT_EQ(a.tls, TlsType::imaps);
  EXPECT_EQ(a.port, 993);
  EXPECT_EQ(a.certificate_file, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_TRUE(a.system_certificates);
  EXPECT_EQ(a.auth_mechs, std::vector<std::string>{"*"});

  ASSERT_EQ(config.imap_stores.size(), 1u);
  EXPECT_EQ(config.imap_stores[0].account, "gmail");
  EXPECT_FALSE(config.imap_stores[0].account_inline);
  EXPECT_EQ(config.account_of(config.imap_stores[0]), &config.accounts[0]);

  ASSERT_EQ(config.maildir_stores.size(), 1u);
  EXPECT_EQ(config.maildir_stores[0].path, "/home/u/Mail/gmail/");
  EXPECT_EQ(config.maildir_stores[0].inbox, "/home/u/Mail/gmail/Inbox");
  EXPECT_EQ(config.maildir_stores[0].sub_folders, SubFolders::verbatim);

  ASSERT_EQ(config.channels.size(), 3u);
  EXPECT_EQ(config.channels[0].far.store, "gmail-remote");
  EXPECT_EQ(config.channels[0].far.box, "");
  EXPECT_EQ(config.channels[0].near.store, "gmail-local");
  EXPECT_EQ(config.channels[0].patterns, std::vector<std::string>{"INBOX"});
  EXPECT_EQ(config.channels[1].far.box, "[Gmail]/All Mail");
  EXPECT_EQ(config.channels[1].near.box, "all");
  EXPECT_EQ(config.channels[2].patterns,
            (std::vector<std::string>{"*", "![Gmail]*", "[Gmail]/Sent Mail", "[Gmail]/Starred"}));

  ASSERT_EQ(config.groups.size(), 1u);
  EXPECT_EQ(config.groups[0].channels,
            (std::vector<std::string>{"gmail-inbox", "gmail-all", "gmail-folders"}));
}

TEST(MbsyncConfig, FastmailWithPassPortAndAuthMechs) {
  const Config config = parse_ok(R"(IMAPAccount fastmail
Host imap.fastmail.com
Port 993
User me@fastmail.com
Pass "app pass\"word\\x"
SSLType IMAPS
AuthMechs LOGIN PLAIN
SystemCertificates no

IMAPStore fastmail-remote
Account fastmail

MaildirStore fastmail-local
Path ~/.mail/fastmail/
Inbox ~/.mail/fastmail/INBOX
SubFolders Verbatim

Channel fastmail
Far :fastmail-remote:
Near :fastmail-local:
Patterns *
)");
  ASSERT_EQ(config.accounts.size(), 1u);
  const Account& a = config.accounts[0];
  ASSERT_TRUE(a.pass.has_value());
  EXPECT_EQ(a.pass->reveal(), "app pass\"word\\x");
  EXPECT_EQ(a.pass_cmd, "");
  EXPECT_EQ(a.port, 993);
  EXPECT_EQ(a.tls, TlsType::imaps);
  EXPECT_EQ(a.auth_mechs, (std::vector<std::string>{"LOGIN", "PLAIN"}));
  EXPECT_FALSE(a.system_certificates);
}

TEST(MbsyncConfig, SelfHostedDovecotWithStarttlsDefaultsToPort143) {
  const Config config = parse_ok(R"(IMAPAccount home
Host mail.example.org
User alice
UserCmd "+cat ~/.mail-user"
PassCmd "+gpg --quiet --decrypt ~/.mail-pass.gpg"
TLSType STARTTLS
CertificateFile ~/certs/dovecot.pem
AuthMechs PLAIN

IMAPStore home-remote
Account home

MaildirStore home-local
Path ~/Maildir/
Inbox ~/Maildir/INBOX

Channel home
Far :home-remote:
Near :home-local:
)");
  const Account& a = config.accounts.at(0);
  EXPECT_EQ(a.tls, TlsType::starttls);
  EXPECT_EQ(a.port, 143);
  EXPECT_EQ(a.user_cmd, "cat ~/.mail-user");  // a shell's '~': not ours to expand
  EXPECT_EQ(a.pass_cmd, "gpg --quiet --decrypt ~/.mail-pass.gpg");
  EXPECT_TRUE(a.pass_cmd_prompts);
  EXPECT_EQ(a.certificate_file, "/home/u/certs/dovecot.pem");
}

TEST(MbsyncConfig, DefaultsWithoutTlsTypePortOrInbox) {
  const Config config = parse_ok(R"(IMAPAccount plain
Host localhost

IMAPAccount tunnelled
Tunnel "ssh -q host /usr/lib/dovecot/imap"

IMAPAccount explicit-port
Host localhost
Port 10143
TLSType None

MaildirStore local
Path ~/Mail/
)");
  ASSERT_EQ(config.accounts.size(), 3u);
  EXPECT_EQ(config.accounts[0].tls, TlsType::starttls);
  EXPECT_EQ(config.accounts[0].port, 143);
  EXPECT_EQ(config.accounts[1].tls, TlsType::none);
  EXPECT_EQ(config.accounts[1].tunnel, "ssh -q host /usr/lib/dovecot/imap");
  EXPECT_EQ(config.accounts[2].tls, TlsType::none);
  EXPECT_EQ(config.accounts[2].port, 10143);
  EXPECT_EQ(config.maildir_stores.at(0).inbox, "/home/u/Maildir");
}

TEST(MbsyncConfig, SeveralAccountsAndGroups) {
  const Config config = parse_ok(R"(IMAPAccount work
Host imap.work.example
User alice@work.example
PassCmd "secret-tool lookup mail work"
TLSType IMAPS

IMAPAccount personal
Host imap.personal.example
User alice
PassCmd "pass personal"
TLSType IMAPS

IMAPStore work-remote
Account work

IMAPStore personal-remote
Account personal

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work/INBOX

MaildirStore personal-local
Path ~/Mail/personal/
Inbox ~/Mail/personal/INBOX

Channel work-inbox
Far :work-remote:INBOX
Near :work-local:INBOX

Channel work-archive
Far :work-remote:Archive
Near :work-local:Archive

Channel personal
Far :personal-remote:
Near :personal-local:
Patterns *

Group work work-inbox
Channels work-archive

Group everything work-inbox work-archive personal
)");
  ASSERT_EQ(config.accounts.size(), 2u);
  EXPECT_EQ(config.account_of(*config.find_imap_store("personal-remote"))->host,
            "imap.personal.example");
  ASSERT_EQ(config.groups.size(), 2u);
  EXPECT_EQ(config.groups[0].channels, (std::vector<std::string>{"work-inbox", "work-archive"}));
  EXPECT_EQ(config.groups[1].channels,
            (std::vector<std::string>{"work-inbox", "work-archive", "personal"}));
  EXPECT_EQ(config.find_channel("work-archive")->far.box, "Archive");
}

TEST(MbsyncConfig, OldMasterSlaveSslTypeAndMixedCaseKeywords) {
  const Config config = parse_ok(
      "imapaccount Old\r\n"
      "HOST imap.old.example\r\n"
      "user me\r\n"
      "ssltype imaps\r\n"
      "systemcertificates YES\r\n"
      "\r\n"
      "imapstore old-remote\r\n"
      "ACCOUNT Old\r\n"
      "\r\n"
      "maildirstore old-local\r\n"
      "path ~/Mail/old/\r\n"
      "subfolders legacy\r\n"
      "\r\n"
      "CHANNEL old\r\n"
      "Master :old-remote:\r\n"
      "Slave :old-local:\r\n"
      "Pattern INBOX\r\n");
  const Account& a = config.accounts.at(0);
  EXPECT_EQ(a.name, "Old");
  EXPECT_EQ(a.tls, TlsType::imaps);
  EXPECT_EQ(a.port, 993);
  EXPECT_EQ(config.maildir_stores.at(0).path, "/home/u/Mail/old/");
  EXPECT_EQ(config.maildir_stores.at(0).sub_folders, SubFolders::legacy);
  const Channel& c = config.channels.at(0);
  EXPECT_EQ(c.far.store, "old-remote");
  EXPECT_EQ(c.near.store, "old-local");
  EXPECT_EQ(c.patterns, std::vector<std::string>{"INBOX"});
}

TEST(MbsyncConfig, InlineAccountInImapStore) {
  const Config config = parse_ok(R"(# These settings can also go under an "Account" section.
IMAPStore mailbox-remote
Host imap.mailbox.org
User alexander@mailbox.org
PassCmd "gpg --quiet --decrypt ~/.mbsync-pw-mailbox.gpg"
SSLType STARTTLS
Path Mail/

MaildirStore mailbox-local
Path ~/mail/mailbox/
Inbox ~/mail/mailbox/INBOX

Channel mailbox
Master :mailbox-remote:
Slave :mailbox-local:
Patterns * !Archives
)");
  ASSERT_EQ(config.imap_stores.size(), 1u);
  const ImapStore& store = config.imap_stores[0];
  EXPECT_TRUE(store.account_inline);
  EXPECT_EQ(store.account, "mailbox-remote");
  EXPECT_EQ(store.path, "Mail/");
  const Account* a = config.account_of(store);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->inline_in_store);
  EXPECT_EQ(a->host, "imap.mailbox.org");
  EXPECT_EQ(a->tls, TlsType::starttls);
  EXPECT_EQ(a->port, 143);
  // An inline account is not an IMAPAccount another store could name.
  EXPECT_EQ(config.find_account("mailbox-remote"), nullptr);
}

TEST(MbsyncConfig, AStoreNamedLikeItsAccountFindsTheAccount) {
  const Config config = parse_ok("IMAPAccount gmail\nHost h\n\nIMAPStore gmail\nAccount gmail\n");
  ASSERT_EQ(config.imap_stores.size(), 1u);
  const Account* a = config.account_of(config.imap_stores[0]);
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->inline_in_store);
}

TEST(MbsyncConfig, UnknownKeywordsAndGlobalOptionsAreSkipped) {
  const Config config = parse_ok(R"(FSync no
Expunge Both
Create Both

IMAPAccount a
Host h
PipelineDepth 1
Timeout 60
SSLVersions TLSv1.2 TLSv1.3
ClientCertificate ~/c.pem

IMAPStore r
Account a
UseNamespace no
MaxSize 10m

MaildirStore l
Path ~/M/
AltMap yes
Flatten .

Channel c
Far :r:
Near :l:
Sync Pull
SyncState *
CopyArrivalDate yes
MaxMessages 100
)");
  EXPECT_EQ(config.accounts.size(), 1u);
  EXPECT_EQ(config.channels.size(), 1u);
}

TEST(MbsyncConfig, CommentsQuotesAndEscapesFollowMbsync) {
  const Config config = parse_ok(R"(IMAPAccount a
  # an indented comment does not end the section
Host h.example # a comment after a value
User we"ird name"
Pass a#b
CertificateFile "~/with space/ca.pem"

# a comment between sections
IMAPAccount b
Host \#literal
Pass "#quoted"
)");
  ASSERT_EQ(config.accounts.size(), 2u);
  EXPECT_EQ(config.accounts[0].host, "h.example");
  EXPECT_EQ(config.accounts[0].user, "weird name");
  EXPECT_EQ(config.accounts[0].pass->reveal(), "a#b");
  // '~' is expanded only when it starts the word, quoted or not.
  EXPECT_EQ(config.accounts[0].certificate_file, "/home/u/with space/ca.pem");
  EXPECT_EQ(config.accounts[1].host, "#literal");
  EXPECT_EQ(config.accounts[1].pass->reveal(), "#quoted");
}

TEST(MbsyncConfig, TildeExpansion) {
  const Environment env = test_env();
  EXPECT_EQ(expand_tilde("~", env), "/home/u");
  EXPECT_EQ(expand_tilde("~/Mail/", env), "/home/u/Mail/");
  EXPECT_EQ(expand_tilde("~bob/Mail", env), "/srv/bob/Mail");
  EXPECT_EQ(expand_tilde("~nobody-here/Mail", env), "~nobody-here/Mail");
  EXPECT_EQ(expand_tilde("/abs/~/x", env), "/abs/~/x");
  EXPECT_EQ(expand_tilde("rel/path", env), "rel/path");
  const Config config = parse_ok("MaildirStore l\nPath ~bob/Mail/\nInbox ~bob/Inbox\n");
  EXPECT_EQ(config.maildir_stores.at(0).path, "/srv/bob/Mail/");
  EXPECT_EQ(config.maildir_stores.at(0).inbox, "/srv/bob/Inbox");
}

TEST(MbsyncConfig, PortZeroMeansTheDefaultAsInMbsync) {
  const Config config = parse_ok("IMAPAccount a\nHost h\nPort 0\nTLSType IMAPS\n");
  EXPECT_EQ(config.accounts.at(0).port, 993);
}

TEST(MbsyncConfig, ANameUsedTwiceFindsTheFirstAsInMbsync) {
  const Config config = parse_ok(
      "IMAPAccount a\nHost first\n\nIMAPAccount a\nHost second\n\n"
      "IMAPStore r\nAccount a\n\nMaildirStore r\nPath ~/M/\n");
  EXPECT_EQ(config.accounts.size(), 2u);
  EXPECT_EQ(config.account_of(*config.find_imap_store("r"))->host, "first");
}

TEST(MbsyncConfig, OldUrlHostNotation) {
  const Config config = parse_ok("IMAPAccount a\nHost imaps://imap.example.org\n");
  EXPECT_EQ(config.accounts.at(0).host, "imap.example.org");
  EXPECT_EQ(config.accounts.at(0).tls, TlsType::imaps);
  EXPECT_EQ(config.accounts.at(0).port, 993);
}

TEST(MbsyncConfig, EmptyTextIsAnEmptyConfiguration) {
  const Config config = parse_ok("");
  EXPECT_TRUE(config.accounts.empty());
  EXPECT_TRUE(config.channels.empty());
}

template <class T, class = void>
struct streamable : std::false_type {};
template <class T>
struct streamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<T>())>>
    : std::true_type {};

TEST(MbsyncSecret, NeverPrintsItsText) {
  static_assert(!streamable<Secret>::value, "a password must not be streamable");
  static_assert(!std::is_convertible<Secret, std::string>::value, "nor convert to a string");
  const Secret secret("hunter2-very-secret");
  EXPECT_EQ(::testing::PrintToString(secret).find("hunter2"), std::string::npos);
  EXPECT_EQ(::testing::PrintToString(secret), Secret::redacted());
  EXPECT_EQ(std::string(Secret::redacted()).find("hunter2"), std::string::npos);
  EXPECT_EQ(secret.reveal(), "hunter2-very-secret");
}

TEST(MbsyncSecret, ParsedPasswordNeverReachesAnError) {
  // mbsync would name the excess word, which here is half of the password.
  Result<Config> config = parse("IMAPAccount a\nHost h\nPass s3cr3t extra\n", test_env());
  ASSERT_FALSE(config.ok());
  const std::string message = config.error().describe();
  EXPECT_EQ(message, "line 3: excess words after Pass (quote a password that holds spaces)");
  EXPECT_EQ(message.find("s3cr3t"), std::string::npos) << message;
  EXPECT_EQ(message.find("extra"), std::string::npos) << message;
}

}  // namespace
}  // namespace himalaya::mbsync
