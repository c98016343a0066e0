// sync.adaptive (coordinator/adaptive.h): the arrival model's update, decay
// and hour-of-week spreading, the interval rule and its clamps, the model's
// key in the state file, and choose_interval() / the transitions using it.
// Plain values and hand-set clock readings: no process, no real time.
#include "coordinator/adaptive.h"

#include <gtest/gtest.h>

#include <cmath>

#include "coordinator/interval.h"
#include "coordinator/transitions.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

constexpr double hour = 3600;
constexpr double monday = 1704067200;  // 2024-01-01 00:00 UTC, a Monday

SyncResult ok_sync(double started, std::optional<int> fetched,
                   SyncTrigger trigger = SyncTrigger::automatic) {
  SyncResult r;
  r.instance_id = "nvim_1_1";
  r.started = started;
  r.ended = started + 5;
  r.trigger = trigger;
  r.new_messages = fetched;
  return r;
}

// A model that has watched `weeks` weeks, `busy` messages an hour on weekday
// mornings 09:00-12:00 and `quiet` otherwise.
ArrivalModel watched(double busy, double quiet, double weeks = 2) {
  ArrivalModel m;
  for (int h = 0; h < ArrivalModel::buckets; ++h) {
    const bool morning = h / 24 < 5 && h % 24 >= 9 && h % 24 < 12;
    m.hours[static_cast<std::size_t>(h)] = weeks;
    m.messages[static_cast<std::size_t>(h)] = weeks * (morning ? busy : quiet);
  }
  m.through = monday;
  return m;
}

TEST(AdaptiveTest, HourOfTheWeekIsLocalTimeFromMonday) {
  EXPECT_EQ(hour_of_week(monday, 0), 0);
  EXPECT_EQ(hour_of_week(monday + 25 * hour + 59, 0), 25);
  EXPECT_EQ(hour_of_week(monday - 1, 0), 167);  // Sunday 23:59:59
  EXPECT_EQ(hour_of_week(monday + 7 * 24 * hour, 0), 0);
  // Central European time (UTC+1): Monday 00:00 local is Sunday 23:00 UTC.
  EXPECT_EQ(hour_of_week(monday - hour, 3600), 0);
  // New York (UTC-5): Monday 00:00 UTC is Sunday 19:00 local.
  EXPECT_EQ(hour_of_week(monday, -5 * 3600), 167 - 4);
}

TEST(AdaptiveTest, TheFirstSyncStartsTheModelAndTheNextSpreadsItsMailOverTheHoursOfItsSpan) {
  std::optional<ArrivalModel> m;
  EXPECT_TRUE(learn_arrivals(m, ok_sync(monday + 0.5 * hour, 7), 0));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->through, monday + 0.5 * hour);
  EXPECT_EQ(observed_hours(*m), 0);  // its span's start is unknown: nothing learnt

  // 4 messages from 00:30 to 02:30: half an hour of hour 0, hour 1, half of hour 2.
  EXPECT_TRUE(learn_arrivals(m, ok_sync(monday + 2.5 * hour, 4), 0));
  EXPECT_DOUBLE_EQ(m->hours[0], 0.5);
  EXPECT_DOUBLE_EQ(m->hours[1], 1);
  EXPECT_DOUBLE_EQ(m->hours[2], 0.5);
  EXPECT_DOUBLE_EQ(m->messages[0], 1);
  EXPECT_DOUBLE_EQ(m->messages[1], 2);
  EXPECT_DOUBLE_EQ(m->messages[2], 1);
  EXPECT_EQ(m->hours[3], 0);
  EXPECT_EQ(m->through, monday + 2.5 * hour);

  // The same span in UTC+2 lands two hours later in the week.
  std::optional<ArrivalModel> east;
  learn_arrivals(east, ok_sync(monday + 0.5 * hour, 0), 7200);
  learn_arrivals(east, ok_sync(monday + 2.5 * hour, 4), 7200);
  EXPECT_DOUBLE_EQ(east->messages[2], 1);
  EXPECT_DOUBLE_EQ(east->messages[3], 2);
  EXPECT_DOUBLE_EQ(east->messages[4], 1);
}

