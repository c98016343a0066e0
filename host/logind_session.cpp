#include "host/logind_session.h"

#include <poll.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <utility>

#include "common/unique_fd.h"
#include "host/logind_names.h"

namespace himalaya::host {
namespace {

constexpr const char* kService = "org.freedesktop.login1";
constexpr const char* kManagerPath = "/org/freedesktop/login1";
constexpr const char* kManager = "org.freedesktop.login1.Manager";
constexpr const char* kUser = "org.freedesktop.login1.User";
constexpr const char* kSession = "org.freedesktop.login1.Session";
constexpr const char* kProperties = "org.freedesktop.DBus.Properties";
constexpr std::uint64_t kCallTimeoutUsec = 25'000'000;  // logind answers in milliseconds

// sd-bus returns -errno.
std::string errno_message(int negative_errno) {
  return common::errno_text(-negative_errno);
}

}  // namespace

// One call awaiting its reply; owned by calls_, which unrefs the slot (and so
// cancels the call) when the reader goes.
struct LogindSession::Call {
  LogindSession* self = nullptr;
  sd_bus_slot* slot = nullptr;
  unsigned generation = 0;
  Reply reply;
  ~Call() { sd_bus_slot_unref(slot); }
};

struct LogindSession::Handlers {
  static int reply(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
    auto* call = static_cast<Call*>(userdata);
    call->self->on_reply(call, m);
    return 0;
  }
  static int properties_changed(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
    static_cast<LogindSession*>(userdata)->on_properties_changed(m);
    return 0;
  }
  static int owner_changed(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
    static_cast<LogindSession*>(userdata)->on_owner_changed(m);
    return 0;
  }
};

LogindSession::LogindSession(boost::asio::io_context& io, Options options, Hooks hooks)
    : io_(io),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      descriptor_(io),
      bus_timer_(io),
      reread_timer_(io) {
  if (options_.pid == 0) {
    options_.pid = ::getpid();
  }
  if (options_.uid == static_cast<uid_t>(-1)) {
    options_.uid = ::getuid();
  }
}

LogindSession::~LogindSession() {
  *alive_ = false;
  close_bus();
}

void LogindSession::start() {
  if (started_) {
    return;
  }
  started_ = true;
  connect();
}

void LogindSession::connect() {
  int r = 0;
  if (options_.address.empty()) {
    r = sd_bus_open_system(&bus_);  // honours DBUS_SYSTEM_BUS_ADDRESS
  } else {
    r = sd_bus_new(&bus_);
    r = r < 0 ? r : sd_bus_set_address(bus_, options_.address.c_str());
    r = r < 0 ? r : sd_bus_set_bus_client(bus_, 1);
    r = r < 0 ? r : sd_bus_start(bus_);
  }
  if (r < 0) {
    fail("no system bus (" + errno_message(r) + ")");
    close_bus();
    return;
  }
  const int fd = sd_bus_get_fd(bus_);
  if (fd < 0) {
    fail("no system bus (" + errno_message(fd) + ")");
    close_bus();
    return;
  }
  // Asio only waits on the descriptor; sd-bus reads, writes and closes it
  // (close_bus() releases it before sd-bus closes it).
  boost::system::error_code ec;
  descriptor_.assign(fd, ec);
  if (ec) {
    fail("cannot watch the system bus: " + ec.message());
    close_bus();
    return;
  }
  r = sd_bus_match_signal_async(bus_, &owner_match_, "org.freedesktop.DBus",
                                "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                                &Handlers::owner_changed, nullptr, this);
  if (r < 0) {
    fail("cannot follow logind on the bus (" + errno_message(r) + ")");
    close_bus();
    return;
  }
  find_session();
  pump();
}

void LogindSession::find_session() {
  ++generation_;
  const auto pid = static_cast<std::uint32_t>(options_.pid);
  call(
      kManagerPath, kManager, "GetSessionByPID",
      [pid](sd_bus_message* m) { return sd_bus_message_append(m, "u", pid); },
      [this](sd_bus_message* reply, const char* error) {
        const char* path = nullptr;
        if (!error && sd_bus_message_read(reply, "o", &path) >= 0 && path) {
          found_session(path, "this process's");
        } else if (error && std::strstr(error, "ServiceUnknown")) {
          fail(std::string("logind is not on the bus (") + error + ")");
        } else {
          find_display_session();  // outside any session (NoSessionForPID)
        }
      });
}

void LogindSession::find_display_session() {
  const auto uid = static_cast<std::uint32_t>(options_.uid);
  call(
      kManagerPath, kManager, "GetUser",
      [uid](sd_bus_message* m) { return sd_bus_message_append(m, "u", uid); },
      [this](sd_bus_message* reply, const char* error) {
        const char* path = nullptr;
        if (error || sd_bus_message_read(reply, "o", &path) < 0 || !path) {
          fail(std::string("no logind user for this process (") +
               (error ? error : "an unreadable reply") + ")");
          return;
        }
        read_display_session(path);
      });
}

void LogindSession::read_display_session(const std::string& user_path) {
  call(
      user_path.c_str(), kProperties, "Get",
      [](sd_bus_message* m) { return sd_bus_message_append(m, "ss", kUser, "Display"); },
      [this](sd_bus_message* reply, const char* error) {
        const char* id = nullptr;
        const char* path = nullptr;
        if (error || sd_bus_message_read(reply, "v", "(so)", &id, &path) < 0 || !path) {
          fail(std::string("cannot read the user's display session (") +
               (error ? error : "an unreadable reply") + ")");
        } else if (std::strcmp(path, "/") == 0 || !id || !*id) {
          fail("no session: this process is in none and the user has no display session");
        } else {
          found_session(path, "the user's display session");
        }
      });
}

void LogindSession::found_session(const std::string& path, const std::string& how) {
  session_path_ = path;
  session_how_ = how;
  sd_bus_slot_unref(properties_match_);
  properties_match_ = nullptr;
  // The match before the first read, so no change falls between the two.
  const int r =
      sd_bus_match_signal_async(bus_, &properties_match_, kService, path.c_str(), kProperties,
                                "PropertiesChanged", &Handlers::properties_changed, nullptr, this);
  if (r < 0) {
    fail("cannot follow session " + logind_session_name(path) + " (" + errno_message(r) + ")");
    return;
  }
  read_hints();
}

void LogindSession::read_hints() {
  if (session_path_.empty() || !bus_) {
    return;
  }
  call(
      session_path_.c_str(), kProperties, "GetAll",
      [](sd_bus_message* m) { return sd_bus_message_append(m, "s", kSession); },
      [this](sd_bus_message* reply, const char* error) {
        if (error) {
          fail("cannot read session " + logind_session_name(session_path_) + " (" + error + ")");
          return;
        }
        apply_hints(reply);
      });
  reread_timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.reread)));
  reread_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
        if (ec || alive.expired()) {
          return;
        }
        read_hints();
        pump();
      });
}

