#include "host/app.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "host/neovim.h"
#include "rpc/session.h"
#include "rpc/transport.h"

namespace himalaya::host {

App::App(boost::asio::io_context& io, HostConfig config, std::shared_ptr<spdlog::logger> log)
    : io_(io), config_(std::move(config)), log_(std::move(log)), signals_(io, SIGTERM, SIGINT) {}

App::~App() = default;

void App::start() {
  session_ = rpc::Session::create(rpc::make_stdio_transport(io_));
  // The transport writes to its own copy of fd 1. Point fd 1 itself at stderr,
  // so that a stray write to stdout from anywhere in the process (a library,
  // a child that inherits it) cannot corrupt the RPC stream.
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  session_->on_diagnostic([log = log_](const std::string& what) { log->warn("rpc: {}", what); });
  neovim_ = std::make_unique<Neovim>(session_, log_);
  bind_handlers();
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (!ec) {
      shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
    }
  });
  session_->on_close([this](const rpc::Error& why) { shutdown("channel closed: " + why.message); });
  session_->start();
  neovim_->register_host([this](const rpc::Error* error) {
    if (error != nullptr) {
      log_->error("registering with Neovim failed: {}", error->message);
      return;
    }
    log_->info("registered on channel {} as {}", neovim_->channel(), config_.instance_id);
  });
}

void App::bind_handlers() {
  auto token_of = [](const msgpack::object& params) -> std::optional<std::int64_t> {
    if (params.type != msgpack::type::ARRAY || params.via.array.size != 1) {
      return std::nullopt;
    }
    const msgpack::object& token = params.via.array.ptr[0];
    if (token.type != msgpack::type::POSITIVE_INTEGER &&
        token.type != msgpack::type::NEGATIVE_INTEGER) {
      return std::nullopt;
    }
    return token.as<std::int64_t>();
  };
  session_->on_notification(method::status, [this, token_of](const msgpack::object& params) {
    if (auto token = token_of(params)) {
      neovim_->deliver(*token, status_value());
    } else {
      log_->warn("status: expected [token]");
    }
  });
  session_->on_notification(method::ping, [this, token_of](const msgpack::object& params) {
    if (auto token = token_of(params)) {
      neovim_->deliver(*token, "pong");
    } else {
      log_->warn("ping: expected [token]");
    }
  });
  // A plain request for measuring round trips (bench/startup.sh); it answers
  // at once and never blocks.
  session_->on_request(method::echo,
                       [](const msgpack::object& params, rpc::Reply reply) { reply.ok(params); });
  session_->on_notification(method::sync_now, [this](const msgpack::object&) {
    log_->info("sync requested from this instance");
    neovim_->notify_user("himalaya-coord: syncing is not available in this version yet",
                         Level::warn);
  });
  for (const char* event :
       {method::vim_leave_pre, method::vim_suspend, method::vim_resume, method::focus_gained}) {
    session_->on_notification(
        event, [this, event](const msgpack::object&) { log_->debug("event {}", event); });
  }
}

StatusFacts App::status_facts() const {
  StatusFacts facts;
  facts.instance_id = config_.instance_id;
  facts.role = "Uncoordinated";
  facts.nvim_pid = config_.nvim_pid;
  return facts;
}

nlohmann::json App::status_value() const {
  StatusFacts facts = status_facts();
  nlohmann::json value;
  value["instance"] = {{"id", facts.instance_id}, {"role", facts.role}, {"pid", facts.nvim_pid}};
  value["lines"] = render_status(facts);
  return value;
}

void App::shutdown(const std::string& why) {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  log_->info("shutting down: {}", why);
  signals_.cancel();
  if (session_) {
    session_->close();
  }
  io_.stop();
}

}  // namespace himalaya::host
