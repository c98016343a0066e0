#include "host/push_check.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <utility>

#include "host/push_credentials.h"
#include "host/push_plan.h"
#include "imap/client.h"

namespace himalaya::host {
namespace {

namespace asio = boost::asio;

class Check : public std::enable_shared_from_this<Check> {
 public:
  Check(asio::io_context& io, PushCheckOptions options, std::function<void(nlohmann::json)> done)
      : io_(io), options_(std::move(options)), timer_(io), done_(std::move(done)) {
    result_["enabled"] = options_.push.mode == PushMode::automatic
                             ? nlohmann::json("auto")
                             : nlohmann::json(options_.push.mode == PushMode::on);
    result_["ok"] = false;
  }

  void start() {
    if (options_.push.mode == PushMode::off) {
      return finish("push is off (sync.push.enabled = false): nothing to check");
    }
    PushPlan plan = plan_push(options_.command, options_.push, options_.env);
    if (!plan.config_path.empty()) {
      result_["config"] = plan.config_path;
    }
    if (plan.targets.empty()) {
      return finish(plan.problem);
    }
    target_ = plan.targets.front();
    result_["server"] = target_.server();
    result_["mailbox"] = target_.mailbox;
    auto self = shared_from_this();
    timer_.expires_after(options_.timeout);
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) {
        self->finish(
            "no answer from " + self->target_.server() + " within " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::seconds>(self->options_.timeout).count()) +
            " s");
      }
    });
    resolve_credentials(io_, target_, [self](Credentials credentials) {
      if (!credentials.ok) {
        return self->finish(credentials.error);
      }
      self->result_["user"] = credentials.user;
      self->log_in(credentials);
    });
  }

 private:
  void log_in(const Credentials& credentials) {
    if (finished_) {
      return;
    }
    imap::ClientOptions options;
    options.endpoint = target_.endpoint;
    options.session.user = credentials.user;
    options.session.password = credentials.password.reveal();
    options.session.mailbox = target_.mailbox;
    options.session.auth_mechs = target_.auth_mechs;
    options.session.reply_timeout = std::chrono::seconds(10);
    options.connect_timeout = std::chrono::seconds(10);
    auto self = shared_from_this();
    imap::Handlers handlers;
    handlers.on_event = [self](const imap::Event& event) { self->on_event(event); };
    handlers.on_closed = [self](const std::string& reason) {
      self->finish("the connection to " + self->target_.server() + " ended: " + reason);
    };
    client_ = imap::Client::create(io_, std::move(options), std::move(handlers));
    client_->start();
  }

  void on_event(const imap::Event& event) {
    using Kind = imap::Event::Kind;
    switch (event.kind) {
      case Kind::idling:
        result_["ok"] = true;
        result_["idle"] = true;
        finish("logged in to " + target_.server() + " and IDLE works on " + target_.mailbox);
        break;
      case Kind::no_idle:
        result_["ok"] = true;
        result_["idle"] = false;
        finish("the server " + target_.server() + " does not offer IDLE: the timer alone syncs");
        break;
      case Kind::auth_failed:
        finish("the server " + target_.server() + " refused the login: " + event.message);
        break;
      default:
        break;
    }
  }

  void finish(const std::string& message) {
    if (finished_) {
      return;
    }
    finished_ = true;
    timer_.cancel();
    if (client_) {
      client_->stop();
      client_.reset();
    }
    result_["message"] = message;
    asio::post(io_, [done = std::move(done_), result = std::move(result_)] { done(result); });
  }

  asio::io_context& io_;
  PushCheckOptions options_;
  asio::steady_timer timer_;
  std::function<void(nlohmann::json)> done_;
  nlohmann::json result_ = nlohmann::json::object();
  PushTarget target_;
  std::shared_ptr<imap::Client> client_;
  bool finished_ = false;
};

}  // namespace

void check_push(asio::io_context& io, PushCheckOptions options,
                std::function<void(nlohmann::json)> done) {
  std::make_shared<Check>(io, std::move(options), std::move(done))->start();
}

}  // namespace himalaya::host
