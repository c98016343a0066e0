// The chaos test (issue #6, item 2): a fleet of real headless Neovims, each
// with the real host, sharing one state file at scaled intervals, under a
// seeded random schedule of faults:
//
//   kill_nvim   SIGKILL of a Neovim (its host sees EOF and exits)
//   kill_host   SIGKILL of a host alone (the Lua side restarts it; at most
//               host_kill_budget kills per Neovim a minute, under the Lua
//               side's restart limit of 5)
//   stop_short  SIGSTOP of a Neovim and its host, SIGCONT before
//               takeover_threshold
//   stop_long   the same, for longer than takeover_threshold
//   clean_exit  `:qa!`
//   restart     a new Neovim, to keep about M running
//
// Stops overlap with other faults. A third of the host kills and stops aim at
// the instance whose sync has just started.
//
// What is recorded, and how nothing is missed:
// - Syncs: the sync command (tests/chaos/chaos_sync.sh) appends `start`, and
//   `end` or `term` (SIGTERM: its host died or cancelled it) to one sync log,
//   keyed by its pid, with wall times. It also copies the host's own stamp of
//   the start (`last_sync_time`, written before the command is launched).
// - Role changes: every host logs each change of its role ("role: Secondary
//   -> Primary Coordinator") to its log file, flushed at once, so a SIGKILL
//   loses nothing and a SIGSTOP freezes the host's belief with the host. The
//   vim.notify record of the same lines (debug mode) is kept too, but it
//   misses the last changes of a Neovim that is killed or exits, so the host
//   logs are the record; at every check the last logged role of each host
//   must equal the role it reports.
//
// Invariants:
// (a) no two syncs overlap: each start comes after every earlier run's end;
// (b) sync starts are at least sync_cooldown apart, on the hosts' own stamps
//     (exact in JSON); 1 ms is allowed for the host reading its wall and boot
//     clocks separately (coordinator/schedule.h, SyncClock). A sync started
//     while its host was Uncoordinated has no stamp of its own; its start
//     line is used instead (see check_records());
// (c) after every quiet stretch of one takeover_threshold (no fault, every
//     process running, every host up), exactly one instance reports itself
//     primary, and it is the state file's primary.instance_id (read before
//     and after the roles). Checked every few seconds and at the end.
//
// A stop often freezes a host while it holds the state file's lock (each host
// writes the file every heartbeat). The others then wait for the lock, 1.5 s
// at a time, and turn Uncoordinated (SPEC §5) until the stopped host resumes;
// the test counts the warnings they show, and keeps resuming stopped
// instances on time while it waits for anything.
//
// Environment: CHAOS_SEED (the schedule's seed; printed), CHAOS_SECONDS
// (default 60), CHAOS_INSTANCES (M, default 4), CHAOS_VERBOSE=1 (print the
// event log even when everything holds).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/clock.h"
#include "tests/support/files.h"
#include "tests/support/host_setup.h"
#include "tests/support/nvim_process.h"

namespace himalaya::chaos {
namespace {

using testing::lua_number;
using testing::lua_quote;
using testing::mono_now;
using testing::NvimProcess;
using testing::process_gone;
using testing::TestHome;
using testing::wait_until;
using testing::wall_now;
using namespace std::chrono_literals;

constexpr const char* primary_role = "Primary Coordinator";
constexpr const char* secondary_role = "Secondary";

// Scaled durations, with margins for a loaded 2-core machine and an ASan host.
struct Timing {
  double interval = 1.2;
  double sync_cooldown = 0.9;
  double heartbeat_interval = 0.1;
  double takeover_threshold = 0.6;
  double startup_delay = 0.3;
  // The host's sync timeout. The coordinator treats a running_sync record as
  // over after timeout + 1.5 s + takeover_threshold, which bounds how long a
  // frozen syncer can hold the fleet back.
  double sync_timeout = 3;
};

// The Lua side allows 5 restarts a minute; stay well under it.
constexpr int host_kill_budget = 3;
constexpr double host_kill_window = 60;

struct Settings {
  std::uint64_t seed = 0;
  double seconds = 60;
  int instances = 4;
  bool verbose = false;
};

Settings settings_from_env() {
  Settings s;
  if (const char* seed = std::getenv("CHAOS_SEED")) {
    s.seed = std::stoull(seed);
  } else {
    s.seed = (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  }
  if (const char* seconds = std::getenv("CHAOS_SECONDS")) {
    s.seconds = std::stod(seconds);
  }
  if (const char* instances = std::getenv("CHAOS_INSTANCES")) {
    s.instances = std::max(2, std::stoi(instances));
  }
  const char* verbose = std::getenv("CHAOS_VERBOSE");
  s.verbose = verbose != nullptr && std::string(verbose) == "1";
  return s;
}

void sleep_for_seconds(double seconds) {
  if (seconds > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }
}

// Complete lines only: a line still being written has no newline yet.
std::vector<std::string> complete_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  for (std::size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', pos)) {
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

std::string fixed(double value, int decimals = 3) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// /proc/<pid>/stat: the parent pid and whether it is a zombie. nullopt if gone.
struct ProcStat {
  pid_t ppid = 0;
  char state = '?';
  std::string comm;
};
std::optional<ProcStat> proc_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) {
    return std::nullopt;
  }
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= text.size()) {
    return std::nullopt;
  }
  ProcStat st;
  st.comm = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  rest >> st.state >> st.ppid;
  return st;
}

// The hosts a Neovim has started: its live children named himalaya-coord.
std::vector<pid_t> hosts_of(pid_t nvim) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) {
      continue;
    }
    pid_t pid = static_cast<pid_t>(std::stol(name));
    auto st = proc_stat(pid);
    if (st && st->ppid == nvim && st->state != 'Z' && st->comm == "himalaya-coord") {
      out.push_back(pid);
    }
  }
  return out;
}

