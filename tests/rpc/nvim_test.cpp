// Against a real `nvim --headless --clean --listen SOCKET`: the session must
// interoperate with Neovim itself, ext types, errors and nested requests
// included. Skipped when nvim is not installed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rpc/session.h"
#include "test_support.h"

extern char** environ;

namespace himalaya::rpc {
namespace {

using boost::asio::local::stream_protocol;
using testing::run_until;
using testing::wait_until;

std::optional<std::string> find_nvim() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  dirs += ":/usr/bin:/usr/local/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/nvim";
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

class RealNvim : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto nvim = find_nvim();
    if (!nvim) {
      GTEST_SKIP() << "nvim is not installed; the real-Neovim tests need it";
    }
    char dir_template[] = "/tmp/himalaya-rpc-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    socket_path_ = dir_ + "/nvim.sock";

    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args{*nvim, "--headless", "--clean", "--listen", socket_path_};
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    const int spawned =
        ::posix_spawn(&nvim_pid_, nvim->c_str(), &actions, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(spawned, 0) << "cannot start " << *nvim;

    // Wait until Neovim accepts connections on the socket, or dies.
    stream_protocol::socket socket(io_);
    bool died = false;
    const bool connected = wait_until(
        [&] {
          int status = 0;
          if (::waitpid(nvim_pid_, &status, WNOHANG) == nvim_pid_) {
            died = true;
            nvim_pid_ = -1;
            return true;
          }
          boost::system::error_code ec;
          socket.connect(stream_protocol::endpoint(socket_path_), ec);
          if (ec) {
            socket.close();
          }
          return !ec;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(5));
    ASSERT_FALSE(died) << "nvim exited before listening";
    ASSERT_TRUE(connected) << "nvim did not listen on " << socket_path_ << " within 10 s";

    session_ = Session::create(make_socket_transport(std::move(socket)));
    session_->on_diagnostic([this](const std::string& d) { diagnostics_.push_back(d); });
    session_->start();
  }

  void TearDown() override {
    if (session_) {
      session_->close();
    }
    if (nvim_pid_ > 0) {
      ::kill(nvim_pid_, SIGKILL);
      int status = 0;
      ::waitpid(nvim_pid_, &status, 0);
    }
    if (!dir_.empty()) {
      ::unlink(socket_path_.c_str());
      ::rmdir(dir_.c_str());
    }
  }

  // Calls `method` and runs the io_context until the answer arrives.
  template <class... Args>
  Result<Object> call(const std::string& method, const Args&... args) {
    std::optional<Result<Object>> result;
    session_->request(
        method, [&](Result<Object> r) { result = std::move(r); }, args...);
    if (!run_until(io_, [&] { return result.has_value(); })) {
      return Error{Error::exception, method + ": no answer within the deadline"};
    }
    return *result;
  }

  std::int64_t channel_id() {
    auto info = call("nvim_get_api_info");
    EXPECT_TRUE(info.ok());
    return info.ok() ? info.value()->get().via.array.ptr[0].as<std::int64_t>() : 0;
  }

  boost::asio::io_context io_;
  std::shared_ptr<Session> session_;
  std::vector<std::string> diagnostics_;

 private:
  pid_t nvim_pid_ = -1;
  std::string dir_;
  std::string socket_path_;
};

TEST_F(RealNvim, ApiInfoIsChannelIdAndMetadata) {
  auto info = call("nvim_get_api_info");
  ASSERT_TRUE(info.ok()) << info.error().message;
  const msgpack::object& o = info.value()->get();
  ASSERT_EQ(o.type, msgpack::type::ARRAY);
  ASSERT_EQ(o.via.array.size, 2u);
  EXPECT_GT(o.via.array.ptr[0].as<std::int64_t>(), 0);
  ASSERT_EQ(o.via.array.ptr[1].type, msgpack::type::MAP);
  const auto metadata = o.via.array.ptr[1].as<std::map<std::string, msgpack::object>>();
  EXPECT_EQ(metadata.count("functions"), 1u);
  EXPECT_EQ(metadata.count("types"), 1u);
  // The types table gives the ext ids our adaptors assume.
  const auto types =
      metadata.at("types").as<std::map<std::string, std::map<std::string, msgpack::object>>>();
  EXPECT_EQ(types.at("Buffer").at("id").as<int>(), 0);
  EXPECT_EQ(types.at("Window").at("id").as<int>(), 1);
  EXPECT_EQ(types.at("Tabpage").at("id").as<int>(), 2);
}

TEST_F(RealNvim, EvalReturnsValuesAndErrors) {
  auto two = call("nvim_eval", std::string("1+1"));
  ASSERT_TRUE(two.ok()) << two.error().message;
  EXPECT_EQ(two.value()->get().as<int>(), 2);

  auto missing = call("nvim_eval", std::string("nosuchvar"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nosuchvar"), std::string::npos)
      << missing.error().message;

  auto wrong_args = call("nvim_eval", 1, 2);
  ASSERT_FALSE(wrong_args.ok());
  EXPECT_FALSE(wrong_args.error().message.empty());

  // Errors leave the channel usable.
  auto again = call("nvim_eval", std::string("[1, 'two']"));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value()->get().via.array.size, 2u);
  EXPECT_TRUE(session_->is_open());
}

TEST_F(RealNvim, HandlesAreExtTypesBothWays) {
  auto buffer = call("nvim_get_current_buf");
  ASSERT_TRUE(buffer.ok()) << buffer.error().message;
  ASSERT_EQ(buffer.value()->get().type, msgpack::type::EXT);
  EXPECT_EQ(buffer.value()->get().via.ext.type(), 0);
  EXPECT_EQ(buffer.value()->get().as<Buffer>(), Buffer{1});

  auto window = call("nvim_get_current_win");
  ASSERT_TRUE(window.ok()) << window.error().message;
  EXPECT_EQ(window.value()->get().via.ext.type(), 1);
  EXPECT_EQ(window.value()->get().as<Window>(), Window{1000});

  auto tabpage = call("nvim_get_current_tabpage");
  ASSERT_TRUE(tabpage.ok()) << tabpage.error().message;
  EXPECT_EQ(tabpage.value()->get().as<Tabpage>(), Tabpage{1});

  // Our packed handles are accepted: Buffer{0} is the current buffer.
  auto name = call("nvim_buf_get_name", Buffer{0});
  ASSERT_TRUE(name.ok()) << name.error().message;
  EXPECT_EQ(name.value()->get().as<std::string>(), "");
  auto set = call("nvim_buf_set_lines", Buffer{1}, 0, -1, false,
                  std::vector<std::string>{"one", "two", "three"});
  ASSERT_TRUE(set.ok()) << set.error().message;
  auto count = call("nvim_buf_line_count", Buffer{0});
  ASSERT_TRUE(count.ok()) << count.error().message;
  EXPECT_EQ(count.value()->get().as<int>(), 3);
  auto win_buf = call("nvim_win_get_buf", Window{1000});
  ASSERT_TRUE(win_buf.ok()) << win_buf.error().message;
  EXPECT_EQ(win_buf.value()->get().as<Buffer>(), Buffer{1});

  auto bad = call("nvim_buf_line_count", Buffer{999});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Error::validation) << bad.error().message;
  EXPECT_NE(bad.error().message.find("buffer"), std::string::npos) << bad.error().message;
}

// Neovim calls us (rpcrequest 'outer'); the handler calls back into Neovim,
// which calls us again ('inner') while 'outer' is still open. Each reply must
// go to the innermost open request, or Neovim 0.7 closes the channel.
TEST_F(RealNvim, NestedRequestsFromNeovimAreAnsweredInOrder) {
  const auto chan = channel_id();
  ASSERT_GT(chan, 0);
  const std::string chan_text = std::to_string(chan);
  std::vector<std::string> events;
  session_->on_request("outer", [&](const msgpack::object&, Reply reply) {
    events.push_back("outer received");
    auto held = std::make_shared<Reply>(std::move(reply));
    session_->request(
        "nvim_eval",
        [&events, held](Result<Object> r) {
          events.push_back("nested eval answered");
          held->ok("outer saw " +
                   (r.ok() ? r.value()->get().as<std::string>() : r.error().message));
        },
        "rpcrequest(" + chan_text + ", 'inner')");
  });
  session_->on_request("inner", [&](const msgpack::object&, Reply reply) {
    events.push_back("inner received");
    reply.ok(std::string("inner-result"));
  });

  auto top = call("nvim_eval", "rpcrequest(" + chan_text + ", 'outer')");
  ASSERT_TRUE(top.ok()) << top.error().message;
  EXPECT_EQ(top.value()->get().as<std::string>(), "outer saw inner-result");
  EXPECT_EQ(events,
            (std::vector<std::string>{"outer received", "inner received", "nested eval answered"}));

  auto after = call("nvim_eval", std::string("1+1"));
  ASSERT_TRUE(after.ok()) << "the channel must survive: " << after.error().message;
  EXPECT_TRUE(session_->is_open());
}

TEST_F(RealNvim, RequestsFromNeovimReachBoundHandlers) {
  const auto chan = channel_id();
  session_->bind<int, std::string>(
      "describe", [](int n, std::string s, Reply reply) { reply.ok(s + "=" + std::to_string(n)); });
  auto typed = call("nvim_eval", "rpcrequest(" + std::to_string(chan) + ", 'describe', 7, 'x')");
  ASSERT_TRUE(typed.ok()) << typed.error().message;
  EXPECT_EQ(typed.value()->get().as<std::string>(), "x=7");

  // A decode failure reaches Neovim as an error it raises.
  auto wrong = call("nvim_eval", "rpcrequest(" + std::to_string(chan) + ", 'describe', 'x', 7)");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("param 1 has the wrong type"), std::string::npos)
      << wrong.error().message;

  // So does an unknown method.
  auto unknown = call("nvim_eval", "rpcrequest(" + std::to_string(chan) + ", 'nope')");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("Invalid method: nope"), std::string::npos)
      << unknown.error().message;
  EXPECT_TRUE(session_->is_open());
}

TEST_F(RealNvim, BadNotificationComesBackAsNvimErrorEvent) {
  std::optional<std::pair<int, std::string>> event;
  session_->on_notification("nvim_error_event", [&](const msgpack::object& params) {
    event = params.as<std::pair<int, std::string>>();
  });
  session_->notify("nvim_no_such_function", 1);
  ASSERT_TRUE(run_until(io_, [&] { return event.has_value(); }));
  EXPECT_NE(event->second.find("nvim_no_such_function"), std::string::npos) << event->second;
  EXPECT_TRUE(session_->is_open());
}

}  // namespace
}  // namespace himalaya::rpc
