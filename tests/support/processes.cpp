#include "tests/support/processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace himalaya::testing {

std::optional<ProcStat> proc_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) {
    return std::nullopt;
  }
  // The command name in parentheses may itself hold ") ", so look for the last.
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= text.size()) {
    return std::nullopt;
  }
  ProcStat st;
  st.comm = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  rest >> st.state >> st.ppid >> st.pgid;
  return st;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.empty() && std::all_of(name.begin(), name.end(),
                                     [](unsigned char c) { return std::isdigit(c) != 0; })) {
      pids.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return pids;
}

std::string proc_cmdline(pid_t pid) {
  std::string cmdline;
  const int fd =
      ::open(("/proc/" + std::to_string(pid) + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[4096];
    const ssize_t got = ::read(fd, buf, sizeof buf);
    ::close(fd);
    cmdline.assign(buf, got > 0 ? static_cast<std::size_t>(got) : 0);
  }
  return cmdline;
}

std::map<int, std::string> open_fds(pid_t pid) {
  std::map<int, std::string> fds;
  std::error_code error;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error), end;
       !error && it != end; it.increment(error)) {
    std::error_code gone;  // the descriptor may be closed meanwhile
    const auto target = std::filesystem::read_symlink(it->path(), gone);
    if (!gone) {
      fds[std::stoi(it->path().filename().string())] = target.string();
    }
  }
  return fds;
}

std::vector<pid_t> children_named(pid_t parent, const std::string& comm) {
  std::vector<pid_t> out;
  for (const pid_t pid : all_pids()) {
    const auto st = proc_stat(pid);
    if (st && st->ppid == parent && st->state != 'Z' && st->comm == comm) {
      out.push_back(pid);
    }
  }
  return out;
}

int first_child(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  int child = 0;
  in >> child;
  return child;
}

bool holds_write_flock(pid_t pid) {
  std::ifstream in("/proc/locks");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string n, kind, advisory, mode;
    pid_t holder = 0;
    if (words >> n >> kind >> advisory >> mode >> holder && kind == "FLOCK" && mode == "WRITE" &&
        holder == pid) {
      return true;
    }
  }
  return false;
}

void signal_child_of(pid_t parent, pid_t pid, int sig) {
  if (pid <= 0) {
    return;
  }
  const auto st = proc_stat(pid);
  if (st && st->ppid == parent && st->state != 'Z') {
    ::kill(pid, sig);
  }
}

PidFd::PidFd(pid_t pid) : fd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U))) {}

PidFd::PidFd(PidFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

PidFd::~PidFd() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void PidFd::signal(int sig) const {
  if (fd_ >= 0) {
    ::syscall(SYS_pidfd_send_signal, fd_, sig, nullptr, 0U);
  }
}

}  // namespace himalaya::testing
