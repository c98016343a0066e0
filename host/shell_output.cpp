#include "host/shell_output.h"

#include <sys/wait.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>

#include "host/line_child.h"

namespace himalaya::host {
namespace {

namespace asio = boost::asio;

// One run: the first line, the timeout, and the answer once the command has
// exited (LineChild reports the exit after the output).
struct Run {
  Run(asio::io_context& io, std::function<void(ShellResult)> callback)
      : timer(io), done(std::move(callback)) {}

  void finish(int status) {
    timer.cancel();
    ShellResult result;
    if (timed_out > 0) {
      std::ostringstream text;
      text << "timed out after " << timed_out << " s";
      result.error = text.str();
    } else if (status < 0 || WIFSIGNALED(status)) {
      result.error = status < 0 ? "ended in an unknown way"
                                : "killed by signal " + std::to_string(WTERMSIG(status));
    } else if (WEXITSTATUS(status) != 0) {
      result.error = "exited with status " + std::to_string(WEXITSTATUS(status));
    } else if (!first_line || first_line->empty()) {
      result.error = "printed nothing";
    } else {
      result.ok = true;
      result.line = std::move(*first_line);
    }
    if (first_line) {
      std::fill(first_line->begin(), first_line->end(), '\0');
    }
    auto callback = std::move(done);
    callback(std::move(result));
  }

  asio::steady_timer timer;
  std::function<void(ShellResult)> done;
  std::optional<std::string> first_line;
  double timed_out = 0;  // seconds; > 0 once the timeout killed the command
};

}  // namespace

void run_shell(asio::io_context& io, const std::string& command, std::chrono::milliseconds timeout,
               std::function<void(ShellResult)> done) {
  auto run = std::make_shared<Run>(io, std::move(done));
  LineChild::Callbacks callbacks;
  callbacks.on_line = [run](const std::string& line) {
    if (!run->first_line) {
      std::string text = line;
      if (!text.empty() && text.back() == '\r') {
        text.pop_back();
      }
      run->first_line = std::move(text);
    }
  };
  callbacks.on_exit = [run](int status) { run->finish(status); };
  std::string error;
  auto child =
      LineChild::start(io, "/bin/sh", {"sh", "-c", command}, "", std::move(callbacks), error);
  if (!child) {
    asio::post(io, [run, error] {
      ShellResult result;
      result.error = error;
      auto callback = std::move(run->done);
      callback(std::move(result));
    });
    return;
  }
  child->close_input();
  run->timer.expires_after(timeout);
  run->timer.async_wait([run, child, timeout](const boost::system::error_code& ec) {
    if (!ec) {
      run->timed_out = std::chrono::duration<double>(timeout).count();
      child->kill();
    }
  });
}

}  // namespace himalaya::host
