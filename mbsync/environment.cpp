#include "mbsync/environment.h"

#include <pwd.h>

#include <cstdlib>

namespace himalaya::mbsync {

Environment process_environment() {
  Environment env;
  if (const char* home = std::getenv("HOME")) {
    env.home = home;
  }
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME")) {
    env.xdg_config_home = xdg;
  }
  env.home_of = [](const std::string& user) -> std::optional<std::string> {
    const struct passwd* pw = ::getpwnam(user.c_str());
    if (pw == nullptr || pw->pw_dir == nullptr) {
      return std::nullopt;
    }
    return std::string(pw->pw_dir);
  };
  return env;
}

std::string expand_tilde(const std::string& path, const Environment& env) {
  if (path.empty() || path[0] != '~') {
    return path;
  }
  const std::size_t slash = path.find('/');
  const std::string user =
      path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
  const std::string rest = slash == std::string::npos ? "" : path.substr(slash);
  if (user.empty()) {
    return env.home + rest;
  }
  if (env.home_of) {
    if (std::optional<std::string> home = env.home_of(user)) {
      return *home + rest;
    }
  }
  return path;
}

}  // namespace himalaya::mbsync