// Reads an a{sv} of the session's properties (all of them, or the changed
// ones) and takes IdleHint and LockedHint from it; the others are skipped.
void LogindSession::apply_hints(sd_bus_message* m) {
  // Unless told otherwise, a hint keeps its value (a PropertiesChanged may
  // carry only one of them).
  bool idle = idle_;
  bool locked = locked_;
  bool ok = sd_bus_message_enter_container(m, 'a', "{sv}") > 0;
  while (ok) {
    const int entered = sd_bus_message_enter_container(m, 'e', "sv");
    if (entered <= 0) {
      ok = entered == 0;
      break;
    }
    const char* name = nullptr;
    ok = sd_bus_message_read(m, "s", &name) >= 0 && name;
    if (!ok) {
      break;
    }
    bool* target = nullptr;
    if (std::strcmp(name, "IdleHint") == 0) {
      target = &idle;
    } else if (std::strcmp(name, "LockedHint") == 0) {
      target = &locked;
    }
    if (target) {
      int value = 0;
      ok = sd_bus_message_read(m, "v", "b", &value) >= 0;
      *target = value != 0;
    } else {
      ok = sd_bus_message_skip(m, "v") >= 0;
    }
    ok = ok && sd_bus_message_exit_container(m) >= 0;
  }
  ok = ok && sd_bus_message_exit_container(m) >= 0;
  if (!ok) {
    fail("session " + logind_session_name(session_path_) + " sent properties that make no sense");
    return;
  }
  idle_ = idle;
  locked_ = locked;
  if (!problem_.empty() && hooks_.log) {
    hooks_.log("logind: reading session " + logind_session_name(session_path_) + " again");
  }
  problem_.clear();
  source_ = "session " + logind_session_name(session_path_) + " (" + session_how_ + ")";
  post_hook(hooks_.facts_changed);
  set_away(idle_ || locked_);
}

void LogindSession::set_away(bool away) {
  if (away == away_) {
    return;
  }
  away_ = away;
  post_hook([this, away] {
    if (hooks_.changed) {
      hooks_.changed(away);
    }
  });
}

void LogindSession::post_hook(std::function<void()> hook) {
  // Posted, so a hook that ends the reader never runs inside sd-bus.
  boost::asio::post(io_, [hook = std::move(hook), alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.expired() && hook) {
      hook();
    }
  });
}

void LogindSession::fail(const std::string& why) {
  idle_ = false;
  locked_ = false;
  source_.clear();
  set_away(false);
  post_hook(hooks_.facts_changed);
  if (why != problem_) {
    problem_ = why;
    if (hooks_.log) {
      hooks_.log("logind: " + why + "; the desktop session counts as not away");
    }
  }
}

void LogindSession::logind_owner_changed(bool present) {
  if (!present) {
    ++generation_;  // replies still on their way belong to the logind that left
    session_path_.clear();
    sd_bus_slot_unref(properties_match_);
    properties_match_ = nullptr;
    reread_timer_.cancel();
    fail("logind left the bus");
    return;
  }
  find_session();
}

