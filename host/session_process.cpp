#include "host/session_process.h"

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>

#include "host/line_child.h"
#include "host/session_wire.h"

namespace himalaya::host {

namespace asio = boost::asio;

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

SessionWatch::SessionWatch(asio::io_context& io, Options options, Hooks hooks)
    : io_(io),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      restart_timer_(io),
      restart_delay_(options_.first_restart) {
  facts_.problem = "not the primary";
}

SessionWatch::~SessionWatch() {
  started_ = false;
  restart_timer_.cancel();
  if (child_) {
    child_->detach();
    child_->close_input();
  }
}

std::string SessionWatch::default_program() {
  return sibling_program("himalaya-coord-session");
}

void SessionWatch::start() {
  if (started_) {
    return;
  }
  started_ = true;
  restart_delay_ = options_.first_restart;
  spawn_reader();
}

void SessionWatch::stop(const std::string& why) {
  started_ = false;
  restart_timer_.cancel();
  if (child_) {
    child_->detach();
    child_->close_input();  // it exits; LineChild still reaps it
    child_.reset();
  }
  facts_.session.clear();
  facts_.problem = why;
  set_away(false);
}

void SessionWatch::spawn_reader() {
  std::vector<std::string> argv{options_.program};
  argv.insert(argv.end(), options_.arguments.begin(), options_.arguments.end());
  std::string error;
  LineChild::Callbacks callbacks;
  callbacks.on_line = [this](const std::string& line) { on_line(line); };
  callbacks.on_exit = [this](int status) { on_exit(status); };
  child_ = LineChild::start(io_, options_.program, argv, "", std::move(callbacks), error);
  if (!child_) {
    facts_.problem = error;
    if (hooks_.log) {
      hooks_.log("desktop session: " + error);
    }
    return;
  }
  facts_.problem = "starting";
  if (hooks_.log) {
    hooks_.log("desktop session: reader started (pid " + std::to_string(child_->pid()) + ")");
  }
}

void SessionWatch::on_line(const std::string& line) {
  const std::optional<SessionLine> parsed = parse_session_line(line);
  if (!parsed) {
    if (hooks_.log) {
      hooks_.log("desktop session: the reader said something unexpected");
    }
    return;
  }
  switch (parsed->kind) {
    case SessionLine::Kind::away:
      set_away(parsed->away);
      break;
    case SessionLine::Kind::source:
      facts_.session = parsed->text;
      if (!facts_.session.empty()) {
        facts_.problem.clear();                   // read: no longer "starting"
        restart_delay_ = options_.first_restart;  // it works: a later crash starts afresh
      }
      break;
    case SessionLine::Kind::problem:
      facts_.problem = parsed->text;
      break;
    case SessionLine::Kind::log:
      if (hooks_.log) {
        hooks_.log(parsed->text);
      }
      break;
  }
}

void SessionWatch::on_exit(int status) {
  child_.reset();
  if (!started_) {
    return;
  }
  const double delay = restart_delay_;
  restart_delay_ = std::min(restart_delay_ * 2, options_.max_restart);
  facts_.session.clear();
  facts_.problem = "the reader " + describe_exit(status) + "; starting it again";
  if (hooks_.log) {
    hooks_.log("desktop session: the reader " + describe_exit(status) + "; starting it again in " +
               std::to_string(delay) + " s");
  }
  set_away(false);
  restart_timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(delay)));
  restart_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && started_) {
      spawn_reader();
    }
  });
}

void SessionWatch::set_away(bool away) {
  if (away == facts_.away) {
    return;
  }
  facts_.away = away;
  if (hooks_.away_changed) {
    hooks_.away_changed(away);
  }
}

nlohmann::json session_json(const SessionWatch::Facts& facts) {
  return {{"session", facts.session}, {"problem", facts.problem}, {"away", facts.away}};
}

}  // namespace himalaya::host
