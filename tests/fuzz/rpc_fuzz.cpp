// libFuzzer target: arbitrary bytes, in arbitrary chunks, into an rpc::Session
// over the in-memory FakeTransport of tests/rpc/test_support.h.
//
// Input layout: a 5-byte header, then the stream.
//   byte 0: bits 0-1 pick max_message_bytes (256, 4 KiB, 64 KiB, 1 MiB),
//           bits 2-3 max_depth (2, 8, 32, 128), bit 4 the order in which held
//           replies are answered at the end, bits 5-6 how many requests the
//           session makes before reading (their msgids are 1, 2, 3).
//   bytes 1-4: chunk sizes, used in turn; 0 means "everything left".
// Missing header bytes count as zero.
//
// Checked besides "no crash, no hang, no leak" (ASan/LSan/UBSan):
// - everything the session writes is a well-formed message, and its errors
//   have Neovim's [0|1, string] shape;
// - no request is answered more often than it was received (a second decoder
//   over the same bytes, fed at once, says which requests there were);
// - while the session is open, every request got exactly one reply;
// - a stream the second decoder finds invalid has closed the session;
// - EOF closes the session, fails every pending call and runs on_close once.
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <msgpack.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "rpc/decoder.h"
#include "rpc/session.h"
#include "test_support.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using himalaya::rpc::Buffer;
using himalaya::rpc::Decoder;
using himalaya::rpc::Error;
using himalaya::rpc::Message;
using himalaya::rpc::Object;
using himalaya::rpc::Reply;
using himalaya::rpc::Result;
using himalaya::rpc::Session;
using himalaya::rpc::Tabpage;
using himalaya::rpc::Window;
using himalaya::rpc::testing::FakeTransport;
using himalaya::rpc::testing::FakeWire;

constexpr std::size_t header_size = 5;

struct Header {
  Session::Options options;
  bool answer_newest_first = false;
  int outgoing_requests = 0;
  std::uint8_t chunks[4] = {0, 0, 0, 0};
};

Header read_header(const std::uint8_t* data, std::size_t size) {
  std::uint8_t h[header_size] = {0, 0, 0, 0, 0};
  for (std::size_t i = 0; i < header_size && i < size; ++i) {
    h[i] = data[i];
  }
  static constexpr std::size_t caps[] = {256, 4096, 65536, std::size_t{1} << 20};
  static constexpr std::size_t depths[] = {2, 8, 32, 128};
  Header header;
  header.options.max_message_bytes = caps[h[0] & 3];
  header.options.max_depth = depths[(h[0] >> 2) & 3];
  header.answer_newest_first = (h[0] & 0x10) != 0;
  header.outgoing_requests = (h[0] >> 5) & 3;
  for (int i = 0; i < 4; ++i) {
    header.chunks[i] = h[1 + i];
  }
  return header;
}

// A Reply a handler kept, answered later by a callback or at the end.
struct Held {
  std::optional<Reply> reply;
  void answer(const std::string& how) {
    if (reply) {
      reply->ok(how);
      reply.reset();
    }
  }
};

// What the handlers and callbacks saw; outlives the session.
struct Observed {
  std::vector<std::shared_ptr<Held>> held;
  int calls_made = 0;
  int calls_done = 0;
  int closes = 0;
};

// The requests in the stream, as a decoder with the same limits reads it in
// one piece: msgid -> how many times.
struct Expected {
  std::map<std::uint32_t, int> requests;
  bool violation = false;
};

Expected read_alone(const char* data, std::size_t size, const Session::Options& options) {
  Expected expected;
  Decoder decoder(options.max_message_bytes, options.max_depth);
  decoder.feed(data, size);
  for (;;) {
    auto next = decoder.next();
    if (!next) {
      expected.violation = true;
      break;
    }
    if (!next.value()) {
      break;
    }
    if (next.value()->type == Message::Type::request) {
      ++expected.requests[next.value()->msgid];
    }
  }
  return expected;
}

