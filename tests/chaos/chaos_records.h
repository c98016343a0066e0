// The chaos test's records (tests/chaos/chaos.h): the sync log that
// tests/chaos/chaos_sync.sh writes, and the role changes each host logs.
//
// The sync log has one line per event, keyed by the sync command's pid:
//   start <pid> <label> <wall> <recorded>   (recorded: the host's stamp, or none)
//   end <pid> <wall>                         (it finished by itself)
//   term <pid> <wall>                        (SIGTERM: its host died or cancelled it)
// It is another format than tests/e2e/fake_sync.sh's (tests/support/sync_log.h).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace himalaya::chaos {

inline constexpr const char* primary_role = "Primary Coordinator";
inline constexpr const char* secondary_role = "Secondary";

struct SyncRun {
  pid_t pid = 0;
  std::string label;
  double start = 0;
  std::optional<double> recorded;  // the host's stamp of this start
  std::optional<double> end;
  bool terminated = false;
};

struct SyncLog {
  std::vector<SyncRun> runs;        // in order of start
  int terms_before_start = 0;       // stopped before it wrote its start line
  std::vector<std::string> errors;  // lines that do not parse or match
};

// The runs of the sync log in order of start; a line still being written is
// left out, and lines that do not parse or match are listed in `errors`.
SyncLog read_sync_log(const std::filesystem::path& path);

// One logged change of a host's role.
struct RoleChange {
  double wall = 0;  // from the log's local time, to the millisecond
  pid_t host = 0;
  std::string from;
  std::string to;
};

// "<from> -> <to>" with two role labels; std::regex is avoided (GCC 12 warns
// inside it under -O2 with ASan).
bool parse_role_change(const std::string& text, std::string& from, std::string& to);

// Every role change a host logged to `log_file` and its rotated files, oldest
// first. The host log pattern is "%Y-%m-%dT%H:%M:%S.%e %P %l: %v", in local
// time; the hosts get no TZ and the test unsets its own, so both use
// /etc/localtime.
std::vector<RoleChange> read_role_changes(const std::filesystem::path& log_file);

// What a host last logged as its role (a host starts as Secondary).
std::string logged_role(const std::vector<RoleChange>& changes, pid_t host);

}  // namespace himalaya::chaos
