#include "coordinator/asio_environment.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <iterator>

namespace himalaya::coordinator {
namespace {

class AsioTimer final : public Timer {
 public:
  explicit AsioTimer(boost::asio::io_context& io) : timer_(io) {}

  void arm(double seconds, std::function<void()> fire) override {
    cancel();
    armed_ = true;
    timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(std::max(0.0, seconds))));
    timer_.async_wait(
        guard_.wrap([this, fire = std::move(fire)](const boost::system::error_code& ec) {
          if (ec) {
            return;
          }
          armed_ = false;
          fire();
        }));
  }
  void cancel() override {
    guard_.reset();
    armed_ = false;
    timer_.cancel();
  }
  bool armed() const override { return armed_; }

 private:
  boost::asio::steady_timer timer_;
  Guard guard_;
  bool armed_ = false;
};

}  // namespace

AsioEnvironment::AsioEnvironment(boost::asio::io_context& io,
                                 const std::filesystem::path& state_file, double lock_timeout,
                                 std::shared_ptr<const Clock> clock)
    : io_(io),
      clock_(clock ? std::move(clock) : std::make_shared<SystemClock>()),
      file_(state_file, StateFile::Options{std::size_t{1024} * 1024, lock_timeout, true}, clock_),
      pid_watch_(io),
      doorbell_(io) {}

std::unique_ptr<Timer> AsioEnvironment::make_timer() {
  return std::make_unique<AsioTimer>(io_);
}

void AsioEnvironment::post(std::function<void()> fn) {
  boost::asio::post(io_, guard_.wrap(std::move(fn)));
}

void AsioEnvironment::watch_process(int pid, std::function<void()> on_exit) {
  if (pid == 0) {
    pid_watch_.cancel();
  } else if (pid != pid_watch_.pid()) {
    pid_watch_.watch(pid, std::move(on_exit));
  }
}

void AsioEnvironment::watch_owners(const std::vector<int>& pids, std::function<void()> on_exit) {
  for (auto it = owner_watches_.begin(); it != owner_watches_.end();) {
    const bool kept = std::find(pids.begin(), pids.end(), it->first) != pids.end();
    it = kept ? std::next(it) : owner_watches_.erase(it);
  }
  for (int pid : pids) {
    if (pid > 0 && owner_watches_.count(pid) == 0) {
      auto watch = std::make_unique<PidWatch>(io_);
      if (watch->watch(pid, on_exit)) {
        owner_watches_.emplace(pid, std::move(watch));
      }
    }
  }
}

void AsioEnvironment::watch_doorbell(std::function<void()> on_ring) {
  const auto dir = file_.path().parent_path();
  doorbell_.watch(dir.empty() ? "." : dir, file_.lock_path().filename().string(),
                  std::move(on_ring));
}

void AsioEnvironment::cancel_watches() {
  pid_watch_.cancel();
  owner_watches_.clear();
  doorbell_.cancel();
}

}  // namespace himalaya::coordinator
