// Session against FakeTransport (session_fixture.h): request correlation,
// replies exactly once, closing, and the peer's errors.
#include "rpc/session.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

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

TEST_F(SessionTest, OutgoingMsgidsStartAtOneAndIncrement) {
  session_->start();
  call("a", "a");
  call("b", "b");
  session_->notify("n", 1, std::string("two"));
  run();
  auto out = written();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(to_string(out[0].get()), "[0,1,\"a\",[]]");
  EXPECT_EQ(to_string(out[1].get()), "[0,2,\"b\",[]]");
  EXPECT_EQ(to_string(out[2].get()), "[2,\"n\",[1,\"two\"]]");
}

TEST_F(SessionTest, ResponsesAreMatchedToRequestsWhateverTheirOrder) {
  session_->start();
  call("first", "first");
  call("second", "second");
  call("third", "third");
  run();
  std::vector<std::string> order;
  session_->request(
      "fourth", [&](Result<Object>) { order.push_back("fourth"); }, 4);
  run();
  EXPECT_EQ(written().size(), 4u);
  // The peer answers 3, then 4, then 1, then 2, in one chunk.
  wire_->feed(packed(1, 3, Nil(), std::string("three")) + packed(1, 4, Nil(), Nil()) +
              packed(1, 1, Nil(), std::string("one")) + packed(1, 2, Nil(), 2));
  run();
  EXPECT_EQ(outcomes_["first"], "ok \"one\"");
  EXPECT_EQ(outcomes_["second"], "ok 2");
  EXPECT_EQ(outcomes_["third"], "ok \"three\"");
  EXPECT_EQ(order, std::vector<std::string>{"fourth"});
  EXPECT_TRUE(session_->is_open());
}

TEST_F(SessionTest, ResultObjectOutlivesTheMessage) {
  session_->start();
  Object kept;
  session_->request("get", [&](Result<Object> r) { kept = r.value(); });
  run();
  wire_->feed(packed(1, 1, Nil(), std::vector<std::string>{"alpha", "beta"}));
  run();
  ASSERT_TRUE(kept);
  // More traffic, so the decoder reuses its buffers.
  wire_->feed(packed(2, std::string("noise"), std::vector<std::string>(50, std::string(100, 'z'))));
  run();
  EXPECT_EQ(kept->get().as<std::vector<std::string>>(),
            (std::vector<std::string>{"alpha", "beta"}));
}

TEST_F(SessionTest, UnknownMethodGetsAnErrorReply) {
  session_->start();
  wire_->feed(packed(0, 4, std::string("no_such_method"), no_params));
  run();
  auto out = responses();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].msgid, 4u);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->code, Error::exception);
  EXPECT_EQ(out[0].error->message, "Invalid method: no_such_method");
  EXPECT_TRUE(session_->is_open());
}

TEST_F(SessionTest, HandlerThatDropsItsReplyStillAnswers) {
  session_->on_request("forget", [](const msgpack::object&, Reply) {});
  session_->start();
  wire_->feed(packed(0, 6, std::string("forget"), no_params));
  run();
  auto out = responses();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].msgid, 6u);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->message, "request dropped without a reply");
}

TEST_F(SessionTest, ReplyDroppedLaterStillAnswers) {
  std::vector<Reply> kept;
  session_->on_request(
      "keep", [&](const msgpack::object&, Reply reply) { kept.push_back(std::move(reply)); });
  session_->start();
  wire_->feed(packed(0, 6, std::string("keep"), no_params));
  run();
  EXPECT_TRUE(responses().empty()) << "the reply is still held";
  kept.clear();
  run();
  auto out = responses();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].error->message, "request dropped without a reply");
}

TEST_F(SessionTest, ReplyOverwrittenByMoveAssignmentAnswersTheOldRequest) {
  std::vector<Reply> kept;
  session_->on_request(
      "keep", [&](const msgpack::object&, Reply reply) { kept.push_back(std::move(reply)); });
  session_->start();
  wire_->feed(packed(0, 1, std::string("keep"), no_params) +
              packed(0, 2, std::string("keep"), no_params));
  run();
  ASSERT_EQ(kept.size(), 2u);
  kept[0] = std::move(kept[1]);  // request 1's reply is dropped (held: 2 is innermost)
  kept[0].ok(2);
  run();
  auto out = responses();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].msgid, 2u);
  EXPECT_FALSE(out[0].error);
  EXPECT_EQ(out[1].msgid, 1u);
  ASSERT_TRUE(out[1].error);
  EXPECT_EQ(out[1].error->message, "request dropped without a reply");
}

TEST_F(SessionTest, HandlerThatThrowsGetsAnErrorReplyAndADiagnostic) {
  session_->on_request("boom", [](const msgpack::object& params, Reply) {
    params.as<std::tuple<int>>();  // params are ["not an int"]: throws type_error
  });
  session_->on_request("boom2",
                       [](const msgpack::object&, Reply) { throw std::runtime_error("kaboom"); });
  session_->start();
  wire_->feed(packed(0, 1, std::string("boom"), std::make_tuple(std::string("not an int"))) +
              packed(0, 2, std::string("boom2"), no_params));
  run();
  auto out = responses();
  ASSERT_EQ(out.size(), 2u);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(out[0].msgid, 1u);
  ASSERT_TRUE(out[1].error);
  EXPECT_NE(out[1].error->message.find("kaboom"), std::string::npos) << out[1].error->message;
  EXPECT_EQ(diagnostics_.size(), 2u);
  EXPECT_TRUE(session_->is_open());
}

