#include "coordinator/identity.h"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <fstream>

namespace himalaya::coordinator {

std::optional<std::uint64_t> parse_stat_start_ticks(std::string_view line) {
  auto close = line.rfind(')');
  if (close == std::string_view::npos) {
    return std::nullopt;
  }
  // After ") " come field 3 (state) onwards, separated by single spaces.
  std::string_view rest = line.substr(close + 1);
  int field = 2;
  std::size_t pos = 0;
  while (pos < rest.size()) {
    while (pos < rest.size() && rest[pos] == ' ') {
      ++pos;
    }
    std::size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) {
      end = rest.size();
    }
    if (pos == end) {
      break;
    }
    ++field;
    std::string_view token = rest.substr(pos, end - pos);
    if (field == 3 && (token == "Z" || token == "X" || token == "x")) {
      return std::nullopt;
    }
    if (field == 22) {
      std::uint64_t value = 0;
      auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
      if (ec != std::errc() || ptr != token.data() + token.size()) {
        return std::nullopt;
      }
      return value;
    }
    pos = end;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> ProcProbe::start_ticks(int pid) const {
  if (pid <= 0) {
    return std::nullopt;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) {
    return std::nullopt;
  }
  return parse_stat_start_ticks(line);
}

HostFacts read_host_facts() {
  HostFacts facts;
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) == 0) {
    facts.hostname = name;
  }
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::getline(in, facts.boot_id);
  return facts;
}

std::string make_instance_id(double started_at, int nvim_pid) {
  return "nvim_" + std::to_string(static_cast<long long>(std::floor(started_at))) + "_" +
         std::to_string(nvim_pid);
}

Identity make_identity(int nvim_pid, std::string nvim_version, const Clock& clock,
                       const ProcessProbe& probe, std::string instance_id) {
  Identity id;
  id.nvim_pid = nvim_pid;
  id.nvim_version = std::move(nvim_version);
  id.nvim_start_ticks = probe.start_ticks(nvim_pid).value_or(0);
  id.host_pid = static_cast<int>(::getpid());
  id.host_start_ticks = probe.start_ticks(id.host_pid).value_or(0);
  id.host = read_host_facts();
  id.started_at = clock.wall();
  id.instance_id =
      instance_id.empty() ? make_instance_id(id.started_at, nvim_pid) : std::move(instance_id);
  return id;
}

InstanceRecord to_record(const Identity& identity, double heartbeat, bool released) {
  InstanceRecord r;
  r.instance_id = identity.instance_id;
  r.hostname = identity.host.hostname;
  r.boot_id = identity.host.boot_id;
  r.nvim_pid = identity.nvim_pid;
  r.nvim_start_ticks = identity.nvim_start_ticks;
  r.host_pid = identity.host_pid;
  r.host_start_ticks = identity.host_start_ticks;
  r.started_at = identity.started_at;
  r.last_heartbeat = heartbeat;
  r.nvim_version = identity.nvim_version;
  r.released = released;
  r.priority = identity.priority;
  return r;
}

}  // namespace himalaya::coordinator
