// Client against the in-process FakeServer on 127.0.0.1: plaintext and TLS
// with a certificate made at run time, a stalled server (the reply deadline
// fires), a server that drops the connection mid-IDLE, and certificates that
// must not be trusted. Every wait is run_until with a deadline.
#include "imap/client.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/files.h"
#include "tests/support/imap_fake_server.h"
#include "tests/support/run_loop.h"

namespace himalaya::imap {
namespace {

using himalaya::imap::testing::FakeServer;
using himalaya::testing::run_until;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string password = "client-test-Pa55";

bool have_openssl_cli() {
  return std::system("openssl version >/dev/null 2>&1") == 0;
}

// A self-signed certificate for `san` (e.g. "IP:127.0.0.1"), made by the
// openssl CLI; returns false if that failed.
bool make_certificate(const std::filesystem::path& dir, const std::string& san) {
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 1 -subj /CN=imap-test -addext subjectAltName=" +
      san + " -keyout '" + (dir / "key.pem").string() + "' -out '" + (dir / "cert.pem").string() +
      "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

class ImapClient : public ::testing::Test {
 protected:
  // A client for the fake server at `port`, recording what it reports.
  std::shared_ptr<Client> connect(std::uint16_t port, Endpoint::Tls tls = Endpoint::Tls::none,
                                  const std::string& certificate_file = "",
                                  milliseconds reply_timeout = seconds(5),
                                  milliseconds connect_timeout = seconds(5)) {
    ClientOptions o;
    o.endpoint.host = "127.0.0.1";
    o.endpoint.port = port;
    o.endpoint.tls = tls;
    o.endpoint.certificate_file = certificate_file;
    o.endpoint.system_certificates = certificate_file.empty();
    o.session.user = "user";
    o.session.password = password;
    o.session.reply_timeout = reply_timeout;
    o.connect_timeout = connect_timeout;
    Handlers h;
    h.on_event = [this](const Event& e) { events.push_back(e); };
    h.on_closed = [this](const std::string& reason) { closed.push_back(reason); };
    h.on_trace = [this](const std::string& line) { trace += line + "\n"; };
    auto client = Client::create(io, std::move(o), std::move(h));
    client->start();
    return client;
  }
  bool saw(Event::Kind kind) const {
    for (const auto& e : events) {
      if (e.kind == kind) {
        return true;
      }
    }
    return false;
  }

  boost::asio::io_context io;
  std::vector<Event> events;
  std::vector<std::string> closed;
  std::string trace;
};

TEST_F(ImapClient, PlainConnectionIdlesReportsChangesAndLogsOut) {
  FakeServer server(io, nullptr);
  auto client = connect(server.port());
  ASSERT_TRUE(run_until(io, [&] { return saw(Event::Kind::idling); }));
  EXPECT_TRUE(saw(Event::Kind::ready));
  server.send("* 2 EXISTS\r\n");
  ASSERT_TRUE(run_until(io, [&] { return saw(Event::Kind::mailbox_changed); }));
  EXPECT_EQ(events.back().number, 2u);
  client->stop();
  ASSERT_TRUE(run_until(io, [&] { return !closed.empty(); }));
  EXPECT_TRUE(server.logged_out);
  EXPECT_EQ(closed, std::vector<std::string>{"logged out"});
  EXPECT_FALSE(client->open());
  EXPECT_NE(trace.find("C: A1 AUTHENTICATE PLAIN (redacted)"), std::string::npos) << trace;
  EXPECT_EQ(trace.find(password), std::string::npos);
  EXPECT_EQ(server.lines.back().substr(3), "LOGOUT");
}

TEST_F(ImapClient, StalledServerHitsTheReplyDeadline) {
  FakeServer server(io, nullptr);
  server.answer_login = false;
  const auto started = std::chrono::steady_clock::now();
  auto client = connect(server.port(), Endpoint::Tls::none, "", milliseconds(300));
  ASSERT_TRUE(run_until(io, [&] { return !closed.empty(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(300));
  EXPECT_TRUE(saw(Event::Kind::timed_out));
  EXPECT_NE(closed[0].find("no reply at step login within 300 ms"), std::string::npos) << closed[0];
}

TEST_F(ImapClient, ServerClosingMidIdleClosesTheClient) {
  FakeServer server(io, nullptr);
  auto client = connect(server.port());
  ASSERT_TRUE(run_until(io, [&] { return saw(Event::Kind::idling); }));
  server.drop();
  ASSERT_TRUE(run_until(io, [&] { return !closed.empty(); }));
  EXPECT_NE(closed[0].find("server closed the connection (at step idling)"), std::string::npos)
      << closed[0];
  EXPECT_EQ(closed.size(), 1u);
}

TEST_F(ImapClient, ServerWithoutIdleEndsWithNoIdle) {
  FakeServer server(io, nullptr);
  server.login_capabilities = "IMAP4rev1 SORT";
  auto client = connect(server.port());
  ASSERT_TRUE(run_until(io, [&] { return !closed.empty(); }));
  EXPECT_TRUE(saw(Event::Kind::no_idle));
  EXPECT_NE(closed[0].find("does not offer IDLE"), std::string::npos) << closed[0];
}

TEST_F(ImapClient, NothingListeningIsAConnectError) {
  std::uint16_t port = 0;
  {
    boost::asio::ip::tcp::acceptor probe(
        io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  auto client = connect(port);
  ASSERT_TRUE(run_until(io, [&] { return !closed.empty(); }));
  EXPECT_NE(closed[0].find("cannot connect to 127.0.0.1:"), std::string::npos) << closed[0];
  EXPECT_TRUE(events.empty());
}

// TLS: the server's certificate is made for this run.
class ImapTlsClient : public ImapClient {
 protected:
  void SetUp() override {
    if (!have_openssl_cli()) {
      GTEST_SKIP() << "the openssl command is not installed";
    }
    ASSERT_TRUE(make_certificate(dir.path(), "IP:127.0.0.1"));
    server_tls.use_certificate_chain_file((dir.path() / "cert.pem").string());
    server_tls.use_private_key_file((dir.path() / "key.pem").string(),
                                    boost::asio::ssl::context::pem);
  }
  std::string certificate() const { return (dir.path() / "cert.pem").string(); }

  himalaya::testing::TempDir dir{"imap-tls-"};
  boost::asio::ssl::context server_tls{boost::asio::ssl::context::tls_server};
};

TEST_F(ImapTlsClient, TrustedCertificateReachesIdling) {
  FakeServer server(io, &server_tls);
  auto client = connect(server.port(), Endpoint::Tls::implicit, certificate());
  ASSERT_TRUE(run_until(io, [&] { return saw(Event::Kind::idling) || !closed.empty(); }));
  ASSERT_TRUE(closed.empty()) << closed[0];
  server.send("* 3 EXPUNGE\r\n");
  ASSERT_TRUE(run_until(io, [&] { return saw(Event::Kind::mailbox_changed); }));
  EXPECT_EQ(events.back().change, Event::Change::expunge);
  client->stop();
  ASSERT_TRUE(run_until(io, [&] { return !closed.empty(); }));
  EXPECT_EQ(closed[0], "logged out");
}

TEST_F(ImapTlsClient, StarttlsUpgradesBeforeTheLogin) {
  FakeServer server(io, &server_tls);
  server.starttls = true;
  server.greeting = "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n";
  auto client = connect(server.port(), Endpoint::Tls::starttls, certificate());
  ASSERT_TRUE(run_until(io, [&] { return saw(Event::Kind::idling) || !closed.empty(); }));
  ASSERT_TRUE(closed.empty()) << closed[0];
  EXPECT_EQ(server.plaintext_lines, 1);  // STARTTLS alone; the login went over TLS
  ASSERT_GE(server.lines.size(), 3u);
  EXPECT_EQ(server.lines[0], "A1 STARTTLS");
  EXPECT_EQ(server.lines[1], "A2 CAPABILITY");
  EXPECT_EQ(server.lines[2].rfind("A3 LOGIN \"user\" ", 0), 0u);
  client->stop();
  ASSERT_TRUE(run_until(io, [&] { return !closed.empty(); }));
  EXPECT_EQ(closed[0], "logged out");
}

TEST_F(ImapTlsClient, UntrustedCertificateFailsWithAClearError) {
  FakeServer server(io, &server_tls);
  auto client = connect(server.port(), Endpoint::Tls::implicit);  // the system store only
  ASSERT_TRUE(run_until(io, [&] { return !closed.empty(); }));
  EXPECT_NE(closed[0].find("certificate not trusted: self-signed certificate"), std::string::npos)
      << closed[0];
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(server.lines.empty());  // not a byte of the login was sent
}

TEST_F(ImapTlsClient, CertificateForAnotherAddressFails) {
  himalaya::testing::TempDir other("imap-tls-other-");
  ASSERT_TRUE(make_certificate(other.path(), "IP:127.0.0.2"));
  boost::asio::ssl::context other_tls{boost::asio::ssl::context::tls_server};
  other_tls.use_certificate_chain_file((other.path() / "cert.pem").string());
  other_tls.use_private_key_file((other.path() / "key.pem").string(),
                                 boost::asio::ssl::context::pem);
  FakeServer server(io, &other_tls);
  auto client =
      connect(server.port(), Endpoint::Tls::implicit, (other.path() / "cert.pem").string());
  ASSERT_TRUE(run_until(io, [&] { return !closed.empty(); }));
  EXPECT_NE(closed[0].find("certificate not trusted: IP address mismatch"), std::string::npos)
      << closed[0];
  EXPECT_TRUE(server.lines.empty());
}

TEST_F(ImapTlsClient, AServerThatNeverHandshakesHitsTheConnectDeadline) {
  // Accepts the TCP connection, then says nothing.
  boost::asio::ip::tcp::acceptor silent(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  boost::asio::ip::tcp::socket accepted(io);
  silent.async_accept(accepted, [](boost::system::error_code) {});
  const auto started = std::chrono::steady_clock::now();
  auto client = connect(silent.local_endpoint().port(), Endpoint::Tls::implicit, certificate(),
                        seconds(5), milliseconds(300));
  ASSERT_TRUE(run_until(io, [&] { return !closed.empty(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(300));
  EXPECT_NE(closed[0].find("could not connect to 127.0.0.1:"), std::string::npos) << closed[0];
  EXPECT_TRUE(accepted.is_open());  // it got as far as TCP
}

TEST_F(ImapTlsClient, MissingCertificateFileIsAClearError) {
  auto client = connect(1, Endpoint::Tls::implicit, "/nonexistent/cert.pem");
  ASSERT_TRUE(run_until(io, [&] { return !closed.empty(); }));
  EXPECT_NE(closed[0].find("cannot read CertificateFile /nonexistent/cert.pem"), std::string::npos)
      << closed[0];
}

}  // namespace
}  // namespace himalaya::imap