TEST(AdaptiveTest, ASpanAcrossTheEndOfTheWeekWrapsToMonday) {
  std::optional<ArrivalModel> m;
  learn_arrivals(m, ok_sync(monday - 0.5 * hour, 0), 0);  // Sunday 23:30
  learn_arrivals(m, ok_sync(monday + 0.5 * hour, 2), 0);
  EXPECT_DOUBLE_EQ(m->messages[167], 1);
  EXPECT_DOUBLE_EQ(m->messages[0], 1);
  EXPECT_DOUBLE_EQ(m->hours[167], 0.5);
  EXPECT_DOUBLE_EQ(m->hours[0], 0.5);
}

TEST(AdaptiveTest, OldObservationsDecayWithTheHalfLife) {
  std::optional<ArrivalModel> m = watched(10, 1);
  const double before = m->messages[9];
  // One half-life later, a sync whose count is unknown: everything halves,
  // nothing is added, the span's start moves on.
  EXPECT_TRUE(learn_arrivals(m, ok_sync(monday + arrivals_half_life, std::nullopt), 0));
  EXPECT_DOUBLE_EQ(m->messages[9], before / 2);
  EXPECT_DOUBLE_EQ(m->hours[9], 1);
  EXPECT_EQ(m->through, monday + arrivals_half_life);
}

TEST(AdaptiveTest, UnknownFailedStaleAndPushSyncsTeachNoMessages) {
  std::optional<ArrivalModel> m = watched(10, 1);
  const ArrivalModel start = *m;
  const double total = mean_rate(start) * observed_hours(start);

  // Failed: the mail is still on the server; nothing changes.
  SyncResult failed = ok_sync(monday + hour, 50);
  failed.outcome = SyncOutcome::failed;
  EXPECT_FALSE(learn_arrivals(m, failed, 0));
  EXPECT_EQ(m->through, monday);

  // Unknown count: the span's start moves, no hours or messages are added.
  EXPECT_TRUE(learn_arrivals(m, ok_sync(monday + hour, std::nullopt), 0));
  EXPECT_EQ(m->through, monday + hour);
  EXPECT_LE(observed_hours(*m), observed_hours(start));

  // Older than what the model accounted for: ignored.
  EXPECT_FALSE(learn_arrivals(m, ok_sync(monday + 0.5 * hour, 99), 0));

  // Push: its hours count, its messages do not (the timer is for the rest).
  const double hours_before = observed_hours(*m);
  EXPECT_TRUE(learn_arrivals(m, ok_sync(monday + 2 * hour, 30, SyncTrigger::push), 0));
  EXPECT_NEAR(observed_hours(*m), hours_before * std::exp2(-hour / arrivals_half_life) + 1, 1e-9);
  EXPECT_LE(mean_rate(*m) * observed_hours(*m), total);

  // A span longer than a week says too little: only its start moves on.
  const double h = observed_hours(*m);
  EXPECT_TRUE(learn_arrivals(m, ok_sync(monday + 2 * hour + 8 * 86400, 500), 0));
  EXPECT_LT(observed_hours(*m), h);  // decayed, nothing added
  EXPECT_EQ(m->through, monday + 2 * hour + 8 * 86400);
}

TEST(AdaptiveTest, TheIntervalIsShortWhenMailIsLikelyAndLongWhenNotWithinItsBounds) {
  Timings t;
  t.interval = 900;
  t.adaptive = AdaptiveTimings{true, 60, 7200, 0};
  const ArrivalModel m = watched(20, 0.5);
  const double busy = *adaptive_interval(m, t, monday + 10 * hour);  // Monday 10:00
  const double night = *adaptive_interval(m, t, monday + 2 * hour);  // Monday 02:00
  const double weekend = *adaptive_interval(m, t, monday + 5 * 24 * hour + 15 * hour);
  EXPECT_LT(busy, t.interval);
  EXPECT_GT(night, t.interval);
  EXPECT_GT(weekend, t.interval);
  // The square-root rule: sync.interval * sqrt(mean rate / rate ahead).
  const double ahead = rate_around(m, monday + 10 * hour, 0);
  EXPECT_NEAR(busy, 900 * std::sqrt(mean_rate(m) / ahead), 1e-9);
  // At the morning's start, the hour around is half busy.
  const double before = *adaptive_interval(m, t, monday + 9 * hour);
  EXPECT_LT(before, night);
  EXPECT_GT(before, busy);

  // The clamps.
  t.adaptive.min_interval = 600;
  t.adaptive.max_interval = 1000;
  EXPECT_EQ(*adaptive_interval(m, t, monday + 10 * hour), 600);
  EXPECT_EQ(*adaptive_interval(m, t, monday + 2 * hour), 1000);
  // No mail at all: the longest interval.
  EXPECT_EQ(*adaptive_interval(watched(0, 0), t, monday), 1000);
}

