// Framing: the Decoder against byte splits, size caps and malformed input.
#include "rpc/decoder.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "rpc/ext_types.h"
#include "test_support.h"

namespace himalaya::rpc {
namespace {

using testing::Nil;
using testing::packed;

constexpr std::size_t big_cap = 1 << 20;

// A request, a notification carrying an ext value, a response and a request
// with a long string, back to back.
std::string three_kinds_stream() {
  return packed(0, 7, std::string("echo"), std::make_tuple(std::string("hi"), 42)) +
         packed(2, std::string("note"), std::make_tuple(Buffer{3}, Window{1000})) +
         packed(1, 1, Nil(), std::vector<int>{1, 2, 3}) +
         packed(0, 8, std::string("long"), std::make_tuple(std::string(300, 'x')));
}

// A readable summary of the messages decoded from `decoder`, or of the error.
std::vector<std::string> drain(Decoder& decoder) {
  std::vector<std::string> out;
  for (;;) {
    auto next = decoder.next();
    if (!next) {
      out.push_back("violation: " + next.error().message);
      return out;
    }
    if (!next.value()) {
      return out;
    }
    const Message& m = *next.value();
    std::ostringstream line;
    line << static_cast<int>(m.type) << " " << m.msgid << " " << m.method << " ";
    if (m.type == Message::Type::response) {
      line << m.error << " " << m.result;
    } else {
      line << m.params;
    }
    out.push_back(line.str());
  }
}

std::vector<std::string> decode_whole(const std::string& bytes) {
  Decoder decoder(big_cap, 64);
  decoder.feed(bytes.data(), bytes.size());
  return drain(decoder);
}

TEST(Decoder, DecodesEachMessageKind) {
  const auto got = decode_whole(three_kinds_stream());
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], "0 7 echo [\"hi\",42]");
  EXPECT_EQ(got[1].rfind("2 0 note [", 0), 0u) << got[1];
  EXPECT_EQ(got[2], "1 1  null [1,2,3]");
  EXPECT_EQ(got[3].rfind("0 8 long [\"xxx", 0), 0u) << got[3];
}

TEST(Decoder, StreamSplitInTwoAtEveryByteBoundary) {
  const std::string stream = three_kinds_stream();
  const auto expected = decode_whole(stream);
  ASSERT_EQ(expected.size(), 4u);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    Decoder decoder(big_cap, 64);
    decoder.feed(stream.data(), cut);
    auto got = drain(decoder);
    decoder.feed(stream.data() + cut, stream.size() - cut);
    const auto rest = drain(decoder);
    got.insert(got.end(), rest.begin(), rest.end());
    ASSERT_EQ(got, expected) << "split at byte " << cut;
  }
}

TEST(Decoder, StreamFedByteByByte) {
  const std::string stream = three_kinds_stream();
  const auto expected = decode_whole(stream);
  Decoder decoder(big_cap, 64);
  std::vector<std::string> got;
  for (char c : stream) {
    decoder.feed(&c, 1);
    const auto some = drain(decoder);
    got.insert(got.end(), some.begin(), some.end());
  }
  EXPECT_EQ(got, expected);
}

TEST(Decoder, CompleteMessageOverTheCapIsAViolation) {
  // Arrives whole in one read: caught by its size, not by a buffer limit.
  const std::string message = packed(2, std::string("n"), std::make_tuple(std::string(200, 'x')));
  Decoder decoder(100, 64);
  decoder.feed(message.data(), message.size());
  const auto got = drain(decoder);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("violation: message exceeds 100 bytes"), std::string::npos) << got[0];
}

TEST(Decoder, MessageAtTheCapIsAccepted) {
  std::string message = packed(2, std::string("n"), std::make_tuple(std::string(200, 'x')));
  Decoder decoder(message.size(), 64);
  decoder.feed(message.data(), message.size());
  const auto got = drain(decoder);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].find("violation"), std::string::npos) << got[0];
}

TEST(Decoder, PartialMessageGrowingPastTheCapIsAViolation) {
  // A str32 header promising 1 MiB, then more bytes than the cap allows: the
  // message never completes, and the decoder must not wait for it.
  const std::string header("\x93\x02\xa1n\x91\xdb\x00\x10\x00\x00", 10);
  Decoder decoder(1000, 64);
  decoder.feed(header.data(), header.size());
  EXPECT_TRUE(drain(decoder).empty());
  const std::string filler(600, 'x');
  decoder.feed(filler.data(), filler.size());
  EXPECT_TRUE(drain(decoder).empty()) << "still within the cap";
  decoder.feed(filler.data(), filler.size());
  const auto got = drain(decoder);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("exceeds 1000 bytes"), std::string::npos) << got[0];
}

TEST(Decoder, ContainerLengthThatCannotFitIsRejectedBeforeAllocating) {
  // array32 of 4294967295 elements: five bytes that would make a naive
  // unpacker allocate ~100 GB.
  const std::string bomb("\xdd\xff\xff\xff\xff", 5);
  Decoder decoder(big_cap, 64);
  decoder.feed(bomb.data(), bomb.size());
  const auto got = drain(decoder);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("violation: message exceeds"), std::string::npos) << got[0];

  const std::string map_bomb("\xdf\xff\xff\xff\xff", 5);
  Decoder decoder2(big_cap, 64);
  decoder2.feed(map_bomb.data(), map_bomb.size());
  EXPECT_NE(drain(decoder2).at(0).find("violation"), std::string::npos);
}

