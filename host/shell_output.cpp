#include "host/shell_output.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstring>
#include <memory>
#include <sstream>
#include <utility>

#include "common/unique_fd.h"
#include "host/spawn.h"

namespace himalaya::host {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using common::UniqueFd;

// More than any user name or password; the rest is read and dropped.
constexpr std::size_t max_kept = 64 * 1024;
// How long output is still read after the command exited (something it
// started in the background may hold the pipe).
constexpr auto drain_grace = std::chrono::milliseconds(200);

std::string first_line(const std::string& output) {
  std::string line = output.substr(0, output.find('\n'));
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

class Run : public std::enable_shared_from_this<Run> {
 public:
  Run(asio::io_context& io, std::function<void(ShellResult)> done)
      : io_(io), output_(io), exit_watch_(io), timer_(io), done_(std::move(done)) {}

  void start(const std::string& command, std::chrono::milliseconds timeout) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      return fail_now(std::string("pipe: ") + std::strerror(errno));
    }
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    UniqueFd null_fd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    if (!null_fd.valid()) {
      return fail_now(std::string("/dev/null: ") + std::strerror(errno));
    }
    int error_number = 0;
    SpawnRequest request;
    request.program = "/bin/sh";
    request.argv = {"sh", "-c", command};
    request.output_fd = write_end.get();
    request.error_fd = null_fd.get();
    pid_ = spawn(request, error_number);
    if (pid_ < 0) {
      return fail_now(std::string("cannot start /bin/sh: ") + std::strerror(error_number));
    }
    write_end.reset();
    int pidfd = common::open_pidfd(pid_);
    if (pidfd < 0) {
      ::kill(-pid_, SIGKILL);
      reap();
      return fail_now(std::string("pidfd_open: ") + std::strerror(errno));
    }
    exit_watch_.assign(pidfd);
    output_.assign(read_end.release());
    auto self = shared_from_this();
    exit_watch_.async_wait(asio::posix::stream_descriptor::wait_read, [self](const error_code& ec) {
      if (!ec) {
        self->exited();
      }
    });
    timer_.expires_after(timeout);
    timer_.async_wait([self, timeout](const error_code& ec) {
      if (!ec && !self->exited_) {
        self->timed_out_ = std::chrono::duration<double>(timeout).count();
        ::kill(-self->pid_, SIGKILL);  // the leader is unreaped: the group is still ours
      }
    });
    read();
  }

 private:
  void fail_now(std::string error) {
    ShellResult result;
    result.error = std::move(error);
    asio::post(io_, [done = std::move(done_), result]() { done(result); });
  }

  void read() {
    auto self = shared_from_this();
    output_.async_read_some(asio::buffer(chunk_), [self](const error_code& ec, std::size_t n) {
      if (n > 0 && self->text_.size() < max_kept) {
        self->text_.append(self->chunk_.data(), std::min(n, max_kept - self->text_.size()));
      }
      if (ec) {
        self->eof_ = true;
        self->maybe_finish();
        return;
      }
      self->read();
    });
  }

  void exited() {
    exited_ = true;
    ::kill(-pid_, SIGKILL);  // whatever it left in its group; the leader is a zombie
    reap();
    if (eof_) {
      return maybe_finish();
    }
    auto self = shared_from_this();
    timer_.expires_after(drain_grace);
    timer_.async_wait([self](const error_code& ec) {
      if (!ec) {
        self->eof_ = true;
        self->maybe_finish();
      }
    });
  }

  void reap() {
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
  }

  void maybe_finish() {
    if (!eof_ || !exited_ || finished_) {
      return;
    }
    finished_ = true;
    timer_.cancel();
    error_code ignored;
    output_.close(ignored);
    exit_watch_.close(ignored);
    ShellResult result;
    if (timed_out_ > 0) {
      std::ostringstream text;
      text << "timed out after " << timed_out_ << " s";
      result.error = text.str();
    } else if (WIFSIGNALED(status_)) {
      result.error = "killed by signal " + std::to_string(WTERMSIG(status_));
    } else if (WEXITSTATUS(status_) != 0) {
      result.error = "exited with status " + std::to_string(WEXITSTATUS(status_));
    } else if (first_line(text_).empty()) {
      result.error = "printed nothing";
    } else {
      result.ok = true;
      result.line = first_line(text_);
    }
    std::fill(text_.begin(), text_.end(), '\0');
    std::fill(chunk_.begin(), chunk_.end(), '\0');
    auto done = std::move(done_);
    done(std::move(result));
  }

  asio::io_context& io_;
  asio::posix::stream_descriptor output_;
  asio::posix::stream_descriptor exit_watch_;
  asio::steady_timer timer_;
  std::function<void(ShellResult)> done_;
  std::array<char, 4096> chunk_{};
  std::string text_;
  pid_t pid_ = -1;
  int status_ = 0;
  double timed_out_ = 0;  // seconds; > 0 once the timeout killed the command
  bool eof_ = false;
  bool exited_ = false;
  bool finished_ = false;
};

}  // namespace

void run_shell(asio::io_context& io, const std::string& command, std::chrono::milliseconds timeout,
               std::function<void(ShellResult)> done) {
  std::make_shared<Run>(io, std::move(done))->start(command, timeout);
}

}  // namespace himalaya::host