TEST(AdaptiveTest, AStormTheWeekDidNotPredictShortensTheIntervalUntilTheNextSync) {
  Timings t;
  t.interval = 900;
  t.adaptive = AdaptiveTimings{true, 60, 7200, 0};
  std::optional<ArrivalModel> m = watched(20, 0.5);
  const double night = monday + 2 * hour;  // quiet: 0.5 an hour expected
  m->through = night;
  const double calm = *adaptive_interval(*m, t, night + hour);
  // A quiet hour that brought 2 messages: Poisson noise, no storm.
  learn_arrivals(m, ok_sync(night + hour, 2), 0);
  EXPECT_EQ(m->recent, 0);
  // The next hour brought 40: a storm. Its rate now sets the interval...
  learn_arrivals(m, ok_sync(night + 2 * hour, 40), 0);
  EXPECT_DOUBLE_EQ(m->recent, 40);
  const double storm = *adaptive_interval(*m, t, night + 2 * hour + 60);
  EXPECT_LT(storm, calm / 4);
  EXPECT_NEAR(storm, 900 * std::sqrt(mean_rate(*m) / 40), 1e-9);
  // ...for two hours at most after that sync's start,
  EXPECT_GT(*adaptive_interval(*m, t, night + 4 * hour + 1), storm * 4);
  // and until a sync that brought what the hours predict.
  learn_arrivals(m, ok_sync(night + 2 * hour + storm, 1), 0);
  EXPECT_EQ(m->recent, 0);
  // It is kept in the state file.
  State s;
  s.arrivals = m;
  s.arrivals->recent = 12.5;
  auto back = parse_state(serialize_state(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().arrivals->recent, 12.5);
}

TEST(AdaptiveTest, TooLittleDataLeavesTheFixedInterval) {
  Timings t;
  t.adaptive.enabled = true;
  ArrivalModel m;
  m.hours[0] = arrivals_min_hours / 2;
  m.messages[0] = 100;
  EXPECT_FALSE(adaptive_interval(m, t, monday));
  State s;
  s.arrivals = m;
  const IntervalChoice c = choose_interval(s, t, monday);
  EXPECT_EQ(c.seconds, t.interval);
  EXPECT_EQ(c.reason, IntervalReason::fixed);
}

TEST(AdaptiveTest, ChooseIntervalAsksTheModelOnlyWhenEnabled) {
  Timings t;
  t.interval = 900;
  t.adaptive = AdaptiveTimings{false, 120, 3600, 0};
  State s;
  s.arrivals = watched(20, 0.5);
  IntervalChoice c = choose_interval(s, t, monday + 10 * hour);
  EXPECT_EQ(c.reason, IntervalReason::fixed);
  EXPECT_EQ(c.seconds, 900);

  t.adaptive.enabled = true;
  c = choose_interval(s, t, monday + 10 * hour);
  EXPECT_EQ(c.reason, IntervalReason::adaptive);
  EXPECT_STREQ(to_string(c.reason), "adaptive");
  EXPECT_LT(c.seconds, 900);
  EXPECT_GE(c.seconds, 120);

  s.arrivals.reset();  // no model yet
  EXPECT_EQ(choose_interval(s, t, monday + 10 * hour).reason, IntervalReason::fixed);
}

TEST(AdaptiveTest, TheModelRoundTripsThroughTheStateFile) {
  State s;
  s.created = 1;
  s.arrivals = watched(3.25, 0.125);
  auto back = parse_state(serialize_state(s));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_TRUE(back.value().arrivals);
  EXPECT_EQ(back.value().arrivals->messages, s.arrivals->messages);
  EXPECT_EQ(back.value().arrivals->hours, s.arrivals->hours);
  EXPECT_EQ(back.value().arrivals->through, s.arrivals->through);
  EXPECT_TRUE(back.value().extra.empty());
}

TEST(AdaptiveTest, AMalformedModelIsDroppedAloneAndTheRestOfTheFileKept) {
  State s;
  s.created = 5;
  s.last_sync_time = 1700000000;
  s.arrivals = watched(1, 1);
  const std::string good = serialize_state(s);
  const std::string bad_values[] = {
      R"("arrivals":"x")",
      R"("arrivals":{"through":1,"messages":[1,2],"hours":[1,2]})",
      R"("arrivals":{"through":"soon","messages":[],"hours":[]})",
      R"("arrivals":{"messages":[],"hours":[]})",
  };
  for (const std::string& bad : bad_values) {
    const std::string text =
        R"({"version":2,"created":5,"last_sync_time":1700000000,"instances":{},)" + bad + "}";
    auto r = parse_state(text);
    ASSERT_TRUE(r.ok()) << bad << ": " << r.error().message;
    EXPECT_FALSE(r.value().arrivals) << bad;
    EXPECT_EQ(r.value().last_sync_time, 1700000000) << bad;
    EXPECT_EQ(r.value().extra.count("arrivals"), 0U) << bad;  // rebuilt, not carried
  }
  // A negative count in an otherwise good model.
  std::string negative = good;
  const auto at = negative.find("\"messages\":[") + 12;
  negative.insert(at, "-");
  auto r = parse_state(negative);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r.value().arrivals);
  EXPECT_EQ(r.value().created, 5);
  // A negative recent rate.
  std::string recent = good;
  const auto r_at = recent.find("\"recent\":") + 9;
  recent.insert(r_at, "-1");
  auto rr = parse_state(recent);
  ASSERT_TRUE(rr.ok()) << rr.error().message;
  EXPECT_FALSE(rr.value().arrivals) << recent;
  EXPECT_TRUE(parse_state(good).value().arrivals);
}

