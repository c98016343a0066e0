// NewMailCounter: the host's count of a sync's new messages, from the mbsync
// configuration the sync command reads and the Maildirs it names.
#include "host/new_mail.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/files.h"

namespace himalaya::host {
namespace {

namespace fs = std::filesystem;

class NewMailTest : public ::testing::Test {
 protected:
  NewMailTest() {
    env_.home = dir_.path().string();
    for (const char* sub : {"cur", "new", "tmp"}) {
      fs::create_directories(inbox() / sub);
    }
    testing::spit(rc(), R"(IMAPAccount a
Host 127.0.0.1
TLSType None

IMAPStore remote
Account a

MaildirStore local
Path ~/Mail/
Inbox ~/Mail/INBOX

Channel inbox
Far :remote:
Near :local:
)");
  }
  fs::path inbox() const { return dir_.path() / "Mail" / "INBOX"; }
  fs::path rc() const { return dir_.path() / "mbsyncrc"; }

  testing::TempDir dir_{"new-mail-"};
  mbsync::Environment env_;
};

TEST_F(NewMailTest, CountsWhatAnMbsyncSyncAdded) {
  NewMailCounter counter({"/usr/bin/mbsync", "-c", rc().string(), "-a"}, "", env_);
  EXPECT_EQ(counter.before_sync(), "");
  testing::spit(inbox() / "new" / "1.a.host,U=1", "");
  testing::spit(inbox() / "cur" / "2.b.host,U=2:2,S", "");
  EXPECT_EQ(counter.after_sync(), 2);
  EXPECT_EQ(counter.after_sync(), std::nullopt) << "one count per snapshot";
}

TEST_F(NewMailTest, ReadsMbsyncsDefaultFileWithoutDashC) {
  testing::spit(dir_.path() / ".mbsyncrc", testing::slurp(rc()));
  NewMailCounter counter({"mbsync", "inbox"}, "", env_);
  EXPECT_EQ(counter.before_sync(), "");
  EXPECT_EQ(counter.after_sync(), 0);
}

TEST_F(NewMailTest, UnknownForAnotherCommandWithoutSyncPushMbsyncrc) {
  NewMailCounter counter({"/bin/sh", "sync.sh", "-c", rc().string()}, "", env_);
  EXPECT_EQ(counter.before_sync(),
            "the sync command is not mbsync, and sync.push.mbsyncrc is not set");
  testing::spit(inbox() / "new" / "1.a.host", "");
  EXPECT_EQ(counter.after_sync(), std::nullopt);
}

TEST_F(NewMailTest, AWrapperCommandIsCountedOverEveryChannelOfSyncPushMbsyncrc) {
  NewMailCounter counter({"/bin/sh", "sync.sh"}, rc().string(), env_);
  EXPECT_EQ(counter.before_sync(), "");
  testing::spit(inbox() / "new" / "1.a.host,U=1", "");
  EXPECT_EQ(counter.after_sync(), 1);
}

TEST_F(NewMailTest, SyncPushMbsyncrcIsWhatMbsyncReadsWithoutDashC) {
  // No ~/.mbsyncrc in this home: only the configured file can be read.
  NewMailCounter counter({"mbsync", "inbox"}, rc().string(), env_);
  EXPECT_EQ(counter.before_sync(), "");
  testing::spit(inbox() / "cur" / "3.c.host,U=3:2,S", "");
  EXPECT_EQ(counter.after_sync(), 1);
}

TEST_F(NewMailTest, UnknownWhenTheConfigurationCannotBeUsed) {
  testing::spit(dir_.path() / "broken", "IMAPAccount a\nPort x\n");
  NewMailCounter broken({"mbsync", "-c", (dir_.path() / "broken").string(), "-a"}, "", env_);
  EXPECT_EQ(broken.before_sync(),
            (dir_.path() / "broken").string() + ":2: invalid port number 'x'");
  EXPECT_EQ(broken.after_sync(), std::nullopt);

  NewMailCounter missing({"mbsync", "-a"}, "", env_);  // no ~/.mbsyncrc in this home
  EXPECT_NE(missing.before_sync().find("no such file"), std::string::npos);
  EXPECT_EQ(missing.after_sync(), std::nullopt);

  NewMailCounter unknown_channel({"mbsync", "-c", rc().string(), "typo"}, "", env_);
  EXPECT_EQ(unknown_channel.before_sync(), "no channel or group named 'typo'");
  EXPECT_EQ(unknown_channel.after_sync(), std::nullopt);
}

}  // namespace
}  // namespace himalaya::host