// A process held by a pidfd (pidfd_open(2)), which can be signalled without
// any risk of hitting a recycled pid. Opened while `pid` is a known child.
class PidFd {
 public:
  explicit PidFd(pid_t pid) : fd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U))) {}
  PidFd(PidFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  PidFd& operator=(PidFd&&) = delete;
  PidFd(const PidFd&) = delete;
  PidFd& operator=(const PidFd&) = delete;
  ~PidFd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  void signal(int sig) const {
    if (fd_ >= 0) {
      ::syscall(SYS_pidfd_send_signal, fd_, sig, nullptr, 0U);
    }
  }

 private:
  int fd_ = -1;
};

// Signals `host` only while it is still the live child of `nvim`, so that a
// recycled pid is never hit.
void signal_host(pid_t nvim, pid_t host, int sig) {
  if (host <= 0) {
    return;
  }
  auto st = proc_stat(host);
  if (st && st->ppid == nvim && st->state != 'Z') {
    ::kill(host, sig);
  }
}

std::optional<std::string> file_primary(const std::filesystem::path& state_file) {
  std::ifstream in(state_file);
  if (!in) {
    return std::nullopt;
  }
  nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
  if (state.is_discarded() || !state.is_object()) {
    return std::nullopt;
  }
  auto p = state.find("primary");
  if (p == state.end() || !p->is_object() || !p->contains("instance_id") ||
      !(*p)["instance_id"].is_string()) {
    return std::string();
  }
  return (*p)["instance_id"].get<std::string>();
}

// --- Records -----------------------------------------------------------------

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

// One logged change of a host's role.
struct RoleChange {
  double wall = 0;  // from the log's local time, to the millisecond
  pid_t host = 0;
  std::string from;
  std::string to;
};

bool is_role_label(const std::string& text) {
  return text == primary_role || text == secondary_role || text == "Uncoordinated";
}

// "<from> -> <to>" with two role labels; std::regex is avoided (GCC 12 warns
// inside it under -O2 with ASan).
bool parse_role_change(const std::string& text, std::string& from, std::string& to) {
  const std::size_t arrow = text.find(" -> ");
  if (arrow == std::string::npos) {
    return false;
  }
  from = text.substr(0, arrow);
  to = text.substr(arrow + 4);
  return is_role_label(from) && is_role_label(to);
}

// The host log pattern is "%Y-%m-%dT%H:%M:%S.%e %P %l: %v", in local time.
// The hosts get no TZ (the harness passes none) and the test unsets its own,
// so both use /etc/localtime.
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

// What a host last logged as its role (a host starts as Secondary).
std::string logged_role(const std::vector<RoleChange>& changes, pid_t host) {
  std::string role = secondary_role;
  for (const auto& c : changes) {
    if (c.host == host) {
      role = c.to;
    }
  }
  return role;
}

// --- The fleet ---------------------------------------------------------------

struct Instance {
  Instance() = default;
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
  ~Instance() {
    if (stopped && nvim) {  // never leave a frozen host behind
      signal_host(nvim->pid(), host_pid, SIGCONT);
      nvim->kill(SIGCONT);
    }
  }

  int number = 0;
  std::unique_ptr<TestHome> home;  // declared first: destroyed after the Neovim
  std::unique_ptr<NvimProcess> nvim;
  std::string id;
  pid_t host_pid = -1;
  double sync_seconds = 0;
  bool stopped = false;
  double stopped_at = 0;         // mono
  double resume_at = 0;          // mono
  bool restart_pending = false;  // its host was killed; the Lua side restarts it
  pid_t killed_host = -1;
  double host_killed_at = 0;  // mono
  std::deque<double> host_kills;

