// Priority election against first-come succession on the same simulated
// workloads (SPEC §11, §13): each rule runs on the same seeds, and the
// figures are printed beside their baseline from the same run.
#pragma once

#include <ostream>

#include "sim/fleet.h"

namespace himalaya::sim {

// Priority election: role changes per simulated day under the seniority rule
// (the host's) against first-come succession, on `seeds` seeds from
// base.seed. Returns false if an invariant broke in any run.
bool compare_succession(std::ostream& out, const Options& base, int seeds);

}  // namespace himalaya::sim
