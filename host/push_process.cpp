#include "host/push_process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <utility>

#include "host/line_child.h"
#include "host/push_wire.h"

namespace himalaya::host {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

std::string describe_exit(int status) {
  if (status < 0) {
    return "exited";
  }
  if (WIFSIGNALED(status)) {
    return "was killed by signal " + std::to_string(WTERMSIG(status));
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

PushProcess::PushProcess(asio::io_context& io, Options options,
                         std::shared_ptr<const coordinator::Clock> clock, Hooks hooks)
    : io_(io),
      options_(std::move(options)),
      clock_(std::move(clock)),
      hooks_(std::move(hooks)),
      restart_timer_(io),
      restart_delay_(options_.first_restart) {
  stop("not the primary");
}

PushProcess::~PushProcess() {
  stop("the host is leaving");
}

std::string PushProcess::default_program() {
  return sibling_program("himalaya-coord-push");
}

void PushProcess::start() {
  if (started_) {
    return;
  }
  started_ = true;
  restart_delay_ = options_.first_restart;
  if (options_.push.mode == PushMode::off) {
    return;
  }
  spawn_watcher();
}

void PushProcess::stop(const std::string& why) {
  started_ = false;
  restart_timer_.cancel();
  if (child_) {
    child_->detach();
    child_->close_input();  // it logs out and exits; LineChild still reaps it
    child_.reset();
  }
  PushStatus off;
  off.why = options_.push.mode == PushMode::off ? "sync.push.enabled is false" : why;
  off.last_event = status_.last_event;
  status_ = off;
}

void PushProcess::spawn_watcher() {
  PushSettings settings;
  settings.command = options_.command;
  settings.push = options_.push;
  std::string error;
  LineChild::Callbacks callbacks;
  callbacks.on_line = [this](const std::string& line) { on_line(line); };
  callbacks.on_exit = [this](int status) { on_exit(status); };
  child_ = LineChild::start(io_, options_.program, {options_.program}, encode_settings(settings),
                            std::move(callbacks), error);
  if (!child_) {
    status_ = PushStatus{};
    status_.why = error;
    hooks_.log("push: " + error);
    warn("push is off: " + error);
    return;
  }
  status_.state = PushStatus::State::connecting;
  status_.why.clear();
  hooks_.log("push: watcher started (pid " + std::to_string(child_->pid()) + ")");
}

void PushProcess::on_line(const std::string& line) {
  json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object() || message.size() != 1) {
    hooks_.log("push: the watcher said something unexpected");
    return;
  }
  const auto first = message.begin();
  const std::string key = first.key();
  const json& value = first.value();
  if (key == "changed") {
    auto field = [&value](const char* name) {
      const auto it = value.is_object() ? value.find(name) : value.end();
      return it != value.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (hooks_.mail_changed) {
      hooks_.mail_changed(field("account"), field("mailbox"));
    }
  } else if (key == "log" && value.is_string()) {
    hooks_.log(value.get<std::string>());
  } else if (key == "warn" && value.is_string()) {
    warn(value.get<std::string>());
  } else if (key == "status") {
    if (auto status = status_from_wire(value, clock_->wall())) {
      status_ = *status;
      status_at_ = clock_->wall();
      if (status_.state == PushStatus::State::idling) {
        restart_delay_ = options_.first_restart;
      }
    }
  } else {
    hooks_.log("push: the watcher said something unexpected");
  }
}

void PushProcess::on_exit(int status) {
  child_.reset();
  if (!started_) {
    return;
  }
  if (status_.state == PushStatus::State::off) {
    hooks_.log("push: the watcher has nothing to watch: " + status_.why);
    return;
  }
  const double delay = restart_delay_;
  restart_delay_ = std::min(restart_delay_ * 2, options_.max_restart);
  hooks_.log("push: the watcher " + describe_exit(status) + "; starting it again in " +
             std::to_string(delay) + " s");
  status_.state = PushStatus::State::reconnecting;
  status_.retry_in = delay;
  status_at_ = clock_->wall();
  restart_timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(delay)));
  restart_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && started_) {
      spawn_watcher();
    }
  });
}

PushStatus PushProcess::status() const {
  PushStatus status = status_;
  if (status.state == PushStatus::State::reconnecting) {
    status.retry_in = std::max(0.0, status_.retry_in - (clock_->wall() - status_at_));
  }
  return status;
}

void PushProcess::check(std::function<void(json)> done) {
  PushSettings settings;
  settings.mode = PushSettings::Mode::check;
  settings.command = options_.command;
  settings.push = options_.push;
  auto answered = std::make_shared<bool>(false);
  auto finish = std::make_shared<std::function<void(json)>>(std::move(done));
  auto answer = [answered, finish](json result) {
    if (!*answered) {
      *answered = true;
      (*finish)(std::move(result));
    }
  };
  std::string error;
  LineChild::Callbacks callbacks;
  callbacks.on_line = [answer](const std::string& line) {
    json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (message.is_object() && message.contains("check") && message["check"].is_object()) {
      answer(message["check"]);
    }
  };
  auto timer = std::make_shared<asio::steady_timer>(io_);
  callbacks.on_exit = [answer, timer](int status) {
    timer->cancel();
    answer({{"ok", false},
            {"message", "the push check " + describe_exit(status) + " without an answer"}});
  };
  auto child = LineChild::start(io_, options_.program, {options_.program},
                                encode_settings(settings), std::move(callbacks), error);
  if (!child) {
    asio::post(io_, [answer, error] { answer({{"ok", false}, {"message", error}}); });
    return;
  }
  child->close_input();
  timer->expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.check_timeout)));
  timer->async_wait([answer, child](const boost::system::error_code& ec) {
    if (!ec) {
      child->kill();
      answer({{"ok", false}, {"message", "the push check did not answer in time"}});
    }
  });
}

void PushProcess::warn(const std::string& message) {
  if (options_.push.mode != PushMode::on || !warned_.insert(message).second) {
    return;
  }
  if (hooks_.warn) {
    hooks_.warn(message);
  }
}

}  // namespace himalaya::host
