// Buffer, Window and Tabpage: the exact bytes Neovim uses, and round trips.
#include "rpc/ext_types.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "test_support.h"

namespace himalaya::rpc {
namespace {

using testing::packed_value;

template <class T>
T round_trip(const T& value) {
  const std::string bytes = packed_value(value);
  return msgpack::unpack(bytes.data(), bytes.size())->as<T>();
}

TEST(ExtTypes, PackAsNeovimDoes) {
  // fixext1, type 0, payload the integer 1.
  EXPECT_EQ(packed_value(Buffer{1}), std::string("\xd4\x00\x01", 3));
  // ext8 of 3 bytes, type 1, payload uint16 1000 (cd 03 e8).
  EXPECT_EQ(packed_value(Window{1000}), std::string("\xc7\x03\x01\xcd\x03\xe8", 6));
  // fixext1, type 2.
  EXPECT_EQ(packed_value(Tabpage{2}), std::string("\xd4\x02\x02", 3));
  // fixext2 for a 2-byte payload (uint8 200 is cc c8).
  EXPECT_EQ(packed_value(Buffer{200}), std::string("\xd5\x00\xcc\xc8", 4));
}

TEST(ExtTypes, RoundTrip) {
  for (std::int64_t id : std::vector<std::int64_t>{
           0, 1, 127, 128, 1000, 65535, 65536, std::numeric_limits<std::int32_t>::max(),
           std::numeric_limits<std::int64_t>::max(), -1, -33, -129, -40000, -3000000000LL}) {
    EXPECT_EQ(round_trip(Buffer{id}).id, id);
    EXPECT_EQ(round_trip(Window{id}).id, id);
    EXPECT_EQ(round_trip(Tabpage{id}).id, id);
  }
}

TEST(ExtTypes, RoundTripInsideContainers) {
  const std::vector<Window> windows{{1000}, {1001}, {1002}};
  const auto back = round_trip(windows);
  EXPECT_EQ(back, windows);
}

TEST(ExtTypes, ObjectWithZoneMatchesPackedForm) {
  msgpack::zone zone;
  const msgpack::object o(Window{1000}, zone);
  ASSERT_EQ(o.type, msgpack::type::EXT);
  EXPECT_EQ(o.via.ext.type(), 1);
  EXPECT_EQ(o.as<Window>(), Window{1000});
  msgpack::sbuffer buf;
  msgpack::pack(buf, o);
  EXPECT_EQ(std::string(buf.data(), buf.size()), packed_value(Window{1000}));
}

TEST(ExtTypes, PlainIntegerConvertsToAHandle) {
  // Lua sees handles as numbers and passes them to rpcnotify as such.
  EXPECT_EQ(msgpack::object(5).as<Buffer>(), Buffer{5});
  EXPECT_EQ(msgpack::object(1000).as<Window>(), Window{1000});
}

TEST(ExtTypes, ConversionRejectsOtherShapes) {
  // An ext of the wrong type.
  const std::string window = packed_value(Window{1000});
  EXPECT_THROW(msgpack::unpack(window.data(), window.size())->as<Buffer>(), msgpack::type_error);
  // A string, nil, a float.
  msgpack::zone zone;
  EXPECT_THROW(msgpack::object(std::string("x"), zone).as<Tabpage>(), msgpack::type_error);
  EXPECT_THROW(msgpack::object().as<Tabpage>(), msgpack::type_error);
  EXPECT_THROW(msgpack::object(1.5).as<Buffer>(), msgpack::type_error);
  // Payloads that are not exactly one integer.
  for (const std::string& bad : {
           std::string("\xd4\x00\xc0", 3),                               // nil payload
           std::string("\xd5\x00\x01\x02", 4),                           // two integers
           std::string("\xd5\x00\xcd\x03", 4),                           // truncated uint16
           std::string("\xd6\x00\xa3\x61\x62\x63", 6),                   // a string
           std::string("\xc7\x00\x00", 3),                               // empty payload
           std::string("\xd7\x00\xcf\x80\x00\x00\x00\x00\x00\x00", 10),  // truncated uint64
       }) {
    auto handle = msgpack::unpack(bad.data(), bad.size());
    EXPECT_THROW(handle->as<Buffer>(), msgpack::type_error) << ::testing::PrintToString(bad);
  }
  // uint64 above INT64_MAX.
  const std::string huge("\xc7\x09\x00\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 12);
  EXPECT_THROW(msgpack::unpack(huge.data(), huge.size())->as<Buffer>(), msgpack::type_error);
}

}  // namespace
}  // namespace himalaya::rpc
