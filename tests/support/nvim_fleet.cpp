#include "tests/support/nvim_fleet.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/wait.h"

namespace himalaya::testing {

NvimFleet::~NvimFleet() {
  stop();
}

bool NvimFleet::start(int count, const InitLua& init_lua, std::chrono::milliseconds ready_timeout) {
  const std::size_t first = nvims_.size();
  for (int n = 0; n < count; ++n) {
    add(init_lua);
  }
  for (std::size_t i = first; i < nvims_.size(); ++i) {
    if (!wait_ready(i, ready_timeout)) {
      ADD_FAILURE() << label(i) << ": the host did not become ready";
      return false;
    }
    if (query_host_pid(i) <= 0) {
      ADD_FAILURE() << label(i) << ": no host pid once the host was ready";
      return false;
    }
  }
  return true;
}

std::size_t NvimFleet::add(const InitLua& init_lua) {
  const std::size_t i = homes_.size();
  homes_.push_back(std::make_unique<TestHome>());
  homes_.back()->write_init(init_lua(i));
  nvims_.push_back(std::make_unique<NvimProcess>(*homes_.back(), environment_));
  host_pids_.push_back(-1);
  alive_.push_back(true);
  return i;
}

bool NvimFleet::wait_ready(std::size_t i, std::chrono::milliseconds timeout) {
  // The call itself may take a while longer than wait_ready's own deadline
  // (a just started Neovim, a loaded machine).
  return nvim(i).lua_bool(
      "return require('himalaya_coord').wait_ready(" + std::to_string(timeout.count()) + ")",
      timeout + std::chrono::seconds(10));
}

void NvimFleet::stop() {
  nvims_.clear();  // SIGKILLs each Neovim's process group and reaps it
  for (pid_t host : host_pids_) {
    if (host > 0) {
      EXPECT_TRUE(wait_until([&] { return process_gone(host); }, std::chrono::seconds(5)))
          << "host " << host << " is still running";
    }
  }
  host_pids_.clear();
}

// jobpid() fails ("Invalid channel id") for a host that has just died, before
// the Lua side has seen it exit.
pid_t NvimFleet::query_host_pid(std::size_t i) {
  const auto pid =
      static_cast<pid_t>(nvim(i).lua_int("local i = require('himalaya_coord')._info() "
                                         "if i.job and i.ready then "
                                         "  local ok, pid = pcall(vim.fn.jobpid, i.job) "
                                         "  if ok then return pid end "
                                         "end return -1"));
  if (pid > 0) {
    host_pids_.at(i) = pid;
  }
  return pid;
}

pid_t NvimFleet::refresh_host_pid(std::size_t i, std::chrono::milliseconds timeout) {
  const pid_t old = host_pids_.at(i);
  pid_t pid = -1;
  const bool found = wait_until(
      [&] {
        pid = query_host_pid(i);
        return pid > 0 && pid != old;
      },
      timeout);
  return found ? pid : -1;
}

HostSetup NvimFleet::host_setup(std::size_t i) const {
  HostSetup setup;
  setup.binary = HIMALAYA_HOST_BINARY;
  setup.state_file = state_file();
  setup.log_file = log_file(i);
  setup.lock_file = lock_file();
  return setup;
}

std::string NvimFleet::instance_id(std::size_t i) {
  return nvim(i).lua_string("return require('himalaya_coord').instance_id()");
}

std::string NvimFleet::role(std::size_t i) {
  return nvim(i).lua_string(
      "local s, err = require('himalaya_coord').status(2000) "
      "return s and s.instance and s.instance.role or ('error: ' .. tostring(err))");
}

std::vector<std::string> NvimFleet::status_lines(std::size_t i) {
  return as_strings(nvim(i).lua("return require('himalaya_coord').status_lines(2000)"));
}

std::optional<std::size_t> NvimFleet::primary() {
  std::optional<std::size_t> found;
  int primaries = 0;
  for (std::size_t i = 0; i < size(); ++i) {
    if (alive(i) && role(i) == primary_role) {
      found = i;
      ++primaries;
    }
  }
  return primaries == 1 ? found : std::nullopt;
}

std::string NvimFleet::log_tail(std::size_t i, std::size_t lines) const {
  std::ifstream in(log_file(i));
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) {
    all.push_back(line);
  }
  std::string out;
  for (std::size_t k = all.size() > lines ? all.size() - lines : 0; k < all.size(); ++k) {
    out += all[k] + "\n";
  }
  return out;
}

std::string NvimFleet::log_tails(std::size_t lines) const {
  std::string out;
  for (std::size_t i = 0; i < homes_.size(); ++i) {
    out += "  host log of instance " + std::to_string(i) + ":\n" + log_tail(i, lines);
  }
  return out;
}

}  // namespace himalaya::testing
