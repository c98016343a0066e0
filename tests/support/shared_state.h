// What a fleet's shared state file says, read the way the hosts read it
// (coordinator::StateFile: whole files only, since writers replace the file
// by rename), for tests that compare it with what the instances report.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "coordinator/state.h"

namespace himalaya::testing {

// The whole state file; nullopt when it cannot be read or is corrupt. A file
// that does not exist yet reads as an empty State.
std::optional<coordinator::State> read_shared_state(const std::filesystem::path& state_file);

// The instance id of the state file's primary: "" when the file names none
// (or does not exist yet), nullopt when it cannot be read or is corrupt.
std::optional<std::string> primary_in_state_file(const std::filesystem::path& state_file);

}  // namespace himalaya::testing
