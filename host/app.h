// The host's wiring: one io_context, the stdio RPC session with Neovim, signal
// handling, and the Neovim-facing handlers as thin translations.
//
// Lifetime: App lives on main()'s stack for the whole run. It stops the
// io_context when the channel closes (`:qa`, Neovim killed: EOF on stdin) or on
// SIGTERM/SIGINT, so the process exits well within a second of either.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "host/config.h"
#include "host/status_report.h"

namespace spdlog {
class logger;
}
namespace himalaya::rpc {
class Session;
}

namespace himalaya::host {

class Neovim;

class App {
 public:
  App(boost::asio::io_context& io, HostConfig config, std::shared_ptr<spdlog::logger> log);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Starts serving Neovim on stdin/stdout. Returns at once; io.run() drives it.
  void start();

 private:
  void bind_handlers();
  void shutdown(const std::string& why);
  StatusFacts status_facts() const;
  nlohmann::json status_value() const;

  boost::asio::io_context& io_;
  HostConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::signal_set signals_;
  std::shared_ptr<rpc::Session> session_;
  std::unique_ptr<Neovim> neovim_;
  bool stopping_ = false;
};

}  // namespace himalaya::host