  std::string label() const { return "nvim" + std::to_string(number); }
  std::filesystem::path notes_file() const { return home->dir / "notes.log"; }
  bool running() const { return !stopped; }
};

enum class Fault { kill_nvim, kill_host, stop_short, stop_long, clean_exit, restart };
constexpr Fault all_faults[] = {Fault::kill_nvim, Fault::kill_host,  Fault::stop_short,
                                Fault::stop_long, Fault::clean_exit, Fault::restart};
const char* fault_name(Fault f) {
  switch (f) {
    case Fault::kill_nvim:
      return "SIGKILL Neovim";
    case Fault::kill_host:
      return "SIGKILL host alone";
    case Fault::stop_short:
      return "SIGSTOP < takeover_threshold";
    case Fault::stop_long:
      return "SIGSTOP > takeover_threshold";
    case Fault::clean_exit:
      return "clean exit (:qa!)";
    case Fault::restart:
      return "restart (new Neovim)";
  }
  return "?";
}

class Chaos {
 public:
  Chaos(Settings settings, Timing timing)
      : settings_(settings), timing_(timing), rng_(settings.seed) {
    ::unsetenv("TZ");
    ::tzset();
    origin_wall_ = wall_now();
  }
  ~Chaos() {
    live_.clear();
    retired_.clear();
  }

  void run();

 private:
  // --- helpers ---
  double uniform(double lo, double hi) { return std::uniform_real_distribution<>(lo, hi)(rng_); }
  bool chance(double p) { return uniform(0, 1) < p; }
  template <typename T>
  T& pick(std::vector<T>& items) {
    return items[std::uniform_int_distribution<std::size_t>(0, items.size() - 1)(rng_)];
  }
  std::string when() const { return fixed(wall_now() - origin_wall_); }
  void event(const std::string& text) {
    events_.push_back(when() + "  " + text);
    if (settings_.verbose) {
      std::printf("[chaos] %s\n", events_.back().c_str());
      std::fflush(stdout);
    }
  }
  void violation(const std::string& text) {
    violations_.push_back(when() + "  " + text);
    event("VIOLATION: " + text);
  }

  std::filesystem::path sync_log() const { return shared_.dir / "sync.log"; }
  std::filesystem::path state_file() const { return shared_.dir / "state/sync_coordinator.json"; }
  std::string init_lua(const Instance& inst) const;

  // --- fleet operations ---
  Instance* start_instance();
  void retire(std::size_t index);
  std::size_t index_of(const Instance* inst) const;
  pid_t query_host_pid(Instance& inst);
  void wait_hosts_gone(const std::vector<pid_t>& hosts, const std::string& what);
  void resume(Instance& inst);
  void resume_due();
  void poll_restarts();
  void wait_restarts();
  void idle_until(double mono);

  // --- faults ---
  bool inject(Fault fault);
  std::vector<Instance*> eligible(Fault fault);
  Instance* aim_at_new_sync(Fault fault);
  Instance* primary_instance();
  void kill_nvim(Instance& inst);
  void kill_host(Instance& inst);
  void stop(Instance& inst, double seconds, Fault kind);
  void clean_exit(Instance& inst);

  // --- checks ---
  void checkpoint(const std::string& why);
  void shut_down();
  void check_records();

  Settings settings_;
  Timing timing_;
  std::mt19937_64 rng_;
  double origin_wall_ = 0;
  TestHome shared_;  // declared before the instances: removed after them
  std::vector<std::unique_ptr<Instance>> live_;
  std::vector<std::unique_ptr<Instance>> retired_;
  int next_number_ = 1;

  std::map<Fault, int> injected_;
  int aimed_ = 0;
  int checkpoints_ = 0;
  int record_mismatches_ = 0;
  int unexpected_host_exits_ = 0;
  double longest_host_exit_ = 0;
  std::vector<std::string> events_;
  std::vector<std::string> violations_;
};

