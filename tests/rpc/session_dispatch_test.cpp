// Session against FakeTransport (session_fixture.h): notifications, typed
// bindings, the order of replies and writes, and callbacks that drop the
// session.
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "rpc/session.h"
#include "session_fixture.h"
#include "test_support.h"

namespace himalaya::rpc {
namespace {

using testing::FakeTransport;
using testing::FakeWire;
using testing::Nil;
using testing::no_params;
using testing::packed;
using testing::run_ready;
using testing::SessionTest;
using testing::WireResponse;

TEST_F(SessionTest, NvimErrorEventReachesItsBoundHandler) {
  std::vector<std::pair<int, std::string>> events;
  session_->on_notification("nvim_error_event", [&](const msgpack::object& params) {
    events.push_back(params.as<std::pair<int, std::string>>());
  });
  session_->start();
  wire_->feed(packed(2, std::string("nvim_error_event"),
                     std::make_tuple(0, std::string("Invalid method: oops"))));
  run();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], (std::pair<int, std::string>{0, "Invalid method: oops"}));
  EXPECT_TRUE(diagnostics_.empty());
}

TEST_F(SessionTest, UnboundNotificationsAreDroppedWithADiagnostic) {
  session_->start();
  wire_->feed(packed(2, std::string("nvim_error_event"),
                     std::make_tuple(1, std::string("Invalid method: oops"))) +
              packed(2, std::string("whatever"), no_params));
  run();
  ASSERT_EQ(diagnostics_.size(), 2u);
  EXPECT_NE(diagnostics_[0].find("Invalid method: oops"), std::string::npos) << diagnostics_[0];
  EXPECT_NE(diagnostics_[1].find("whatever"), std::string::npos) << diagnostics_[1];
  EXPECT_TRUE(session_->is_open());
  EXPECT_TRUE(written().empty());
}

TEST_F(SessionTest, BindDecodesTypedParams) {
  std::optional<std::tuple<int, std::string, Buffer, std::vector<Window>>> got;
  session_->bind<int, std::string, Buffer, std::vector<Window>>(
      "typed", [&](int n, std::string s, Buffer b, std::vector<Window> w, Reply reply) {
        got.emplace(n, s, b, w);
        reply.ok(std::make_tuple(b, w.at(0), Tabpage{n}));
      });
  session_->start();
  wire_->feed(packed(0, 3, std::string("typed"),
                     std::make_tuple(7, std::string("s"), Buffer{2}, std::vector<Window>{{1000}})));
  run();
  ASSERT_TRUE(got);
  EXPECT_EQ(std::get<0>(*got), 7);
  EXPECT_EQ(std::get<1>(*got), "s");
  EXPECT_EQ(std::get<2>(*got), Buffer{2});
  EXPECT_EQ(std::get<3>(*got), std::vector<Window>{Window{1000}});
  auto out = wire_->take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(testing::packed_value(out[0].get()),
            packed(1, 3, Nil(), std::make_tuple(Buffer{2}, Window{1000}, Tabpage{7})));
}

TEST_F(SessionTest, BindWithNoParams) {
  bool called = false;
  session_->bind<>("ping", [&](Reply reply) {
    called = true;
    reply.ok_nil();
  });
  session_->start();
  wire_->feed(packed(0, 1, std::string("ping"), no_params));
  run();
  EXPECT_TRUE(called);
  auto out = responses();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].error);
  EXPECT_EQ(out[0].result.type, msgpack::type::NIL);
}

TEST_F(SessionTest, BindDecodeFailureIsAValidationErrorAndSkipsTheHandler) {
  int calls = 0;
  session_->bind<int, std::string>("typed", [&](int, std::string, Reply reply) {
    ++calls;
    reply.ok_nil();
  });
  session_->start();
  wire_->feed(
      packed(0, 1, std::string("typed"), std::make_tuple(1)) +
      packed(0, 2, std::string("typed"), std::make_tuple(1, 2)) +
      packed(0, 3, std::string("typed"), std::make_tuple(std::string("a"), std::string("b"))) +
      packed(0, 4, std::string("typed"), std::make_tuple(1, std::string("b"), 3)));
  run();
  EXPECT_EQ(calls, 0);
  auto out = responses();
  ASSERT_EQ(out.size(), 4u);
  for (const auto& r : out) {
    ASSERT_TRUE(r.error) << r.msgid;
    EXPECT_EQ(r.error->code, Error::validation) << r.msgid;
  }
  EXPECT_EQ(out[0].error->message, "typed: expected 2 params, got 1");
  EXPECT_EQ(out[1].error->message, "typed: param 2 has the wrong type");
  EXPECT_EQ(out[2].error->message, "typed: param 1 has the wrong type");
  EXPECT_EQ(out[3].error->message, "typed: expected 2 params, got 3");
}

