// The fixture of the Session tests (session_*test.cpp): a Session on a
// FakeTransport whose FakeWire records every byte the session writes, so each
// test asserts on the wire, as clangd's binder tests do with their recorder of
// outgoing messages. It collects closes, diagnostics and the outcomes of the
// requests the test issues.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "rpc/session.h"
#include "test_support.h"

namespace himalaya::rpc::testing {

inline const std::vector<int> no_params;

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

}  // namespace himalaya::rpc::testing