TEST(Decoder, NestingDeeperThanTheLimitIsAViolation) {
  std::string deep(1000, '\x91');
  deep += '\x01';
  Decoder decoder(big_cap, 64);
  decoder.feed(deep.data(), deep.size());
  const auto got = drain(decoder);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("violation: message nests deeper than 64 levels"), std::string::npos)
      << got[0];
}

TEST(Decoder, GarbageIsAViolationAndTheDecoderStaysSpent) {
  const std::string garbage("\xc1\x00\x01", 3);  // 0xc1 is never valid msgpack
  Decoder decoder(big_cap, 64);
  decoder.feed(garbage.data(), garbage.size());
  auto got = drain(decoder);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("violation: invalid msgpack"), std::string::npos) << got[0];
  // A valid message afterwards does not resynchronise the stream.
  const std::string valid = packed(2, std::string("n"), std::vector<int>{});
  decoder.feed(valid.data(), valid.size());
  got = drain(decoder);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("violation"), std::string::npos);
}

// parse_message's verdicts on shapes, one table.
struct ShapeCase {
  const char* name;
  std::string bytes;
  const char* outcome;  // "violation", "invalid <msgid>" or "ok"
};

std::vector<ShapeCase> shape_cases() {
  return {
      {"integer", testing::packed_value(42), "violation"},
      {"map", testing::packed_value(std::map<std::string, int>{{"a", 1}}), "violation"},
      {"empty_array", packed(), "violation"},
      {"type_tag_3", packed(3, 1, std::string("m"), std::vector<int>{}), "violation"},
      {"type_tag_negative", packed(-1, 1, std::string("m"), std::vector<int>{}), "violation"},
      {"type_tag_string", packed(std::string("0"), 1, std::string("m"), std::vector<int>{}),
       "violation"},
      {"request_only_tag", packed(0), "violation"},
      {"request_msgid_string", packed(0, std::string("1"), std::string("m"), std::vector<int>{}),
       "violation"},
      {"request_msgid_negative", packed(0, -5, std::string("m"), std::vector<int>{}), "violation"},
      {"request_msgid_over_32_bits", packed(0, 1ull << 32, std::string("m"), std::vector<int>{}),
       "violation"},
      {"request_three_elements", packed(0, 9, std::string("m")), "invalid 9"},
      {"request_five_elements", packed(0, 9, std::string("m"), std::vector<int>{}, 1), "invalid 9"},
      {"request_method_integer", packed(0, 9, 5, std::vector<int>{}), "invalid 9"},
      {"request_params_integer", packed(0, 9, std::string("m"), 5), "invalid 9"},
      {"request_params_map", packed(0, 9, std::string("m"), std::map<int, int>{}), "invalid 9"},
      {"request_ok", packed(0, 9, std::string("m"), std::vector<int>{}), "ok"},
      {"response_three_elements", packed(1, 1, Nil()), "violation"},
      {"response_msgid_string", packed(1, std::string("1"), Nil(), Nil()), "violation"},
      {"response_ok", packed(1, 1, Nil(), Nil()), "ok"},
      {"notification_two_elements", packed(2, std::string("m")), "violation"},
      {"notification_method_integer", packed(2, 5, std::vector<int>{}), "violation"},
      {"notification_params_string", packed(2, std::string("m"), std::string("p")), "violation"},
      {"notification_ok", packed(2, std::string("m"), std::vector<int>{}), "ok"},
  };
}

// NOLINTNEXTLINE(readability-identifier-naming): the name gtest looks for
void PrintTo(const ShapeCase& c, std::ostream* os) {
  *os << c.name;
}

class MessageShape : public ::testing::TestWithParam<ShapeCase> {};

TEST_P(MessageShape, IsClassifiedCorrectly) {
  const ShapeCase& c = GetParam();
  auto parsed = parse_message(msgpack::unpack(c.bytes.data(), c.bytes.size()));
  const std::string outcome(c.outcome);
  if (outcome == "violation") {
    ASSERT_FALSE(parsed.ok());
    EXPECT_FALSE(parsed.error().message.empty());
  } else if (outcome == "ok") {
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_FALSE(parsed.value().invalid);
  } else {
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    ASSERT_TRUE(parsed.value().invalid);
    EXPECT_EQ(parsed.value().type, Message::Type::request);
    EXPECT_EQ("invalid " + std::to_string(parsed.value().msgid), outcome);
    EXPECT_EQ(parsed.value().invalid->code, Error::validation);
  }
}

INSTANTIATE_TEST_SUITE_P(Decoder, MessageShape, ::testing::ValuesIn(shape_cases()),
                         [](const ::testing::TestParamInfo<ShapeCase>& param) {
                           return std::string(param.param.name);
                         });

}  // namespace
}  // namespace himalaya::rpc
