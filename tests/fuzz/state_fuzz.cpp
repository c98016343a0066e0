// libFuzzer target: the state file's parser, validator and serializer
// (coordinator/state.h).
//
// Checked besides "no crash, no throw, no leak" (ASan/LSan/UBSan):
// - a rejected input is Error::Kind::corrupt with a message;
// - round-trip stability: for input that parses, serialize -> parse succeeds
//   and gives an equal State, and serializing that gives the same text;
// - serialize_state() of a State holding the raw input bytes as strings
//   (invalid UTF-8 included) never throws and parses back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "coordinator/state.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using himalaya::coordinator::Error;
using himalaya::coordinator::InstanceRecord;
using himalaya::coordinator::Lease;
using himalaya::coordinator::parse_state;
using himalaya::coordinator::serialize_state;
using himalaya::coordinator::State;
using himalaya::coordinator::SyncOutcome;
using himalaya::coordinator::SyncRecord;
using himalaya::coordinator::SyncResult;

bool same(const Lease& a, const Lease& b) {
  return a.instance_id == b.instance_id && a.last_heartbeat == b.last_heartbeat && a.pid == b.pid &&
         a.nvim_version == b.nvim_version;
}

bool same(const InstanceRecord& a, const InstanceRecord& b) {
  return a.instance_id == b.instance_id && a.hostname == b.hostname && a.boot_id == b.boot_id &&
         a.nvim_pid == b.nvim_pid && a.nvim_start_ticks == b.nvim_start_ticks &&
         a.host_pid == b.host_pid && a.host_start_ticks == b.host_start_ticks &&
         a.started_at == b.started_at && a.last_heartbeat == b.last_heartbeat &&
         a.nvim_version == b.nvim_version && a.released == b.released;
}

bool same(const SyncRecord& a, const SyncRecord& b) {
  return a.instance_id == b.instance_id && a.started == b.started && a.pid == b.pid &&
         a.sync_pid == b.sync_pid && a.sync_start_ticks == b.sync_start_ticks &&
         a.hostname == b.hostname && a.boot_id == b.boot_id;
}

bool same(const SyncResult& a, const SyncResult& b) {
  return a.instance_id == b.instance_id && a.started == b.started && a.ended == b.ended &&
         a.outcome == b.outcome && a.message == b.message && a.channel == b.channel;
}

template <class T>
bool same(const std::optional<T>& a, const std::optional<T>& b) {
  return a.has_value() == b.has_value() && (!a || same(*a, *b));
}

bool same(const State& a, const State& b) {
  if (a.instances.size() != b.instances.size()) {
    return false;
  }
  for (auto i = a.instances.begin(), j = b.instances.begin(); i != a.instances.end(); ++i, ++j) {
    if (i->first != j->first || !same(i->second, j->second)) {
      return false;
    }
  }
  return a.created == b.created && a.last_modified == b.last_modified &&
         a.last_sync_time == b.last_sync_time && a.last_sync_instance == b.last_sync_instance &&
         same(a.primary, b.primary) && same(a.running_sync, b.running_sync) &&
         same(a.last_result, b.last_result) && a.extra == b.extra;
}

void check_round_trip(std::string_view text) {
  auto first = parse_state(text);
  if (!first.ok()) {
    FUZZ_CHECK(first.error().kind == Error::Kind::corrupt);
    FUZZ_CHECK(!first.error().message.empty());
    return;
  }
  const std::string once = serialize_state(first.value());
  auto second = parse_state(once);
  if (!second.ok()) {
    std::fprintf(stderr, "serialized state does not parse: %s\n%s\n",
                 second.error().message.c_str(), once.c_str());
  }
  FUZZ_CHECK(second.ok());
  FUZZ_CHECK(same(first.value(), second.value()));
  FUZZ_CHECK(serialize_state(second.value()) == once);
}

// Strings the host writes come from the system (hostname, sync messages): any
// bytes must serialize, and the result must be a valid state file.
void check_raw_strings(std::string_view text) {
  const std::string raw(text.substr(0, 256));
  State s;
  s.last_sync_instance = raw;
  s.primary = Lease{"nvim_1_2", 1, 2, raw};
  InstanceRecord r;
  r.instance_id = "nvim_1_2";
  r.hostname = raw;
  r.boot_id = raw;
  r.nvim_version = raw;
  s.instances[r.instance_id] = r;
  s.running_sync = SyncRecord{raw, 1, 2};
  s.running_sync->hostname = raw;
  s.last_result = SyncResult{raw, 1, 2, SyncOutcome::failed, raw};
  auto back = parse_state(serialize_state(s));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back.value().instances.size() == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_round_trip(text);
  check_raw_strings(text);
  return 0;
}
