// libFuzzer target: arbitrary server bytes, in arbitrary chunks, into the
// IMAP ResponseParser and Session (imap/).
//
// Input layout: a 5-byte header, then the server's bytes.
//   byte 0: bit 0 small limits (max_line 64, max_literal 256) or the defaults,
//           bit 1 STARTTLS configured, bits 2-3 AuthMechs (any, PLAIN, LOGIN,
//           XOAUTH2), bit 4 a password that needs a literal, bit 5 the clock
//           passes every deadline between chunks, bit 6 logout() after the
//           first chunk.
//   bytes 1-4: chunk sizes, used in turn; 0 means "everything left".
// Missing header bytes count as zero.
//
// Checked besides "no crash, no hang, no leak" (ASan/LSan/UBSan):
// - the parser yields the same responses (or the same error) whether fed at
//   once or in chunks, and buffers at most max_line plus one chunk;
// - without STARTTLS and timers, the session writes the same bytes and gives
//   the same events whatever the split;
// - the trace never holds the password or its PLAIN encoding, nor does an
//   event's message unless the server's own bytes said it;
// - a finished session writes nothing more, gives no events, wants no timer,
//   and gives exactly one final event.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "imap/response_parser.h"
#include "imap/session.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using himalaya::imap::Event;
using himalaya::imap::Options;
using himalaya::imap::Output;
using himalaya::imap::Response;
using himalaya::imap::ResponseParser;
using himalaya::imap::Session;
using himalaya::imap::TimePoint;

constexpr std::size_t header_size = 5;

struct Header {
  std::uint8_t flags = 0;
  std::uint8_t chunks[4] = {0, 0, 0, 0};
};

Header read_header(const std::uint8_t* data, std::size_t size) {
  Header h;
  std::uint8_t raw[header_size] = {0, 0, 0, 0, 0};
  for (std::size_t i = 0; i < header_size && i < size; ++i) {
    raw[i] = data[i];
  }
  h.flags = raw[0];
  for (int i = 0; i < 4; ++i) {
    h.chunks[i] = raw[1 + i];
  }
  return h;
}

std::vector<std::string> split(const std::string& stream, const Header& h) {
  std::vector<std::string> pieces;
  std::size_t offset = 0;
  for (int turn = 0; offset < stream.size(); ++turn) {
    const std::size_t chunk = h.chunks[turn % 4];
    const std::size_t left = stream.size() - offset;
    const std::size_t n = chunk == 0 || chunk > left ? left : chunk;
    pieces.push_back(stream.substr(offset, n));
    offset += n;
  }
  return pieces;
}

ResponseParser::Limits limits(const Header& h) {
  ResponseParser::Limits l;
  if (h.flags & 1) {
    l.max_line = 64;
    l.max_literal = 256;
  }
  return l;
}

// One line per response (its kind, status, data, number, tag, code), or the error.
std::string describe(const Response& r) {
  return std::to_string(static_cast<int>(r.kind)) + "/" +
         std::to_string(static_cast<int>(r.status)) + "/" +
         std::to_string(static_cast<int>(r.data)) + "/" + std::to_string(r.number) + "/" + r.tag +
         "/" + r.code + "\n";
}

std::string parse_in(const std::vector<std::string>& pieces, const ResponseParser::Limits& l) {
  ResponseParser parser(l);
  std::string seen;
  for (const auto& p : pieces) {
    parser.feed(p.data(), p.size());
    for (;;) {
      auto next = parser.next();
      if (!next) {
        FUZZ_CHECK(!next.error().message.empty());
        FUZZ_CHECK(!parser.next());  // spent
        return seen + "error\n";
      }
      if (!next.value()) {
        break;
      }
      seen += describe(*next.value());
    }
    FUZZ_CHECK(parser.buffered() <= l.max_line + p.size() + 2);
  }
  return seen;
}

const char* const password = "Pw-\"fuzz\"-s3cret";

Options session_options(const Header& h) {
  Options o;
  o.user = "fuzzer";
  o.password = (h.flags & 0x10) ? std::string("Pw-\xc3\xa4-s3cret") : std::string(password);
  o.starttls = (h.flags & 2) != 0;
  static const char* const mechs[] = {"*", "PLAIN", "LOGIN", "XOAUTH2"};
  o.auth_mechs = {mechs[(h.flags >> 2) & 3]};
  o.reply_timeout = std::chrono::seconds(5);
  o.idle_refresh = std::chrono::seconds(60);
  o.limits = limits(h);
  return o;
}

struct Run {
  std::string bytes;
  std::string kinds;
  int final_events = 0;
};

Run drive(const std::vector<std::string>& pieces, const Header& h, bool server_said_it) {
  const Options o = session_options(h);
  Session s(o);
  Run run;
  TimePoint now{};
  auto take = [&](const Output& out, bool was_finished) {
    if (was_finished) {
      FUZZ_CHECK(out.bytes.empty() && out.events.empty());
    }
    FUZZ_CHECK(out.trace.find("s3cret") == std::string::npos);
    FUZZ_CHECK(out.trace.find("AGZ1enplcgBQdy0") == std::string::npos);  // "\0fuzzer\0Pw-"
    run.bytes += out.bytes;
    for (const auto& e : out.events) {
      run.kinds += std::to_string(static_cast<int>(e.kind)) + " ";
      FUZZ_CHECK(server_said_it || e.message.find("s3cret") == std::string::npos);
      if (e.kind != Event::Kind::ready && e.kind != Event::Kind::idling &&
          e.kind != Event::Kind::mailbox_changed && e.kind != Event::Kind::need_tls) {
        ++run.final_events;
        FUZZ_CHECK(s.finished());
      }
    }
    if (s.finished()) {
      FUZZ_CHECK(!s.deadline());
    }
  };
  take(s.start(now), false);
  bool first = true;
  for (const auto& p : pieces) {
    bool was = s.finished();
    Output out = s.receive(p.data(), p.size(), now);
    take(out, was);
    for (const auto& e : out.events) {
      if (e.kind == Event::Kind::need_tls) {
        was = s.finished();
        take(s.tls_started(now), was);
      }
    }
    if ((h.flags & 0x20) && s.deadline()) {
      now = *s.deadline();
      was = s.finished();
      take(s.on_timer(now), was);
    }
    if (first && (h.flags & 0x40)) {
      was = s.finished();
      take(s.logout(now), was);
    }
    first = false;
  }
  FUZZ_CHECK(run.final_events <= 1);
  FUZZ_CHECK(run.final_events == (s.finished() ? 1 : 0));
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Header h = read_header(data, size);
  const std::size_t skip = size < header_size ? size : header_size;
  const std::string stream(reinterpret_cast<const char*>(data) + skip, size - skip);
  const auto pieces = split(stream, h);

  FUZZ_CHECK(parse_in({stream}, limits(h)) == parse_in(pieces, limits(h)));

  const bool server_said_it = stream.find("s3cret") != std::string::npos;
  const Run chunked = drive(pieces, h, server_said_it);
  if ((h.flags & (2 | 0x20 | 0x40)) == 0) {
    const Run whole = drive({stream}, h, server_said_it);
    FUZZ_CHECK(whole.bytes == chunked.bytes);
    FUZZ_CHECK(whole.kinds == chunked.kinds);
  }
  return 0;
}
