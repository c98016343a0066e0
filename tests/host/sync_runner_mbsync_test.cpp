// The sync runner with a real mbsync, when installed, against a closed
// loopback port.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "host/sync_runner.h"
#include "tests/host/sync_runner_fixture.h"
#include "tests/support/processes.h"

namespace himalaya::host {
namespace {

using himalaya::testing::all_pids;
using himalaya::testing::open_fds;
using testing::alive;
using testing::can_flock;
using testing::Completion;
using testing::live_group_members;
using testing::patience;
using testing::run_until;
using testing::SyncRunnerTest;
using testing::zombie_children;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The mbsyncrc keyword for the TLS mode: isync 1.5 deprecates SSLType for
// TLSType, which 1.4 does not know.
std::string tls_keyword() {
  int major = 0;
  int minor = 0;
  if (FILE* pipe = ::popen("mbsync --version 2>/dev/null", "r")) {
    if (std::fscanf(pipe, "isync %d.%d", &major, &minor) != 2) {
      major = 0;
    }
    ::pclose(pipe);
  }
  return major > 1 || (major == 1 && minor >= 5) ? "TLSType" : "SSLType";
}

TEST_F(SyncRunnerTest, RealMbsyncAgainstAClosedPortSaysConnectionRefused) {
  if (::system("command -v mbsync >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "mbsync is not installed";
  }
  // A bound socket that does not listen: connecting to it is refused, and the
  // port cannot be taken by anything else meanwhile.
  int sock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), length), 0);
  ASSERT_EQ(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  const int port = ntohs(addr.sin_port);

  fs::create_directories(dir_ / "Mail");
  fs::path config = dir_ / "mbsyncrc";
  std::ofstream(config) << "IMAPAccount test\nHost 127.0.0.1\nPort " << port
                        << "\nUser alice\nPass secret\n"
                        << tls_keyword() << " None\nAuthMechs LOGIN\n\n"
                        << "IMAPStore remote\nAccount test\n\n"
                        << "MaildirStore local\nPath " << (dir_ / "Mail").string() << "/\nInbox "
                        << (dir_ / "Mail" / "INBOX").string() << "\nSubFolders Verbatim\n\n"
                        << "Channel test\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\n"
                        << "SyncState *\n";
  SyncRun run = run_to_end({"mbsync", "-c", config.string(), "-a"});
  ::close(sock);
  EXPECT_EQ(run.outcome, SyncOutcome::failed);
  EXPECT_EQ(run.exit_status, 1);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(run.message,
            "cannot connect to the mail server 127.0.0.1 (" + address + "): Connection refused");
  EXPECT_NE(run.output_tail.find("No working address found for 127.0.0.1"), std::string::npos)
      << run.output_tail;
  EXPECT_EQ(run.output_tail.find("deprecated"), std::string::npos) << run.output_tail;
}

}  // namespace
}  // namespace himalaya::host
