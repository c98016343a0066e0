// new_messages: Maildir snapshots keyed by unique name, on real directories.
#include "mbsync/maildir_count.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "tests/support/files.h"

namespace himalaya::mbsync {
namespace {

namespace fs = std::filesystem;

void make_maildir(const fs::path& folder) {
  for (const char* sub : {"cur", "new", "tmp"}) {
    fs::create_directories(folder / sub);
  }
}

void put(const fs::path& file) {
  testing::spit(file, "Subject: x\n\nbody\n");
}

class MaildirCount : public ::testing::Test {
 protected:
  MaildirCount() : inbox_(dir_.path() / "Mail" / "INBOX") { make_maildir(inbox_); }

  std::vector<MaildirRoot> roots() const { return {{(dir_.path() / "Mail").string(), ""}}; }

  testing::TempDir dir_{"mbsync-maildir-"};
  fs::path inbox_;
};

TEST(MaildirUniqueName, StripsTheInfoPart) {
  EXPECT_EQ(unique_name("1700000000.M1P2.host,U=17:2,S"), "1700000000.M1P2.host,U=17");
  EXPECT_EQ(unique_name("1700000000.M1P2.host,U=17:2,"), "1700000000.M1P2.host,U=17");
  EXPECT_EQ(unique_name("1700000000.M1P2.host"), "1700000000.M1P2.host");
}

TEST_F(MaildirCount, ADeliveredMessageCountsOnce) {
  put(inbox_ / "cur" / "1.a.host,U=1:2,S");
  const MaildirSnapshot before = snapshot(roots());
  put(inbox_ / "new" / "2.b.host,U=2");
  const MaildirSnapshot after = snapshot(roots());
  EXPECT_EQ(before.unique_names.size(), 1u);
  EXPECT_EQ(after.unique_names.size(), 2u);
  EXPECT_EQ(after.folders, 1u);
  EXPECT_EQ(new_messages(before, after), 1u);
  EXPECT_EQ(new_messages(after, after), 0u);
}

TEST_F(MaildirCount, MovingFromNewToCurAndChangingFlagsIsNotNew) {
  put(inbox_ / "new" / "2.b.host,U=2");
  put(inbox_ / "cur" / "3.c.host,U=3:2,");
  const MaildirSnapshot before = snapshot(roots());
  fs::rename(inbox_ / "new" / "2.b.host,U=2", inbox_ / "cur" / "2.b.host,U=2:2,S");
  fs::rename(inbox_ / "cur" / "3.c.host,U=3:2,", inbox_ / "cur" / "3.c.host,U=3:2,FRS");
  EXPECT_EQ(new_messages(before, snapshot(roots())), 0u);
}

TEST_F(MaildirCount, DeletionsDoNotCancelArrivals) {
  put(inbox_ / "cur" / "1.a.host:2,S");
  put(inbox_ / "cur" / "2.b.host:2,S");
  const MaildirSnapshot before = snapshot(roots());
  fs::remove(inbox_ / "cur" / "1.a.host:2,S");
  fs::remove(inbox_ / "cur" / "2.b.host:2,S");
  put(inbox_ / "new" / "3.c.host");
  EXPECT_EQ(new_messages(before, snapshot(roots())), 1u);
}

TEST_F(MaildirCount, SubfoldersOfEveryStyleAreCounted) {
  const fs::path mail = dir_.path() / "Mail";
  make_maildir(mail / "Archive" / "2024");            // Verbatim
  make_maildir(mail / "Lists" / ".linux" / ".lkml");  // Legacy
  make_maildir(inbox_ / ".Sent");                     // Maildir++, inside the INBOX
  make_maildir(inbox_ / "sub");                       // Verbatim, inside the INBOX
  const MaildirSnapshot before = snapshot(roots());
  put(mail / "Archive" / "2024" / "cur" / "a:2,S");
  put(mail / "Lists" / ".linux" / ".lkml" / "new" / "b");
  put(inbox_ / ".Sent" / "cur" / "c:2,S");
  put(inbox_ / "sub" / "new" / "d");
  const MaildirSnapshot after = snapshot(roots());
  EXPECT_EQ(after.folders, 5u);
  EXPECT_EQ(new_messages(before, after), 4u);
}

TEST_F(MaildirCount, TmpAndDotFilesAreNoMessages) {
  const MaildirSnapshot before = snapshot(roots());
  put(inbox_ / "tmp" / "being-written");
  put(inbox_ / "cur" / ".hidden");
  put(inbox_ / ".uidvalidity");
  put(inbox_ / ".mbsyncstate");
  EXPECT_EQ(new_messages(before, snapshot(roots())), 0u);
}

TEST_F(MaildirCount, AFolderNamedLikeAMaildirPartIsAFolder) {
  // A Verbatim folder called "new" beside INBOX: its own cur/new are read,
  // its subdirectories are not taken for messages.
  make_maildir(dir_.path() / "Mail" / "new");
  const MaildirSnapshot before = snapshot(roots());
  put(dir_.path() / "Mail" / "new" / "new" / "m");
  const MaildirSnapshot after = snapshot(roots());
  EXPECT_EQ(after.unique_names, std::vector<std::string>{"m"});
  EXPECT_EQ(new_messages(before, after), 1u);
}

TEST_F(MaildirCount, TheSameMessageInTwoRootsCountsOnce) {
  std::vector<MaildirRoot> both = roots();
  both.push_back({inbox_.string(), ""});  // the INBOX again, inside the first root
  const MaildirSnapshot before = snapshot(both);
  put(inbox_ / "new" / "x");
  EXPECT_EQ(new_messages(before, snapshot(both)), 1u);
}

TEST_F(MaildirCount, PrefixRootReadsOnlyMatchingFolders) {
  const fs::path mail = dir_.path() / "Mail";
  make_maildir(mail / "work-INBOX");
  make_maildir(mail / "home-INBOX");
  const std::vector<MaildirRoot> work{{mail.string(), "work-"}};
  const MaildirSnapshot before = snapshot(work);
  put(mail / "work-INBOX" / "new" / "w");
  put(mail / "home-INBOX" / "new" / "h");
  put(inbox_ / "new" / "i");
  const MaildirSnapshot after = snapshot(work);
  EXPECT_EQ(after.unique_names, std::vector<std::string>{"w"});
  EXPECT_EQ(new_messages(before, after), 1u);
}

TEST_F(MaildirCount, MissingRootIsEmptyAndNotAnError) {
  const MaildirSnapshot none = snapshot({{(dir_.path() / "not-yet").string(), ""}});
  EXPECT_TRUE(none.unique_names.empty());
  EXPECT_EQ(none.unreadable, 0u);
  // Before mbsync's first run the Maildir does not exist: everything is new.
  put(inbox_ / "new" / "first");
  EXPECT_EQ(new_messages(none, snapshot(roots())), 1u);
}

TEST_F(MaildirCount, UnreadableFolderIsReported) {
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(inbox_.c_str(), 0), 0);
  // Root lists a mode-000 directory, so the snapshot runs in a child that is not root.
  const std::vector<MaildirRoot> r = roots();
  EXPECT_EXIT(
      {
        if (::geteuid() == 0 && ::setresuid(65534, 65534, 65534) != 0) {
          std::_Exit(2);
        }
        const MaildirSnapshot s = snapshot(r);
        std::fprintf(stderr, "unreadable=%zu\n", s.unreadable);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "unreadable=1");
  ::chmod(inbox_.c_str(), 0700);
}

}  // namespace
}  // namespace himalaya::mbsync