std::string Chaos::init_lua(const Instance& inst) const {
  const std::string script = std::string(HIMALAYA_SOURCE_DIR) + "/tests/chaos/chaos_sync.sh";
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", inst.sync_seconds);
  testing::HostSetup setup;
  setup.binary = HIMALAYA_HOST_BINARY;
  setup.debug = true;
  setup.state_file = state_file();
  setup.log_file = inst.home->log_file();
  setup.auto_sync = true;
  setup.interval = timing_.interval;
  setup.startup_delay = timing_.startup_delay;
  setup.command = "{'/bin/bash', " + lua_quote(script) + ", " + lua_quote(sync_log().string()) +
                  ", " + lua_quote(state_file().string()) + ", " + lua_quote(inst.label()) + ", " +
                  lua_quote(seconds) + "}";
  setup.timeout = timing_.sync_timeout;
  setup.lock_file = shared_.dir / "mbsync.lock";
  setup.heartbeat_interval = timing_.heartbeat_interval;
  setup.takeover_threshold = timing_.takeover_threshold;
  setup.sync_cooldown = timing_.sync_cooldown;
  std::ostringstream lua;
  lua << "local notes_path = " << lua_quote(inst.notes_file().string()) << "\n"
      << "vim.notify = function(msg, level)\n"
         "  local s, us = vim.loop.gettimeofday()\n"
         "  local f = io.open(notes_path, 'a')\n"
         "  if f then\n"
         "    f:write(string.format('%d.%06d %s %s\\n', s, us, tostring(level),\n"
         "      (tostring(msg):gsub('\\n', ' '))))\n"
         "    f:close()\n"
         "  end\n"
         "end\n"
      << testing::setup_lua(setup);
  return lua.str();
}

Instance* Chaos::start_instance() {
  auto inst = std::make_unique<Instance>();
  inst->number = next_number_++;
  inst->home = std::make_unique<TestHome>();
  // Most syncs are short; some outlast the cooldown and even the interval.
  inst->sync_seconds = chance(0.25) ? uniform(1.0, 1.4) : uniform(0.05, 0.4);
  inst->home->write_init(init_lua(*inst));
  inst->nvim = std::make_unique<NvimProcess>(*inst->home);
  // Waited for in short steps, so that stopped instances resume on time: a
  // host frozen while it holds the state file's lock delays every other
  // host's start (each waits for the lock, up to 1.5 s at a time).
  bool ready = false;
  const double deadline = mono_now() + 20;
  while (!ready && mono_now() < deadline) {
    ready = inst->nvim->lua_bool("return require('himalaya_coord').wait_ready(50)");
    resume_due();
  }
  if (!ready) {
    ADD_FAILURE() << inst->label() << ": the host did not become ready";
    retired_.push_back(std::move(inst));
    return nullptr;
  }
  inst->id = inst->nvim->lua_string("return require('himalaya_coord').instance_id()");
  inst->host_pid = query_host_pid(*inst);
  event("started " + inst->label() + " (" + inst->id + ", host " + std::to_string(inst->host_pid) +
        ", syncs take " + fixed(inst->sync_seconds, 2) + " s)");
  live_.push_back(std::move(inst));
  return live_.back().get();
}

void Chaos::retire(std::size_t index) {
  retired_.push_back(std::move(live_.at(index)));
  live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(index));
}

std::size_t Chaos::index_of(const Instance* inst) const {
  for (std::size_t i = 0; i < live_.size(); ++i) {
    if (live_[i].get() == inst) {
      return i;
    }
  }
  return live_.size();
}

// The current host's pid once it is ready; -1 while there is none (or it has
// just died: jobpid() then fails with "Invalid channel id").
pid_t Chaos::query_host_pid(Instance& inst) {
  return static_cast<pid_t>(
      inst.nvim->lua_int("local i = require('himalaya_coord')._info() "
                         "if i.job and i.ready then "
                         "  local ok, pid = pcall(vim.fn.jobpid, i.job) "
                         "  if ok then return pid end "
                         "end return -1"));
}

// SPEC §8: a host exits within a second of its channel closing. Under load and
// ASan that second stretches; 10 s is the bound asserted, and the longest
// time seen is printed.
void Chaos::wait_hosts_gone(const std::vector<pid_t>& hosts, const std::string& what) {
  const double started = mono_now();
  for (pid_t host : hosts) {
    EXPECT_TRUE(wait_until([&] { return process_gone(host); }, 10s))
        << what << ": host " << host << " still runs 10 s later";
  }
  longest_host_exit_ = std::max(longest_host_exit_, mono_now() - started);
}

void Chaos::resume(Instance& inst) {
  signal_host(inst.nvim->pid(), inst.host_pid, SIGCONT);
  inst.nvim->kill(SIGCONT);
  inst.stopped = false;
  event("SIGCONT " + inst.label() + " after " + fixed(mono_now() - inst.stopped_at) + " s");
}

void Chaos::resume_due() {
  for (auto& inst : live_) {
    if (inst->stopped && mono_now() >= inst->resume_at) {
      resume(*inst);
    }
  }
}

// A killed host is back once the Neovim reports a ready host with a new pid.
void Chaos::poll_restarts() {
  for (std::size_t i = 0; i < live_.size(); ++i) {
    Instance& inst = *live_[i];
    if (!inst.restart_pending || inst.stopped) {
      continue;
    }
    pid_t pid = query_host_pid(inst);
    if (pid > 0 && pid != inst.killed_host) {
      inst.host_pid = pid;
      inst.restart_pending = false;
      event(inst.label() + ": host restarted as " + std::to_string(pid) + " after " +
            fixed(mono_now() - inst.host_killed_at) + " s");
    } else if (mono_now() - inst.host_killed_at > 20) {
      ADD_FAILURE() << inst.label() << ": the Lua side did not restart the host within 20 s";
      violation(inst.label() + ": host not restarted within 20 s");
      kill_nvim(inst);
      --i;
    }
  }
}

