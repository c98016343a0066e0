// himalaya-coord: the host process a Neovim starts with jobstart(..., {rpc = true}).
// main() only parses arguments, sets up logging and runs the App.

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <csignal>
#include <string>
#include <string_view>

#include "host/app.h"
#include "host/config.h"
#include "host/logging.h"
#include "host/version.h"

namespace {

constexpr const char* usage =
    "usage: himalaya-coord --config JSON\n"
    "       himalaya-coord --help | --version\n"
    "\n"
    "The msgpack-RPC host of the himalaya-coord Neovim plugin. Neovim starts it\n"
    "with jobstart({...}, {rpc = true}); it talks to Neovim on stdin/stdout and\n"
    "coordinates mail syncing with the hosts of the user's other Neovims.\n"
    "\n"
    "  --config JSON  the resolved plugin options, as the Lua side passes them\n"
    "  --help         show this help\n"
    "  --version      show the version\n";

// Everything human-readable goes to stderr, except --help and --version, which
// are asked for on a terminal and never reach Neovim's channel.
void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n <= 0) {
      return;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

int fail(const std::string& message) {
  write_all(STDERR_FILENO, "himalaya-coord: " + message + "\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_text;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      write_all(STDOUT_FILENO, usage);
      return 0;
    }
    if (arg == "--version") {
      write_all(STDOUT_FILENO,
                std::string("himalaya-coord ") + himalaya::host::version_string + "\n");
      return 0;
    }
    if (arg == "--config" && i + 1 < argc) {
      config_text = argv[++i];
      continue;
    }
    return fail("unknown argument '" + std::string(arg) + "'\n" + usage);
  }
  if (config_text.empty()) {
    return fail(std::string("missing --config\n") + usage);
  }
  auto parsed = himalaya::host::parse_config(config_text);
  if (!parsed.config) {
    return fail("invalid configuration: " + parsed.error);
  }
  std::string log_error;
  auto log = himalaya::host::make_logger(parsed.config->log_file, parsed.config->debug, log_error);
  spdlog::set_default_logger(log);
  if (!log_error.empty()) {
    log->warn("cannot open the log file {}: {}; logging to stderr only",
              parsed.config->log_file.string(), log_error);
  }
  log->info("himalaya-coord {} starting for {} (nvim pid {})", himalaya::host::version_string,
            parsed.config->instance_id, parsed.config->nvim_pid);

  // A write to a closed pipe must fail with EPIPE, not kill the host.
  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  himalaya::host::App app(io, std::move(*parsed.config), log);
  app.start();
  io.run();
  log->info("himalaya-coord exiting");
  log->flush();
  return 0;
}
