// Session against FakeTransport (session_fixture.h): the incoming stream split
// at every boundary, the size cap, and malformed input.
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

}  // namespace
}  // namespace himalaya::rpc