void Chaos::wait_restarts() {
  auto pending = [&] {
    return std::any_of(live_.begin(), live_.end(),
                       [](const auto& inst) { return inst->restart_pending; });
  };
  while (pending()) {
    poll_restarts();
    if (pending()) {
      std::this_thread::sleep_for(20ms);
    }
  }
}

// Waits until `until`, resuming stopped instances on time.
void Chaos::idle_until(double until) {
  while (true) {
    resume_due();
    double now = mono_now();
    if (now >= until) {
      return;
    }
    double next = until;
    for (const auto& inst : live_) {
      if (inst->stopped) {
        next = std::min(next, inst->resume_at);
      }
    }
    sleep_for_seconds(next - now);
  }
}

Instance* Chaos::primary_instance() {
  auto id = file_primary(state_file());
  if (!id) {
    return nullptr;
  }
  for (auto& inst : live_) {
    if (inst->id == *id) {
      return inst.get();
    }
  }
  return nullptr;
}

std::vector<Instance*> Chaos::eligible(Fault fault) {
  std::vector<Instance*> out;
  const auto stopped =
      std::count_if(live_.begin(), live_.end(), [](const auto& inst) { return inst->stopped; });
  const auto running = static_cast<long>(live_.size()) - stopped;
  for (auto& p : live_) {
    Instance& inst = *p;
    bool ok = false;
    switch (fault) {
      case Fault::kill_nvim:
        ok = live_.size() >= 2;
        break;
      case Fault::kill_host: {
        while (!inst.host_kills.empty() &&
               mono_now() - inst.host_kills.front() > host_kill_window) {
          inst.host_kills.pop_front();
        }
        ok = inst.running() && !inst.restart_pending &&
             static_cast<int>(inst.host_kills.size()) < host_kill_budget;
        break;
      }
      case Fault::stop_short:
      case Fault::stop_long:
        ok = inst.running() && !inst.restart_pending && running >= 2;
        break;
      case Fault::clean_exit:
        ok = inst.running() && live_.size() >= 2;
        break;
      case Fault::restart:
        break;
    }
    if (ok) {
      out.push_back(&inst);
    }
  }
  return out;
}

// Waits (at most two intervals) for the next sync to start, and returns the
// instance that started it if it is still eligible for `fault`.
Instance* Chaos::aim_at_new_sync(Fault fault) {
  std::string label;
  std::size_t seen = testing::slurp(sync_log()).rfind('\n');
  seen = seen == std::string::npos ? 0 : seen + 1;
  const double deadline = mono_now() + 2 * timing_.interval;
  while (label.empty() && mono_now() < deadline) {
    std::string text = testing::slurp(sync_log());
    if (text.size() > seen) {
      std::size_t last_newline = text.rfind('\n');
      if (last_newline != std::string::npos && last_newline + 1 > seen) {
        for (const std::string& line : complete_lines(text.substr(seen, last_newline + 1 - seen))) {
          std::istringstream in(line);
          std::string kind;
          std::string pid;
          std::string who;
          if (in >> kind >> pid >> who && kind == "start") {
            label = who;
          }
        }
        seen = last_newline + 1;
      }
    }
    if (label.empty()) {
      resume_due();
      std::this_thread::sleep_for(3ms);
    }
  }
  for (Instance* inst : eligible(fault)) {
    if (inst->label() == label) {
      return inst;
    }
  }
  return nullptr;
}

void Chaos::kill_nvim(Instance& inst) {
  const std::vector<pid_t> hosts = hosts_of(inst.nvim->pid());
  // Once Neovim is dead its hosts are no longer its children, so they are
  // held by pidfd to be signalled safely.
  std::vector<PidFd> handles;
  for (pid_t host : hosts) {
    handles.emplace_back(host);
  }
  event("SIGKILL " + inst.label() + (inst.stopped ? " (stopped)" : ""));
  inst.nvim->kill(SIGKILL);
  if (inst.stopped) {
    // A frozen host cannot see its channel close; let it.
    for (const PidFd& host : handles) {
      host.signal(SIGCONT);
    }
    inst.stopped = false;
  }
  EXPECT_TRUE(inst.nvim->wait_exit(10s)) << inst.label() << " did not die of SIGKILL";
  wait_hosts_gone(hosts, inst.label() + " killed");
  retire(index_of(&inst));
}

