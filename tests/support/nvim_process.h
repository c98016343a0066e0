// A real headless Neovim for the end-to-end, mail and chaos tests, driven over `--listen` with our
// own rpc::Session.
//
// Each TestHome is a private directory with its own XDG_* variables, so tests
// never touch the user's files and can run side by side. NvimProcess starts
// `nvim --headless -u <home>/init.lua --listen <socket>`, connects, and offers
// blocking calls with deadlines (the test thread runs the io_context until the
// reply arrives). Nothing here sleeps for a fixed time: every wait polls a
// condition until it holds or its deadline passes.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rpc/session.h"
#include "tests/support/wait.h"

namespace himalaya::testing {

using namespace std::chrono_literals;

// Lua source text for a string (single-quoted, escaped) and for a number
// (exact, so fractional test intervals survive the round trip).
std::string lua_quote(const std::string& s);
std::string lua_number(double value);

// A msgpack array of strings as a vector; a non-string element reads as
// "<not a string>", so a test's comparison shows it.
std::vector<std::string> as_strings(const msgpack::object& o);

struct TestHome {
  TestHome();
  ~TestHome();
  TestHome(const TestHome&) = delete;
  TestHome& operator=(const TestHome&) = delete;

  // Writes init.lua: puts the repository on 'runtimepath', then `extra_lua`.
  void write_init(const std::string& extra_lua) const;
  // A Lua table literal with the test's paths and the host binary, for setup().
  std::string base_options() const;
  std::filesystem::path state_file() const { return dir / "config/himalaya/sync_coordinator.json"; }
  std::filesystem::path log_file() const { return dir / "state/himalaya/coord.log"; }

  std::filesystem::path dir;
};

class NvimProcess {
 public:
  // `extra_env` ("NAME=value" each) is added to the private environment, e.g.
  // DBUS_SYSTEM_BUS_ADDRESS for a test's own bus.
  explicit NvimProcess(const TestHome& home, const std::vector<std::string>& extra_env = {});
  ~NvimProcess();
  NvimProcess(const NvimProcess&) = delete;
  NvimProcess& operator=(const NvimProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Runs `code` with nvim_exec_lua; fails the calling test on error or timeout.
  msgpack::object lua(const std::string& code, std::chrono::milliseconds timeout = 10s);
  bool lua_bool(const std::string& code, std::chrono::milliseconds timeout = 10s);
  std::int64_t lua_int(const std::string& code, std::chrono::milliseconds timeout = 10s);
  std::string lua_string(const std::string& code, std::chrono::milliseconds timeout = 10s);

  // The raw form: the reply or the error, after at most `timeout`.
  rpc::Result<rpc::Object> call(const std::string& method, const msgpack::sbuffer& params,
                                std::chrono::milliseconds timeout);
  // Sends a command without waiting for an answer (for :qa, which never answers).
  void command_no_wait(const std::string& command);

  // Waits for the Neovim process to exit and reaps it.
  bool wait_exit(std::chrono::milliseconds timeout);
  void kill(int signal) const;

 private:
  boost::asio::io_context io_;
  std::shared_ptr<rpc::Session> session_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::shared_ptr<msgpack::object_handle> last_;
};

}  // namespace himalaya::testing
