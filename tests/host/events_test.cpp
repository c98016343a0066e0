// The data tables of SPEC §9's User autocmds and statusline()'s starting
// facts, exactly as the host sends them to Lua.
#include "host/events.h"

#include <gtest/gtest.h>

#include "host/protocol.h"

namespace himalaya::host {
namespace {

using coordinator::Role;
using coordinator::SyncEvent;
using coordinator::SyncOutcome;
using coordinator::SyncTrigger;

TEST(EventsTest, SyncStartedCarriesInstanceTriggerAndStart) {
  SyncEvent e;
  e.kind = SyncEvent::Kind::started;
  e.instance_id = "nvim_1700000000_42";
  e.trigger = SyncTrigger::automatic;
  e.started = 1700000000.25;
  EXPECT_STREQ(event_name(e), "HimalayaSyncStarted");
  EXPECT_EQ(event_data(e), (nlohmann::json{{"instance_id", "nvim_1700000000_42"},
                                           {"trigger", "auto"},
                                           {"started", 1700000000.25}}));
}

TEST(EventsTest, SyncDoneAddsOutcomeDurationAndMessage) {
  SyncEvent e;
  e.kind = SyncEvent::Kind::done;
  e.instance_id = "nvim_1700000000_42";
  e.trigger = SyncTrigger::manual;
  e.started = 1700000000.25;
  e.outcome = SyncOutcome::timed_out;
  e.duration = 600.5;
  e.message = "timed out after 600 s";
  EXPECT_STREQ(event_name(e), "HimalayaSyncDone");
  const nlohmann::json data = event_data(e);
  EXPECT_EQ(data, (nlohmann::json{{"instance_id", "nvim_1700000000_42"},
                                  {"trigger", "manual"},
                                  {"started", 1700000000.25},
                                  {"outcome", "timed_out"},
                                  {"duration", 600.5},
                                  {"message", "timed out after 600 s"}}));
  // Unknown (channels: SPEC §11 not built; new_messages: not an mbsync
  // command, or its configuration unreadable): absent, so Lua reads nil.
  EXPECT_FALSE(data.contains("channels"));
  EXPECT_FALSE(data.contains("new_messages"));
  for (auto outcome : {SyncOutcome::ok, SyncOutcome::failed, SyncOutcome::cancelled}) {
    e.outcome = outcome;
    EXPECT_EQ(event_data(e)["outcome"], to_string(outcome));
  }
}

TEST(EventsTest, SyncDoneCarriesNewMessagesWhenKnown) {
  SyncEvent e;
  e.kind = SyncEvent::Kind::done;
  e.instance_id = "nvim_1700000000_42";
  e.started = 1700000000.25;
  e.duration = 1.5;
  e.new_messages = 3;
  const nlohmann::json data = event_data(e);
  EXPECT_EQ(data.value("new_messages", -1), 3);
  e.new_messages = 0;  // known: nothing new, which is not nil
  EXPECT_EQ(event_data(e).value("new_messages", -1), 0);
  // Never on a start: the count exists only once the sync is over.
  e.kind = SyncEvent::Kind::started;
  EXPECT_FALSE(event_data(e).contains("new_messages"));
}

TEST(EventsTest, RoleChangedCarriesTheLabels) {
  EXPECT_EQ(role_changed_data(role_label(Role::primary), role_label(Role::secondary)),
            (nlohmann::json{{"role", "Primary Coordinator"}, {"previous", "Secondary"}}));
  EXPECT_STREQ(role_label(Role::uncoordinated), "Uncoordinated");
  EXPECT_STREQ(event::role_changed, "HimalayaRoleChanged");
}

TEST(EventsTest, SyncStateForTheStatusline) {
  coordinator::Status st;
  st.role = Role::secondary;
  EXPECT_EQ(sync_state(st), (nlohmann::json{{"role", "Secondary"}, {"syncing", false}}));

  st.last_sync = coordinator::Status::LastSync{1700000000.5, 12, "nvim_1_1"};
  st.last_result =
      coordinator::SyncResult{"nvim_1_1", 1700000000.5, 1700000001, SyncOutcome::failed, "x"};
  EXPECT_EQ(sync_state(st), (nlohmann::json{{"role", "Secondary"},
                                            {"syncing", false},
                                            {"last_started", 1700000000.5},
                                            {"outcome", "failed"}}));

  // A sync running now: the last result is of an older one, so no outcome.
  st.last_sync = coordinator::Status::LastSync{1700000100, 1, "nvim_2_2"};
  st.running_sync = coordinator::Status::RunningSync{"nvim_2_2", 1700000100, 1};
  st.role = Role::primary;
  EXPECT_EQ(sync_state(st),
            (nlohmann::json{
                {"role", "Primary Coordinator"}, {"syncing", true}, {"last_started", 1700000100}}));
}

}  // namespace
}  // namespace himalaya::host
