#include "mbsync/locate.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/unique_fd.h"

namespace himalaya::mbsync {
namespace {

constexpr off_t max_config_bytes = 1 << 20;

Error file_error(const std::string& path, const std::string& message) {
  return Error{path, 0, message};
}

}  // namespace

std::optional<std::string> config_argument(const std::vector<std::string>& argv) {
  std::optional<std::string> found;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") {
      break;  // the first channel or group name ends the options
    }
    if (arg[1] == '-') {
      if (arg == "--config") {
        if (i + 1 < argv.size()) {
          found = argv[++i];
        }
      } else if (arg.compare(0, 9, "--config=") == 0) {
        found = arg.substr(9);
      }
      continue;
    }
    // A cluster of short options; 'c' takes the next word.
    for (std::size_t k = 1; k < arg.size(); ++k) {
      if (arg[k] == 'c' && i + 1 < argv.size()) {
        found = argv[++i];
        break;
      }
    }
  }
  return found;
}

Location locate(const std::vector<std::string>& argv, const std::string& configured,
                const Environment& env, const std::function<bool(const std::string&)>& exists) {
  if (std::optional<std::string> arg = config_argument(argv)) {
    return Location{expand_tilde(*arg, env), Location::Source::command_line};
  }
  if (!configured.empty()) {
    return Location{expand_tilde(configured, env), Location::Source::configured};
  }
  const std::string xdg =
      (env.xdg_config_home.empty() ? env.home + "/.config" : env.xdg_config_home) + "/isyncrc";
  if (exists(xdg)) {
    return Location{xdg, Location::Source::xdg_default};
  }
  return Location{env.home + "/.mbsyncrc", Location::Source::home_default};
}

Result<std::string> read_file(const std::string& path) {
  common::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    const int error = errno;
    if (error == ENOENT) {
      return file_error(path, "no such file (mbsync reads its configuration from here)");
    }
    return file_error(path, "cannot open: " + common::errno_text(error));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return file_error(path, "cannot stat: " + common::errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return file_error(path, "not a regular file");
  }
  if (st.st_size > max_config_bytes) {
    return file_error(path, "too large for an mbsync configuration (over 1 MiB)");
  }
  std::string text;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return file_error(path, "cannot read: " + common::errno_text(errno));
    }
    if (n == 0) {
      break;
    }
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > static_cast<std::size_t>(max_config_bytes)) {
      return file_error(path, "too large for an mbsync configuration (over 1 MiB)");
    }
  }
  return text;
}

Result<Config> load(const std::string& path, const Environment& env) {
  Result<std::string> text = read_file(path);
  if (!text) {
    return text.error();
  }
  Result<Config> config = parse(text.value(), env);
  if (!config) {
    Error error = config.error();
    error.file = path;
    return error;
  }
  return config;
}

}  // namespace himalaya::mbsync
