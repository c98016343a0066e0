// Session against FakeTransport: dispatch, replies, correlation, closing.
//
// The fake records every byte the session writes, so each test asserts on
// the wire, as clangd's binder tests do with their recorder of outgoing
// messages.
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

#include "test_support.h"

namespace himalaya::rpc {
namespace {

using testing::FakeTransport;
using testing::FakeWire;
using testing::Nil;
using testing::packed;
using testing::run_ready;

const std::vector<int> no_params;

// A response as it appears on the wire.
struct WireResponse {
  std::uint32_t msgid = 0;
  std::optional<Error> error;
  msgpack::object result;
};

class SessionTest : public ::testing::Test {
 protected:
  explicit SessionTest(Session::Options options = {})
      : session_(Session::create(std::make_unique<FakeTransport>(wire_), options)) {
    session_->on_close([this](const Error& e) { closes_.push_back(e.message); });
    session_->on_diagnostic([this](const std::string& d) { diagnostics_.push_back(d); });
  }
  ~SessionTest() override { wire_->destroy_pending_read(); }

  void run() { run_ready(io_); }

  // The messages the session wrote since the last call, as raw objects.
  std::vector<msgpack::object_handle> written() { return wire_->take_messages(); }

  // The session's next writes, which must all be responses.
  std::vector<WireResponse> responses() {
    held_.clear();
    std::vector<WireResponse> out;
    for (auto& handle : written()) {
      const msgpack::object& o = handle.get();
      EXPECT_EQ(o.type, msgpack::type::ARRAY);
      EXPECT_EQ(o.via.array.size, 4u);
      EXPECT_EQ(o.via.array.ptr[0].as<int>(), 1) << "not a response: " << o;
      WireResponse r;
      r.msgid = o.via.array.ptr[1].as<std::uint32_t>();
      const msgpack::object& err = o.via.array.ptr[2];
      if (err.type != msgpack::type::NIL) {
        // Our errors must be [type, message] with type 0 or 1.
        EXPECT_EQ(err.type, msgpack::type::ARRAY);
        auto [code, message] = err.as<std::tuple<int, std::string>>();
        EXPECT_TRUE(code == 0 || code == 1) << code;
        r.error = Error{code, message};
        EXPECT_EQ(o.via.array.ptr[3].type, msgpack::type::NIL);
      }
      r.result = o.via.array.ptr[3];
      out.push_back(r);
      held_.push_back(std::move(handle));
    }
    return out;
  }

  // Issues a request whose outcome lands in `outcomes[name]`.
  void call(const std::string& method, const std::string& name) {
    session_->request(method, [this, name](Result<Object> r) {
      outcomes_[name] = r.ok() ? "ok " + to_string(r.value()->get()) : "error " + r.error().message;
      error_codes_[name] = r.ok() ? -1 : r.error().code;
    });
  }

  static std::string to_string(const msgpack::object& o) {
    std::ostringstream s;
    s << o;
    return s.str();
  }

  boost::asio::io_context io_;
  std::shared_ptr<FakeWire> wire_ = std::make_shared<FakeWire>(io_);
  std::shared_ptr<Session> session_;
  std::vector<std::string> closes_;
  std::vector<std::string> diagnostics_;
  std::map<std::string, std::string> outcomes_;
  std::map<std::string, int> error_codes_;
  std::vector<msgpack::object_handle> held_;  // keeps WireResponse::result valid
};

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

// The peer's stream: a request, a notification with an ext value, and the
// response to our request 1, each checked after feeding the stream in pieces.
class SplitStream : public SessionTest {
 protected:
  static std::string stream() {
    return packed(0, 5, std::string("echo"), std::make_tuple(std::string("x"))) +
           packed(2, std::string("note"), std::make_tuple(Buffer{3})) +
           packed(1, 1, Nil(), std::string("answer"));
  }

  void SetUp() override {
    session_->bind<std::string>("echo", [](std::string s, Reply reply) { reply.ok(s + s); });
    session_->on_notification("note", [this](const msgpack::object& p) {
      notes_.push_back(p.via.array.ptr[0].as<Buffer>());
    });
    session_->start();
    call("q", "q");
    run();
    ASSERT_EQ(written().size(), 1u);
  }

