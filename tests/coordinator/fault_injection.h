// File-system faults made for real, for the fault tests: a mount (a full
// tmpfs, a read-only bind) for the life of a guard, a disk filled to ENOSPC,
// and a count of the corrupt files moved aside.
//
// Mounting needs root and a kernel that lets us mount; ok() is false, and
// why() says why, otherwise, and the test skips with that reason. Every mount
// is undone by its guard, even when the test fails.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

namespace himalaya::coordinator::testing {

namespace fs = std::filesystem;

// Mounts on a directory for the life of the guard. ok() is false, and why()
// says why, if the mount was not possible (not root, not permitted).
class MountGuard {
 public:
  // A tmpfs of `size` bytes on dir.
  static MountGuard tmpfs(const fs::path& dir, const std::string& size) {
    MountGuard g(dir);
    const std::string options = "size=" + size + ",mode=0700";
    g.mount("tmpfs", "tmpfs", 0, options.c_str());
    return g;
  }
  // dir bound onto itself and made read-only.
  static MountGuard read_only(const fs::path& dir) {
    MountGuard g(dir);
    if (g.mount(dir.c_str(), nullptr, MS_BIND, nullptr)) {
      g.remount(true);
    }
    return g;
  }

  MountGuard(MountGuard&& other) noexcept
      : dir_(std::move(other.dir_)),
        mounted_(std::exchange(other.mounted_, false)),
        why_(std::move(other.why_)) {}
  MountGuard& operator=(MountGuard&&) = delete;
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;
  ~MountGuard() {
    if (mounted_) {
      ::umount2(dir_.c_str(), MNT_DETACH);
    }
  }

  bool ok() const { return mounted_ && why_.empty(); }
  const std::string& why() const { return why_; }

  // For the bind mount: read-only or back to read-write.
  bool remount(bool read_only) {
    unsigned long flags = MS_REMOUNT | MS_BIND;
    if (read_only) {
      flags |= MS_RDONLY;
    }
    if (::mount(nullptr, dir_.c_str(), nullptr, flags, nullptr) != 0) {
      why_ = std::string("remount failed: ") + std::strerror(errno);
      return false;
    }
    return true;
  }

 private:
  explicit MountGuard(fs::path dir) : dir_(std::move(dir)) {}

  bool mount(const char* source, const char* type, unsigned long flags, const char* data) {
    if (::geteuid() != 0) {
      why_ = "needs root to mount";
      return false;
    }
    if (::mount(source, dir_.c_str(), type, flags, data) != 0) {
      why_ = std::string("mount not permitted here: ") + std::strerror(errno);
      return false;
    }
    mounted_ = true;
    return true;
  }

  fs::path dir_;
  bool mounted_ = false;
  std::string why_;
};

// Fills the file system holding dir until a write fails with ENOSPC; the
// filler file is removed on destruction, which gives the space back.
class DiskFiller {
 public:
  explicit DiskFiller(fs::path dir) : path_(std::move(dir) / "filler") {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      return;
    }
    const std::string block(512, 'x');
    for (;;) {
      ssize_t n = ::write(fd, block.data(), block.size());
      if (n < 0) {
        full_ = errno == ENOSPC;
        break;
      }
      if (n < static_cast<ssize_t>(block.size())) {
        continue;  // a short write: the next one tells
      }
    }
    ::close(fd);
  }
  ~DiskFiller() { release(); }
  DiskFiller(const DiskFiller&) = delete;
  DiskFiller& operator=(const DiskFiller&) = delete;
  bool full() const { return full_; }
  void release() { ::unlink(path_.c_str()); }

 private:
  fs::path path_;
  bool full_ = false;
};

inline int count_aside(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    n += e.path().filename().string().find(".corrupt-") != std::string::npos;
  }
  return n;
}

}  // namespace himalaya::coordinator::testing
