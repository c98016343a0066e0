#include "tests/support/shared_state.h"

#include <utility>

#include "coordinator/state_file.h"

namespace himalaya::testing {

std::optional<coordinator::State> read_shared_state(const std::filesystem::path& state_file) {
  auto state = coordinator::StateFile(state_file).read();
  if (!state) {
    return std::nullopt;
  }
  return std::move(state.value());
}

std::optional<std::string> primary_in_state_file(const std::filesystem::path& state_file) {
  const auto state = read_shared_state(state_file);
  if (!state) {
    return std::nullopt;
  }
  if (!state->primary) {
    return std::string();
  }
  return state->primary->instance_id;
}

}  // namespace himalaya::testing