bool LogindSession::call(const char* path, const char* interface, const char* member,
                         const std::function<int(sd_bus_message*)>& append, Reply reply) {
  if (!bus_) {
    return false;
  }
  sd_bus_message* m = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &m, kService, path, interface, member);
  if (r >= 0 && append) {
    r = append(m);
  }
  auto pending = std::make_unique<Call>();
  pending->self = this;
  pending->generation = generation_;
  pending->reply = std::move(reply);
  if (r >= 0) {
    r = sd_bus_call_async(bus_, &pending->slot, m, &Handlers::reply, pending.get(),
                          kCallTimeoutUsec);
  }
  sd_bus_message_unref(m);
  if (r < 0) {
    fail(std::string("cannot call logind's ") + member + " (" + errno_message(r) + ")");
    return false;
  }
  Call* key = pending.get();
  calls_.emplace(key, std::move(pending));
  return true;
}

void LogindSession::on_reply(Call* call, sd_bus_message* m) {
  const auto found = calls_.find(call);
  if (found == calls_.end()) {
    return;
  }
  // Keep the call until its reply has run; then drop it (sd-bus holds its
  // own reference to the slot while this runs).
  std::unique_ptr<Call> owned = std::move(found->second);
  calls_.erase(found);
  if (owned->generation != generation_) {
    return;
  }
  std::string error;
  if (sd_bus_message_is_method_error(m, nullptr)) {
    const sd_bus_error* e = sd_bus_message_get_error(m);
    error = e && e->name ? e->name : "an error";
    if (e && e->message) {
      error += std::string(": ") + e->message;
    }
  }
  owned->reply(m, error.empty() ? nullptr : error.c_str());
}

void LogindSession::on_properties_changed(sd_bus_message* m) {
  const char* interface = nullptr;
  if (sd_bus_message_read(m, "s", &interface) < 0 || !interface ||
      std::strcmp(interface, kSession) != 0) {
    return;
  }
  apply_hints(m);
  if (!problem_.empty()) {
    return;
  }
  // A hint named as invalidated (changed, value not sent): read it.
  bool invalidated = false;
  if (sd_bus_message_enter_container(m, 'a', "s") > 0) {
    const char* name = nullptr;
    while (sd_bus_message_read(m, "s", &name) > 0) {
      invalidated =
          invalidated || std::strcmp(name, "IdleHint") == 0 || std::strcmp(name, "LockedHint") == 0;
    }
  }
  if (invalidated) {
    read_hints();
  }
}

void LogindSession::on_owner_changed(sd_bus_message* m) {
  const char* name = nullptr;
  const char* old_owner = nullptr;
  const char* new_owner = nullptr;
  if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !name ||
      std::strcmp(name, kService) != 0) {
    return;
  }
  logind_owner_changed(new_owner && *new_owner);
}

void LogindSession::pump() {
  if (!bus_) {
    return;
  }
  for (;;) {
    const int r = sd_bus_process(bus_, nullptr);
    if (!bus_) {
      return;
    }
    if (r < 0) {
      fail("the system bus closed (" + errno_message(r) + ")");
      close_bus();
      return;
    }
    if (r == 0) {
      break;
    }
  }
  if (!sd_bus_is_open(bus_)) {
    fail("the system bus closed");
    close_bus();
    return;
  }
  arm();
}

void LogindSession::arm() {
  const int events = sd_bus_get_events(bus_);
  if (events < 0) {
    fail("the system bus closed (" + errno_message(events) + ")");
    close_bus();
    return;
  }
  const std::weak_ptr<bool> alive = alive_;
  if ((events & POLLIN) && !reading_) {
    reading_ = true;
    descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [this, alive](const boost::system::error_code& ec) {
                             if (alive.expired()) {
                               return;
                             }
                             reading_ = false;
                             if (!ec) {
                               pump();
                             }
                           });
  }
  if ((events & POLLOUT) && !writing_) {
    writing_ = true;
    descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                           [this, alive](const boost::system::error_code& ec) {
                             if (alive.expired()) {
                               return;
                             }
                             writing_ = false;
                             if (!ec) {
                               pump();
                             }
                           });
  }
  std::uint64_t usec = 0;
  if (sd_bus_get_timeout(bus_, &usec) >= 0 && usec != UINT64_MAX) {
    // sd-bus's time is CLOCK_MONOTONIC, which steady_clock is on Linux.
    bus_timer_.expires_at(std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::microseconds(usec))));
    bus_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
      if (!ec && !alive.expired()) {
        pump();
      }
    });
  } else {
    bus_timer_.cancel();
  }
}

void LogindSession::close_bus() {
  reread_timer_.cancel();
  bus_timer_.cancel();
  if (descriptor_.is_open()) {
    descriptor_.cancel();
    descriptor_.release();  // sd-bus closes it
  }
  calls_.clear();
  properties_match_ = sd_bus_slot_unref(properties_match_);
  owner_match_ = sd_bus_slot_unref(owner_match_);
  if (bus_) {
    sd_bus_close_unref(bus_);  // no flush: it would block
    bus_ = nullptr;
  }
}

}  // namespace himalaya::host
