#include "host/app.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <csignal>
#include <ctime>
#include <nlohmann/json.hpp>
#include <utility>

#include "coordinator/coordinator.h"
#include "host/channel_push.h"
#include "host/channel_runs.h"
#include "host/events.h"
#include "host/neovim.h"
#include "host/new_mail.h"
#include "host/protocol.h"
#include "host/push_process.h"
#include "host/push_status.h"
#include "host/session_process.h"
#include "host/status_report.h"
#include "host/sync_runner.h"
#include "rpc/session.h"
#include "rpc/transport.h"

namespace himalaya::host {
namespace {

using coordinator::Role;
using coordinator::SyncTrigger;

const char* trigger_name(SyncTrigger trigger) {
  switch (trigger) {
    case SyncTrigger::automatic:
      break;
    case SyncTrigger::manual:
      return "manual";
    case SyncTrigger::push:
      return "push";
  }
  return "automatic";
}

// Seconds east of UTC now (the TZ of the host's environment): the adaptive
// model's hours of the week are local time. Taken once at start; a DST change
// is picked up by the next Neovim start (an hour's shift in a weekly model).
double local_utc_offset() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  if (::localtime_r(&now, &local) == nullptr) {
    return 0;
  }
  return static_cast<double>(local.tm_gmtoff);
}

coordinator::Config coordinator_config(const HostConfig& config) {
  coordinator::Config c;
  c.state_file = config.state_file;
  c.timings = config.timings;
  c.timings.adaptive.utc_offset = local_utc_offset();
  c.auto_sync = config.sync.auto_sync;
  c.enabled = config.sync.coordination.enabled;
  c.channels = config.sync.channels;
  return c;
}

// True once Neovim's end of the channel is gone (it quit or was killed),
// even while the loop is busy and has not read the EOF yet. Neovim's job
// channel is a socket pair or a pipe; both report POLLHUP when the peer has
// closed. fd 0 itself stays open: the transport reads a duplicate of it.
bool stdin_hung_up() {
  pollfd p{STDIN_FILENO, POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0;
}

std::optional<std::int64_t> token_of(const msgpack::object& params) {
  if (params.type != msgpack::type::ARRAY || params.via.array.size != 1) {
    return std::nullopt;
  }
  const msgpack::object& token = params.via.array.ptr[0];
  if (token.type != msgpack::type::POSITIVE_INTEGER &&
      token.type != msgpack::type::NEGATIVE_INTEGER) {
    return std::nullopt;
  }
  return token.as<std::int64_t>();
}

}  // namespace

App::App(boost::asio::io_context& io, HostConfig config, std::shared_ptr<spdlog::logger> log)
    : io_(io),
      config_(std::move(config)),
      log_(std::move(log)),
      signals_(io, SIGTERM, SIGINT),
      clock_(std::make_shared<coordinator::SystemClock>()) {}

App::~App() = default;

void App::start() {
  session_ = rpc::Session::create(rpc::make_stdio_transport(io_));
  // The transport writes to its own copy of fd 1. Point fd 1 itself at stderr,
  // so that a stray write to stdout from anywhere in the process cannot
  // corrupt the RPC stream.
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  session_->on_diagnostic([log = log_](const std::string& what) { log->warn("rpc: {}", what); });
  neovim_ = std::make_unique<Neovim>(session_, log_);
  runner_ = std::make_unique<SyncRunner>(
      io_, SyncRunner::Options{config_.sync.command, config_.timings.sync_timeout,
                               config_.sync.lock_file, coordinator::sync_kill_grace});
  if (!config_.sync.channels.specs.empty()) {
    channel_runs_ = std::make_unique<ChannelRuns>(
        io_, ChannelRuns::Options{config_.sync.command, config_.sync.push.mbsyncrc,
                                  config_.sync.lock_file, config_.timings.sync_timeout});
  }
  new_mail_ = std::make_unique<NewMailCounter>(config_.sync.command, config_.sync.push.mbsyncrc,
                                               mbsync::process_environment());
  PushProcess::Options push_options;
  push_options.program = PushProcess::default_program();
  push_options.command = push_command_for_channels(config_.sync.command, config_.sync.push.mbsyncrc,
                                                   config_.sync.channels.specs);
  push_options.push = config_.sync.push;
  PushProcess::Hooks push_hooks;
  push_hooks.mail_changed = [this](const std::string& account, const std::string& mailbox) {
    push_changed(account, mailbox);
  };
  push_hooks.warn = [this](const std::string& message) {
    neovim_->notify_user("himalaya-coord: " + message, Level::warn);
  };
  push_hooks.log = [this](const std::string& message) { log_->info("{}", message); };
  push_ =
      std::make_unique<PushProcess>(io_, std::move(push_options), clock_, std::move(push_hooks));
  SessionWatch::Options desktop_options;
  desktop_options.program = SessionWatch::default_program();
  SessionWatch::Hooks desktop_hooks;
  desktop_hooks.away_changed = [this](bool away) {
    if (away != session_away_) {
      session_away_ = away;
      session_away(away);
    }
  };
  desktop_hooks.log = [this](const std::string& message) { log_->info("{}", message); };
  desktop_ =
      std::make_unique<SessionWatch>(io_, std::move(desktop_options), std::move(desktop_hooks));
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
  // The registration requests go out first; the coordinator's first election
  // (a locked read-modify-write of the state file) follows.
  boost::asio::post(io_, [this] { start_coordinator(); });
}

void App::start_coordinator() {
  if (stopping_) {
    return;
  }
  coordinator::ProcProbe probe;
  coordinator::Identity identity = coordinator::make_identity(
      config_.nvim_pid, config_.nvim_version, *clock_, probe, config_.instance_id);
  identity.priority = config_.sync.coordination.priority;
  coordinator::Events events;
  events.role_changed = [this](Role before, Role after) {
    tell(Level::info, std::string("role: ") + role_label(before) + " -> " + role_label(after));
    announce_role(after);
    follow_role_with_push(after);
    follow_role_with_session(after);
  };
  events.sync_event = [this](const coordinator::SyncEvent& e) {
    fire_event(event_name(e), event_data(e));
  };
  events.sync_due = [this](SyncTrigger trigger) { run_sync(trigger); };
  events.channel_due = [this](const std::string& channel) { run_channel(channel); };
  events.warning = [this](const std::string& message) {
    log_->warn("{}", message);
    neovim_->notify_user("himalaya-coord: " + message, Level::warn);
  };
  events.debug = [this](const std::string& message) { tell(Level::debug, message); };
  coordinator::Config c = coordinator_config(config_);
  c.leaving = [this] { return stopping_ || stdin_hung_up(); };
  coordinator_ = std::make_unique<coordinator::Coordinator>(io_, std::move(c), std::move(identity),
                                                            clock_, std::move(events));
  if (config_.timings.away_after > 0) {
    coordinator_->input();  // Away (SPEC §11): Neovim's start counts as input
  }
  coordinator_->start();
  // statusline()'s starting point, then this instance's first role: its role
  // changed from none (Uncoordinated, as without a host) to this one.
  if (!stopping_) {
    neovim_->send_sync_state(sync_state(coordinator_->status()));
  }
  announce_role(coordinator_->role());
  follow_role_with_push(coordinator_->role());
  follow_role_with_session(coordinator_->role());
}

void App::follow_role_with_push(Role role) {
  if (stopping_) {
    return;
  }
  if (role == Role::primary) {
    push_->start();
  } else {
    push_->stop("not the primary");
  }
}

void App::follow_role_with_session(Role role) {
  if (stopping_) {
    return;
  }
  if (role == Role::primary) {
    desktop_->start();
  } else {
    desktop_->stop("not the primary");
  }
}

void App::start_push_check(std::int64_t token) {
  push_->check([this, token](const nlohmann::json& result) {
    log_->info("push check: {}", result.value("message", ""));
    if (!stopping_) {
      neovim_->deliver(token, result);
    }
  });
}

void App::announce_role(Role role) {
  const std::string label = role_label(role);
  if (label == role_shown_) {
    return;
  }
  std::string previous = std::exchange(role_shown_, label);
  fire_event(event::role_changed, role_changed_data(label, previous));
}

void App::fire_event(const char* name, const nlohmann::json& data) {
  if (stopping_) {
    return;  // Neovim is closing the channel, or already has
  }
  log_->info("event {} {}", name, data.dump());
  neovim_->fire_event(name, data);
}

void App::bind_handlers() {
  session_->on_notification(method::status, [this](const msgpack::object& params) {
    if (auto token = token_of(params)) {
      neovim_->deliver(*token, status_value());
    } else {
      log_->warn("status: expected [token]");
    }
  });
  session_->on_notification(method::ping, [this](const msgpack::object& params) {
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
  session_->on_notification(method::sync_now,
                            [this](const msgpack::object&) { run_sync(SyncTrigger::manual); });
  session_->on_notification(method::vim_leave_pre,
                            [this](const msgpack::object&) { shutdown("VimLeavePre"); });
  session_->on_notification(method::vim_suspend, [this](const msgpack::object&) {
    log_->info("Neovim suspended: releasing the role");
    if (coordinator_) {
      coordinator_->release();
    }
  });
  session_->on_notification(method::vim_resume, [this](const msgpack::object&) {
    log_->info("Neovim resumed: contending again");
    if (coordinator_) {
      coordinator_->resume();
    }
  });
  session_->on_notification(method::push_check, [this](const msgpack::object& params) {
    if (auto token = token_of(params)) {
      start_push_check(*token);
    } else {
      log_->warn("push_check: expected [token]");
    }
  });
  // Away (SPEC §11): keys and mouse (throttled on the Lua side), FocusGained
  // and FocusLost.
  session_->on_notification(method::focus_gained, [this](const msgpack::object&) {
    log_->debug("focus gained");
    if (coordinator_ && !stopping_) {
      coordinator_->input();
    }
  });
  session_->on_notification(method::input, [this](const msgpack::object&) {
    if (coordinator_ && !stopping_) {
      coordinator_->input();
    }
  });
}

void App::session_away(bool away) {
  log_->info("desktop session {}", away ? "idle or locked" : "active");
  if (coordinator_ && !stopping_) {
    coordinator_->session_away(away);
  }
}

void App::run_sync(SyncTrigger trigger) {
  const bool manual = trigger == SyncTrigger::manual;
  if (stopping_ || !coordinator_) {
    if (manual) {
      neovim_->notify_user("himalaya-coord: not ready to sync yet", Level::warn);
    }
    return;
  }
  if (runner_->running() || (channel_runs_ && channel_runs_->running())) {
    log_->info("{} sync skipped: this instance is already syncing", trigger_name(trigger));
    if (manual) {
      neovim_->notify_user("himalaya-coord: a sync is already running here", Level::info);
    }
    return;
  }
  coordinator::Coordinator::SyncGrant grant = coordinator_->begin_sync(trigger);
  if (!grant.granted) {
    tell(Level::debug, std::string(trigger_name(trigger)) + " sync skipped: " + grant.reason);
    if (manual) {
      neovim_->notify_user("himalaya-coord: not syncing: " + grant.reason, Level::info);
    }
    return;
  }
  const std::string uncounted = new_mail_->before_sync();
  if (!uncounted.empty()) {
    log_->debug("new messages of this sync not counted: {}", uncounted);
  }
  std::string error;
  bool started =
      runner_->start([this, trigger](const SyncRun& run) { sync_finished(trigger, run); }, error);
  if (!started) {
    new_mail_->after_sync();  // drops the snapshot: nothing ran
    coordinator_->end_sync(coordinator::SyncOutcome::failed, error);
    log_->warn("{} sync could not start: {}", trigger_name(trigger), error);
    report_failure(error);
    return;
  }
  coordinator_->sync_process_started(runner_->pid());
  tell(Level::debug, std::string(trigger_name(trigger)) + " sync started (pid " +
                         std::to_string(runner_->pid()) + ")");
  if (manual) {
    neovim_->notify_user("himalaya-coord: syncing now", Level::info);
  }
}

void App::sync_finished(SyncTrigger trigger, const SyncRun& run) {
  const std::optional<int> new_messages = new_mail_->after_sync();
  if (coordinator_) {
    coordinator_->end_sync(run.outcome, run.message, new_messages);
  }
  if (run.outcome == coordinator::SyncOutcome::ok) {
    log_->info("{} sync finished in {:.2f} s", trigger_name(trigger), run.seconds);
    last_failure_shown_.clear();
    if (trigger == SyncTrigger::manual) {
      neovim_->notify_user("himalaya-coord: sync finished", Level::info);
    } else if (config_.debug) {
      neovim_->notify_user("himalaya-coord: sync finished", Level::debug);
    }
  } else {
    log_->warn("{} sync {}: {}; output: {}", trigger_name(trigger), to_string(run.outcome),
               run.message, run.output_tail);
    if (run.outcome != coordinator::SyncOutcome::cancelled) {
      report_failure(run.message);
    }
  }
  if (stopping_) {
    finish_shutdown();
  }
}

void App::report_failure(const std::string& message) {
  if (message == last_failure_shown_ && !config_.debug) {
    return;  // SPEC §6: shown again only after a success, or when it changes
  }
  last_failure_shown_ = message;
  neovim_->notify_user("himalaya-coord: sync failed: " + message, Level::warn);
}

void App::tell(Level level, const std::string& message) {
  log_->info("{}", message);
  if (config_.debug) {
    neovim_->notify_user("himalaya-coord: " + message, level);
  }
}

nlohmann::json App::status_value() const {
  if (!coordinator_) {
    return status_json_before_start(config_.instance_id, config_.nvim_pid);
  }
  coordinator::Status status = coordinator_->status();
  const double now = clock_->wall();
  nlohmann::json value = status_json(status, now);
  const PushStatus push = push_->status();
  for (const std::string& line : render_push(push, now)) {
    value["lines"].push_back(line);
  }
  value["push"] = push_json(push, now);
  value["desktop_session"] = session_json(desktop_->facts());
  return value;
}

void App::shutdown(const std::string& why) {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  log_->info("shutting down: {}", why);
  signals_.cancel();
  if (runner_ && runner_->running()) {
    // The handover waits for the sync to end: sync_finished() completes the
    // shutdown once the command has exited or been killed.
    log_->info("stopping the running sync first");
    runner_->cancel();
    return;
  }
  if (channel_runs_ && channel_runs_->running()) {
    log_->info("stopping the running channel sync first");  // channel_finished() goes on
    channel_runs_->cancel();
    return;
  }
  finish_shutdown();
}

void App::finish_shutdown() {
  if (push_) {
    push_->stop("the host is leaving");
  }
  if (desktop_) {
    desktop_->stop("the host is leaving");
  }
  if (coordinator_) {
    coordinator_->stop();  // hands the primary role over at once
  }
  if (session_) {
    session_->close();
  }
  io_.stop();
}

}  // namespace himalaya::host
