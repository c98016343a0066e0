// The mail fixture itself, on whichever Dovecot and mbsync are installed
// (Dovecot 2.3 and isync 1.4 on Debian 12; 2.4 and 1.5 on Debian 13): one
// mbsync run is one session in the fixture's reading of Dovecot's log, and an
// installed Dovecot that refuses to start fails a test instead of skipping it
// (issue 16: only an absent component may skip).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <memory>
#include <string>

#include "tests/mail/mail_fixture.h"

namespace himalaya::mail {
namespace {

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

// Runs a command through the shell; returns its exit status and its output.
int run(const std::string& command, std::string& output) {
  output.clear();
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    return -1;
  }
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) {
    output.append(buf, n);
  }
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool dovecot_installed() {
  return std::system("command -v dovecot >/dev/null 2>&1 || test -x /usr/sbin/dovecot") == 0;
}

TEST(MailServer, InstalledDovecotRefusingItsConfigurationFailsTheTestInsteadOfSkipping) {
  if (!dovecot_installed()) {
    GTEST_SKIP() << "dovecot is not installed";
  }
  // A setting no Dovecot knows: doveconf rejects the whole file.
  const ScopedEnv bad("HIMALAYA_MAILSERVER_EXTRA_CONFIG", "himalaya_no_such_setting = yes");
  std::unique_ptr<MailServer> server;
  EXPECT_NONFATAL_FAILURE(server = std::make_unique<MailServer>(),
                          "Dovecot is installed but does not start");
  ASSERT_NE(server, nullptr);
  EXPECT_FALSE(server->running());
  EXPECT_FALSE(server->absent()) << "an installed Dovecot must not count as absent (a skip)";
  // The reason is Dovecot's own, naming the setting it rejected.
  EXPECT_NE(server->start_error().find("himalaya_no_such_setting"), std::string::npos)
      << server->start_error();
}

TEST(MailServer, OneMbsyncRunIsOneSessionFromLoginToLogout) {
  MailServer server;
  if (server.absent()) {
    GTEST_SKIP() << server.start_error();
  }
  ASSERT_TRUE(server.running()) << server.start_error();
  server.deliver("one run, one session");
  std::string output;
  ASSERT_EQ(run("mbsync -c '" + server.mbsyncrc() + "' -a", output), 0) << output;
  EXPECT_TRUE(server.delivered_locally("one run, one session"));
  // mbsync 1.5 deprecates SSLType; the mbsyncrc must use the keyword of the
  // installed version.
  EXPECT_EQ(output.find("deprecated"), std::string::npos) << output;

  // mbsync has exited, but Dovecot may write the disconnect line a moment later.
  std::vector<Session> sessions;
  testing::wait_until(
      [&] {
        sessions = server.sessions();
        return sessions.size() == 1 && sessions[0].logout.has_value();
      },
      5s);
  ASSERT_EQ(sessions.size(), 1u) << describe(sessions);
  EXPECT_FALSE(sessions[0].id.empty());
  ASSERT_TRUE(sessions[0].logout.has_value()) << describe(sessions);
  EXPECT_LE(sessions[0].login, *sessions[0].logout);
  EXPECT_EQ(sessions[0].end.rfind("Disconnected: Logged out", 0), 0u) << sessions[0].end;

  // mailserver.sh's own count agrees.
  ASSERT_EQ(run("'" MAILSERVER_SCRIPT "' logins '" + server.dir().string() + "'", output), 0);
  EXPECT_EQ(output, "1\n");
}

}  // namespace
}  // namespace himalaya::mail
