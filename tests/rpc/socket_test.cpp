// Session over real sockets: local::connect_pair for framing and ordering on
// an actual stream, and a forked child serving RPC on its fds 0 and 1.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "rpc/session.h"
#include "test_support.h"

namespace himalaya::rpc {
namespace {

using boost::asio::local::stream_protocol;
using testing::Nil;
using testing::packed;
using testing::run_until;

const std::vector<int> no_params;

// A session on one end of a socket pair and a raw socket on the other, so the
// test writes and reads the peer's bytes itself.
class RawPeer : public ::testing::Test {
 protected:
  void SetUp() override {
    stream_protocol::socket ours(io_);
    boost::asio::local::connect_pair(ours, peer_);
    session_ = Session::create(make_socket_transport(std::move(ours)), options());
    session_->on_close([this](const Error& e) { closes_.push_back(e.message); });
  }

  virtual Session::Options options() { return {}; }

  // Writes asynchronously: the session reads on the same thread, so a big
  // blocking write could never finish.
  void send(const std::string& bytes) {
    auto owned = std::make_shared<std::string>(bytes);
    boost::asio::async_write(peer_, boost::asio::buffer(*owned),
                             [owned](const boost::system::error_code&, std::size_t) {});
  }

  // Reads from the peer socket until `count` messages arrived or the deadline.
  std::vector<msgpack::object_handle> receive(std::size_t count) {
    std::vector<msgpack::object_handle> got;
    std::array<char, 4096> chunk{};
    bool reading = false;
    run_until(io_, [&] {
      if (got.size() >= count) {
        return true;
      }
      if (!reading) {
        reading = true;
        peer_.async_read_some(boost::asio::buffer(chunk),
                              [&](const boost::system::error_code& ec, std::size_t n) {
                                reading = false;
                                if (!ec) {
                                  inbound_.append(chunk.data(), n);
                                  for (auto& h : testing::unpack_all(inbound_)) {
                                    got.push_back(std::move(h));
                                  }
                                }
                              });
      }
      return false;
    });
    if (reading) {
      peer_.cancel();
      run_until(io_, [&] { return !reading; });
    }
    return got;
  }