class AdaptiveTransitionsTest : public ::testing::Test {
 protected:
  Self self() const { return Self{me_, timings_, probe_, false, std::nullopt, 0}; }
  Identity me_ = testing::identity("nvim_1_1", 101, 1);
  testing::FakeProbe probe_;
  Timings timings_;
};

TEST_F(AdaptiveTransitionsTest, ASyncsEndTeachesTheFleetModelWhenEnabledOrAlreadyKept) {
  State s;
  s.created = monday;
  // Off and no model: none is made.
  EXPECT_TRUE(record_sync_end(s, self(), ok_sync(monday, 3)));
  EXPECT_FALSE(s.arrivals);

  timings_.adaptive.enabled = true;
  record_sync_end(s, self(), ok_sync(monday + hour, 3));
  ASSERT_TRUE(s.arrivals);
  record_sync_end(s, self(), ok_sync(monday + 2 * hour, 6));
  EXPECT_DOUBLE_EQ(s.arrivals->messages[1], 6);

  // An instance with the option off keeps an existing model current.
  timings_.adaptive.enabled = false;
  record_sync_end(s, self(), ok_sync(monday + 3 * hour, 2));
  EXPECT_NEAR(s.arrivals->messages[2], 2, 1e-9);
  EXPECT_EQ(s.arrivals->through, monday + 3 * hour);
}

TEST_F(AdaptiveTransitionsTest, EachChangeOfTheIntervalIsNotedOnce) {
  timings_.interval = 900;
  timings_.adaptive = AdaptiveTimings{true, 60, 7200, 0};
  Memory m;
  State s;
  s.created = monday;
  s.last_sync_time = monday;
  s.arrivals = watched(20, 0.5);
  m.view = s;
  const auto at = [](double wall) { return Now{wall, 1000 + wall - monday, 1000 + wall - monday}; };
  Due d = next_due(m, self(), false, Uptime{}, at(monday + 2 * hour));
  EXPECT_NE(d.interval_note.find("(adaptive)"), std::string::npos) << d.interval_note;
  d = next_due(m, self(), false, Uptime{}, at(monday + 2 * hour + 30));
  EXPECT_EQ(d.interval_note, "");  // the same interval
  d = next_due(m, self(), false, Uptime{}, at(monday + 9 * hour));
  EXPECT_NE(d.interval_note.find(", was "), std::string::npos) << d.interval_note;
}

}  // namespace
}  // namespace himalaya::coordinator
