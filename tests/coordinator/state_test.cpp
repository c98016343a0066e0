#include "coordinator/state.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace himalaya::coordinator {
namespace {

TEST(StateTest, ReadsTheOriginalLuaPluginFile) {
  // What the Lua coordinator writes: version as a string, integer times,
  // last_sync_time 0 for never, no instances.
  auto r = parse_state(
      R"({"version":"1.0","created":1704123456,"last_modified":1704123460,"last_sync_time":0,)"
      R"("primary":{"instance_id":"nvim_1704123456_7890","last_heartbeat":1704123460,"pid":7890}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().last_sync_time, 0);
  ASSERT_TRUE(r.value().primary);
  EXPECT_EQ(r.value().primary->instance_id, "nvim_1704123456_7890");
  EXPECT_EQ(r.value().primary->pid, 7890);
  EXPECT_TRUE(r.value().instances.empty());
}

TEST(StateTest, RoundTripsEveryField) {
  State s;
  s.created = 1.5;
  s.last_modified = 2.25;
  s.last_sync_time = 1700000000.125;
  s.last_sync_instance = "nvim_1_2";
  s.primary = Lease{"nvim_1_2", 1700000001.5, 2, "0.7.2"};
  InstanceRecord r;
  r.instance_id = "nvim_1_2";
  r.hostname = "box";
  r.boot_id = "b";
  r.nvim_pid = 2;
  r.nvim_start_ticks = 123456789012345ULL;
  r.host_pid = 3;
  r.host_start_ticks = 4;
  r.started_at = 1.0;
  r.last_heartbeat = 5.5;
  r.nvim_version = "0.7.2";
  r.released = true;
  s.instances[r.instance_id] = r;
  s.running_sync = SyncRecord{"nvim_1_2", 7.5, 3};
  s.running_sync->sync_pid = 8;
  s.running_sync->sync_start_ticks = 987654321098ULL;
  s.running_sync->hostname = "box";
  s.running_sync->boot_id = "b-1";
  s.last_result = SyncResult{"nvim_1_2", 6, 7, SyncOutcome::timed_out, "took too long"};
  s.extra["future_key"] = R"({"a":[1,2]})";

  const std::string text = serialize_state(s);
  auto back = parse_state(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  const State& t = back.value();
  EXPECT_EQ(t.last_sync_time, s.last_sync_time);
  EXPECT_EQ(t.primary->last_heartbeat, 1700000001.5);
  EXPECT_EQ(t.instances.at("nvim_1_2").nvim_start_ticks, 123456789012345ULL);
  EXPECT_TRUE(t.instances.at("nvim_1_2").released);
  EXPECT_EQ(t.running_sync->pid, 3);
  EXPECT_EQ(t.running_sync->sync_pid, 8);
  EXPECT_EQ(t.running_sync->sync_start_ticks, 987654321098ULL);
  EXPECT_EQ(t.running_sync->hostname, "box");
  EXPECT_EQ(t.running_sync->boot_id, "b-1");
  EXPECT_EQ(t.last_result->outcome, SyncOutcome::timed_out);
  EXPECT_EQ(t.last_result->message, "took too long");
  EXPECT_EQ(t.extra.at("future_key"), R"({"a":[1,2]})");
  EXPECT_EQ(serialize_state(t), text);
}

TEST(StateTest, TheTriggerOfASyncRoundTripsAndReadsAsAutoWhenAbsent) {
  State s;
  s.running_sync = SyncRecord{"nvim_1_2", 7.5, 3};
  s.running_sync->trigger = SyncTrigger::manual;
  s.last_result = SyncResult{"nvim_1_2", 6, 7, SyncOutcome::ok, "", SyncTrigger::manual};
  const std::string text = serialize_state(s);
  EXPECT_NE(text.find(R"("trigger":"manual")"), std::string::npos) << text;
  auto back = parse_state(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value().running_sync->trigger, SyncTrigger::manual);
  EXPECT_EQ(back.value().last_result->trigger, SyncTrigger::manual);

  // Written by an older host: no trigger key.
  auto old =
      parse_state(R"({"running_sync":{"instance":"nvim_1_2","started":7.5,"pid":3},)"
                  R"("last_result":{"instance":"nvim_1_2","started":6,"ended":7,"outcome":"ok"}})");
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(old.value().running_sync->trigger, SyncTrigger::automatic);
  EXPECT_EQ(old.value().last_result->trigger, SyncTrigger::automatic);
  EXPECT_STREQ(to_string(SyncTrigger::automatic), "auto");

  s.running_sync->trigger = SyncTrigger::push;
  auto pushed = parse_state(serialize_state(s));
  ASSERT_TRUE(pushed.ok()) << pushed.error().message;
  EXPECT_EQ(pushed.value().running_sync->trigger, SyncTrigger::push);
  // Written by a newer host, with a trigger this version does not know.
  auto newer = parse_state(
      R"({"running_sync":{"instance":"nvim_1_2","started":7.5,"pid":3,"trigger":"later"}})");
  ASSERT_TRUE(newer.ok()) << newer.error().message;
  EXPECT_EQ(newer.value().running_sync->trigger, SyncTrigger::automatic);
}

TEST(StateTest, NewMessagesOfTheLastResultRoundTripsAndIsAbsentWhenUnknown) {
  State s;
  s.last_result = SyncResult{"nvim_1_2", 6, 7, SyncOutcome::ok, "", SyncTrigger::automatic, 4};
  std::string text = serialize_state(s);
  EXPECT_NE(text.find(R"("new_messages":4)"), std::string::npos) << text;
  auto back = parse_state(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value().last_result->new_messages, 4);

  s.last_result->new_messages.reset();
  text = serialize_state(s);
  EXPECT_EQ(text.find("new_messages"), std::string::npos) << text;
  back = parse_state(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_FALSE(back.value().last_result->new_messages.has_value());

  auto bad = parse_state(
      R"({"last_result":{"instance":"a","started":6,"ended":7,"outcome":"ok","new_messages":-2}})");
  EXPECT_FALSE(bad.ok());
}

TEST(StateTest, TheChannelOfAResultRoundTripsAndIsAbsentForTheWholeCommand) {
  State s;
  s.last_result = SyncResult{"nvim_1_2", 6, 7, SyncOutcome::ok, "", SyncTrigger::automatic};
  std::string text = serialize_state(s);
  EXPECT_EQ(text.find("channel"), std::string::npos) << text;
  s.last_result->channel = "work-inbox";
  text = serialize_state(s);
  EXPECT_NE(text.find(R"("channel":"work-inbox")"), std::string::npos) << text;
  auto back = parse_state(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value().last_result->channel, "work-inbox");
  EXPECT_FALSE(
      parse_state(R"({"last_result":{"instance":"a","started":6,"ended":7,"channel":3}})").ok());
}

TEST(StateTest, KeysAreSortedAndLuaKeysPresent) {
  State s;
  s.primary = Lease{"nvim_1_2", 3, 2, "v"};
  const std::string text = serialize_state(s);
  EXPECT_LT(text.find("\"created\""), text.find("\"instances\""));
  EXPECT_LT(text.find("\"instances\""), text.find("\"last_modified\""));
  EXPECT_LT(text.find("\"last_sync_time\""), text.find("\"primary\""));
  EXPECT_LT(text.find("\"primary\""), text.find("\"version\""));
  EXPECT_NE(text.find("\"nvim_version\""), std::string::npos);
}

TEST(StateTest, InvalidUtf8IsReplacedNotThrown) {
  State s;
  s.last_result = SyncResult{"x", 1, 2, SyncOutcome::failed, std::string("bad \xff\xfe bytes")};
  std::string text;
  EXPECT_NO_THROW(text = serialize_state(s));
  EXPECT_TRUE(parse_state(text).ok());
}

TEST(StateTest, CorruptInputsAreErrorsNeverThrows) {
  const char* cases[] = {
      "",
      "   ",
      "{",
      "[]",
      "42",
      "null",
      R"({"last_sync_time":"yesterday"})",
      R"({"primary":"nvim_1_2"})",
      R"({"primary":{"instance_id":5}})",
      R"({"primary":{"last_heartbeat":1}})",
      R"({"instances":[]})",
      R"({"instances":{"a":{"instance_id":"b"}}})",
      R"({"instances":{"a":{"instance_id":"a","host_pid":-4}}})",
      R"({"instances":{"a":{"instance_id":"a","host_start_ticks":1.5}}})",
      R"({"instances":{"a":{"instance_id":"a","released":"no"}}})",
      R"({"running_sync":{"started":"now"}})",
      R"({"last_result":{"outcome":"maybe"}})",
      R"({"version":[1]})",
      R"({"last_sync_time":1e999})",
      "{\"created\":1,\"primary\":{\"instance_id\":\"nvim_1",  // truncated
  };
  for (const char* text : cases) {
    Result<State> r = State{};
    EXPECT_NO_THROW(r = parse_state(text)) << text;
    EXPECT_FALSE(r.ok()) << text;
    if (!r.ok()) {
      EXPECT_EQ(r.error().kind, Error::Kind::corrupt);
    }
  }
}

TEST(StateTest, RandomBytesAndDeepNestingNeverCrash) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string text(rng() % 300, '\0');
    for (char& c : text) {
      c = static_cast<char>(rng() % 256);
    }
    EXPECT_NO_THROW(parse_state(text));
  }
  std::string deep(200000, '[');
  EXPECT_FALSE(parse_state(deep).ok());
  std::string nested = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(parse_state(nested).ok());
}

TEST(StateTest, RunningSyncOfAnOlderVersionLoadsWithoutTheSyncProcess) {
  auto r = parse_state(R"({"running_sync":{"instance":"nvim_1_2","started":7.5,"pid":3}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r.value().running_sync);
  EXPECT_EQ(r.value().running_sync->pid, 3);
  EXPECT_EQ(r.value().running_sync->sync_pid, 0);
  EXPECT_EQ(r.value().running_sync->sync_start_ticks, 0U);
  EXPECT_EQ(r.value().running_sync->boot_id, "");
  EXPECT_FALSE(parse_state(R"({"running_sync":{"sync_pid":-1}})").ok());
  EXPECT_FALSE(parse_state(R"({"running_sync":{"sync_start_ticks":"x"}})").ok());
}

// Found by tests/fuzz/state_fuzz: unknown keys are kept as JSON text, and
// nlohmann's dump() recurses once per level, so a file under the 1 MiB cap
// that nests deeply under a key of its own overflowed the stack of every host
// that read it. Such nesting is now corrupt; moderate nesting still round-trips.
TEST(StateTest, DeepNestingUnderAnUnknownKeyIsCorruptNotAStackOverflow) {
  const std::size_t depth = 500000;
  const std::string deep =
      R"({"future":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  EXPECT_FALSE(parse_state(deep).ok());
  const std::string deep_object = R"({"instances":{"a":{"instance_id":"a","x":)" +
                                  std::string(depth, '[') + std::string(depth, ']') + "}}}";
  EXPECT_FALSE(parse_state(deep_object).ok());

  const std::string moderate = R"({"future":)" + std::string(40, '[') + std::string(40, ']') + "}";
  auto r = parse_state(moderate);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto back = parse_state(serialize_state(r.value()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value().extra.at("future"), std::string(40, '[') + std::string(40, ']'));
}

TEST(StateTest, NullsMeanAbsent) {
  auto r = parse_state(R"({"primary":null,"last_sync_time":null,"running_sync":null})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().primary);
  EXPECT_FALSE(r.value().running_sync);
}

}  // namespace
}  // namespace himalaya::coordinator