  boost::asio::io_context io_;
  stream_protocol::socket peer_{io_};
  std::string inbound_;
  std::shared_ptr<Session> session_;
  std::vector<std::string> closes_;
};

TEST_F(RawPeer, NestedRequestsAreAnsweredLastInFirstOutOnTheWire) {
  std::optional<Reply> b_reply;
  session_->on_request("A", [&](const msgpack::object&, Reply reply) {
    boost::asio::post(
        io_, [reply = std::make_shared<Reply>(std::move(reply))] { reply->ok(std::string("A")); });
  });
  session_->on_request("B",
                       [&](const msgpack::object&, Reply reply) { b_reply = std::move(reply); });
  session_->start();
  send(packed(0, 1, std::string("A"), no_params) + packed(0, 2, std::string("B"), no_params));
  ASSERT_TRUE(run_until(io_, [&] { return b_reply.has_value(); }));
  b_reply->ok(std::string("B"));
  auto got = receive(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(testing::packed_value(got[0].get()), packed(1, 2, Nil(), std::string("B")));
  EXPECT_EQ(testing::packed_value(got[1].get()), packed(1, 1, Nil(), std::string("A")));
}

TEST_F(RawPeer, LargeMessagesArriveInPiecesAndAreReassembled) {
  std::vector<std::string> seen;
  session_->on_notification(
      "n", [&](const msgpack::object& p) { seen.push_back(p.via.array.ptr[0].as<std::string>()); });
  session_->start();
  // 300 kB is more than the socket buffer and than one read: the session
  // receives each big message in several pieces.
  send(packed(2, std::string("n"), std::make_tuple(std::string(300000, 'a'))) +
       packed(2, std::string("n"), std::make_tuple(std::string("b"))) +
       packed(2, std::string("n"), std::make_tuple(std::string(200000, 'c'))));
  ASSERT_TRUE(run_until(io_, [&] { return seen.size() == 3; }));
  EXPECT_EQ(seen[0], std::string(300000, 'a'));
  EXPECT_EQ(seen[1], "b");
  EXPECT_EQ(seen[2], std::string(200000, 'c'));
}

TEST_F(RawPeer, PeerClosingFailsPendingCalls) {
  session_->start();
  std::optional<Error> failure;
  session_->request("never", [&](Result<Object> r) { failure = r.error(); });
  ASSERT_EQ(receive(1).size(), 1u);
  peer_.close();
  ASSERT_TRUE(run_until(io_, [&] { return failure.has_value(); }));
  EXPECT_EQ(failure->message, "channel closed by peer");
  EXPECT_EQ(closes_, std::vector<std::string>{"channel closed by peer"});
  EXPECT_FALSE(session_->is_open());
}

class RawPeerSmallCap : public RawPeer {
 protected:
  Session::Options options() override { return Session::Options{4096, 128}; }
};

TEST_F(RawPeerSmallCap, OversizedMessageClosesTheSocket) {
  session_->start();
  std::optional<Error> failure;
  session_->request("never", [&](Result<Object> r) { failure = r.error(); });
  ASSERT_EQ(receive(1).size(), 1u);
  send(packed(2, std::string("n"), std::make_tuple(std::string(100000, 'x'))));
  ASSERT_TRUE(run_until(io_, [&] { return failure.has_value(); }));
  EXPECT_NE(failure->message.find("exceeds 4096 bytes"), std::string::npos) << failure->message;
  // Our end is closed: the peer's next read fails (EOF, or a reset because
  // the session closed with unread bytes).
  std::optional<boost::system::error_code> read_error;
  char byte = 0;
  peer_.async_read_some(boost::asio::buffer(&byte, 1),
                        [&](const boost::system::error_code& ec, std::size_t) { read_error = ec; });
  ASSERT_TRUE(run_until(io_, [&] { return read_error.has_value(); }));
  EXPECT_TRUE(*read_error == boost::asio::error::eof ||
              *read_error == boost::asio::error::connection_reset)
      << read_error->message();
}

// Two sessions talking to each other: requests both ways, typed binding,
// notifications and errors, all over one socket pair.
TEST(SocketPair, TwoSessionsTalk) {
  boost::asio::io_context io;
  stream_protocol::socket a(io), b(io);
  boost::asio::local::connect_pair(a, b);
  auto client = Session::create(make_socket_transport(std::move(a)));
  auto server = Session::create(make_socket_transport(std::move(b)));

  server->bind<int, int>("add", [](int x, int y, Reply reply) { reply.ok(x + y); });
  server->bind<Buffer>(
      "name", [](Buffer buffer, Reply reply) { reply.ok("buffer " + std::to_string(buffer.id)); });
  std::vector<std::string> notes;
  client->on_notification("hello", [&](const msgpack::object& p) {
    notes.push_back(p.via.array.ptr[0].as<std::string>());
  });
  server->bind<>("greet", [&, weak = std::weak_ptr<Session>(server)](Reply reply) {
    if (auto s = weak.lock()) {
      s->notify("hello", std::string("from server"));
    }
    reply.ok_nil();
  });
  client->start();
  server->start();

  std::optional<Result<Object>> sum, name, missing, greeted;
  client->request(
      "add", [&](Result<Object> r) { sum = r; }, 2, 3);
  client->request(
      "name", [&](Result<Object> r) { name = r; }, Buffer{4});
  client->request("missing", [&](Result<Object> r) { missing = r; });
  client->request("greet", [&](Result<Object> r) { greeted = r; });
  ASSERT_TRUE(run_until(io, [&] { return sum && name && missing && greeted && !notes.empty(); }));
  ASSERT_TRUE(sum->ok());
  EXPECT_EQ(sum->value()->get().as<int>(), 5);
  ASSERT_TRUE(name->ok());
  EXPECT_EQ(name->value()->get().as<std::string>(), "buffer 4");
  ASSERT_FALSE(missing->ok());
  EXPECT_EQ(missing->error().message, "Invalid method: missing");
  EXPECT_EQ(notes, std::vector<std::string>{"from server"});

  bool server_closed = false;
  server->on_close([&](const Error& e) {
    server_closed = true;
    EXPECT_EQ(e.message, "channel closed by peer");
  });
  client->close();
  ASSERT_TRUE(run_until(io, [&] { return server_closed; }));
}

// A child process serves RPC on its stdin and stdout, both one socket, as a
// host started by jobstart() does.
TEST(StdioTransport, ServesRequestsOnFd0AndFd1) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only async-signal-safe work until the fds are in place; then a fresh
    // io_context, which is fine in a forked single-threaded child.
    ::close(fds[0]);  // else the parent's close would never reach us as EOF
    ::dup2(fds[1], STDIN_FILENO);
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[1]);
    int code = 1;
    try {
      boost::asio::io_context io;
      auto session = Session::create(make_stdio_transport(io));
      session->bind<std::string>("echo", [](std::string s, Reply reply) { reply.ok(s); });
      session->bind<>("fds_cloexec", [](Reply reply) {
        // Every descriptor of the channel other than 0 and 1 (the transport's
        // duplicates among them) must be close-on-exec.
        struct stat channel {};
        ::fstat(STDIN_FILENO, &channel);
        int duplicates = 0;
        bool cloexec = true;
        for (int fd = 3; fd < 256; ++fd) {
          struct stat st {};
          if (::fstat(fd, &st) != 0 || st.st_dev != channel.st_dev || st.st_ino != channel.st_ino) {
            continue;
          }
          ++duplicates;
          cloexec = cloexec && (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
        }
        reply.ok(std::make_tuple(duplicates, cloexec));
      });
      session->on_close([&](const Error&) { code = 0; });
      session->start();
      io.run();
    } catch (...) {
      code = 2;
    }
    ::_exit(code);
  }
  ::close(fds[1]);

  boost::asio::io_context io;
  stream_protocol::socket ours(io);
  ours.assign(stream_protocol(), fds[0]);
  auto session = Session::create(make_socket_transport(std::move(ours)));
  session->start();
  std::optional<Result<Object>> echoed, cloexec;
  session->request(
      "echo", [&](Result<Object> r) { echoed = r; }, std::string("over stdio"));
  session->request("fds_cloexec", [&](Result<Object> r) { cloexec = r; });
  const bool answered = run_until(io, [&] { return echoed && cloexec; });
  session->close();
  int status = 0;
  const bool exited =
      testing::wait_until([&] { return ::waitpid(child, &status, WNOHANG) == child; },
                          std::chrono::seconds(10), std::chrono::milliseconds(5));
  if (!exited) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  ASSERT_TRUE(answered);
  ASSERT_TRUE(exited) << "the child must exit once the channel closes";
  ASSERT_TRUE(echoed->ok()) << echoed->error().message;
  EXPECT_EQ(echoed->value()->get().as<std::string>(), "over stdio");
  ASSERT_TRUE(cloexec->ok());
  const auto [duplicates, all_cloexec] = cloexec->value()->get().as<std::tuple<int, bool>>();
  EXPECT_EQ(duplicates, 2) << "fd 0 and fd 1 are each duplicated once";
  EXPECT_TRUE(all_cloexec);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child must see EOF and close cleanly";
}

}  // namespace
}  // namespace himalaya::rpc
