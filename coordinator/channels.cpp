#include "coordinator/channels.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

namespace himalaya::coordinator {
namespace {

std::uint64_t fnv1a(std::uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint64_t splitmix64_finish(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Higher weight first; equal weights (never seen in practice) by id.
bool heavier(std::string_view channel, const std::string& a, const std::string& b) {
  const auto wa = rendezvous_weight(channel, a);
  const auto wb = rendezvous_weight(channel, b);
  return wa != wb ? wa > wb : a < b;
}

// For one instance: the channel that weighs it more, equal weights by name.
bool heavier_channel(std::string_view instance, const std::string& a, const std::string& b) {
  const auto wa = rendezvous_weight(a, instance);
  const auto wb = rendezvous_weight(b, instance);
  return wa != wb ? wa > wb : a < b;
}

}  // namespace

std::uint64_t rendezvous_weight(std::string_view channel, std::string_view instance) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  h = fnv1a(h, channel);
  h = fnv1a(h, std::string_view("\0", 1));  // "ab"+"c" and "a"+"bc" differ
  h = fnv1a(h, instance);
  return splitmix64_finish(h);
}

Owners assign_channels(const std::vector<std::string>& channel_list,
                       const std::vector<std::string>& candidate_list, const Owners& current) {
  const std::set<std::string> channels(channel_list.begin(), channel_list.end());
  const std::set<std::string> candidates(candidate_list.begin(), candidate_list.end());
  Owners owners;
  if (candidates.empty() || channels.empty()) {
    return owners;
  }
  const std::size_t lo = channels.size() / candidates.size();
  const std::size_t hi = lo + (channels.size() % candidates.size() != 0 ? 1 : 0);
  std::map<std::string, std::vector<std::string>> held;  // instance -> its channels
  for (const auto& id : candidates) {
    held[id];
  }
  for (const auto& channel : channels) {
    auto it = current.find(channel);
    if (it != current.end() && candidates.count(it->second) != 0) {
      held[it->second].push_back(channel);
    }
  }
  // Over the upper bound (the fleet grew): give up the channels that weigh
  // their owner least.
  for (auto& [id, list] : held) {
    if (list.size() <= hi) {
      continue;
    }
    const std::string owner = id;
    std::sort(list.begin(), list.end(),
              [&owner](const auto& a, const auto& b) { return heavier_channel(owner, a, b); });
    list.resize(hi);
  }
  for (const auto& [id, list] : held) {
    for (const auto& channel : list) {
      owners[channel] = id;
    }
  }
  // Channels without an owner: to the heaviest candidate below the lower
  // bound, else below the upper one.
  for (const auto& channel : channels) {
    if (owners.count(channel) != 0) {
      continue;
    }
    const std::string* best = nullptr;
    for (std::size_t bound : {lo, hi}) {
      for (const auto& [id, list] : held) {
        if (list.size() < bound && (best == nullptr || heavier(channel, id, *best))) {
          best = &id;
        }
      }
      if (best != nullptr) {
        break;
      }
    }
    held[*best].push_back(channel);
    owners[channel] = *best;
  }
  // Below the lower bound (a newcomer): take, from the instances above it,
  // the channels that weigh the newcomer most.
  for (auto& [needy, mine] : held) {
    while (mine.size() < lo) {
      std::optional<std::pair<std::string, std::string>> pick;  // channel, donor
      for (const auto& [donor, list] : held) {
        if (list.size() <= lo) {
          continue;
        }
        for (const auto& channel : list) {
          if (!pick || heavier_channel(needy, channel, pick->first)) {
            pick.emplace(channel, donor);
          }
        }
      }
      auto& from = held[pick->second];
      from.erase(std::find(from.begin(), from.end(), pick->first));
      mine.push_back(pick->first);
      owners[pick->first] = needy;
    }
  }
  return owners;
}

bool assign_channel_owners(State& state, const std::vector<ChannelSpec>& specs,
                           const std::vector<std::string>& candidates,
                           std::vector<std::string>& moved) {
  std::vector<std::string> names;
  Owners current;
  bool changed = false;
  for (const auto& spec : specs) {
    names.push_back(spec.name);
    auto [it, added] = state.channels.try_emplace(spec.name);
    changed = changed || added;
    if (!it->second.owner.empty()) {
      current[spec.name] = it->second.owner;
    }
  }
  const Owners owners = assign_channels(names, candidates, current);
  for (const auto& spec : specs) {
    auto it = owners.find(spec.name);
    const std::string owner = it == owners.end() ? std::string() : it->second;
    std::string& recorded = state.channels[spec.name].owner;
    if (recorded != owner) {
      moved.push_back(spec.name + ": " + (recorded.empty() ? "(none)" : recorded) + " -> " +
                      (owner.empty() ? "(none)" : owner));
      recorded = owner;
      changed = true;
    }
  }
  return changed;
}

const char* to_string(ChannelBlock block) {
  switch (block) {
    case ChannelBlock::none:
      return "none";
    case ChannelBlock::not_owner:
      return "not_owner";
    case ChannelBlock::running:
      return "running";
    case ChannelBlock::max_parallel:
      return "max_parallel";
    case ChannelBlock::cooldown:
      return "cooldown";
    case ChannelBlock::not_due:
      return "not_due";
  }
  return "none";
}

double channel_cooldown(const ChannelSpec& spec, const Timings& timings) {
  return std::min(timings.sync_cooldown, spec.interval);
}

ChannelCheck check_channel_sync(const ChannelRecord& record, const ChannelSpec& spec,
                                const std::string& self_id, std::optional<double> since_last,
                                int running_now, int max_parallel, const Timings& timings) {
  ChannelCheck check;
  if (record.owner != self_id) {
    check.block = ChannelBlock::not_owner;
  } else if (record.running) {
    check.block = ChannelBlock::running;
  } else if (running_now >= max_parallel) {
    check.block = ChannelBlock::max_parallel;
  } else if (record.pushed > record.last_sync_time) {
    const double gap = since_last ? timings.push_min_gap - *since_last : 0;
    check.push = gap <= 0;
    check.start = check.push;
    check.block = check.push ? ChannelBlock::none : ChannelBlock::cooldown;
    check.wait = std::max(0.0, gap);
  } else if (since_last && *since_last < channel_cooldown(spec, timings)) {
    check.block = ChannelBlock::cooldown;
    check.wait = channel_cooldown(spec, timings) - *since_last;
  } else if (since_last && *since_last < spec.interval) {
    check.block = ChannelBlock::not_due;
    check.wait = spec.interval - *since_last;
  } else {
    check.start = true;
  }
  return check;
}

}  // namespace himalaya::coordinator
