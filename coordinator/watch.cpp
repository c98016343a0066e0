#include "coordinator/watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace himalaya::coordinator {

struct PidWatch::Shared {
  explicit Shared(boost::asio::io_context& io) : descriptor(io) {}
  boost::asio::posix::stream_descriptor descriptor;
  std::function<void()> on_exit;
};

PidWatch::PidWatch(boost::asio::io_context& io) : io_(io) {}
PidWatch::~PidWatch() {
  cancel();
}

bool PidWatch::watch(int pid, std::function<void()> on_exit) {
  cancel();
  auto shared = std::make_shared<Shared>(io_);
  shared->on_exit = std::move(on_exit);
  pid_ = pid;
  int fd = common::open_pidfd(pid);  // always close-on-exec
  if (fd < 0) {
    if (errno == ESRCH) {  // already gone
      shared_ = shared;
      boost::asio::post(io_, [shared] {
        if (auto f = std::move(shared->on_exit)) {
          f();
        }
      });
      return true;
    }
    pid_ = 0;
    return false;
  }
  boost::system::error_code ec;
  shared->descriptor.assign(fd, ec);
  if (ec) {
    ::close(fd);
    pid_ = 0;
    return false;
  }
  shared->descriptor.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                [shared](const boost::system::error_code& error) {
                                  if (error == boost::asio::error::operation_aborted) {
                                    return;
                                  }
                                  if (auto f = std::move(shared->on_exit)) {
                                    f();
                                  }
                                });
  shared_ = std::move(shared);
  return true;
}

void PidWatch::cancel() {
  if (shared_) {
    shared_->on_exit = nullptr;
    boost::system::error_code ignored;
    shared_->descriptor.close(ignored);
    shared_.reset();
  }
  pid_ = 0;
}

struct DoorbellWatch::Shared {
  explicit Shared(boost::asio::io_context& io) : descriptor(io) {}
  boost::asio::posix::stream_descriptor descriptor;
  std::string name;
  std::function<void()> on_ring;
};

namespace {

// Drains the inotify descriptor; true if one of the events names `name`.
bool drain(int fd, const std::string& name) {
  alignas(inotify_event) char buf[8192];
  bool rang = false;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      return rang;
    }
    for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      inotify_event ev{};
      std::memcpy(&ev, buf + off, sizeof ev);
      const char* ev_name = buf + off + sizeof(inotify_event);
      if (ev.len > 0 && name == std::string(ev_name, ::strnlen(ev_name, ev.len))) {
        rang = true;
      }
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev.len);
    }
  }
}

}  // namespace

DoorbellWatch::DoorbellWatch(boost::asio::io_context& io) : io_(io) {}
DoorbellWatch::~DoorbellWatch() {
  cancel();
}

bool DoorbellWatch::watch(const std::filesystem::path& dir, const std::string& name,
                          std::function<void()> on_ring) {
  cancel();
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  if (::inotify_add_watch(fd, dir.c_str(), IN_ATTRIB) < 0) {
    ::close(fd);
    return false;
  }
  auto shared = std::make_shared<Shared>(io_);
  boost::system::error_code ec;
  shared->descriptor.assign(fd, ec);
  if (ec) {
    ::close(fd);
    return false;
  }
  shared->name = name;
  shared->on_ring = std::move(on_ring);
  arm(shared);
  shared_ = std::move(shared);
  return true;
}

void DoorbellWatch::cancel() {
  if (shared_) {
    shared_->on_ring = nullptr;
    boost::system::error_code ignored;
    shared_->descriptor.close(ignored);
    shared_.reset();
  }
}

void DoorbellWatch::arm(const std::shared_ptr<Shared>& shared) {
  shared->descriptor.async_wait(
      boost::asio::posix::stream_descriptor::wait_read,
      [shared](const boost::system::error_code& error) {
        if (error || !shared->on_ring || !shared->descriptor.is_open()) {
          return;
        }
        bool rang = drain(shared->descriptor.native_handle(), shared->name);
        auto on_ring = shared->on_ring;  // the callback may cancel the watch
        arm(shared);
        if (rang) {
          on_ring();
        }
      });
}

}  // namespace himalaya::coordinator
