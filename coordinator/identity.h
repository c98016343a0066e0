// Who this instance is, and how to ask the kernel about a process.
//
// A pid alone cannot name a process: pids are reused. A process is named by
// (hostname, boot id, pid, start time in clock ticks since boot), which is
// what an InstanceRecord carries. The /proc probing sits behind ProcessProbe so
// that unit tests can fake dead processes and reused pids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "coordinator/clock.h"
#include "coordinator/state.h"

namespace himalaya::coordinator {

class ProcessProbe {
 public:
  virtual ~ProcessProbe() = default;
  // The start time (field 22 of /proc/<pid>/stat) of the running process with
  // this pid, or nullopt if there is none. A zombie counts as gone: it has
  // exited, only its parent has not reaped it yet.
  virtual std::optional<std::uint64_t> start_ticks(int pid) const = 0;
};

// Reads /proc on this machine.
class ProcProbe final : public ProcessProbe {
 public:
  std::optional<std::uint64_t> start_ticks(int pid) const override;
};

// Parses one /proc/<pid>/stat line. comm (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'. Returns nullopt for a
// malformed line or for a zombie (state Z or X).
std::optional<std::uint64_t> parse_stat_start_ticks(std::string_view stat_line);

// This machine's facts, read once at start.
struct HostFacts {
  std::string hostname;
  std::string boot_id;
};
HostFacts read_host_facts();

// Everything that identifies this running instance. Built by make_identity()
// in production; tests fill it in by hand.
struct Identity {
  std::string instance_id;  // nvim_<unix seconds at start>_<nvim pid> (SPEC §4)
  int nvim_pid = 0;
  std::string nvim_version;
  std::uint64_t nvim_start_ticks = 0;
  int host_pid = 0;
  std::uint64_t host_start_ticks = 0;
  HostFacts host;
  double started_at = 0;  // wall time
  double priority = 0;    // coordination.priority (SPEC §11)
};

std::string make_instance_id(double started_at, int nvim_pid);

// Fills in the host pid, the start ticks of both processes, the hostname and
// boot id, started_at (clock.wall()), and the instance id unless one is given.
Identity make_identity(int nvim_pid, std::string nvim_version, const Clock& clock,
                       const ProcessProbe& probe, std::string instance_id = {});

// The record this instance writes for itself under `instances`.
InstanceRecord to_record(const Identity& identity, double heartbeat, bool released);

}  // namespace himalaya::coordinator
