// Which channels cover a mailbox of an account: push with sync.channels
// syncs only those (mbsync/coverage.h).
#include "mbsync/coverage.h"

#include <gtest/gtest.h>

namespace himalaya::mbsync {
namespace {

// Two accounts in the shapes people publish: one channel per folder for
// work, and Patterns for the personal account, split into the inbox and the
// rest, with a group.
const char* const config_text = R"(IMAPAccount work
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
Path ~/Mail/home/
Inbox ~/Mail/home/INBOX

Channel work-inbox
Far :work-remote:
Near :work-local:

Channel work-sent
Far :work-remote:Sent
Near :work-local:Sent

Channel home-inbox
Far :home-remote:
Near :home-local:
Patterns INBOX

Channel home-rest
Far :home-remote:
Near :home-local:
Patterns * !INBOX !Archive/% Archive/2026

Group home
Channel home-inbox
Channel home-rest
)";

class CoverageTest : public ::testing::Test {
 protected:
  CoverageTest() {
    Environment env;
    env.home = "/home/u";
    auto parsed = parse(config_text, env);
    EXPECT_TRUE(parsed.ok()) << parsed.error().describe();
    config_ = parsed.value();
  }
  bool covers(const char* name, const char* account, const char* mailbox) const {
    return mbsync::covers(config_, name, account, mailbox);
  }
  Config config_;
};

TEST_F(CoverageTest, AChannelWithoutABoxOrPatternsCoversItsAccountsInboxInAnyCase) {
  EXPECT_TRUE(covers("work-inbox", "work", "INBOX"));
  EXPECT_TRUE(covers("work-inbox", "work", "inbox"));
  EXPECT_FALSE(covers("work-inbox", "work", "Sent"));
  EXPECT_FALSE(covers("work-inbox", "home", "INBOX")) << "another account's INBOX";
}

TEST_F(CoverageTest, AChannelWithABoxCoversThatBoxOnly) {
  EXPECT_TRUE(covers("work-sent", "work", "Sent"));
  EXPECT_FALSE(covers("work-sent", "work", "INBOX"));
  EXPECT_FALSE(covers("work-sent", "work", "Sent/Old"));
}

TEST_F(CoverageTest, PatternsSelectWithWildcardsAndTheLastMatchDecides) {
  EXPECT_TRUE(covers("home-inbox", "home", "INBOX"));
  EXPECT_FALSE(covers("home-inbox", "home", "Lists"));
  EXPECT_TRUE(covers("home-rest", "home", "Lists"));
  EXPECT_TRUE(covers("home-rest", "home", "Lists/nvim")) << "'*' crosses the delimiter";
  EXPECT_FALSE(covers("home-rest", "home", "INBOX")) << "excluded by !INBOX";
  EXPECT_FALSE(covers("home-rest", "home", "Archive/2025")) << "excluded by !Archive/%";
  EXPECT_TRUE(covers("home-rest", "home", "Archive/2026")) << "the later pattern wins";
  EXPECT_TRUE(covers("home-rest", "home", "Archive/2025/Q1")) << "'%' stops at the delimiter";
}

TEST_F(CoverageTest, AGroupCoversWhatItsChannelsCover) {
  EXPECT_TRUE(covers("home", "home", "INBOX"));
  EXPECT_TRUE(covers("home", "home", "Lists"));
  EXPECT_FALSE(covers("home", "work", "INBOX"));
  EXPECT_TRUE(covers("work-sent:Sent", "work", "Sent")) << "channel:box is the whole channel";
}

TEST_F(CoverageTest, AnUnknownNameCoversNothingAndEmptyMeansAny) {
  EXPECT_FALSE(covers("nope", "work", "INBOX"));
  EXPECT_TRUE(covers("work-sent", "", "Sent"));
  EXPECT_TRUE(covers("work-sent", "work", ""));
  EXPECT_FALSE(covers("work-sent", "home", ""));
}

TEST(PatternsTest, PercentDoesNotCrossTheDelimiterAndStarDoes) {
  EXPECT_TRUE(patterns_select({"%"}, "Sent"));
  EXPECT_FALSE(patterns_select({"%"}, "Lists/nvim"));
  EXPECT_TRUE(patterns_select({"*"}, "Lists/nvim"));
  EXPECT_TRUE(patterns_select({"Lists/%"}, "Lists/nvim"));
  EXPECT_FALSE(patterns_select({"Lists/%"}, "Lists"));
  EXPECT_FALSE(patterns_select({}, "INBOX"));
  EXPECT_TRUE(patterns_select({"inbox"}, "INBOX"));
}

}  // namespace
}  // namespace himalaya::mbsync
