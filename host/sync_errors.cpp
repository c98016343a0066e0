#include "host/sync_errors.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <vector>

namespace himalaya::host {
namespace {

// A quoted line longer than this is cut: a notification is not a log.
constexpr std::size_t max_quoted = 300;

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    std::size_t end = text.find_first_of("\r\n");
    std::string_view line = trim(text.substr(0, end));
    if (!line.empty()) {
      lines.push_back(line);
    }
    if (end == std::string_view::npos) {
      break;
    }
    text.remove_prefix(end + 1);
  }
  return lines;
}

bool contains_nocase(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) ==
                                 std::tolower(static_cast<unsigned char>(b));
                        });
  return it != haystack.end();
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Cuts `s` to max_quoted bytes without splitting a UTF-8 sequence.
std::string clip(std::string_view s) {
  if (s.size() <= max_quoted) {
    return std::string(s);
  }
  std::size_t n = max_quoted;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) {
    --n;
  }
  return std::string(s.substr(0, n)) + "...";
}

std::string_view without_error_prefix(std::string_view line) {
  constexpr std::string_view prefix = "Error: ";
  return starts_with(line, prefix) ? line.substr(prefix.size()) : line;
}

// The text after `marker` in `line`, or "" when `marker` is absent.
std::string_view after(std::string_view line, std::string_view marker) {
  std::size_t at = line.find(marker);
  return at == std::string_view::npos ? std::string_view() : line.substr(at + marker.size());
}

// mbsync 1.4.4: "IMAP command 'LOGIN <user> <pass>' returned an error: NO
// [AUTHENTICATIONFAILED] Authentication failed." (also 'AUTHENTICATE PLAIN
// <authdata>'). Other servers and tools say "LOGIN failed" or "Invalid
// credentials", which Dovecot and Gmail put behind [AUTHENTICATIONFAILED].
bool is_auth_failure(std::string_view line) {
  if ((contains_nocase(line, "command 'LOGIN") || contains_nocase(line, "command 'AUTHENTICATE")) &&
      contains_nocase(line, "returned an error")) {
    return true;
  }
  return contains_nocase(line, "AUTHENTICATIONFAILED") ||
         contains_nocase(line, "authentication failed") || contains_nocase(line, "LOGIN failed");
}

std::string auth_message(std::string_view line) {
  std::string message = "authentication failed (check the user name and password)";
  // Quote only the server's reply: the command part is ours and, with other
  // tools than mbsync, might not be masked.
  std::string_view reply = trim(after(line, "returned an error:"));
  if (!reply.empty()) {
    message += ": " + clip(reply);
  }
  return message;
}

// The message for a known failure in the output, or "" when there is none.
// Each cause is searched across the whole tail, most specific first, because
// mbsync's last line is often a generic summary ("No working address found
// for HOST" follows "Cannot connect to HOST (ADDR): Connection refused").
std::string known_failure(const std::vector<std::string_view>& lines) {
  for (std::string_view line : lines) {
    if (is_auth_failure(line)) {
      return auth_message(line);
    }
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    // isync 1.5: "IMAP error: selected SASL mechanism(s) not available;", then
    // "selected: PLAIN" and "available: EXTERNAL" on lines of their own.
    if (contains_nocase(lines[i], "SASL mechanism(s) not available")) {
      std::string message =
          "the server offers none of the authentication mechanisms allowed (AuthMechs)";
      std::string said;
      for (std::size_t k = i + 1; k < lines.size() && k <= i + 2; ++k) {
        if (starts_with(lines[k], "selected:") || starts_with(lines[k], "available:")) {
          said += (said.empty() ? "" : ", ") + clip(lines[k]);
        }
      }
      return said.empty() ? message : message + ": " + said;
    }
  }
  for (std::string_view line : lines) {
    // "Error: channel :remote:INBOX-:local:INBOX is locked"
    std::string_view rest = without_error_prefix(line);
    if (starts_with(rest, "channel ") && contains_nocase(rest, " is locked")) {
      return "another sync of the same mailboxes is running (" + clip(rest) + ")";
    }
  }
  for (std::string_view line : lines) {
    // "Error: Cannot resolve server 'mail.example.org': Temporary failure in
    // name resolution"
    std::string_view rest = after(line, "Cannot resolve server ");
    if (!rest.empty()) {
      return "cannot resolve the mail server " + clip(rest);
    }
  }
  for (std::string_view line : lines) {
    // "Cannot connect to 127.0.0.1 (127.0.0.1:1143): Connection refused", and
    // the same with "Network is unreachable", "Connection timed out"...
    std::string_view rest = after(line, "Cannot connect to ");
    if (!rest.empty()) {
      return "cannot connect to the mail server " + clip(rest);
    }
  }
  for (std::string_view line : lines) {
    if (contains_nocase(line, "connection refused")) {
      return "cannot connect to the mail server: connection refused (" + clip(line) + ")";
    }
    if (contains_nocase(line, "cannot connect")) {
      return "cannot connect to the mail server (" + clip(line) + ")";
    }
  }
  for (std::string_view line : lines) {
    // "Cannot open config file '/home/u/.mbsyncrc': No such file or directory"
    std::string_view rest = after(line, "Cannot open config file ");
    if (!rest.empty()) {
      return "cannot open the mbsync config file " + clip(rest);
    }
  }
  return {};
}

}  // namespace

std::string last_nonempty_line(std::string_view text) {
  std::vector<std::string_view> lines = split_lines(text);
  return lines.empty() ? std::string() : std::string(lines.back());
}

std::string describe_failure(int exit_status, int signal, std::string_view output_tail) {
  std::vector<std::string_view> lines = split_lines(output_tail);
  if (std::string known = known_failure(lines); !known.empty()) {
    return known;
  }
  std::string message;
  if (signal != 0) {
    const char* name = ::sigabbrev_np(signal);
    message = "sync command was killed by signal " + std::to_string(signal);
    if (name != nullptr) {
      message += std::string(" (SIG") + name + ")";
    }
  } else {
    message = "sync command exited with status " + std::to_string(exit_status);
  }
  if (!lines.empty()) {
    message += ": " + clip(lines.back());
  }
  return message;
}

std::string describe_spawn_failure(std::string_view program, int error_number) {
  std::string name(program);
  switch (error_number) {
    case ENOENT:
    case ENOTDIR:
      return "sync command not found: " + name;
    case EACCES:
      return "sync command is not executable: " + name;
    case ENOEXEC:
      return "sync command is not a valid executable: " + name;
    default:
      return "cannot start the sync command " + name + ": " + std::strerror(error_number);
  }
}

}  // namespace himalaya::host
