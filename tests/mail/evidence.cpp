// What a failing mail test shows of the machine: the mail stack's and the
// fleet's processes, and who holds each TCP connection to the server.
#include "tests/mail/evidence.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

namespace himalaya::mail {

namespace {

// The TCP sockets with `port` at either end, from /proc/net/tcp: inode -> "local remote state".
std::map<std::string, std::string> tcp_sockets_on(int port) {
  std::map<std::string, std::string> out;
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // the header
  char port_hex[8];
  std::snprintf(port_hex, sizeof port_hex, ":%04X", static_cast<unsigned>(port));
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    auto ends_with_port = [&](const std::string& address) {
      return address.size() >= 5 && address.compare(address.size() - 5, 5, port_hex) == 0;
    };
    if (inode != "0" && (ends_with_port(local) || ends_with_port(remote))) {
      out[inode] = local + " -> " + remote + " state " + state;
    }
  }
  return out;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : text) {
    if (c == '\0') {
      c = ' ';
    }
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

std::string stack_snapshot(int port) {
  std::string out = "  processes (pid ppid pgid state: command):\n";
  const std::map<std::string, std::string> sockets = tcp_sockets_on(port);
  std::string holders;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const std::string cmdline = read_text(entry.path() / "cmdline");
    const std::string stat = read_text(entry.path() / "stat");
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) {
      continue;
    }
    std::istringstream rest(stat.substr(paren + 2));
    std::string state, ppid, pgid;
    rest >> state >> ppid >> pgid;
    const std::string comm = stat.substr(stat.find('(') + 1, paren - stat.find('(') - 1);
    static const char* const kinds[] = {"mbsync", "himalaya", "nvim", "dovecot", "imap", "anvil"};
    if (std::any_of(std::begin(kinds), std::end(kinds),
                    [&](const char* kind) { return comm.find(kind) != std::string::npos; })) {
      out += "    " + pid + " " + ppid + " " + pgid + " " + state + ": " + cmdline + "\n";
    }
    for (const auto& fd : std::filesystem::directory_iterator(entry.path() / "fd", ec)) {
      std::error_code link_error;
      const std::string target = std::filesystem::read_symlink(fd.path(), link_error).string();
      if (target.rfind("socket:[", 0) != 0) {
        continue;
      }
      auto socket = sockets.find(target.substr(8, target.size() - 9));
      if (socket != sockets.end()) {
        holders += "    " + socket->second + ": pid " + pid + " (" + comm + ")\n";
      }
    }
  }
  out += "  TCP connections on port " + std::to_string(port) +
         " (hex addresses) and who holds them:\n";
  out += holders.empty() ? "    none\n" : holders;
  return out;
}

}  // namespace himalaya::mail