  void expect_all_handled() {
    auto out = responses();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].msgid, 5u);
    EXPECT_EQ(out[0].result.as<std::string>(), "xx");
    EXPECT_EQ(notes_, std::vector<Buffer>{Buffer{3}});
    EXPECT_EQ(outcomes_["q"], "ok \"answer\"");
    EXPECT_TRUE(session_->is_open());
  }

  std::vector<Buffer> notes_;
};

TEST_F(SplitStream, ByteByByte) {
  for (char c : stream()) {
    wire_->feed(std::string(1, c));
    run();
  }
  expect_all_handled();
}

TEST_F(SplitStream, EveryReadDeliversOneByte) {
  wire_->max_read_size = 1;
  wire_->feed(stream());
  run();
  expect_all_handled();
}

TEST(SessionSplit, TwoChunksSplitAtEveryByteBoundary) {
  const std::string bytes = packed(0, 5, std::string("echo"), std::make_tuple(std::string("x"))) +
                            packed(2, std::string("note"), std::make_tuple(Buffer{3})) +
                            packed(1, 1, Nil(), std::string("answer"));
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    SCOPED_TRACE("split at byte " + std::to_string(cut));
    boost::asio::io_context io;
    auto wire = std::make_shared<FakeWire>(io);
    auto session = Session::create(std::make_unique<FakeTransport>(wire));
    std::vector<Buffer> notes;
    std::optional<std::string> answer;
    session->bind<std::string>("echo", [](std::string s, Reply reply) { reply.ok(s + s); });
    session->on_notification("note", [&](const msgpack::object& p) {
      notes.push_back(p.via.array.ptr[0].as<Buffer>());
    });
    session->start();
    session->request("q", [&](Result<Object> r) { answer = r.value()->get().as<std::string>(); });
    run_ready(io);
    wire->take_messages();
    wire->feed(bytes.substr(0, cut));
    run_ready(io);
    wire->feed(bytes.substr(cut));
    run_ready(io);
    auto out = wire->take_messages();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(testing::packed_value(out[0].get()), packed(1, 5, Nil(), std::string("xx")));
    EXPECT_EQ(notes, std::vector<Buffer>{Buffer{3}});
    EXPECT_EQ(answer, std::optional<std::string>("answer"));
    EXPECT_TRUE(session->is_open());
    wire->destroy_pending_read();
  }
}

class SmallCap : public SessionTest {
 protected:
  SmallCap() : SessionTest(Session::Options{1024, 128}) {}
};

TEST_F(SmallCap, OversizedMessageClosesAndFailsPendingCalls) {
  session_->start();
  call("a", "a");
  call("b", "b");
  run();
  wire_->feed(packed(2, std::string("big"), std::make_tuple(std::string(4000, 'x'))));
  run();
  EXPECT_FALSE(session_->is_open());
  EXPECT_TRUE(wire_->closed());
  ASSERT_EQ(closes_.size(), 1u);
  EXPECT_NE(closes_[0].find("exceeds 1024 bytes"), std::string::npos) << closes_[0];
  EXPECT_EQ(outcomes_["a"], "error " + closes_[0]);
  EXPECT_EQ(outcomes_["b"], "error " + closes_[0]);
}

TEST_F(SmallCap, OversizedMessageStillArrivingCloses) {
  session_->start();
  call("a", "a");
  run();
  // A str32 header promising 1 MiB, then bytes, a little at a time.
  wire_->feed(std::string("\x93\x02\xa1n\x91\xdb\x00\x10\x00\x00", 10));
  for (int i = 0; i < 10 && session_->is_open(); ++i) {
    wire_->feed(std::string(200, 'x'));
    run();
  }
  EXPECT_FALSE(session_->is_open());
  ASSERT_EQ(closes_.size(), 1u);
  EXPECT_NE(outcomes_["a"].find("exceeds"), std::string::npos) << outcomes_["a"];
}