void Chaos::kill_host(Instance& inst) {
  event("SIGKILL host " + std::to_string(inst.host_pid) + " of " + inst.label());
  signal_host(inst.nvim->pid(), inst.host_pid, SIGKILL);
  inst.killed_host = inst.host_pid;
  inst.host_killed_at = mono_now();
  inst.host_kills.push_back(mono_now());
  inst.restart_pending = true;
  const pid_t host = inst.host_pid;
  EXPECT_TRUE(wait_until([&] { return process_gone(host); }, 5s)) << "host " << host;
}

void Chaos::stop(Instance& inst, double seconds, Fault kind) {
  event("SIGSTOP " + inst.label() + " for " + fixed(seconds) + " s (" + fault_name(kind) + ")");
  signal_host(inst.nvim->pid(), inst.host_pid, SIGSTOP);
  inst.nvim->kill(SIGSTOP);
  inst.stopped = true;
  inst.stopped_at = mono_now();
  inst.resume_at = inst.stopped_at + seconds;
}

void Chaos::clean_exit(Instance& inst) {
  const std::vector<pid_t> hosts = hosts_of(inst.nvim->pid());
  event(":qa! in " + inst.label());
  inst.nvim->command_no_wait("qa!");
  EXPECT_TRUE(inst.nvim->wait_exit(10s)) << inst.label() << " did not exit on :qa!";
  wait_hosts_gone(hosts, inst.label() + " exited");
  retire(index_of(&inst));
}

bool Chaos::inject(Fault fault) {
  if (fault == Fault::restart) {
    if (start_instance() == nullptr) {
      return false;
    }
    ++injected_[fault];
    return true;
  }
  Instance* target = nullptr;
  const bool aim =
      (fault == Fault::kill_host || fault == Fault::stop_short || fault == Fault::stop_long) &&
      chance(1.0 / 3);
  if (aim) {
    target = aim_at_new_sync(fault);
    if (target != nullptr) {
      ++aimed_;
      sleep_for_seconds(uniform(0, 0.12));  // into the sync
      resume_due();
      if (index_of(target) == live_.size() || !target->running()) {
        target = nullptr;
      }
    }
  }
  if (target == nullptr) {
    std::vector<Instance*> candidates = eligible(fault);
    if (candidates.empty()) {
      return false;
    }
    Instance* primary = primary_instance();
    const bool primary_ok = primary != nullptr && std::find(candidates.begin(), candidates.end(),
                                                            primary) != candidates.end();
    target = primary_ok && chance(0.5) ? primary : pick(candidates);
  }
  switch (fault) {
    case Fault::kill_nvim:
      kill_nvim(*target);
      break;
    case Fault::kill_host:
      kill_host(*target);
      break;
    case Fault::stop_short:
      stop(*target, uniform(0.05, 0.5 * timing_.takeover_threshold), fault);
      break;
    case Fault::stop_long:
      stop(*target, uniform(1.5, 4) * timing_.takeover_threshold, fault);
      break;
    case Fault::clean_exit:
      clean_exit(*target);
      break;
    case Fault::restart:
      break;
  }
  ++injected_[fault];
  return true;
}

// Invariant (c), after a quiet stretch of one takeover_threshold.
void Chaos::checkpoint(const std::string& why) {
  for (auto& inst : live_) {
    if (inst->stopped) {
      resume(*inst);
    }
  }
  wait_restarts();
  // A host that the test did not kill must still be the one it knows.
  for (auto& inst : live_) {
    const pid_t pid = query_host_pid(*inst);
    if (pid != inst->host_pid) {
      ++unexpected_host_exits_;
      violation(inst->label() + ": host " + std::to_string(inst->host_pid) + " was replaced by " +
                std::to_string(pid) + " without being killed");
      inst->host_pid = pid;
    }
  }
  while (live_.size() < static_cast<std::size_t>(settings_.instances)) {
    if (!inject(Fault::restart)) {
      return;
    }
  }
  event("quiet for " + fixed(timing_.takeover_threshold) + " s (" + why + ")");
  sleep_for_seconds(timing_.takeover_threshold);

  ++checkpoints_;
  const auto before = file_primary(state_file());
  std::vector<std::string> roles;
  std::vector<pid_t> hosts;
  for (auto& inst : live_) {
    roles.push_back(inst->nvim->lua_string(
        "local s, err = require('himalaya_coord').status(3000) "
        "return s and s.instance and s.instance.role or ('error: ' .. tostring(err))",
        15s));
    hosts.push_back(inst->host_pid);
  }
  const auto after = file_primary(state_file());

  std::string summary;
  int primaries = 0;
  std::string primary_id;
  for (std::size_t i = 0; i < live_.size(); ++i) {
    summary += " " + live_[i]->label() + "=" + roles[i];
    if (roles[i] == primary_role) {
      ++primaries;
      primary_id = live_[i]->id;
    }
    // The record must not have missed a change: the host's last logged role
    // is the role it reports.
    const std::string logged = logged_role(read_role_changes(live_[i]->home->log_file()), hosts[i]);
    if (logged != roles[i]) {
      ++record_mismatches_;
      violation(live_[i]->label() + " reports '" + roles[i] + "' but its host " +
                std::to_string(hosts[i]) + " last logged '" + logged + "'");
    }
  }
  summary += "; file: " + (before ? "'" + *before + "'" : std::string("unreadable"));
  event("check:" + summary);
  if (primaries != 1) {
    violation("(c) " + std::to_string(primaries) + " primaries after a quiet stretch:" + summary);
  } else if (!before || !after || *before != primary_id || *after != primary_id) {
    violation("(c) the primary " + primary_id + " is not the file's (before '" +
              before.value_or("?") + "', after '" + after.value_or("?") + "')");
  }
}

