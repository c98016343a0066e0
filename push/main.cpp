// himalaya-coord-push: the primary's IMAP IDLE watcher, in a process of its
// own (host/push_wire.h says why, and what it reads and writes).
//
// The host starts it when its instance becomes the primary, with push not
// off, and ends it by closing its stdin. It also ends by itself, with its
// last status off, when there is nothing to watch (no usable account, no
// IDLE on the server, a refused login); the host then does not start it
// again until the next time it becomes the primary. Its stdout is a pipe to
// the host, never Neovim's channel; stderr is the host's log sink
// (/dev/null). It runs PassCmd and UserCmd itself, so no password crosses
// the pipe.
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "coordinator/clock.h"
#include "host/push_wire.h"
#include "mbsync/environment.h"
#include "push/check.h"
#include "push/watcher.h"

namespace {

namespace asio = boost::asio;
using himalaya::host::PushSettings;
using nlohmann::json;

// How long a stopped watcher may take to log out before the process exits.
constexpr auto logout_grace = std::chrono::seconds(2);

// JSON text of `value`. Server text that is not UTF-8 (a refusal in
// Latin-1) reaches log and status lines: it is replaced, never a throw.
std::string text_of(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// One line to the host; a host that is gone (EPIPE) ends the process.
void emit(const json& message) {
  const std::string line = text_of(message) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0) {
    std::_Exit(0);
  }
}

int watch(const PushSettings& settings) {
  asio::io_context io;
  auto clock = std::make_shared<himalaya::coordinator::SystemClock>();
  himalaya::push::PushWatcher::Options options;
  options.command = settings.command;
  options.push = settings.push;
  options.env = himalaya::mbsync::process_environment();
  himalaya::push::PushWatcher::Hooks hooks;
  std::unique_ptr<himalaya::push::PushWatcher> watcher;
  std::string last_status;
  asio::steady_timer quit(io);
  auto leave = [&] {
    quit.expires_after(logout_grace);
    quit.async_wait([&io](const boost::system::error_code& ec) {
      if (!ec) {
        io.stop();
      }
    });
  };
  hooks.mail_changed = [](const std::string& account, const std::string& mailbox) {
    emit({{"changed", {{"account", account}, {"mailbox", mailbox}}}});
  };
  hooks.warn = [](const std::string& text) { emit({{"warn", text}}); };
  hooks.log = [](const std::string& text) { emit({{"log", text}}); };
  hooks.status_changed = [&] {
    if (!watcher) {
      return;
    }
    const himalaya::host::PushStatus status = watcher->status();
    json wire = himalaya::host::status_to_wire(status, clock->wall());
    if (text_of(wire) != last_status) {
      last_status = text_of(wire);
      emit({{"status", wire}});
    }
    if (status.state == himalaya::host::PushStatus::State::off) {
      leave();  // nothing left to watch
    }
  };
  watcher = std::make_unique<himalaya::push::PushWatcher>(io, options, clock, std::move(hooks));

  // The host closes our stdin to stop us (or dies, which closes it too).
  asio::posix::stream_descriptor input(io, ::dup(STDIN_FILENO));
  auto buffer = std::make_shared<std::array<char, 256>>();
  std::function<void()> read_input = [&] {
    input.async_read_some(asio::buffer(*buffer),
                          [&](const boost::system::error_code& ec, std::size_t) {
                            if (ec) {
                              watcher->stop("the host is leaving");
                              leave();
                              return;
                            }
                            read_input();
                          });
  };
  read_input();
  watcher->start();
  io.run();
  watcher.reset();
  return 0;
}

int check(const PushSettings& settings) {
  asio::io_context io;
  himalaya::push::PushCheckOptions options;
  options.command = settings.command;
  options.push = settings.push;
  options.env = himalaya::mbsync::process_environment();
  himalaya::push::check_push(io, options, [](const json& result) { emit({{"check", result}}); });
  io.run();
  return 0;
}

}  // namespace

int main() {
  std::signal(SIGPIPE, SIG_IGN);
  std::string line;
  if (!std::getline(std::cin, line)) {
    return 2;
  }
  std::string error;
  auto settings = himalaya::host::decode_settings(line, error);
  if (!settings) {
    emit({{"log", "push watcher: " + error}});
    return 2;
  }
  return settings->mode == PushSettings::Mode::check ? check(*settings) : watch(*settings);
}
