// The test server speaks TLS (issue 13): mbsync syncs over STARTTLS,
// trusting the server's self-signed certificate through CertificateFile; the
// server refuses a login before TLS, so a sync that works cannot have gone in
// plaintext; and mbsync fails, clearly, against a certificate it does not
// trust. The plaintext server (TLSType None) is there only when asked for.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/mail/mail_fixture.h"

namespace himalaya::mail {
namespace {

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

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// An IMAP client without TLS, blocking, every read bounded by 5 s.
class PlainImapClient {
 public:
  PlainImapClient(const std::string& host, int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &address.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~PlainImapClient() { ::close(fd_); }
  PlainImapClient(const PlainImapClient&) = delete;
  PlainImapClient& operator=(const PlainImapClient&) = delete;

  bool connected() const { return connected_; }
  // One line without its CRLF; "" on a timeout or at the end of the stream.
  std::string line() {
    while (buffer_.find("\r\n") == std::string::npos) {
      char chunk[1024];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        return {};
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    const std::size_t end = buffer_.find("\r\n");
    std::string out = buffer_.substr(0, end);
    buffer_.erase(0, end + 2);
    return out;
  }
  // Sends `tag command`; returns every line up to the tagged reply, the reply last.
  std::string command(const std::string& tag, const std::string& command) {
    const std::string text = tag + " " + command + "\r\n";
    if (::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
      return "(send failed)";
    }
    std::string out;
    for (std::string l = line(); !l.empty(); l = line()) {
      out += l + "\n";
      if (l.rfind(tag + " ", 0) == 0) {
        break;
      }
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

// alice's sessions once every one has logged out (Dovecot may write the
// disconnect line a moment after mbsync exits).
std::vector<Session> closed_sessions(const MailServer& server, std::size_t count) {
  std::vector<Session> sessions;
  testing::wait_until(
      [&] {
        sessions = server.sessions();
        return sessions.size() >= count &&
               std::all_of(sessions.begin(), sessions.end(),
                           [](const Session& s) { return s.logout.has_value(); });
      },
      5s);
  return sessions;
}

TEST(MailServerTls, SyncRunsOverTlsAndALoginBeforeTlsIsRefused) {
  START_SERVER(server);
  EXPECT_EQ(server.transport(), Transport::starttls);
  ASSERT_TRUE(std::filesystem::exists(server.cert_file())) << server.cert_file();
  const std::string rc = read_text(server.mbsyncrc());
  EXPECT_NE(rc.find("Type STARTTLS\n"), std::string::npos) << rc;
  EXPECT_NE(rc.find("CertificateFile " + server.cert_file().string() + "\n"), std::string::npos)
      << rc;

  server.deliver("over TLS");
  std::string output;
  ASSERT_EQ(run("mbsync -c '" + server.mbsyncrc() + "' -a", output), 0) << output;
  EXPECT_TRUE(server.delivered_locally("over TLS"));
  std::vector<Session> sessions = closed_sessions(server, 1);
  ASSERT_EQ(sessions.size(), 1u) << describe(sessions);
  EXPECT_TRUE(sessions[0].tls) << "Dovecot did not log the session as TLS:\n"
                               << server.log_lines_of(sessions[0]);

  // A client that logs in without STARTTLS is refused, password and all.
  PlainImapClient plain(server.host(), server.port());
  ASSERT_TRUE(plain.connected()) << server.host() << ":" << server.port();
  const std::string greeting = plain.line();
  EXPECT_NE(greeting.find("STARTTLS"), std::string::npos) << greeting;
  EXPECT_NE(greeting.find("LOGINDISABLED"), std::string::npos) << greeting;
  const std::string reply = plain.command("a1", "LOGIN alice secret");
  EXPECT_EQ(reply.find("a1 OK"), std::string::npos) << reply;
  EXPECT_TRUE(reply.find("a1 NO") != std::string::npos || reply.find("a1 BAD") != std::string::npos)
      << reply;
  plain.command("a2", "LOGOUT");
  EXPECT_EQ(server.sessions().size(), 1u) << "a plaintext login got in\n"
                                          << describe(server.sessions());
}

TEST(MailServerTls, MbsyncFailsClearlyWithACertificateItDoesNotTrust) {
  START_SERVER(server);
  // Another self-signed certificate for the same names: right names, wrong key.
  const std::filesystem::path other = server.dir() / "other-cert.pem";
  std::string output;
  ASSERT_EQ(run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                "-days 1 -subj /CN=" +
                    server.host() + " -addext subjectAltName=IP:" + server.host() +
                    " -keyout /dev/null -out '" + other.string() + "'",
                output),
            0)
      << output;
  std::string rc = read_text(server.mbsyncrc());
  const std::string trusted = "CertificateFile " + server.cert_file().string();
  const std::size_t at = rc.find(trusted);
  ASSERT_NE(at, std::string::npos) << rc;
  rc.replace(at, trusted.size(), "CertificateFile " + other.string());
  const std::filesystem::path untrusting = server.dir() / "mbsyncrc-untrusting";
  std::ofstream(untrusting) << rc;

  server.deliver("never synced");
  const int status = run("mbsync -c '" + untrusting.string() + "' -a", output);
  std::printf("mbsync with an untrusted certificate exited %d:\n%s", status, output.c_str());
  EXPECT_NE(status, 0) << output;
  EXPECT_NE(output.find("certificate"), std::string::npos)
      << "mbsync's error does not name the certificate:\n"
      << output;
  EXPECT_FALSE(server.delivered_locally("never synced"));
  EXPECT_TRUE(server.sessions().empty()) << "mbsync logged in anyway\n"
                                         << describe(server.sessions());
}

TEST(MailServerPlaintext, OnlyWhenAskedForTheServerTakesPlaintextLogins) {
  const ServerOptions plaintext{Transport::plaintext, true};
  START_SERVER_WITH(server, plaintext);
  EXPECT_TRUE(server.cert_file().empty());
  EXPECT_EQ(server.imaps_port(), 0);
  const std::string rc = read_text(server.mbsyncrc());
  EXPECT_NE(rc.find("Type None\n"), std::string::npos) << rc;
  EXPECT_EQ(rc.find("CertificateFile"), std::string::npos) << rc;

  server.deliver("in plaintext");
  std::string output;
  ASSERT_EQ(run("mbsync -c '" + server.mbsyncrc() + "' -a", output), 0) << output;
  EXPECT_TRUE(server.delivered_locally("in plaintext"));
  std::vector<Session> sessions = closed_sessions(server, 1);
  ASSERT_EQ(sessions.size(), 1u) << describe(sessions);
  EXPECT_FALSE(sessions[0].tls);
}

TEST(MailServerCapabilities, IdleIsAnnouncedUnlessRemoved) {
  for (bool idle : {true, false}) {
    SCOPED_TRACE(idle ? "default server" : "--no-idle");
    const ServerOptions options{Transport::plaintext, idle};
    START_SERVER_WITH(server, options);
    PlainImapClient client(server.host(), server.port());
    ASSERT_TRUE(client.connected());
    client.line();  // the greeting
    const std::string before_login = client.command("a1", "CAPABILITY");
    const std::string after_login = client.command("a2", "LOGIN alice secret");
    ASSERT_NE(after_login.find("a2 OK"), std::string::npos) << after_login;
    const std::string logged_in = client.command("a3", "CAPABILITY");
    client.command("a4", "LOGOUT");
    for (const std::string* reply : {&before_login, &logged_in}) {
      ASSERT_NE(reply->find("* CAPABILITY IMAP4rev1"), std::string::npos) << *reply;
      EXPECT_EQ(reply->find(" IDLE") != std::string::npos, idle) << *reply;
    }
  }
}

}  // namespace
}  // namespace himalaya::mail
