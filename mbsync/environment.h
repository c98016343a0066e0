// What reading an mbsync configuration depends on outside its text: the home
// directory (for '~' and ~/.mbsyncrc) and XDG_CONFIG_HOME (isync 1.5's
// isyncrc). A value, so tests give their own instead of changing the process's.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace himalaya::mbsync {

struct Environment {
  std::string home;             // $HOME
  std::string xdg_config_home;  // $XDG_CONFIG_HOME; "" when unset (then ~/.config)
  // The home directory of another user, for '~user'; unset, or nullopt for an
  // unknown user, leaves the path as written.
  std::function<std::optional<std::string>(const std::string& user)> home_of;
};

// The calling process's environment ($HOME, $XDG_CONFIG_HOME, getpwnam).
Environment process_environment();

// `path` with a leading "~" or "~user" replaced by that home directory, as
// mbsync does for local paths (bash-like: only at the start).
std::string expand_tilde(const std::string& path, const Environment& env);

}  // namespace himalaya::mbsync
