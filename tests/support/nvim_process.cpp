#include "tests/support/nvim_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "rpc/transport.h"
#include "tests/support/files.h"

namespace himalaya::testing {
std::string lua_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "'";
}

std::string lua_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

std::vector<std::string> as_strings(const msgpack::object& o) {
  std::vector<std::string> out;
  if (o.type == msgpack::type::ARRAY) {
    for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
      out.push_back(o.via.array.ptr[i].type == msgpack::type::STR
                        ? o.via.array.ptr[i].as<std::string>()
                        : std::string("<not a string>"));
    }
  }
  return out;
}

TestHome::TestHome() {
  dir = make_temp_dir("himalaya-e2e-");
  for (const char* sub : {"config", "state", "data", "cache", "runtime"}) {
    std::filesystem::create_directories(dir / sub);
  }
  std::filesystem::permissions(dir / "runtime", std::filesystem::perms::owner_all);
}

TestHome::~TestHome() {
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "kept the failed test's home: %s\n", dir.c_str());
  } else if (std::getenv("HIMALAYA_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
}

void TestHome::write_init(const std::string& extra_lua) const {
  std::ofstream init(dir / "init.lua");
  init << "vim.opt.runtimepath:prepend(" << lua_quote(HIMALAYA_SOURCE_DIR) << ")\n"
       << extra_lua << "\n";
}

std::string TestHome::base_options() const {
  return "binary = " + lua_quote(HIMALAYA_HOST_BINARY) +
         ", state_file = " + lua_quote(state_file().string()) +
         ", log_file = " + lua_quote(log_file().string());
}

NvimProcess::NvimProcess(const TestHome& home, const std::vector<std::string>& extra_env) {
  std::string socket = (home.dir / "nvim.sock").string();
  std::string init = (home.dir / "init.lua").string();
  std::string log = (home.dir / "nvim-stderr.log").string();
  std::vector<std::string> env_strings{
      "HOME=" + home.dir.string(),
      "XDG_CONFIG_HOME=" + (home.dir / "config").string(),
      "XDG_STATE_HOME=" + (home.dir / "state").string(),
      "XDG_DATA_HOME=" + (home.dir / "data").string(),
      "XDG_CACHE_HOME=" + (home.dir / "cache").string(),
      "XDG_RUNTIME_DIR=" + (home.dir / "runtime").string(),
      "PATH=" + std::string(std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin"),
      "TERM=dumb",
  };
  for (const char* pass : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* value = std::getenv(pass)) {
      env_strings.push_back(std::string(pass) + "=" + value);
    }
  }
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<std::string> args{"nvim", "--headless", "-n",       "-i",  "NONE",
                                "-u",   init,         "--listen", socket};
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ == 0) {
    int null_fd = ::open("/dev/null", O_RDWR);
    int err_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(err_fd, 2);
    ::setpgid(0, 0);
    ::execvpe("nvim", argv.data(), envp.data());
    ::_exit(127);
  }
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  boost::asio::local::stream_protocol::socket sock(io_);
  bool connected = wait_until(
      [&] {
        boost::system::error_code ec;
        sock.close(ec);
        sock.open(boost::asio::local::stream_protocol(), ec);
        sock.connect(boost::asio::local::stream_protocol::endpoint(socket), ec);
        return !ec;
      },
      10s);
  if (!connected) {
    throw std::runtime_error("nvim did not open its socket " + socket);
  }
  session_ = rpc::Session::create(rpc::make_socket_transport(std::move(sock)));
  session_->start();
}

NvimProcess::~NvimProcess() {
  if (session_) {
    session_->close();
  }
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, SIGKILL);  // its process group: nvim and the host it started
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

rpc::Result<rpc::Object> NvimProcess::call(const std::string& method,
                                           const msgpack::sbuffer& params,
                                           std::chrono::milliseconds timeout) {
  auto result = std::make_shared<std::optional<rpc::Result<rpc::Object>>>();
  session_->request_packed(method, params,
                           [result](rpc::Result<rpc::Object> r) { *result = std::move(r); });
  io_.restart();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!*result && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(deadline - std::chrono::steady_clock::now());
  }
  if (!*result) {
    return rpc::Error{rpc::Error::exception, method + ": no reply within the deadline"};
  }
  return std::move(**result);
}

msgpack::object NvimProcess::lua(const std::string& code, std::chrono::milliseconds timeout) {
  msgpack::sbuffer params;
  msgpack::packer<msgpack::sbuffer> pk(params);
  pk.pack_array(2);
  pk.pack(code);
  pk.pack_array(0);
  auto result = call("nvim_exec_lua", params, timeout);
  if (!result) {
    ADD_FAILURE() << "lua failed: " << result.error().message << "\n  code: " << code;
    return msgpack::object();
  }
  last_ = result.value();
  return last_->get();
}

bool NvimProcess::lua_bool(const std::string& code, std::chrono::milliseconds timeout) {
  msgpack::object o = lua(code, timeout);
  return o.type == msgpack::type::BOOLEAN && o.via.boolean;
}

std::int64_t NvimProcess::lua_int(const std::string& code, std::chrono::milliseconds timeout) {
  msgpack::object o = lua(code, timeout);
  if (o.type != msgpack::type::POSITIVE_INTEGER && o.type != msgpack::type::NEGATIVE_INTEGER) {
    ADD_FAILURE() << "expected an integer from: " << code;
    return -1;
  }
  return o.as<std::int64_t>();
}

std::string NvimProcess::lua_string(const std::string& code, std::chrono::milliseconds timeout) {
  msgpack::object o = lua(code, timeout);
  if (o.type != msgpack::type::STR) {
    ADD_FAILURE() << "expected a string from: " << code;
    return {};
  }
  return o.as<std::string>();
}

void NvimProcess::command_no_wait(const std::string& command) {
  session_->notify("nvim_command", command);
  io_.restart();
  io_.poll();
}

bool NvimProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (reaped_) {
    return true;
  }
  bool exited = wait_until(
      [&] {
        io_.restart();
        io_.poll();
        return ::waitpid(pid_, nullptr, WNOHANG) == pid_;
      },
      timeout);
  reaped_ = exited;
  return exited;
}

void NvimProcess::kill(int signal) const {
  ::kill(pid_, signal);
}

}  // namespace himalaya::testing
