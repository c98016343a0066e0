// Which configuration file the sync command reads, and reading it.
#include "mbsync/locate.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "tests/support/files.h"

namespace himalaya::mbsync {
namespace {

using Source = Location::Source;
using Argv = std::vector<std::string>;

Environment env_with(std::string xdg = "") {
  Environment env;
  env.home = "/home/u";
  env.xdg_config_home = std::move(xdg);
  return env;
}

auto exists_in(std::set<std::string> files) {
  return [files = std::move(files)](const std::string& path) { return files.count(path) > 0; };
}

TEST(MbsyncLocate, ConfigArgumentForms) {
  EXPECT_EQ(config_argument({"mbsync", "-c", "/x/rc", "-a"}), "/x/rc");
  EXPECT_EQ(config_argument({"mbsync", "--config", "/x/rc", "inbox"}), "/x/rc");
  EXPECT_EQ(config_argument({"mbsync", "--config=/x/rc", "inbox"}), "/x/rc");
  EXPECT_EQ(config_argument({"mbsync", "-Vc", "/x/rc", "inbox"}), "/x/rc");
  EXPECT_EQ(config_argument({"mbsync", "-q", "-c", "/a", "-c", "/b", "-a"}), "/b");
}

TEST(MbsyncLocate, ConfigArgumentEndsAtTheFirstNameOrDoubleDash) {
  // mbsync 1.4.4 reads `mbsync x -c rc` and `mbsync -- -c rc` with its default file.
  EXPECT_EQ(config_argument({"mbsync", "inbox", "-c", "/x/rc"}), std::nullopt);
  EXPECT_EQ(config_argument({"mbsync", "--", "-c", "/x/rc"}), std::nullopt);
  EXPECT_EQ(config_argument({"mbsync", "-a"}), std::nullopt);
  EXPECT_EQ(config_argument({"mbsync"}), std::nullopt);
  EXPECT_EQ(config_argument({"mbsync", "-c"}), std::nullopt);
}

TEST(MbsyncLocate, CommandLineWinsOverEverything) {
  const Location l = locate({"mbsync", "-c", "~/mail/rc", "-a"}, "/configured", env_with(),
                            exists_in({"/home/u/.config/isyncrc"}));
  EXPECT_EQ(l.path, "/home/u/mail/rc");
  EXPECT_EQ(l.source, Source::command_line);
}

TEST(MbsyncLocate, ConfiguredPathComesNext) {
  const Location l = locate({"mbsync", "-a"}, "~/.config/mbsync/rc", env_with(),
                            exists_in({"/home/u/.config/isyncrc"}));
  EXPECT_EQ(l.path, "/home/u/.config/mbsync/rc");
  EXPECT_EQ(l.source, Source::configured);
}

TEST(MbsyncLocate, DefaultIsXdgIsyncrcWhenItExists) {
  Location l = locate({"mbsync", "-a"}, "", env_with(), exists_in({"/home/u/.config/isyncrc"}));
  EXPECT_EQ(l.path, "/home/u/.config/isyncrc");
  EXPECT_EQ(l.source, Source::xdg_default);
  l = locate({"mbsync", "-a"}, "", env_with("/xdg"), exists_in({"/xdg/isyncrc"}));
  EXPECT_EQ(l.path, "/xdg/isyncrc");
}

TEST(MbsyncLocate, DefaultIsHomeMbsyncrcOtherwise) {
  Location l = locate({"mbsync", "-a"}, "", env_with("/xdg"),
                      exists_in({"/home/u/.config/isyncrc"}));  // not where XDG points
  EXPECT_EQ(l.path, "/home/u/.mbsyncrc");
  EXPECT_EQ(l.source, Source::home_default);
  l = locate({"mbsync", "-a"}, "", env_with(), exists_in({}));
  EXPECT_EQ(l.path, "/home/u/.mbsyncrc");
}

TEST(MbsyncLocate, ReadsAndParsesAFile) {
  testing::TempDir dir("mbsync-locate-");
  const std::string path = (dir.path() / "rc").string();
  testing::spit(path, "IMAPAccount a\nHost h\n");
  Result<Config> config = load(path, env_with());
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config.value().accounts.at(0).host, "h");
}

TEST(MbsyncLocate, ParseErrorNamesTheFileAndLine) {
  testing::TempDir dir("mbsync-locate-");
  const std::string path = (dir.path() / "rc").string();
  testing::spit(path, "IMAPAccount a\nHost h\nPort x\n");
  Result<Config> config = load(path, env_with());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().describe(), path + ":3: invalid port number 'x'");
}

TEST(MbsyncLocate, MissingFileIsAClearError) {
  testing::TempDir dir("mbsync-locate-");
  const std::string path = (dir.path() / "absent").string();
  Result<Config> config = load(path, env_with());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().describe(),
            path + ": no such file (mbsync reads its configuration from here)");
}

TEST(MbsyncLocate, DirectoryIsNotAConfiguration) {
  testing::TempDir dir("mbsync-locate-");
  Result<std::string> text = read_file(dir.path().string());
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().describe(), dir.path().string() + ": not a regular file");
}

TEST(MbsyncLocate, UnreadableFileIsAClearError) {
  testing::TempDir dir("mbsync-locate-");
  const std::string path = (dir.path() / "rc").string();
  testing::spit(path, "IMAPAccount a\nHost h\n");
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  // Root reads a mode-000 file, so the check runs in a child that is not root.
  EXPECT_EXIT(
      {
        if (::geteuid() == 0 && ::setresuid(65534, 65534, 65534) != 0) {
          std::_Exit(2);
        }
        Result<std::string> text = read_file(path);
        std::fprintf(stderr, "%s\n", text.ok() ? "read" : text.error().describe().c_str());
        std::_Exit(text.ok() ? 1 : 0);
      },
      ::testing::ExitedWithCode(0), "rc: cannot open: Permission denied");
}

TEST(MbsyncLocate, PathThroughAFileIsAClearError) {
  testing::TempDir dir("mbsync-locate-");
  const std::string file = (dir.path() / "file").string();
  testing::spit(file, "");
  Result<std::string> text = read_file(file + "/rc");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().describe(), file + "/rc: cannot open: Not a directory");
}

TEST(MbsyncLocate, OversizedFileIsRefused) {
  testing::TempDir dir("mbsync-locate-");
  const std::string path = (dir.path() / "rc").string();
  testing::spit(path, std::string((1 << 20) + 1, '#'));
  Result<std::string> text = read_file(path);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().message, "too large for an mbsync configuration (over 1 MiB)");
}

}  // namespace
}  // namespace himalaya::mbsync
