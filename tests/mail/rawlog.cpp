#include "tests/mail/rawlog.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

namespace himalaya::mail {

std::string mailbox_argument(const std::string& arguments) {
  std::string out;
  if (arguments.empty() || arguments.front() != '"') {
    return arguments.substr(0, arguments.find(' '));
  }
  for (std::size_t i = 1; i < arguments.size() && arguments[i] != '"'; ++i) {
    if (arguments[i] == '\\' && i + 1 < arguments.size()) {
      ++i;
    }
    out += arguments[i];
  }
  return out;
}

namespace {

// "<date>-<time>.<pid>.<n>.in" -> "<pid>"; the whole name if it has no such part.
std::string imap_pid_of(const std::string& file) {
  const std::size_t first = file.find('.');
  const std::size_t second = first == std::string::npos ? first : file.find('.', first + 1);
  return second == std::string::npos ? file : file.substr(first + 1, second - first - 1);
}

}  // namespace

std::vector<RawlogSession> read_rawlog(const std::filesystem::path& dir) {
  std::map<std::string, RawlogSession> by_pid;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".in") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());  // n = 1 before n = 2
  for (const auto& path : files) {
    RawlogSession& session = by_pid[imap_pid_of(path.filename().string())];
    if (session.file.empty()) {
      session.file = path.filename().string();
    }
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      // "<seconds>.<micros> <tag> <COMMAND> <arguments>"
      std::istringstream fields(line);
      double time = 0;
      std::string tag;
      std::string command;
      if (!(fields >> time >> tag >> command)) {
        continue;
      }
      if (session.first == 0) {
        session.first = time;
      }
      std::transform(command.begin(), command.end(), command.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      if (command == "SELECT" || command == "EXAMINE") {
        std::string arguments;
        std::getline(fields >> std::ws, arguments);
        session.opens.push_back(MailboxOpen{time, mailbox_argument(arguments)});
      }
    }
  }
  std::vector<RawlogSession> sessions;
  for (auto& [pid, session] : by_pid) {
    sessions.push_back(std::move(session));
  }
  std::sort(sessions.begin(), sessions.end(),
            [](const RawlogSession& a, const RawlogSession& b) { return a.first < b.first; });
  return sessions;
}

}  // namespace himalaya::mail
