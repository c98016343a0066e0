// Owning a file descriptor, and the two small POSIX helpers every layer that
// holds descriptors needs. Header-only, so that coordinator/ and host/ share
// one idiom without knowing each other.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>

namespace himalaya::common {

// Owns one file descriptor: closes it on destruction and on reset().
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset(std::exchange(other.fd_, -1));
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// strerror(3) as a string.
inline std::string errno_text(int error_number) {
  return std::strerror(error_number);
}

// pidfd_open(2): a descriptor that becomes readable when `pid` exits; -1 with
// errno set on failure. glibc 2.36's <sys/pidfd.h> declares pidfd_open()
// without extern "C" (fixed in 2.37), so C++ cannot link against it: this
// calls the system call directly.
inline int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

}  // namespace himalaya::common
