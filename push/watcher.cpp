#include "push/watcher.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <utility>

#include "imap/client.h"
#include "push/credentials.h"
#include "push/plan.h"

namespace himalaya::push {

namespace asio = boost::asio;

struct PushWatcher::Link {
  explicit Link(asio::io_context& io, PushTarget t, imap::Backoff::Policy policy)
      : target(std::move(t)), backoff(policy), retry(io) {}

  PushTarget target;
  Credentials credentials;  // resolved once per start()
  std::shared_ptr<imap::Client> client;
  imap::Backoff backoff;
  asio::steady_timer retry;
  PushStatus::State state = PushStatus::State::connecting;
  std::string why;  // when off
  std::chrono::steady_clock::time_point retry_at;
  unsigned generation = 0;  // of `client`: handlers of older clients are ignored

  std::string name() const { return target.mailbox + " on " + target.server(); }
  void drop_client() {
    ++generation;
    if (client) {
      client->stop();  // logs out; it keeps itself alive until closed
      client.reset();
    }
  }
};

PushWatcher::PushWatcher(asio::io_context& io, Options options,
                         std::shared_ptr<const coordinator::Clock> clock, Hooks hooks)
    : io_(io),
      options_(std::move(options)),
      clock_(std::move(clock)),
      hooks_(std::move(hooks)),
      random_(std::random_device{}()),
      suspend_timer_(io) {
  stop("not the primary");
}

PushWatcher::~PushWatcher() {
  stop("the host is leaving");
}

void PushWatcher::start() {
  if (started_) {
    return;
  }
  started_ = true;
  guard_.reset();
  if (options_.push.mode == PushMode::off) {
    off_why_ = "sync.push.enabled is false";
    return changed();
  }
  PushPlan plan = plan_push(options_.command, options_.push, options_.env);
  for (const std::string& skipped : plan.skipped) {
    hooks_.log("push: " + skipped);
  }
  if (plan.targets.empty()) {
    off_why_ = plan.problem;
    hooks_.log("push: off: " + plan.problem);
    warn("push is off: " + plan.problem);
    return changed();
  }
  hooks_.log("push: watching " + std::to_string(plan.targets.size()) + " mailbox(es) from " +
             plan.config_path);
  for (PushTarget& target : plan.targets) {
    links_.push_back(std::make_unique<Link>(io_, std::move(target), options_.backoff));
    Link& link = *links_.back();
    resolve_credentials(io_, link.target, guard_.wrap([this, &link](Credentials credentials) {
      if (!credentials.ok) {
        give_up(link, credentials.error);
        return;
      }
      link.credentials = std::move(credentials);
      connect(link);
    }));
  }
  clock_offset_ = clock_->boottime() - clock_->monotonic();
  watch_for_suspend();
  changed();
}

void PushWatcher::stop(const std::string& why) {
  off_why_ = options_.push.mode == PushMode::off ? "sync.push.enabled is false" : why;
  if (!started_) {
    return;
  }
  started_ = false;
  guard_.reset();
  suspend_timer_.cancel();
  for (auto& link : links_) {
    link->retry.cancel();
    link->drop_client();
  }
  links_.clear();
  changed();
}

void PushWatcher::connect(Link& link) {
  link.drop_client();
  link.state = PushStatus::State::connecting;
  imap::ClientOptions options;
  options.endpoint = link.target.endpoint;
  options.connect_timeout = options_.connect_timeout;
  options.session.user = link.credentials.user;
  options.session.password = link.credentials.password.reveal();
  options.session.mailbox = link.target.mailbox;
  options.session.auth_mechs = link.target.auth_mechs;
  options.session.reply_timeout = options_.reply_timeout;
  options.session.idle_refresh = options_.idle_refresh;
  const unsigned generation = link.generation;
  imap::Handlers handlers;
  handlers.on_event = guard_.wrap(
      [this, &link, generation](const imap::Event& event) { on_event(link, generation, event); });
  handlers.on_closed = guard_.wrap([this, &link, generation](const std::string& reason) {
    on_closed(link, generation, reason);
  });
  link.client = imap::Client::create(io_, std::move(options), std::move(handlers));
  link.client->start();
  changed();
}

void PushWatcher::on_event(Link& link, unsigned generation, const imap::Event& event) {
  if (generation != link.generation || link.state == PushStatus::State::off) {
    return;
  }
  using Kind = imap::Event::Kind;
  switch (event.kind) {
    case Kind::idling:
      if (link.state != PushStatus::State::idling) {
        hooks_.log("push: idling on " + link.name());
      }
      link.state = PushStatus::State::idling;
      link.backoff.reset();
      changed();
      break;
    case Kind::mailbox_changed:
      last_event_ = clock_->wall();
      hooks_.log("push: " + link.name() + ": " + event.message);
      if (hooks_.mail_changed) {
        hooks_.mail_changed(link.target.account, link.target.mailbox);
      }
      changed();
      break;
    case Kind::no_idle:
      give_up(link, "the server " + link.target.server() + " does not offer IDLE");
      break;
    case Kind::auth_failed:
      give_up(link, "the server " + link.target.server() + " refused the login: " + event.message);
      break;
    default:
      break;  // the end of the connection follows as on_closed
  }
}

void PushWatcher::on_closed(Link& link, unsigned generation, const std::string& reason) {
  if (generation != link.generation || link.state == PushStatus::State::off) {
    return;
  }
  link.client.reset();
  const std::chrono::milliseconds delay = link.backoff.next(random_);
  link.state = PushStatus::State::reconnecting;
  link.retry_at = std::chrono::steady_clock::now() + delay;
  hooks_.log("push: " + link.name() + ": " + reason + "; reconnecting in " +
             std::to_string(delay.count()) + " ms");
  link.retry.expires_after(delay);
  link.retry.async_wait(guard_.wrap([this, &link](const boost::system::error_code& ec) {
    if (!ec) {
      connect(link);
    }
  }));
  changed();
}

void PushWatcher::give_up(Link& link, const std::string& why) {
  link.drop_client();
  link.retry.cancel();
  link.state = PushStatus::State::off;
  link.why = why;
  hooks_.log("push: off for " + link.name() + ": " + why);
  warn("push is off: " + why);
  changed();
}

void PushWatcher::watch_for_suspend() {
  suspend_timer_.expires_after(options_.suspend_check);
  suspend_timer_.async_wait(guard_.wrap([this](const boost::system::error_code& ec) {
    if (ec) {
      return;
    }
    const double offset = clock_->boottime() - clock_->monotonic();
    if (offset - clock_offset_ > options_.suspend_gap) {
      hooks_.log("push: the machine was suspended; connecting again");
      for (auto& link : links_) {
        if (link->state != PushStatus::State::off && link->credentials.ok) {
          link->retry.cancel();
          link->backoff.reset();
          connect(*link);
        }
      }
    }
    clock_offset_ = offset;
    watch_for_suspend();
  }));
}

void PushWatcher::warn(const std::string& message) {
  if (options_.push.mode != PushMode::on || !warned_.insert(message).second) {
    return;
  }
  if (hooks_.warn) {
    hooks_.warn(message);
  }
}

void PushWatcher::changed() {
  if (hooks_.status_changed) {
    hooks_.status_changed();
  }
}

PushStatus PushWatcher::status() const {
  PushStatus status;
  status.last_event = last_event_;
  for (const auto& link : links_) {
    const std::string server = link->target.server();
    if (std::find(status.servers.begin(), status.servers.end(), server) == status.servers.end()) {
      status.servers.push_back(server);
    }
    const std::string& box = link->target.mailbox;
    if (std::find(status.mailboxes.begin(), status.mailboxes.end(), box) ==
        status.mailboxes.end()) {
      status.mailboxes.push_back(box);
    }
  }
  auto count = [this](PushStatus::State state) {
    return std::count_if(links_.begin(), links_.end(),
                         [state](const auto& link) { return link->state == state; });
  };
  if (links_.empty() ||
      count(PushStatus::State::off) == static_cast<std::ptrdiff_t>(links_.size())) {
    status.state = PushStatus::State::off;
    status.why = links_.empty() ? off_why_ : links_.front()->why;
  } else if (count(PushStatus::State::idling) > 0) {
    status.state = PushStatus::State::idling;
  } else if (count(PushStatus::State::reconnecting) > 0) {
    status.state = PushStatus::State::reconnecting;
    auto soonest = std::chrono::steady_clock::time_point::max();
    for (const auto& link : links_) {
      if (link->state == PushStatus::State::reconnecting) {
        soonest = std::min(soonest, link->retry_at);
      }
    }
    status.retry_in = std::max(
        0.0, std::chrono::duration<double>(soonest - std::chrono::steady_clock::now()).count());
  } else {
    status.state = PushStatus::State::connecting;
  }
  return status;
}

}  // namespace himalaya::push
