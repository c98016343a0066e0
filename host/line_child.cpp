#include "host/line_child.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <utility>

#include "common/unique_fd.h"
#include "host/spawn.h"

namespace himalaya::host {

std::string sibling_program(const std::string& name) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? name : (self.parent_path() / name).string();
}

namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using common::UniqueFd;

constexpr std::size_t max_line = 64 * 1024;
constexpr auto exit_poll = std::chrono::milliseconds(10);
// After stdout closed, how long the child may take to exit before SIGKILL.
constexpr int exit_polls_before_kill = 300;

class Child final : public LineChild, public std::enable_shared_from_this<Child> {
 public:
  Child(asio::io_context& io, Callbacks callbacks)
      : output_(io), timer_(io), callbacks_(std::move(callbacks)) {}
  // Only when the io_context goes away with the child still running (the
  // host exiting, a test ending): it is killed and reaped, never left behind.
  ~Child() override {
    if (pid_ > 0 && !reaped_) {
      ::kill(-pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }

  bool launch(const std::string& program, const std::vector<std::string>& argv,
              const std::string& input, std::string& error) {
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) {
      error = std::string("pipe: ") + std::strerror(errno);
      return false;
    }
    UniqueFd in_read(in[0]);
    input_.reset(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) {
      error = std::string("pipe: ") + std::strerror(errno);
      return false;
    }
    UniqueFd out_read(out[0]);
    UniqueFd out_write(out[1]);
    UniqueFd null_fd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    SpawnRequest request;
    request.program = program;
    request.argv = argv;
    request.input_fd = in_read.get();
    request.output_fd = out_write.get();
    request.error_fd = null_fd.get();
    int error_number = 0;
    pid_ = spawn(request, error_number);
    if (pid_ < 0) {
      error = "cannot start " + program + ": " + std::strerror(error_number);
      return false;
    }
    // The settings line is far below the pipe's capacity: this write does not block.
    if (!input.empty() && ::write(input_.get(), input.data(), input.size()) < 0) {
      error = std::string("cannot write to the push watcher: ") + std::strerror(errno);
    }
    output_.assign(out_read.release());
    read();
    return true;
  }

  void close_input() override { input_.reset(); }
  void kill() override {
    if (!reaped_ && pid_ > 0) {
      ::kill(-pid_, SIGKILL);
    }
  }
  void detach() override { callbacks_ = {}; }
  pid_t pid() const override { return pid_; }

 private:
  void read() {
    auto self = shared_from_this();
    output_.async_read_some(asio::buffer(chunk_), [self](const error_code& ec, std::size_t n) {
      self->take(n);
      if (ec) {
        self->await_exit(0);
        return;
      }
      self->read();
    });
  }

  void take(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const char c = chunk_[i];
      if (c == '\n') {
        if (callbacks_.on_line) {
          callbacks_.on_line(line_);
        }
        line_.clear();
      } else if (line_.size() < max_line) {
        line_.push_back(c);
      }
    }
  }

  void await_exit(int polls) {
    int status = 0;
    pid_t got = ::waitpid(pid_, &status, WNOHANG);
    if (got == 0 && polls >= exit_polls_before_kill) {
      ::kill(-pid_, SIGKILL);
      while ((got = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
      }
    }
    if (got == 0) {
      auto self = shared_from_this();
      timer_.expires_after(exit_poll);
      timer_.async_wait([self, polls](const error_code&) { self->await_exit(polls + 1); });
      return;
    }
    reaped_ = true;
    if (callbacks_.on_exit) {
      callbacks_.on_exit(got == pid_ ? status : -1);
    }
  }

  asio::posix::stream_descriptor output_;
  asio::steady_timer timer_;
  Callbacks callbacks_;
  UniqueFd input_;
  std::array<char, 4096> chunk_{};
  std::string line_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace

std::shared_ptr<LineChild> LineChild::start(asio::io_context& io, const std::string& program,
                                            const std::vector<std::string>& argv,
                                            const std::string& input, Callbacks callbacks,
                                            std::string& error) {
  auto child = std::make_shared<Child>(io, std::move(callbacks));
  if (!child->launch(program, argv, input, error)) {
    return nullptr;
  }
  return child;
}

}  // namespace himalaya::host
