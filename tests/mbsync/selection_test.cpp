// Which channels a name or a sync command selects, and their Maildirs.
#include "mbsync/selection.h"

#include <gtest/gtest.h>

#include <ostream>

namespace himalaya::mbsync {

void PrintTo(const MaildirRoot& root, std::ostream* out) {
  *out << "{" << root.directory << ", " << root.name_prefix << "}";
}

namespace {

const char* const two_accounts = R"(IMAPAccount work
Host imap.work.example

IMAPStore work-remote
Account work

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work/INBOX

IMAPAccount home
Host imap.home.example

IMAPStore home-remote
Account home

MaildirStore home-local
Path ~/Mail/home-
Inbox ~/Inbox

Channel work-inbox
Far :work-remote:INBOX
Near :work-local:INBOX

Channel work-rest
Far :work-remote:
Near :work-local:
Patterns * !INBOX

Channel home
Far :home-remote:
Near :home-local:

Group work work-inbox work-rest

Group home home
Channel work-inbox:INBOX

Group broken work-inbox nowhere
)";

Config config() {
  Environment env;
  env.home = "/home/u";
  Result<Config> c = parse(two_accounts, env);
  EXPECT_TRUE(c.ok()) << c.error().describe();
  return c.ok() ? c.value() : Config{};
}

std::vector<std::string> names(const std::vector<const Channel*>& channels) {
  std::vector<std::string> out;
  for (const Channel* c : channels) {
    out.push_back(c->name);
  }
  return out;
}

using Names = std::vector<std::string>;

TEST(MbsyncSelection, ChannelNamesInFileOrder) {
  EXPECT_EQ(channel_names(config()), (Names{"work-inbox", "work-rest", "home"}));
}

TEST(MbsyncSelection, ResolveGroupChannelAndChannelWithBoxes) {
  const Config c = config();
  EXPECT_EQ(names(resolve(c, "work").value()), (Names{"work-inbox", "work-rest"}));
  EXPECT_EQ(names(resolve(c, "work-rest").value()), (Names{"work-rest"}));
  EXPECT_EQ(names(resolve(c, "work-rest:Sent,Drafts").value()), (Names{"work-rest"}));
}

TEST(MbsyncSelection, GroupShadowsChannelOfTheSameName) {
  // Group "home" holds home and work-inbox; channel "home" only itself.
  EXPECT_EQ(names(resolve(config(), "home").value()), (Names{"home", "work-inbox"}));
}

TEST(MbsyncSelection, UnknownNamesAreErrors) {
  const Config c = config();
  Result<std::vector<const Channel*>> r = resolve(c, "nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), "no channel or group named 'nope'");
  r = resolve(c, "broken");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(),
            "line 39: group 'broken' names channel 'nowhere', which does not exist");
}

TEST(MbsyncSelection, SelectedByCommandLine) {
  const Config c = config();
  EXPECT_EQ(names(selected_channels(c, {"mbsync", "-a"}).value()),
            (Names{"work-inbox", "work-rest", "home"}));
  EXPECT_EQ(names(selected_channels(c, {"mbsync", "-Va", "ignored-name"}).value()),
            (Names{"work-inbox", "work-rest", "home"}));
  EXPECT_EQ(names(selected_channels(c, {"mbsync", "--all"}).value()),
            (Names{"work-inbox", "work-rest", "home"}));
  EXPECT_EQ(
      names(selected_channels(c, {"mbsync", "-c", "/rc", "-q", "work", "work-inbox"}).value()),
      (Names{"work-inbox", "work-rest"}));
  EXPECT_EQ(names(selected_channels(c, {"mbsync", "--config", "/rc", "home"}).value()),
            (Names{"home", "work-inbox"}));
  EXPECT_EQ(names(selected_channels(c, {"mbsync", "--", "work-rest"}).value()),
            (Names{"work-rest"}));
}

TEST(MbsyncSelection, CommandLineErrors) {
  const Config c = config();
  Result<std::vector<const Channel*>> r = selected_channels(c, {"mbsync", "-V"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "the sync command selects no channel (name one, or use -a)");
  r = selected_channels(c, {"mbsync", "work", "typo"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "no channel or group named 'typo'");
}

TEST(MbsyncSelection, MaildirRootsOfTheChannels) {
  const Config c = config();
  // work-local: Path is a directory holding its Inbox, so one root covers both.
  EXPECT_EQ(maildir_roots(c, resolve(c, "work").value()),
            (std::vector<MaildirRoot>{{"/home/u/Mail/work", ""}}));
  // home-local: Path is a prefix, and the Inbox lies elsewhere.
  EXPECT_EQ(maildir_roots(c, resolve(c, "home").value()),
            (std::vector<MaildirRoot>{
                {"/home/u/Mail", "home-"}, {"/home/u/Mail/work", ""}, {"/home/u/Inbox", ""}}));
  EXPECT_EQ(maildir_roots(c, {}), std::vector<MaildirRoot>{});
}

TEST(MbsyncSelection, MaildirRootsWithoutPathOrWithInboxOnly) {
  Environment env;
  env.home = "/home/u";
  Result<Config> c = parse(R"(MaildirStore inbox-only

MaildirStore both-sides
Path /var/mail/x/
Inbox /var/mail/x

Channel c
Far :inbox-only:
Near :both-sides:
)",
                           env);
  ASSERT_TRUE(c.ok()) << c.error().describe();
  EXPECT_EQ(maildir_roots(c.value(), resolve(c.value(), "c").value()),
            (std::vector<MaildirRoot>{{"/var/mail/x", ""}, {"/home/u/Maildir", ""}}));
}

}  // namespace
}  // namespace himalaya::mbsync
