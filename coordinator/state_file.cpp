#include "coordinator/state_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "common/unique_fd.h"
#include "coordinator/lock_holder.h"
#include "coordinator/sync_events.h"

namespace himalaya::coordinator {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using common::UniqueFd;

Error io_error(const std::string& what, const fs::path& path, int err) {
  return Error{Error::Kind::io, what + " " + path.string() + ": " + common::errno_text(err)};
}

// Opens path with O_NOFOLLOW|O_CLOEXEC and checks that it is a regular file
// owned by us. An absent file gives an invalid UniqueFd and no error.
Result<UniqueFd> open_checked(const fs::path& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      return UniqueFd{};
    }
    if (err == ELOOP) {
      return Error{Error::Kind::refused, path.string() + " is a symbolic link; refusing to use it"};
    }
    return io_error("cannot open", path, err);
  }
  UniqueFd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return io_error("cannot stat", path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return Error{Error::Kind::refused,
                 path.string() + " is not a regular file; refusing to use it"};
  }
  if (st.st_uid != ::geteuid()) {
    return Error{Error::Kind::refused,
                 path.string() + " is owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                     std::to_string(::geteuid()) + "; refusing to use it (chown it or remove it)"};
  }
  return owned;
}

// Creates each missing component of dir with mode 0700.
Result<bool> ensure_directory(const fs::path& dir) {
  fs::path prefix;
  for (const auto& part : dir) {
    prefix /= part;
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return io_error("cannot create directory", prefix, errno);
    }
  }
  return true;
}

// Refuses a state directory that another user could tamper with, as OpenSSH's
// StrictModes does for ~/.ssh. Whoever may rename entries of the directory
// holding the state file, or of any directory above it, can swap in a file or
// a directory of their own (the O_NOFOLLOW and owner checks on the files do
// not help if the directory itself is theirs): they could then steer this
// instance's role and syncs. So every directory from the state directory up
// to / must be
// - owned by this user or by root (root can do anything to us anyway), and
// - not writable by others, unless it is sticky: in a sticky directory such
//   as /tmp (1777) others can add entries but not rename or remove ours, and a
//   directory someone else made there in advance fails the owner check;
// - not writable by its group either (same exception), unless that group is
//   this process's own group: Debian gives each user a private group and a
//   umask of 002, so ~/.config is often 0775 and harmless.
// Symbolic links among the directories are followed (~/.config is often one);
// the directories they resolve to are the ones checked.
Result<bool> check_directory_safe(const fs::path& dir) {
  std::error_code ec;
  const fs::path real = fs::canonical(dir, ec);
  if (ec) {
    return Error{Error::Kind::io, "cannot resolve " + dir.string() + ": " + ec.message()};
  }
  const uid_t me = ::geteuid();
  for (fs::path p = real;; p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      return io_error("cannot stat", p, errno);
    }
    const bool sticky = (st.st_mode & S_ISVTX) != 0;
    std::string why;
    std::string fix = "chmod go-w it";
    if (st.st_uid != me && st.st_uid != 0) {
      why = "is owned by uid " + std::to_string(st.st_uid);
      fix = "chown it";
    } else if ((st.st_mode & S_IWOTH) != 0 && !sticky) {
      why = "is writable by every user";
    } else if ((st.st_mode & S_IWGRP) != 0 && !sticky && st.st_gid != ::getegid()) {
      why = "is writable by group " + std::to_string(st.st_gid);
    }
    if (!why.empty()) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return Error{Error::Kind::refused,
                   "the directory " + p.string() + " (mode " + mode + ") " + why +
                       ", so another user could replace the state file; refusing to use it (" +
                       fix + ", or choose another state_file)"};
    }
    if (p == p.parent_path()) {
      return true;
    }
  }
}