void Chaos::shut_down() {
  while (!live_.empty()) {
    clean_exit(*live_.back());
  }
}

// Invariants (a) and (b), on the complete sync log.
void Chaos::check_records() {
  // The hosts are gone; a sync they sent SIGTERM may still be writing its line.
  SyncLog log;
  wait_until(
      [&] {
        log = read_sync_log(sync_log());
        return std::all_of(log.runs.begin(), log.runs.end(),
                           [](const SyncRun& r) { return r.end.has_value(); });
      },
      5s);
  for (const auto& e : log.errors) {
    violation("sync log: " + e);
  }
  double busy_until = 0;
  std::string busy_by;
  double last_stamp = 0;
  int unrecorded = 0;
  int terminated = 0;
  double longest_gap = 0;
  std::string longest_gap_at;
  for (const SyncRun& run : log.runs) {
    const std::string name =
        run.label + "/" + std::to_string(run.pid) + " at " + fixed(run.start - origin_wall_);
    if (!run.end) {
      violation("(a) sync " + name + " never recorded an end");
    }
    if (run.start < busy_until) {
      violation("(a) sync " + name + " started " + fixed((busy_until - run.start) * 1000, 1) +
                " ms before " + busy_by + " ended");
    }
    if (run.end && *run.end > busy_until) {
      busy_until = *run.end;
      busy_by = name;
    }
    terminated += run.terminated ? 1 : 0;
    // The start as the host stamped it. A sync started while its host was
    // Uncoordinated (the state file's lock unavailable, SPEC §5) is not
    // recorded: it finds the previous run's stamp, or none. Its own start
    // line stands in for it; that reading comes after the host's decision,
    // by the command's launch, so it can only make such a gap look longer.
    double stamp = run.start;
    if (run.recorded && *run.recorded > run.start) {
      violation("(b) sync " + name + " found a later start recorded (" +
                fixed(*run.recorded - origin_wall_) + ")");
    } else if (run.recorded && (last_stamp == 0 || *run.recorded > last_stamp)) {
      stamp = *run.recorded;
    } else {
      ++unrecorded;
      event("sync " + name + " was not recorded in the state file");
    }
    if (last_stamp > 0) {
      const double gap = stamp - last_stamp;
      if (gap < timing_.sync_cooldown - 0.001) {
        violation("(b) sync " + name + " started " + fixed(gap) + " s after the previous one");
      }
      if (gap > longest_gap) {
        longest_gap = gap;
        longest_gap_at = name;
      }
    }
    last_stamp = stamp;
  }

  int role_changes = 0;
  int notified_role_changes = 0;
  std::vector<std::string> warnings;
  const std::string role_note = "himalaya-coord: role: ";
  for (const auto* group : {&retired_, &live_}) {
    for (const auto& inst : *group) {
      role_changes += static_cast<int>(read_role_changes(inst->home->log_file()).size());
      for (const std::string& line : complete_lines(testing::slurp(inst->notes_file()))) {
        std::istringstream in(line);
        std::string time;
        std::string level;
        in >> time >> level;
        std::string message;
        std::getline(in, message);
        const std::size_t at = message.find(role_note);
        std::string from;
        std::string to;
        if (at != std::string::npos &&
            parse_role_change(message.substr(at + role_note.size()), from, to)) {
          ++notified_role_changes;
        }
        if (level != "1" && level != "2") {
          warnings.push_back(inst->label() + " [" + level + "]" + message);
        }
      }
    }
  }

  std::printf("\n=== chaos: seed %llu, %.0f s, M = %d ===\n",
              static_cast<unsigned long long>(settings_.seed), settings_.seconds,
              settings_.instances);
  std::printf(
      "timing: interval %g s, sync_cooldown %g s, heartbeat %g s, takeover_threshold %g s, sync "
      "timeout %g s\n",
      timing_.interval, timing_.sync_cooldown, timing_.heartbeat_interval,
      timing_.takeover_threshold, timing_.sync_timeout);
  int total = 0;
  for (Fault f : all_faults) {
    std::printf("faults: %-30s %d\n", fault_name(f), injected_[f]);
    total += injected_[f];
  }
  std::printf("faults: %-30s %d (%d aimed at a sync just started)\n", "total", total, aimed_);
  std::printf(
      "syncs: %zu (%d stopped by SIGTERM, %d stopped before their start line, %d not recorded "
      "in the state file)\n",
      log.runs.size(), terminated, log.terms_before_start, unrecorded);
  std::printf("longest gap between sync starts: %.3f s (before %s)\n", longest_gap,
              longest_gap_at.c_str());
  std::printf("role changes: %d logged by hosts, %d shown by Neovims (debug notifications)\n",
              role_changes, notified_role_changes);
  std::printf("quiet-stretch checks: %d; longest host exit after its Neovim: %.3f s\n",
              checkpoints_, longest_host_exit_);
  std::printf("hosts replaced without being killed: %d\n", unexpected_host_exits_);
  std::printf("warnings shown to users: %zu\n", warnings.size());
  for (std::size_t i = 0; i < warnings.size() && i < 20; ++i) {
    std::printf("  %s\n", warnings[i].c_str());
  }
  std::printf("invariant violations: %zu\n", violations_.size());
  for (const auto& v : violations_) {
    std::printf("  %s\n", v.c_str());
  }
  if (!violations_.empty() || settings_.verbose || ::testing::Test::HasFailure()) {
    std::printf("events (seconds since the start):\n");
    for (const auto& e : events_) {
      std::printf("  %s\n", e.c_str());
    }
    std::printf("syncs (label/pid start .. end):\n");
    for (const SyncRun& run : log.runs) {
      std::printf("  %s/%d %s .. %s%s (host stamp %s)\n", run.label.c_str(), run.pid,
                  fixed(run.start - origin_wall_).c_str(),
                  run.end ? fixed(*run.end - origin_wall_).c_str() : "?",
                  run.terminated ? " term" : "",
                  run.recorded ? fixed(*run.recorded - origin_wall_).c_str() : "none");
    }
  }
  std::fflush(stdout);
  EXPECT_TRUE(violations_.empty()) << violations_.size() << " invariant violations (listed above)";
  EXPECT_GT(log.runs.size(), 0u) << "no sync ran at all";
  EXPECT_EQ(record_mismatches_, 0);
}

