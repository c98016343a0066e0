#include "coordinator/lock_holder.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace himalaya::coordinator {
namespace {

namespace fs = std::filesystem;

// The whole of a /proc file, or "" if it cannot be read. Plain read(2): this
// runs in every waiter's poll loop under contention.
std::string slurp(const std::string& path) {
  std::string text;
  common::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return text;
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return text;
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) {
      ++pos;
    }
    std::size_t end = pos;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') {
      ++end;
    }
    if (end > pos) {
      out.push_back(line.substr(pos, end - pos));
    }
    pos = end;
  }
  return out;
}

template <typename T>
std::optional<T> number(std::string_view text, int base = 10) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

Error io_error(const std::string& what, const fs::path& path, int err) {
  return Error{Error::Kind::io, what + " " + path.string() + ": " + common::errno_text(err)};
}

// Deletes every `<state_path>.tmp-*`: the fence (see the header).
void delete_temporaries(const fs::path& state_path) {
  const fs::path dir = state_path.parent_path().empty() ? fs::path(".") : state_path.parent_path();
  const std::string prefix = state_path.filename().string() + ".tmp-";
  DIR* listing = ::opendir(dir.c_str());
  if (listing == nullptr) {
    return;
  }
  std::vector<std::string> doomed;
  while (const dirent* entry = ::readdir(listing)) {
    if (std::string_view(entry->d_name).substr(0, prefix.size()) == prefix) {
      doomed.emplace_back(entry->d_name);
    }
  }
  ::closedir(listing);
  for (const auto& name : doomed) {
    ::unlink((dir / name).c_str());
  }
}

void (*before_publish_hook)() = nullptr;

}  // namespace

std::optional<int> parse_flock_holder(std::string_view proc_locks, unsigned major, unsigned minor,
                                      std::uint64_t inode) {
  std::optional<int> exact;
  std::optional<int> by_inode;
  int inode_matches = 0;
  while (!proc_locks.empty()) {
    const std::size_t nl = proc_locks.find('\n');
    const std::string_view line = proc_locks.substr(0, nl);
    proc_locks = nl == std::string_view::npos ? std::string_view{} : proc_locks.substr(nl + 1);
    // "1: FLOCK  ADVISORY  WRITE 6758 fe:00:10953178 0 EOF"
    const auto w = words(line);
    if (w.size() < 6 || w[1] != "FLOCK" || w[3] != "WRITE") {
      continue;  // a POSIX or OFD lock, a reader, or a blocked waiter ("1: -> FLOCK ...")
    }
    const auto pid = number<int>(w[4]);
    const std::string_view id = w[5];
    const std::size_t c1 = id.find(':');
    const std::size_t c2 = c1 == std::string_view::npos ? c1 : id.find(':', c1 + 1);
    if (!pid || *pid <= 0 || c2 == std::string_view::npos) {
      continue;
    }
    const auto maj = number<unsigned>(id.substr(0, c1), 16);
    const auto min = number<unsigned>(id.substr(c1 + 1, c2 - c1 - 1), 16);
    const auto ino = number<std::uint64_t>(id.substr(c2 + 1));
    if (!maj || !min || !ino || *ino != inode) {
      continue;
    }
    ++inode_matches;
    by_inode = pid;
    if (*maj == major && *min == minor) {
      exact = pid;
    }
  }
  if (exact) {
    return exact;
  }
  return inode_matches == 1 ? by_inode : std::nullopt;
}

std::optional<int> flock_holder(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return std::nullopt;
  }
  return parse_flock_holder(slurp("/proc/locks"), major(st.st_dev), minor(st.st_dev), st.st_ino);
}

char parse_stat_state(std::string_view stat_line) {
  const std::size_t close = stat_line.rfind(')');
  if (close == std::string_view::npos || close + 2 >= stat_line.size() ||
      stat_line[close + 1] != ' ') {
    return 0;
  }
  return stat_line[close + 2];
}

std::optional<std::uint64_t> parse_status_switches(std::string_view status) {
  std::optional<std::uint64_t> voluntary;
  std::optional<std::uint64_t> involuntary;
  while (!status.empty()) {
    const std::size_t nl = status.find('\n');
    const std::string_view line = status.substr(0, nl);
    status = nl == std::string_view::npos ? std::string_view{} : status.substr(nl + 1);
    const auto w = words(line);
    if (w.size() != 2) {
      continue;
    }
    if (w[0] == "voluntary_ctxt_switches:") {
      voluntary = number<std::uint64_t>(w[1]);
    } else if (w[0] == "nonvoluntary_ctxt_switches:") {
      involuntary = number<std::uint64_t>(w[1]);
    }
  }
  if (!voluntary || !involuntary) {
    return std::nullopt;
  }
  return *voluntary + *involuntary;
}