// Malformed input through the whole session: either an error reply to a
// readable msgid (and the session stays open), or a protocol violation
// (closed, pending calls failed, nothing answered).
struct BadInput {
  const char* name;
  std::string bytes;
  std::optional<std::uint32_t> error_reply_to;
};

std::vector<BadInput> bad_inputs() {
  return {
      {"not_an_array", testing::packed_value(42), std::nullopt},
      {"a_string", testing::packed_value(std::string("hello")), std::nullopt},
      {"empty_array", packed(), std::nullopt},
      {"bad_type_tag", packed(7, 1, std::string("m"), no_params), std::nullopt},
      {"type_tag_not_integer", packed(Nil(), 1, std::string("m"), no_params), std::nullopt},
      {"request_msgid_not_integer", packed(0, 1.5, std::string("m"), no_params), std::nullopt},
      {"request_missing_msgid", packed(0), std::nullopt},
      {"request_too_short", packed(0, 11, std::string("m")), 11},
      {"request_too_long", packed(0, 12, std::string("m"), no_params, no_params), 12},
      {"request_method_not_string", packed(0, 13, 42, no_params), 13},
      {"request_params_not_array", packed(0, 14, std::string("m"), std::string("p")), 14},
      {"response_too_short", packed(1, 1, Nil()), std::nullopt},
      {"response_msgid_not_integer", packed(1, std::string("x"), Nil(), Nil()), std::nullopt},
      {"response_to_unknown_msgid", packed(1, 99, Nil(), Nil()), std::nullopt},
      {"notification_too_long", packed(2, std::string("m"), no_params, 1), std::nullopt},
      {"notification_method_not_string", packed(2, 3, no_params), std::nullopt},
      {"notification_params_not_array", packed(2, std::string("m"), 3), std::nullopt},
      {"garbage_bytes", std::string("\xc1\xff\x00garbage", 10), std::nullopt},
      {"printf_on_stdout", std::string("hello from a stray printf\n"), std::nullopt},
      {"array_length_bomb", std::string("\xdd\x7f\xff\xff\xff", 5), std::nullopt},
      {"deep_nesting", std::string(5000, '\x91') + "\x01", std::nullopt},
  };
}

// NOLINTNEXTLINE(readability-identifier-naming): the name gtest looks for
void PrintTo(const BadInput& input, std::ostream* os) {
  *os << input.name;
}

class SessionBadInput : public SessionTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(SessionBadInput, GetsTheRightOutcomeWithoutCrashing) {
  const BadInput& input = GetParam();
  session_->on_request("m", [](const msgpack::object&, Reply reply) { reply.ok(1); });
  session_->start();
  call("pending", "pending");
  run();
  ASSERT_EQ(written().size(), 1u);

  wire_->feed(input.bytes);
  run();

  if (input.error_reply_to) {
    auto out = responses();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].msgid, *input.error_reply_to);
    ASSERT_TRUE(out[0].error);
    EXPECT_EQ(out[0].error->code, Error::validation);
    EXPECT_FALSE(out[0].error->message.empty());
    EXPECT_TRUE(session_->is_open());
    EXPECT_TRUE(closes_.empty());
    EXPECT_EQ(outcomes_.count("pending"), 0u) << "a pending call must survive";
    // And the session still works.
    wire_->feed(packed(1, 1, Nil(), 5));
    run();
    EXPECT_EQ(outcomes_["pending"], "ok 5");
  } else {
    EXPECT_FALSE(session_->is_open());
    EXPECT_TRUE(wire_->closed());
    EXPECT_TRUE(written().empty());
    ASSERT_EQ(closes_.size(), 1u);
    EXPECT_EQ(closes_[0].rfind("protocol violation: ", 0), 0u) << closes_[0];
    EXPECT_EQ(outcomes_["pending"], "error " + closes_[0]);
  }
}

INSTANTIATE_TEST_SUITE_P(Session, SessionBadInput, ::testing::ValuesIn(bad_inputs()),
                         [](const ::testing::TestParamInfo<BadInput>& param) {
                           return std::string(param.param.name);
                         });

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
