#include "tests/mail/rawlog.h"

#include <algorithm>
#include <cctype>
#include <fstream>
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

std::vector<RawlogSession> read_rawlog(const std::filesystem::path& dir) {
  std::vector<RawlogSession> sessions;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".in") {
      continue;
    }
    RawlogSession session;
    session.file = entry.path().filename().string();
    std::ifstream in(entry.path());
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
    sessions.push_back(std::move(session));
  }
  std::sort(sessions.begin(), sessions.end(),
            [](const RawlogSession& a, const RawlogSession& b) { return a.first < b.first; });
  return sessions;
}

}  // namespace himalaya::mail