std::string describe(const msgpack::object& o) {
  std::ostringstream s;
  s << o;
  return s.str();
}

// A callback for an outgoing request: converts the result a few ways, as a
// host would, and counts that it ran.
himalaya::rpc::Callback<Object> outcome_sink(Observed* seen, std::shared_ptr<Held> held) {
  ++seen->calls_made;
  return [seen, held = std::move(held)](Result<Object> r) {
    ++seen->calls_done;
    std::string how;
    if (r.ok()) {
      FUZZ_CHECK(r.value() != nullptr);
      how = describe(r.value()->get());
      try {
        how = r.value()->get().as<std::string>();
        (void)r.value()->get().as<std::vector<std::int64_t>>();
      } catch (const std::exception&) {
      }
    } else {
      FUZZ_CHECK(r.error().code == Error::exception || r.error().code == Error::validation);
      how = r.error().message;
    }
    if (held) {
      held->answer(how);
    }
  };
}

void bind_handlers(const std::shared_ptr<Session>& session, Observed* seen) {
  std::weak_ptr<Session> weak = session;
  session->on_request("echo", [](const msgpack::object& params, Reply reply) { reply.ok(params); });
  session->on_request("echo_packed", [](const msgpack::object& params, Reply reply) {
    msgpack::sbuffer buf;
    msgpack::pack(buf, params);
    reply.ok_packed(buf);
  });
  session->on_request("drop", [](const msgpack::object&, Reply) {});
  session->on_request(
      "throw", [](const msgpack::object&, Reply) { throw std::runtime_error("handler threw"); });
  session->on_request("fail", [](const msgpack::object&, Reply reply) {
    reply.fail(Error{Error::validation, "refused"});
  });
  session->on_request("later", [seen](const msgpack::object&, Reply reply) {
    seen->held.push_back(std::make_shared<Held>(Held{std::move(reply)}));
  });
  // Answers once the peer answers a request of ours (or at the end).
  session->on_request("nested", [seen, weak](const msgpack::object& params, Reply reply) {
    auto held = std::make_shared<Held>(Held{std::move(reply)});
    seen->held.push_back(held);
    if (auto s = weak.lock()) {
      s->request("peer_call", outcome_sink(seen, held), params);
    }
  });
  session->bind<std::int64_t, std::string>(
      "typed", [](std::int64_t n, std::string s, Reply reply) { reply.ok(std::make_tuple(n, s)); });
  session->bind<std::vector<std::int64_t>, std::map<std::string, double>>(
      "containers", [](std::vector<std::int64_t> v, std::map<std::string, double> m, Reply reply) {
        reply.ok(v.size() + m.size());
      });
  session->bind<Buffer, Window, Tabpage>("handles", [](Buffer b, Window w, Tabpage t, Reply reply) {
    reply.ok(std::make_tuple(b, w, t));
  });
  session->bind<>("noargs", [](Reply reply) { reply.ok_nil(); });
  session->bind<bool, double, msgpack::object>(
      "mixed", [](bool b, double d, msgpack::object o, Reply reply) {
        reply.ok(std::make_tuple(b, d, describe(o)));
      });

  session->on_notification("note", [](const msgpack::object& params) { (void)describe(params); });
  session->on_notification("throw", [](const msgpack::object&) {
    throw std::runtime_error("notification handler threw");
  });
  session->on_notification("close", [weak](const msgpack::object&) {
    if (auto s = weak.lock()) {
      s->close();
    }
  });
  session->on_notification("call_back", [seen, weak](const msgpack::object& params) {
    if (auto s = weak.lock()) {
      s->request("peer_call", outcome_sink(seen, nullptr), params);
      s->notify("peer_note", params);
    }
  });
  session->on_close([seen](const Error& e) {
    ++seen->closes;
    FUZZ_CHECK(!e.message.empty());
  });
  session->on_diagnostic([](const std::string& d) { FUZZ_CHECK(!d.empty()); });
}

