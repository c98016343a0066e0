// Which mbsync configuration file the sync command reads (SPEC §10), and
// reading it.
//
// The answer must be the file mbsync itself will read, or push would watch
// one account while the sync fetches another. In order:
// 1. the sync command's own `-c FILE` / `--config FILE` / `--config=FILE`
//    (mbsync reads options up to the first word that does not begin with '-'
//    or up to "--"; `-c` may end a cluster such as `-Vc FILE`; the last one
//    wins);
// 2. `sync.push.mbsyncrc`, when the user configured one;
// 3. mbsync's own default: isync 1.5 reads $XDG_CONFIG_HOME/isyncrc
//    ($XDG_CONFIG_HOME defaulting to ~/.config) when it exists, else
//    ~/.mbsyncrc; isync 1.4 reads ~/.mbsyncrc only. The two agree except when
//    both files exist, where we follow 1.5 (the current release).
// locate() is pure: the file system is asked only through `exists`.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mbsync/config.h"
#include "mbsync/environment.h"
#include "mbsync/error.h"

namespace himalaya::mbsync {

struct Location {
  std::string path;
  enum class Source { command_line, configured, xdg_default, home_default } source;
};

// The `-c` argument of an mbsync command line (argv[0] is the program), if any.
std::optional<std::string> config_argument(const std::vector<std::string>& argv);

// The file to read, by the order above. `configured` is sync.push.mbsyncrc,
// "" when unset; it and the -c argument get '~' expanded.
Location locate(const std::vector<std::string>& argv, const std::string& configured,
                const Environment& env, const std::function<bool(const std::string&)>& exists);

// The whole file, or an Error naming it: missing, unreadable, not a regular
// file, or larger than a configuration has any reason to be (1 MiB).
Result<std::string> read_file(const std::string& path);

// read_file() then parse(); the Error carries the file's name.
Result<Config> load(const std::string& path, const Environment& env);

}  // namespace himalaya::mbsync
