#include "tests/chaos/chaos_records.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <sstream>

#include "tests/support/files.h"

namespace himalaya::chaos {

using testing::complete_lines;

namespace {

bool is_role_label(const std::string& text) {
  return text == primary_role || text == secondary_role || text == "Uncoordinated";
}

}  // namespace

SyncLog read_sync_log(const std::filesystem::path& path) {
  SyncLog log;
  std::map<pid_t, std::size_t> open;  // pid -> index of its run without an end
  for (const std::string& line : complete_lines(testing::slurp(path))) {
    std::istringstream in(line);
    std::string kind;
    long pid = 0;
    in >> kind >> pid;
    if (kind == "start") {
      SyncRun run;
      run.pid = static_cast<pid_t>(pid);
      std::string recorded;
      in >> run.label >> run.start >> recorded;
      if (!in) {
        log.errors.push_back("malformed: " + line);
        continue;
      }
      if (recorded != "none") {
        run.recorded = std::stod(recorded);
      }
      if (open.count(run.pid) != 0) {
        log.errors.push_back("second start of pid " + std::to_string(pid));
      }
      open[run.pid] = log.runs.size();
      log.runs.push_back(run);
    } else if (kind == "end" || kind == "term") {
      double t = 0;
      in >> t;
      auto it = open.find(static_cast<pid_t>(pid));
      if (!in) {
        log.errors.push_back("malformed: " + line);
      } else if (it == open.end()) {
        if (kind == "term") {
          ++log.terms_before_start;
        } else {
          log.errors.push_back("end without a start: " + line);
        }
      } else {
        log.runs[it->second].end = t;
        log.runs[it->second].terminated = kind == "term";
        open.erase(it);
      }
    } else {
      log.errors.push_back("unknown line: " + line);
    }
  }
  std::stable_sort(log.runs.begin(), log.runs.end(),
                   [](const SyncRun& a, const SyncRun& b) { return a.start < b.start; });
  return log;
}

bool parse_role_change(const std::string& text, std::string& from, std::string& to) {
  const std::size_t arrow = text.find(" -> ");
  if (arrow == std::string::npos) {
    return false;
  }
  from = text.substr(0, arrow);
  to = text.substr(arrow + 4);
  return is_role_label(from) && is_role_label(to);
}

std::vector<RoleChange> read_role_changes(const std::filesystem::path& log_file) {
  std::vector<RoleChange> out;
  // spdlog's rotating sink: coord.log is the newest, coord.N.log older.
  std::vector<std::filesystem::path> files;
  for (int n = 3; n >= 1; --n) {
    auto rotated = log_file.parent_path() / (log_file.stem().string() + "." + std::to_string(n) +
                                             log_file.extension().string());
    if (std::filesystem::exists(rotated)) {
      files.push_back(rotated);
    }
  }
  files.push_back(log_file);
  for (const auto& file : files) {
    for (const std::string& line : complete_lines(testing::slurp(file))) {
      constexpr const char* marker = " info: role: ";
      const std::size_t at = line.find(marker);
      const std::size_t space = line.find(' ');
      RoleChange change;
      if (at == std::string::npos || space == std::string::npos || space >= at ||
          !parse_role_change(line.substr(at + std::strlen(marker)), change.from, change.to)) {
        continue;
      }
      std::tm tm{};
      const char* rest = ::strptime(line.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
      if (rest == nullptr || *rest != '.') {
        continue;
      }
      tm.tm_isdst = -1;
      change.wall = static_cast<double>(std::mktime(&tm)) + std::atoi(rest + 1) / 1000.0;
      change.host = static_cast<pid_t>(std::atol(line.c_str() + space + 1));
      out.push_back(change);
    }
  }
  return out;
}

std::string logged_role(const std::vector<RoleChange>& changes, pid_t host) {
  std::string role = secondary_role;
  for (const auto& c : changes) {
    if (c.host == host) {
      role = c.to;
    }
  }
  return role;
}

}  // namespace himalaya::chaos