// Peer sends A, then B (nested: B arrives while A is unanswered). A's handler
// answers at its first chance, B's later: B's response must leave first.
TEST_F(SessionTest, NestedRequestsAreAnsweredLastInFirstOut) {
  std::optional<Reply> b_reply;
  session_->on_request("A", [&](const msgpack::object&, Reply reply) {
    boost::asio::post(
        io_, [reply = std::make_shared<Reply>(std::move(reply))] { reply->ok(std::string("A")); });
  });
  session_->on_request("B",
                       [&](const msgpack::object&, Reply reply) { b_reply = std::move(reply); });
  session_->start();
  wire_->feed(packed(0, 10, std::string("A"), no_params) +
              packed(0, 11, std::string("B"), no_params));
  run();
  EXPECT_TRUE(responses().empty()) << "A's reply must wait for B's";
  ASSERT_TRUE(b_reply);
  b_reply->ok(std::string("B"));
  run();
  auto out = responses();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].msgid, 11u);
  EXPECT_EQ(out[0].result.as<std::string>(), "B");
  EXPECT_EQ(out[1].msgid, 10u);
  EXPECT_EQ(out[1].result.as<std::string>(), "A");
}

TEST_F(SessionTest, ReplyToTheInnermostRequestLeavesAtOnce) {
  std::map<std::uint32_t, Reply> kept;
  session_->on_request("m", [&](const msgpack::object& params, Reply reply) {
    kept.emplace(params.via.array.ptr[0].as<std::uint32_t>(), std::move(reply));
  });
  session_->start();
  wire_->feed(packed(0, 1, std::string("m"), std::make_tuple(1)) +
              packed(0, 2, std::string("m"), std::make_tuple(2)) +
              packed(0, 3, std::string("m"), std::make_tuple(3)));
  run();
  auto order = [&] {
    std::vector<std::uint32_t> ids;
    for (const auto& r : responses()) {
      ids.push_back(r.msgid);
    }
    return ids;
  };
  kept.at(2).ok(2);  // 3 still open: held
  run();
  EXPECT_EQ(order(), std::vector<std::uint32_t>{});
  kept.at(3).ok(3);  // innermost: releases 3 then 2
  run();
  EXPECT_EQ(order(), (std::vector<std::uint32_t>{3, 2}));
  // A request received now is the innermost one; 1 waits for it.
  wire_->feed(packed(0, 4, std::string("m"), std::make_tuple(4)));
  run();
  kept.at(1).ok(1);
  run();
  EXPECT_EQ(order(), std::vector<std::uint32_t>{});
  kept.at(4).ok(4);
  run();
  EXPECT_EQ(order(), (std::vector<std::uint32_t>{4, 1}));
}

TEST_F(SessionTest, OneWriteInFlightAndOrderKept) {
  session_->start();
  for (int i = 0; i < 50; ++i) {
    session_->notify("n", i);
  }
  run();
  EXPECT_EQ(wire_->max_writes_in_flight(), 1);
  EXPECT_EQ(wire_->writes(), 50);
  auto out = written();
  ASSERT_EQ(out.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(to_string(out[i].get()), "[2,\"n\",[" + std::to_string(i) + "]]");
  }
}

TEST_F(SessionTest, LastReferenceMayBeDroppedInsideACallback) {
  session_->on_notification("quit", [this](const msgpack::object&) {
    session_->close();
    session_.reset();  // the test held the only outside reference
  });
  session_->start();
  call("pending", "pending");
  run();
  wire_->feed(packed(2, std::string("quit"), no_params) +
              packed(2, std::string("after"), no_params));
  run();
  EXPECT_FALSE(session_);
  EXPECT_EQ(outcomes_["pending"], "error session closed");
  EXPECT_EQ(closes_.size(), 1u);
  EXPECT_TRUE(diagnostics_.empty()) << "nothing after the close is dispatched";
}

TEST_F(SessionTest, OnCloseMayDropTheLastReference) {
  session_->on_close([this](const Error&) { session_.reset(); });
  session_->start();
  call("pending", "pending");
  run();
  wire_->feed_eof();
  run();
  EXPECT_FALSE(session_);
  EXPECT_EQ(outcomes_["pending"], "error channel closed by peer");
}

TEST_F(SessionTest, ExceptionsFromCallbacksStayInside) {
  session_->on_notification("n", [](const msgpack::object&) { throw std::runtime_error("n"); });
  session_->on_close([](const Error&) { throw std::runtime_error("close"); });
  session_->start();
  session_->request("a", [](Result<Object>) { throw std::runtime_error("callback"); });
  run();
  wire_->feed(packed(2, std::string("n"), no_params) + packed(1, 1, Nil(), Nil()));
  EXPECT_NO_THROW(run());
  session_->close();
  EXPECT_EQ(diagnostics_.size(), 3u);
}

}  // namespace
}  // namespace himalaya::rpc