// Reads at most limit + 1 bytes, so the caller can tell an oversized file.
Result<std::string> read_all(int fd, std::size_t limit, const fs::path& path) {
  std::string text;
  char buf[16384];
  while (text.size() <= limit) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return io_error("cannot read", path, errno);
    }
    if (n == 0) {
      break;
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

struct Loaded {
  State state;
  std::optional<Error> corrupt;  // the file exists but is unusable as a state
};

Result<Loaded> load(const fs::path& path, std::size_t max_bytes) {
  auto opened = open_checked(path, O_RDONLY, 0);
  if (!opened) {
    return opened.error();
  }
  Loaded out;
  if (!opened.value().valid()) {
    return out;
  }
  auto text = read_all(opened.value().get(), max_bytes, path);
  if (!text) {
    return text.error();
  }
  if (text.value().empty()) {
    // Zero bytes: a fresh start, not a corruption. Nothing is lost by
    // rebuilding it, and nothing is worth keeping aside: `touch`, or a writer
    // that truncates in place (the original Lua plugin) caught in the middle.
    return out;
  }
  if (text.value().size() > max_bytes) {
    out.corrupt = Error{Error::Kind::corrupt,
                        "the state file is larger than " + std::to_string(max_bytes) + " bytes"};
    return out;
  }
  auto parsed = parse_state(text.value());
  if (!parsed) {
    out.corrupt = parsed.error();
    return out;
  }
  out.state = std::move(parsed.value());
  return out;
}

// The lock is polled (LOCK_NB) so that a wait stays bounded; the back-off
// doubles from 50 us up to this. Its cap decides what contention costs: with
// 100 processes each doing 20 increments (coord-driver --increment), a 1 ms
// cap took 38-53 s and 85 s of CPU, the waiters' polling starving the holder
// of both cores; a 2 ms cap took 6.1 s, 5 ms 4.3 s, 10 ms 3.2 s, 20 ms 3.7 s
// (without jitter), and 10 ms with jitter 4.3-5.5 s. A waiter pays at most
// this much after the lock is free.
constexpr std::chrono::microseconds max_lock_backoff{10000};

// A sleep of between half and all of `backoff`, so that waiters that started
// together do not poll in step.
std::chrono::microseconds jittered(std::chrono::microseconds backoff) {
  thread_local std::minstd_rand random(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(SteadyClock::now().time_since_epoch().count()));
  std::uniform_int_distribution<std::int64_t> pick(backoff.count() / 2, backoff.count());
  return std::chrono::microseconds(pick(random));
}

double seconds_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// How long a lock must have been busy before its holder is judged (a holder
// is stopped only briefly by a debugger's attach or a test's probe), and how
// often after that: at doubling intervals up to the last.
constexpr double judge_holder_after = 0.05;  // seconds
constexpr double first_judge_every = 0.025;
constexpr double max_judge_every = 0.2;

// The state file's identity: a new one after every published write.
std::pair<ino_t, std::int64_t> published(const fs::path& state_path) {
  struct stat st {};
  if (::lstat(state_path.c_str(), &st) != 0) {
    return {0, 0};
  }
  return {st.st_ino, st.st_ctim.tv_sec * std::int64_t{1000000000} + st.st_ctim.tv_nsec};
}

// Waits for the flock on `lock`, polling with LOCK_NB. True once locked
// (`lock` may then be a new lock file, from a break); false when the name
// moved on and the caller must re-open it; an Error when the wait ran out.
//
// At each judgement time the waiter checks that the name still names the
// file it polls (a breaker may have replaced it), and, unless the state file
// changed since the last look (then the lock is changing hands, not stuck),
// judges the holder (lock_holder.h). That filter matters under contention:
// reading /proc/locks contends with every flock(2) on the machine, and 100
// processes doing 100 increments each (multiprocess_test.cpp) took 37 s
// without it, and 28 s with it as with no judgements at all (30 s), on a
// heavily loaded machine.
Result<bool> wait_for_lock(UniqueFd& lock, const fs::path& lock_path, const fs::path& state_path,
                           double lock_timeout, const std::function<bool()>& go_on) {
  const auto start = SteadyClock::now();
  double next_judgement = judge_holder_after;
  double judge_every = first_judge_every / 2;
  auto last_seen = published(state_path);
  auto backoff = std::chrono::microseconds(50);
  while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) {
      continue;
    }
    if (errno != EWOULDBLOCK) {
      return io_error("cannot lock", lock_path, errno);
    }
    if (seconds_between(start, SteadyClock::now()) >= next_judgement) {
      judge_every = std::min(judge_every * 2, max_judge_every);
      next_judgement += judge_every;
      if (!still_named(lock.get(), lock_path)) {
        return false;
      }
      const auto seen = std::exchange(last_seen, published(state_path));
      if (seen == last_seen) {
        auto broken = break_stopped_holder(lock.get(), lock_path, state_path, go_on);
        if (!broken) {
          return broken.error();
        }
        if (broken.value().outcome == LockBreak::Outcome::name_moved) {
          return false;
        }
        if (broken.value().outcome == LockBreak::Outcome::new_generation) {
          lock = std::move(broken.value().lock);
          return true;
        }
      }
    }
    if (!go_on()) {
      // The same text every time, so the coordinator can tell a repeat.
      char limit[32];
      std::snprintf(limit, sizeof limit, "%g", lock_timeout);
      return Error{Error::Kind::lock_timeout, "another process has held " + lock_path.string() +
                                                  " for more than " + limit + " s"};
    }
    std::this_thread::sleep_for(jittered(backoff));
    backoff = std::min(backoff * 2, max_lock_backoff);
  }
  return true;
}

}  // namespace

