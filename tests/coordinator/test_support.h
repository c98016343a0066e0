// Shared helpers for the coordinator tests: a temporary directory, a fake
// process table, and record builders.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "coordinator/identity.h"
#include "coordinator/state.h"

namespace himalaya::coordinator::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "coord-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void spit(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// A process table: pid -> start ticks. Absent pids are dead.
class FakeProbe final : public ProcessProbe {
 public:
  std::optional<std::uint64_t> start_ticks(int pid) const override {
    auto it = table.find(pid);
    if (it == table.end()) {
      return std::nullopt;
    }
    return it->second;
  }
  std::map<int, std::uint64_t> table;
};

inline HostFacts here() {
  return HostFacts{"box", "boot-1"};
}

inline Identity identity(const std::string& id, int pid, double started_at,
                         HostFacts host = here()) {
  Identity i;
  i.instance_id = id;
  i.nvim_pid = pid + 1000;
  i.nvim_version = "0.9.5";
  i.host_pid = pid;
  i.host_start_ticks = static_cast<std::uint64_t>(pid) * 10;
  i.host = std::move(host);
  i.started_at = started_at;
  return i;
}

}  // namespace himalaya::coordinator::testing
