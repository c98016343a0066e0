// himalaya-coord-session: the primary's desktop-session reader (SPEC §11,
// away), in a process of its own so that only it maps libsystemd
// (host/session_wire.h says why, and what it writes).
//
// The host starts it when its instance becomes the primary and ends it by
// closing its stdin (or by dying, which closes it too). It runs
// LogindSession (host/logind_session.h) on its own io_context and prints one
// line per change of away, source or problem. Its stdout is a pipe to the
// host, never Neovim's channel; a host that is gone (EPIPE) ends it.
//
// Usage: himalaya-coord-session [--address D-BUS-ADDRESS]
//   (no address: the system bus, or DBUS_SYSTEM_BUS_ADDRESS)
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "host/logind_session.h"
#include "host/session_wire.h"

namespace {

namespace asio = boost::asio;
using himalaya::host::LogindSession;
using himalaya::host::SessionLine;

void emit(const SessionLine& line) {
  const std::string text = himalaya::host::format_session_line(line);
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    std::_Exit(0);
  }
}

void emit_text(SessionLine::Kind kind, const std::string& text) {
  SessionLine line;
  line.kind = kind;
  line.text = text;
  emit(line);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  LogindSession::Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--address" && i + 1 < argc) {
      options.address = argv[++i];
    } else {
      emit_text(SessionLine::Kind::log, "session reader: unknown argument " + arg);
      return 2;
    }
  }
  asio::io_context io;
  std::unique_ptr<LogindSession> reader;
  std::string source;
  std::string problem;
  LogindSession::Hooks hooks;
  hooks.changed = [](bool away) {
    SessionLine line;
    line.away = away;
    emit(line);
  };
  hooks.log = [](const std::string& text) { emit_text(SessionLine::Kind::log, text); };
  hooks.facts_changed = [&] {
    if (reader->source() != source) {
      source = reader->source();
      emit_text(SessionLine::Kind::source, source);
    }
    if (reader->problem() != problem) {
      problem = reader->problem();
      emit_text(SessionLine::Kind::problem, problem);
    }
  };
  reader = std::make_unique<LogindSession>(io, options, std::move(hooks));

  // The host closes our stdin to stop us (or dies, which closes it too).
  asio::posix::stream_descriptor input(io, ::dup(STDIN_FILENO));
  std::array<char, 256> buffer{};
  std::function<void()> read_input = [&] {
    input.async_read_some(asio::buffer(buffer),
                          [&](const boost::system::error_code& ec, std::size_t) {
                            if (ec) {
                              io.stop();
                              return;
                            }
                            read_input();
                          });
  };
  read_input();
  reader->start();
  io.run();
  reader.reset();
  return 0;
}