// Splits what the session wrote into messages, checks their shape, and counts
// the responses per msgid.
std::map<std::uint32_t, int> read_written(FakeWire& wire) {
  std::map<std::uint32_t, int> replies;
  for (const auto& handle : wire.take_messages()) {
    const msgpack::object& o = handle.get();
    FUZZ_CHECK(o.type == msgpack::type::ARRAY && o.via.array.size >= 3);
    const msgpack::object* item = o.via.array.ptr;
    FUZZ_CHECK(item[0].type == msgpack::type::POSITIVE_INTEGER && item[0].via.u64 <= 2);
    if (item[0].via.u64 != 1) {
      continue;  // a request or notification of ours
    }
    FUZZ_CHECK(o.via.array.size == 4);
    FUZZ_CHECK(item[1].type == msgpack::type::POSITIVE_INTEGER && item[1].via.u64 <= UINT32_MAX);
    if (item[2].type != msgpack::type::NIL) {
      FUZZ_CHECK(item[2].type == msgpack::type::ARRAY && item[2].via.array.size == 2);
      const msgpack::object& code = item[2].via.array.ptr[0];
      FUZZ_CHECK(code.type == msgpack::type::POSITIVE_INTEGER && code.via.u64 <= 1);
      FUZZ_CHECK(item[2].via.array.ptr[1].type == msgpack::type::STR);
      FUZZ_CHECK(item[3].type == msgpack::type::NIL);
    }
    ++replies[static_cast<std::uint32_t>(item[1].via.u64)];
  }
  FUZZ_CHECK(wire.unread_written().empty());
  return replies;
}

boost::asio::io_context& io() {
  static boost::asio::io_context context;
  return context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Header header = read_header(data, size);
  const std::size_t skip = size < header_size ? size : header_size;
  const char* stream = reinterpret_cast<const char*>(data) + skip;
  const std::size_t stream_size = size - skip;
  const Expected expected = read_alone(stream, stream_size, header.options);

  Observed seen;
  auto wire = std::make_shared<FakeWire>(io());
  auto session = Session::create(std::make_unique<FakeTransport>(wire), header.options);
  bind_handlers(session, &seen);
  for (int i = 0; i < header.outgoing_requests; ++i) {
    session->request("peer_call", outcome_sink(&seen, nullptr), i);
  }
  session->start();
  himalaya::rpc::testing::run_ready(io());

  std::size_t offset = 0;
  for (int turn = 0; offset < stream_size; ++turn) {
    const std::size_t chunk = header.chunks[turn % 4];
    const std::size_t n = chunk == 0 || chunk > stream_size - offset ? stream_size - offset : chunk;
    wire->feed(std::string(stream + offset, n));
    offset += n;
    himalaya::rpc::testing::run_ready(io());
  }

  // Answer what the handlers kept, in the order the header says.
  const std::size_t kept = seen.held.size();
  for (std::size_t i = 0; i < kept; ++i) {
    seen.held[header.answer_newest_first ? kept - 1 - i : i]->answer("late");
  }
  himalaya::rpc::testing::run_ready(io());

  const auto replies = read_written(*wire);
  for (const auto& [msgid, count] : replies) {
    auto found = expected.requests.find(msgid);
    FUZZ_CHECK(found != expected.requests.end() && count <= found->second);
  }
  if (session->is_open()) {
    FUZZ_CHECK(!expected.violation);
    FUZZ_CHECK(replies == expected.requests);
    FUZZ_CHECK(seen.closes == 0);
  } else {
    FUZZ_CHECK(seen.closes == 1);
  }

  wire->feed_eof();
  himalaya::rpc::testing::run_ready(io());
  FUZZ_CHECK(!session->is_open());
  FUZZ_CHECK(wire->closed());
  FUZZ_CHECK(seen.closes == 1);
  FUZZ_CHECK(seen.calls_done == seen.calls_made);
  FUZZ_CHECK(wire->max_writes_in_flight() <= 1);
  (void)read_written(*wire);

  wire->destroy_pending_read();
  session.reset();
  himalaya::rpc::testing::run_ready(io());
  seen.held.clear();
  return 0;
}