void Chaos::run() {
  std::printf("chaos seed: %llu (rerun with CHAOS_SEED=%llu), %.0f s, M = %d\n",
              static_cast<unsigned long long>(settings_.seed),
              static_cast<unsigned long long>(settings_.seed), settings_.seconds,
              settings_.instances);
  std::fflush(stdout);
  for (int i = 0; i < settings_.instances; ++i) {
    if (start_instance() == nullptr) {
      return;
    }
  }
  const double end = mono_now() + settings_.seconds;
  double next_check = mono_now() + uniform(3, 8);
  const std::vector<std::pair<Fault, double>> weights{{Fault::kill_nvim, 2},
                                                      {Fault::kill_host, 2},
                                                      {Fault::stop_short, 3},
                                                      {Fault::stop_long, 2.5},
                                                      {Fault::clean_exit, 1.5}};
  while (mono_now() < end && !::testing::Test::HasFatalFailure()) {
    resume_due();
    poll_restarts();
    if (mono_now() >= next_check) {
      checkpoint("scheduled");
      next_check = mono_now() + uniform(3, 8);
      continue;
    }
    const auto count = static_cast<int>(live_.size());
    if (count < settings_.instances - 1 || (count < settings_.instances && chance(0.5)) ||
        (count == settings_.instances && chance(0.03))) {
      inject(Fault::restart);
    } else {
      double sum = 0;
      for (const auto& w : weights) {
        sum += w.second;
      }
      double r = uniform(0, sum);
      Fault fault = weights.back().first;
      for (const auto& w : weights) {
        if (r < w.second) {
          fault = w.first;
          break;
        }
        r -= w.second;
      }
      inject(fault);
    }
    // Pauses between faults: some none at all, most short, some long.
    const double p = uniform(0, 1);
    const double pause = p < 0.1 ? 0 : p < 0.7 ? uniform(0.05, 0.5) : uniform(0.5, 1.5);
    idle_until(mono_now() + pause);
  }
  checkpoint("final");
  shut_down();
  check_records();
}

TEST(Chaos, RandomFaultsKeepTheInvariants) {
  Chaos chaos(settings_from_env(), Timing{});
  chaos.run();
}

}  // namespace
}  // namespace himalaya::chaos
