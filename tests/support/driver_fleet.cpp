#include "tests/support/driver_fleet.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "tests/support/clock.h"
#include "tests/support/shared_state.h"
#include "tests/support/wait.h"

namespace himalaya::testing {

Driver& DriverFleet::spawn(const std::vector<std::string>& extra,
                           const std::vector<std::string>& wrapper) {
  std::vector<std::string> args = wrapper;
  args.insert(args.end(), {driver_, "--state", state_file_.string()});
  args.insert(args.end(), extra.begin(), extra.end());
  drivers_.push_back(std::make_unique<Driver>(args, !wrapper.empty()));
  return *drivers_.back();
}

void DriverFleet::pump(int timeout_ms) {
  std::vector<ChildProcess*> children;
  for (auto& d : drivers_) {
    children.push_back(&d->process);
  }
  for (ChildProcess* ready : wait_for_output(children, timeout_ms)) {
    for (auto& d : drivers_) {
      if (&d->process == ready) {
        for (const std::string& line : ready->read_lines()) {
          handle(*d, line);
        }
      }
    }
  }
}

bool DriverFleet::wait_until(const std::function<bool()>& done, double seconds) {
  const double deadline = mono_now() + seconds;
  while (!done()) {
    if (mono_now() > deadline) {
      return false;
    }
    pump(5);
  }
  return true;
}

std::vector<Driver*> DriverFleet::alive() {
  std::vector<Driver*> out;
  for (auto& d : drivers_) {
    if (!d->process.eof() && !d->process.reaped()) {
      out.push_back(d.get());
    }
  }
  return out;
}

std::vector<Driver*> DriverFleet::primaries() {
  std::vector<Driver*> out;
  for (Driver* d : alive()) {
    if (d->role == "primary") {
      out.push_back(d);
    }
  }
  return out;
}

std::string DriverFleet::file_primary() const {
  return primary_in_state_file(state_file_).value_or("");
}

bool DriverFleet::agreed() {
  auto live = alive();
  auto p = primaries();
  if (p.size() != 1) {
    return false;
  }
  for (Driver* d : live) {
    if (!d->ready || (d != p[0] && d->role != "secondary")) {
      return false;
    }
  }
  return file_primary() == p[0]->id;
}

// "ready <id> <pid> <role> <mono>" and "role <id> <role> <wall> <mono>"; every
// other line is only kept.
void DriverFleet::handle(Driver& d, const std::string& line) {
  d.lines.push_back(line);
  std::istringstream in(line);
  std::string kind;
  in >> kind;
  if (kind == "ready") {
    std::string pid;
    in >> d.id >> pid >> d.role >> d.role_mono;
    d.ready = true;
    d.times_primary += d.role == "primary";
  } else if (kind == "role") {
    std::string id;
    double wall = 0;
    in >> id >> d.role >> wall >> d.role_mono;
    d.times_primary += d.role == "primary";
  }
}

void pump_for(DriverFleet& fleet, double seconds) {
  const double until = mono_now() + seconds;
  fleet.wait_until([&] { return mono_now() > until; }, seconds + 5);
}

double stop_outside_state_lock(DriverFleet& fleet, pid_t target, pid_t stopped,
                               const std::filesystem::path& lock_path) {
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  if (lock_fd < 0) {
    return 0;
  }
  double stopped_at = 0;
  for (int attempt = 0; attempt < 50 && stopped_at == 0; ++attempt) {
    const double sent = mono_now();
    ::kill(target, SIGSTOP);
    if (!fleet.wait_until([&] { return process_state(stopped) == 'T'; }, 10)) {
      break;
    }
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) == 0) {
      ::flock(lock_fd, LOCK_UN);
      stopped_at = sent;
    } else {
      ::kill(target, SIGCONT);
      pump_for(fleet, 0.02);
    }
  }
  ::close(lock_fd);
  return stopped_at;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const std::size_t i =
      std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace himalaya::testing