TEST_F(SessionTest, ReplyingTwiceAssertsInDebugAndIsIgnoredInRelease) {
  std::optional<Reply> kept;
  session_->on_request("m", [&](const msgpack::object&, Reply reply) { kept = std::move(reply); });
  session_->start();
  wire_->feed(packed(0, 1, std::string("m"), no_params));
  run();
  kept->ok(1);
  EXPECT_DEBUG_DEATH(kept->ok(2), "Reply used twice");
  EXPECT_DEBUG_DEATH(kept->fail(Error{Error::exception, "late"}), "Reply used twice");
  run();
  auto out = responses();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].result.as<int>(), 1);
}

TEST_F(SessionTest, PendingCallsFailWhenThePeerCloses) {
  session_->start();
  call("a", "a");
  call("b", "b");
  run();
  wire_->feed_eof();
  run();
  EXPECT_FALSE(session_->is_open());
  ASSERT_EQ(closes_, std::vector<std::string>{"channel closed by peer"});
  EXPECT_EQ(outcomes_["a"], "error channel closed by peer");
  EXPECT_EQ(outcomes_["b"], "error channel closed by peer");
}

TEST_F(SessionTest, CloseFailsPendingCallsAndRunsOnCloseOnce) {
  session_->start();
  call("a", "a");
  run();
  session_->close();
  session_->close();
  EXPECT_FALSE(session_->is_open());
  EXPECT_EQ(closes_, std::vector<std::string>{"session closed"});
  EXPECT_EQ(outcomes_["a"], "error session closed");
  run();
  EXPECT_EQ(closes_.size(), 1u);
}

TEST_F(SessionTest, RequestOnAClosedSessionFailsLaterNotInline) {
  session_->start();
  session_->close();
  call("late", "late");
  EXPECT_EQ(outcomes_.count("late"), 0u) << "the callback must not run inside request()";
  run();
  EXPECT_EQ(outcomes_["late"], "error session is closed");
  EXPECT_TRUE(written().empty());
}

TEST_F(SessionTest, ReplyAfterCloseOrAfterDestructionDoesNothing) {
  std::vector<Reply> kept;
  session_->on_request(
      "keep", [&](const msgpack::object&, Reply reply) { kept.push_back(std::move(reply)); });
  session_->start();
  wire_->feed(packed(0, 1, std::string("keep"), no_params) +
              packed(0, 2, std::string("keep"), no_params) +
              packed(0, 3, std::string("keep"), no_params));
  run();
  ASSERT_EQ(kept.size(), 3u);
  session_->close();
  kept[2].ok(3);
  run();
  EXPECT_EQ(wire_->writes(), 0);
  // Destroy the session; the remaining replies must still be safe to use.
  session_.reset();
  run();
  kept[1].ok(2);
  kept.clear();  // kept[0] is dropped: its error reply has nowhere to go
  run();
  EXPECT_EQ(wire_->writes(), 0);
}

TEST_F(SessionTest, PeerErrorsInEveryShapeBecomeReadableErrors) {
  session_->start();
  for (const char* name : {"validation", "exception", "plain", "map", "integer", "short_array",
                           "code_not_integer", "bin"}) {
    call(name, name);
  }
  run();
  std::map<std::string, int> map_error{{"what", 1}};
  std::vector<char> bin_error{'b', 'i', 'n'};
  wire_->feed(packed(1, 1, std::make_tuple(1, std::string("bad argument")), Nil()) +
              packed(1, 2, std::make_tuple(0, std::string("Vim:E121: Undefined variable")), Nil()) +
              packed(1, 3, std::string("plain message"), Nil()) + packed(1, 4, map_error, Nil()) +
              packed(1, 5, 42, Nil()) + packed(1, 6, std::make_tuple(1), Nil()) +
              packed(1, 7, std::make_tuple(std::string("x"), std::string("msg")), Nil()) +
              packed(1, 8, bin_error, Nil()));
  run();
  EXPECT_EQ(outcomes_["validation"], "error bad argument");
  EXPECT_EQ(error_codes_["validation"], Error::validation);
  EXPECT_EQ(outcomes_["exception"], "error Vim:E121: Undefined variable");
  EXPECT_EQ(error_codes_["exception"], Error::exception);
  EXPECT_EQ(outcomes_["plain"], "error plain message");
  EXPECT_EQ(outcomes_["map"], "error unknown error");
  EXPECT_EQ(outcomes_["integer"], "error unknown error");
  EXPECT_EQ(outcomes_["short_array"], "error unknown error");
  EXPECT_EQ(outcomes_["code_not_integer"], "error msg");
  EXPECT_EQ(error_codes_["code_not_integer"], Error::exception);
  EXPECT_EQ(outcomes_["bin"], "error bin");
  EXPECT_TRUE(session_->is_open());
}

}  // namespace
}  // namespace himalaya::rpc