std::optional<ProcessRun> observe_process(int pid) {
  if (pid <= 0) {
    return std::nullopt;
  }
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* listing = ::opendir(task_dir.c_str());
  if (listing == nullptr) {
    return std::nullopt;
  }
  std::vector<std::string> tids;
  while (const dirent* entry = ::readdir(listing)) {
    if (entry->d_name[0] != '.') {
      tids.emplace_back(entry->d_name);
    }
  }
  ::closedir(listing);
  ProcessRun run{true, 0};
  int threads = 0;
  for (const auto& tid : tids) {
    const char state = parse_stat_state(slurp(task_dir + "/" + tid + "/stat"));
    if (state == 0 || state == 'Z' || state == 'X' || state == 'x') {
      continue;  // exited meanwhile: it runs no more
    }
    if (state != 'T' && state != 't') {
      return ProcessRun{};  // running, or able to: the count does not matter
    }
    const auto switches = parse_status_switches(slurp(task_dir + "/" + tid + "/status"));
    if (!switches) {
      return ProcessRun{};  // cannot tell whether it ran: not frozen as far as we know
    }
    ++threads;
    run.switches += *switches;
  }
  if (threads == 0) {
    return std::nullopt;
  }
  return run;
}

bool still_named(int fd, const fs::path& path) {
  struct stat held {};
  struct stat named {};
  return ::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &named) == 0 &&
         held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

Result<LockBreak> break_stopped_holder(int waited, const fs::path& lock_path,
                                       const fs::path& state_path,
                                       const std::function<bool()>& go_on) {
  using Outcome = LockBreak::Outcome;
  LockBreak result;
  if (!still_named(waited, lock_path)) {
    result.outcome = Outcome::name_moved;
    return result;
  }
  const auto holder = flock_holder(waited);
  if (!holder || *holder == ::getpid()) {
    return result;
  }
  auto before = observe_process(*holder);
  if (!before || !before->stopped) {
    return result;
  }

  // 1. One breaker at a time, and only for the inode judged.
  fs::path break_path = lock_path;
  break_path += ".break";
  common::UniqueFd breaking(
      ::open(break_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!breaking.valid()) {
    return io_error("cannot open", break_path, errno);
  }
  if (::flock(breaking.get(), LOCK_EX | LOCK_NB) != 0) {
    return result;  // another waiter is breaking
  }
  if (!still_named(waited, lock_path)) {
    result.outcome = Outcome::name_moved;
    return result;
  }
  before = observe_process(*holder);
  if (!before || !before->stopped || flock_holder(waited) != holder) {
    return result;
  }

  // 2. The fence, and 3. the commit.
  delete_temporaries(state_path);
  fs::path fresh_path = lock_path;
  fresh_path += ".new-" + std::to_string(::getpid()) + "-" + std::to_string(::gettid());
  ::unlink(fresh_path.c_str());
  common::UniqueFd fresh(
      ::open(fresh_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fresh.valid()) {
    return io_error("cannot create", fresh_path, errno);
  }
  if (::flock(fresh.get(), LOCK_EX | LOCK_NB) != 0 ||
      ::rename(fresh_path.c_str(), lock_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(fresh_path.c_str());
    return io_error("cannot replace", lock_path, err);
  }

  // 4. Had the holder run since `before`, a write of its could be in flight.
  for (;;) {
    if (::flock(waited, LOCK_EX | LOCK_NB) == 0) {
      break;  // it released the old lock: its update is over, published or not
    }
    const auto after = observe_process(*holder);
    if (!after || (after->stopped && after->switches == before->switches)) {
      break;  // gone, or frozen all along
    }
    if (after->stopped) {
      before = after;  // it ran and stopped again: fence once more
      delete_temporaries(state_path);
      continue;
    }
    if (!go_on()) {
      return Error{Error::Kind::lock_timeout, "the stopped holder of " + lock_path.string() +
                                                  " resumed while its lock was replaced"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  result.outcome = Outcome::new_generation;
  result.lock = std::move(fresh);
  return result;
}

void set_before_publish_hook(void (*hook)()) {
  before_publish_hook = hook;
}

void run_before_publish_hook() {
  if (before_publish_hook != nullptr) {
    before_publish_hook();
  }
}

}  // namespace himalaya::coordinator
