#include "tests/mail/channel_steps.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <system_error>

namespace himalaya::mail {
namespace {

std::filesystem::path server_folder(const MailServer& server, const std::string& mailbox) {
  const std::filesystem::path home = server.dir() / "mail/alice";
  return mailbox == "INBOX" ? home : home / ("." + mailbox);
}

}  // namespace

void make_folders(const MailServer& server, const std::vector<MailChannel>& channels) {
  const struct passwd* nobody = ::getpwnam("nobody");  // the server's mail user (mailserver.sh)
  const struct group* nogroup = ::getgrnam("nogroup");
  ASSERT_TRUE(nobody != nullptr && nogroup != nullptr);
  for (const MailChannel& c : channels) {
    if (c.mailbox == "INBOX") {
      continue;
    }
    const std::filesystem::path folder = server_folder(server, c.mailbox);
    for (const char* sub : {"", "cur", "new", "tmp"}) {
      const std::filesystem::path path = folder / sub;
      std::filesystem::create_directories(path);
      ASSERT_EQ(::chown(path.c_str(), nobody->pw_uid, nogroup->gr_gid), 0) << "chown " << path;
    }
  }
}

std::filesystem::path write_channels_rc(const MailServer& server,
                                        const std::vector<MailChannel>& channels) {
  std::ifstream in(server.mbsyncrc());
  std::ostringstream rc;
  std::string line;
  while (std::getline(in, line) && line.rfind("Channel ", 0) != 0) {
    rc << line << "\n";
  }
  for (const MailChannel& c : channels) {
    rc << "Channel " << c.name << "\nFar :remote:" << c.mailbox << "\nNear :local:" << c.mailbox
       << "\nCreate Both\nSyncState *\n\n";
  }
  const std::filesystem::path path = server.dir() / "mbsyncrc-channels";
  std::ofstream(path) << rc.str();
  return path;
}

std::string channels_lua(const std::vector<MailChannel>& channels) {
  std::ostringstream lua;
  lua << "{";
  for (const MailChannel& c : channels) {
    lua << " { name = '" << c.name << "', interval = " << c.interval << " },";
  }
  lua << " }";
  return lua.str();
}

void deliver_to(const MailServer& server, const std::string& mailbox, const std::string& subject) {
  const struct passwd* nobody = ::getpwnam("nobody");
  const struct group* nogroup = ::getgrnam("nogroup");
  ASSERT_TRUE(nobody != nullptr && nogroup != nullptr);
  const std::filesystem::path folder = server_folder(server, mailbox);
  const std::string name =
      std::to_string(static_cast<long long>(wall_now() * 1e6)) + "." + mailbox + ".test";
  const std::filesystem::path tmp = folder / "tmp" / name;
  {
    std::ofstream out(tmp, std::ios::binary);
    out << "From: Bob <bob@example.org>\nTo: Alice <alice@example.org>\nSubject: " << subject
        << "\nMessage-ID: <" << name << "@example.org>\n\nA message for " << mailbox << ".\n";
    ASSERT_TRUE(out.good()) << "cannot write " << tmp;
  }
  ASSERT_EQ(::chown(tmp.c_str(), nobody->pw_uid, nogroup->gr_gid), 0) << "chown " << tmp;
  std::error_code ec;
  std::filesystem::rename(tmp, folder / "new" / name, ec);
  ASSERT_FALSE(ec) << ec.message();
}

}  // namespace himalaya::mail