StateFile::StateFile(fs::path path) : StateFile(std::move(path), Options{}, nullptr) {}

StateFile::StateFile(fs::path path, Options options, std::shared_ptr<const Clock> clock)
    : path_(std::move(path)), options_(options), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = std::make_shared<SystemClock>();
  }
}

fs::path StateFile::lock_path() const {
  fs::path p = path_;
  p += ".lock";
  return p;
}

Result<State> StateFile::read() const {
  auto loaded = load(path_, options_.max_bytes);
  if (!loaded) {
    return loaded.error();
  }
  if (loaded.value().corrupt) {
    return *loaded.value().corrupt;
  }
  return std::move(loaded.value().state);
}

Result<StateFile::Update> StateFile::update(const Mutation& mutate,
                                            const KeepWaiting& keep_waiting) {
  const fs::path dir = path_.parent_path().empty() ? fs::path(".") : path_.parent_path();
  if (auto made = ensure_directory(dir); !made) {
    return made.error();
  }
  if (auto safe = check_directory_safe(dir); !safe) {
    return safe.error();
  }

  Update result;
  auto wait_start = SteadyClock::now();
  const auto go_on = [&] {
    const double waited = seconds_between(wait_start, SteadyClock::now());
    return keep_waiting ? keep_waiting(waited) : waited < options_.lock_timeout;
  };
  // A lock file deleted or replaced while locked (by hand, by a cleaner, or
  // by a waiter that found this writer stopped: lock_holder.h) leaves the
  // lock guarding nothing: the next process creates and locks a new file. So
  // the name is checked once the lock is taken, and again just before the
  // rename that publishes the write; if it changed, everything is redone
  // under a lock on the file the name now holds. A rename that finds its
  // temporary file gone was fenced by such a waiter: it is redone the same
  // way (lock_holder.h says why that closes the gap between check and rename).
  for (int attempt = 0;; ++attempt) {
    if (attempt >= 8) {
      return Error{Error::Kind::io, lock_path().string() +
                                        " keeps being deleted or replaced while locked; "
                                        "cannot update the state file safely"};
    }
    auto lock_open = open_checked(lock_path(), O_RDWR | O_CREAT, 0600);
    if (!lock_open) {
      return lock_open.error();
    }
    UniqueFd lock = std::move(lock_open.value());
    if (!lock.valid()) {
      continue;  // deleted between create and open
    }

    auto waited = wait_for_lock(lock, lock_path(), path_, options_.lock_timeout, go_on);
    if (!waited) {
      return waited.error();
    }
    if (!waited.value()) {
      continue;
    }
    if (!still_named(lock.get(), lock_path())) {
      wait_start = SteadyClock::now();  // see below
      continue;
    }
    const auto locked_at = SteadyClock::now();
    result.lock_wait = seconds_between(wait_start, locked_at);
    // The lock is released when `lock` closes, on every path out of here.

    auto loaded = load(path_, options_.max_bytes);
    if (!loaded) {
      return loaded.error();
    }
    const double now = clock_->wall();
    bool force_write = result.moved_aside.has_value();  // moved aside by an earlier attempt
    if (loaded.value().corrupt) {
      result.corrupt_reason = loaded.value().corrupt->message;
      fs::path aside = path_;
      aside += ".corrupt-" + std::to_string(static_cast<long long>(std::floor(now)));
      struct stat st {};
      for (int n = 1; ::lstat(aside.c_str(), &st) == 0 && n < 1000; ++n) {
        aside = path_;
        aside += ".corrupt-" + std::to_string(static_cast<long long>(std::floor(now))) + "." +
                 std::to_string(n);
      }
      if (::rename(path_.c_str(), aside.c_str()) != 0) {
        return io_error("cannot move the corrupt state file aside from", path_, errno);
      }
      result.moved_aside = aside;
      force_write = true;
    }

    State state = std::move(loaded.value().state);
    const DoorbellFacts rung_before = doorbell_facts(state);
    bool write = mutate(state) || force_write;
    result.written = false;
    if (write) {
      if (state.created == 0) {
        state.created = now;
      }
      state.last_modified = now;
      const std::string text = serialize_state(state);

      fs::path temp = path_;
      // Named for this thread, which no other writer shares, so that a
      // fenced writer's late rename can only ever find its own file.
      temp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(::gettid());
      ::unlink(temp.c_str());  // a leftover of a writer that died mid-write
      UniqueFd out(
          ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!out.valid()) {
        return io_error("cannot create", temp, errno);
      }
      if (!write_all(out.get(), text) || ::fsync(out.get()) != 0) {
        int err = errno;
        ::unlink(temp.c_str());
        return io_error("cannot write", temp, err);
      }
      out.reset();
      if (!still_named(lock.get(), lock_path())) {
        ::unlink(temp.c_str());
        wait_start = SteadyClock::now();  // see below
        continue;
      }
      run_before_publish_hook();
      if (::rename(temp.c_str(), path_.c_str()) != 0) {
        int err = errno;
        ::unlink(temp.c_str());
        if (err == ENOENT) {
          // Fenced: the lock was replaced while this writer was stopped. As
          // whenever the lock it held turns out replaced, the time since its
          // wait began (perhaps stopped for long) was no wait for the lock:
          // the wait for the new one starts afresh, or a busy lock would time
          // it out at its first try.
          wait_start = SteadyClock::now();
          continue;
        }
        return io_error("cannot replace", path_, err);
      }
      if (doorbell_facts(state) != rung_before) {
        ::futimens(lock.get(), nullptr);  // the doorbell; see the header
      }
      result.written = true;
    }
    result.state = std::move(state);
    result.lock_held = seconds_between(locked_at, SteadyClock::now());
    lock.reset();  // unlock before the directory fsync
    break;
  }
  if (result.written) {
    directory_sync_pending_ = true;
    if (!options_.defer_directory_sync) {
      sync_directory();
    }
  }
  return result;
}

void StateFile::sync_directory() {
  if (!directory_sync_pending_) {
    return;
  }
  directory_sync_pending_ = false;
  const fs::path dir = path_.parent_path().empty() ? fs::path(".") : path_.parent_path();
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.valid()) {
    ::fsync(dir_fd.get());  // best effort: the rename itself has happened
  }
}

}  // namespace himalaya::coordinator
