#include "imap/session.h"

#include <algorithm>
#include <utility>

namespace himalaya::imap {
namespace {

std::string base64(const std::string& in) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = static_cast<unsigned char>(in[i]) << 16 |
                       static_cast<unsigned char>(in[i + 1]) << 8 |
                       static_cast<unsigned char>(in[i + 2]);
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    out += alphabet[n >> 6 & 63];
    out += alphabet[n & 63];
  }
  if (i < in.size()) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) {
      n |= static_cast<unsigned char>(in[i + 1]) << 8;
    }
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    out += i + 1 < in.size() ? alphabet[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::string seconds_text(std::chrono::milliseconds d) {
  const auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    out += (out.empty() ? "" : " ") + w;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

std::vector<std::string> astring_parts(const std::string& value) {
  bool literal = false;
  for (unsigned char c : value) {
    if (c == '\0') {
      return {};
    }
    literal = literal || c == '\r' || c == '\n' || c >= 0x80;
  }
  if (literal) {
    return {"{" + std::to_string(value.size()) + "}", value};
  }
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
    }
    quoted += c;
  }
  return {quoted + "\""};
}

Session::Session(Options options) : options_(std::move(options)), parser_(options_.limits) {}

const char* Session::step_name() const {
  switch (step_) {
    case Step::idle_start:
      return "not started";
    case Step::greeting:
      return "greeting";
    case Step::capability:
      return "capability";
    case Step::starttls:
      return "starttls";
    case Step::handshake:
      return "tls handshake";
    case Step::authenticate:
      return "login";
    case Step::examine:
      return "examine";
    case Step::idle_request:
      return "idle";
    case Step::idling:
      return "idling";
    case Step::idle_done:
      return "done";
    case Step::logout:
      return "logout";
    case Step::finished:
      return "finished";
  }
  return "?";
}

std::optional<TimePoint> Session::deadline() const {
  if (step_ == Step::idling && refresh_at_) {
    return refresh_at_;
  }
  return reply_deadline_;
}

bool Session::has_capability(const std::string& name) const {
  return std::find(capabilities_.begin(), capabilities_.end(), name) != capabilities_.end();
}

bool Session::mech_allowed(const std::string& mech) const {
  const auto& m = options_.auth_mechs;
  return m.empty() || std::find(m.begin(), m.end(), "*") != m.end() ||
         std::find(m.begin(), m.end(), mech) != m.end();
}

void Session::finish(Event::Kind kind, std::string message, Output& out) {
  step_ = Step::finished;
  tag_.clear();
  pending_parts_.clear();
  reply_deadline_.reset();
  refresh_at_.reset();
  Event e;
  e.kind = kind;
  e.message = std::move(message);
  out.events.push_back(std::move(e));
}

void Session::send(const std::string& command, const std::string& trace, TimePoint now,
                   Output& out) {
  tag_ = "A" + std::to_string(next_tag_++);
  out.bytes += tag_ + " " + command;
  out.trace += tag_ + " " + trace + "\r\n";
  reply_deadline_ = now + options_.reply_timeout;
}

Output Session::start(TimePoint now) {
  Output out;
  if (step_ == Step::idle_start) {
    step_ = Step::greeting;
    reply_deadline_ = now + options_.reply_timeout;
  }
  return out;
}

Output Session::receive(const char* data, std::size_t size, TimePoint now) {
  Output out;
  if (step_ == Step::finished || step_ == Step::idle_start) {
    return out;
  }
  if (step_ == Step::handshake) {
    finish(Event::Kind::protocol_error, "server sent data before the TLS handshake", out);
    return out;
  }
  parser_.feed(data, size);
  while (step_ != Step::finished) {
    auto next = parser_.next();
    if (!next) {
      finish(Event::Kind::protocol_error, "bad response: " + next.error().message, out);
      break;
    }
    if (!next.value()) {
      break;
    }
    handle(*next.value(), now, out);
  }
  return out;
}

Output Session::tls_started(TimePoint now) {
  Output out;
  if (step_ == Step::handshake) {
    tls_done_ = true;
    step_ = Step::capability;
    send("CAPABILITY\r\n", "CAPABILITY", now, out);
  }
  return out;
}

Output Session::on_timer(TimePoint now) {
  Output out;
  if (step_ == Step::finished) {
    return out;
  }
  if (step_ == Step::idling && refresh_at_ && now >= *refresh_at_) {
    refresh_at_.reset();
    step_ = Step::idle_done;
    out.bytes += "DONE\r\n";
    out.trace += "DONE\r\n";
    reply_deadline_ = now + options_.reply_timeout;
  } else if (reply_deadline_ && now >= *reply_deadline_) {
    finish(Event::Kind::timed_out,
           std::string("no reply at step ") + step_name() + " within " +
               seconds_text(options_.reply_timeout),
           out);
  }
  return out;
}

Output Session::logout(TimePoint now) {
  Output out;
  logout_wanted_ = true;
  switch (step_) {
    case Step::idle_start:
    case Step::greeting:
    case Step::handshake:
      finish(Event::Kind::logged_out, "closed before login", out);
      break;
    case Step::idling:
      step_ = Step::idle_done;
      refresh_at_.reset();
      out.bytes += "DONE\r\n";
      out.trace += "DONE\r\n";
      reply_deadline_ = now + options_.reply_timeout;
      break;
    default:
      break;  // LOGOUT follows the reply to the command in flight
  }
  return out;
}

void Session::handle(const Response& r, TimePoint now, Output& out) {
  switch (r.kind) {
    case Response::Kind::continuation:
      handle_continuation(now, out);
      return;
    case Response::Kind::tagged:
      handle_tagged(r, now, out);
      return;
    case Response::Kind::data:
      if (r.data == Response::Data::capability) {
        capabilities_ = r.capabilities;
        have_capabilities_ = true;
      } else if (selected_ &&
                 (r.data == Response::Data::exists || r.data == Response::Data::expunge ||
                  r.data == Response::Data::fetch)) {
        Event e;
        e.kind = Event::Kind::mailbox_changed;
        e.change = r.data == Response::Data::exists    ? Event::Change::exists
                   : r.data == Response::Data::expunge ? Event::Change::expunge
                                                       : Event::Change::fetch;
        e.number = r.number;
        e.message = std::to_string(r.number) + (r.data == Response::Data::exists    ? " EXISTS"
                                                : r.data == Response::Data::expunge ? " EXPUNGE"
                                                                                    : " FETCH");
        out.events.push_back(std::move(e));
      }
      return;
    case Response::Kind::status:
      break;
  }
  if (r.status == Response::Status::bye) {
    if (step_ != Step::logout) {
      finish(Event::Kind::bye, "server closed the session: " + r.text, out);
    }
    return;
  }
  if (r.code == "CAPABILITY") {
    capabilities_ = r.capabilities;
    have_capabilities_ = true;
  }
  if (step_ != Step::greeting) {
    return;  // "* OK [UIDVALIDITY ...]", "* OK Still here", "* NO ...": nothing to act on
  }
  if (r.status == Response::Status::ok) {
    after_capabilities(now, out);
  } else if (r.status == Response::Status::preauth) {
    if (options_.starttls) {
      finish(Event::Kind::protocol_error,
             "server greets as already logged in (PREAUTH), so STARTTLS cannot be used", out);
      return;
    }
    authenticated_ = true;
    after_capabilities(now, out);
  } else {
    finish(Event::Kind::protocol_error, "server greeting is not OK: " + r.text, out);
  }
}

void Session::handle_continuation(TimePoint now, Output& out) {
  if (!pending_parts_.empty()) {
    out.bytes += pending_parts_.front();
    pending_parts_.erase(pending_parts_.begin());
    out.trace += "(literal or SASL response, redacted)\r\n";
  } else if (step_ == Step::idle_request) {
    if (logout_wanted_) {
      step_ = Step::idle_done;
      out.bytes += "DONE\r\n";
      out.trace += "DONE\r\n";
      reply_deadline_ = now + options_.reply_timeout;
      return;
    }
    step_ = Step::idling;
    reply_deadline_.reset();
    refresh_at_ = now + options_.idle_refresh;
    Event e;
    e.kind = Event::Kind::idling;
    e.message = "idling on " + options_.mailbox;
    out.events.push_back(std::move(e));
  } else if (step_ == Step::authenticate) {
    out.bytes += "*\r\n";  // a SASL challenge PLAIN does not have: cancel
    out.trace += "*\r\n";
  } else {
    finish(Event::Kind::protocol_error,
           std::string("unexpected continuation at step ") + step_name(), out);
  }
}

void Session::handle_tagged(const Response& r, TimePoint now, Output& out) {
  if (tag_.empty() || r.tag != tag_) {
    finish(Event::Kind::protocol_error, "reply to a command not sent: tag " + r.tag, out);
    return;
  }
  tag_.clear();
  pending_parts_.clear();
  reply_deadline_.reset();
  const bool ok = r.status == Response::Status::ok;
  const Step step = step_;
  if (step == Step::logout) {
    finish(Event::Kind::logged_out, "logged out", out);
    return;
  }
  if (logout_wanted_ && ok && step != Step::starttls) {
    step_ = Step::logout;
    send("LOGOUT\r\n", "LOGOUT", now, out);
    return;
  }
  switch (step) {
    case Step::capability:
      if (!ok) {
        finish(Event::Kind::protocol_error, "CAPABILITY refused: " + r.text, out);
        return;
      }
      have_capabilities_ = true;
      after_capabilities(now, out);
      return;
    case Step::starttls:
      if (!ok) {
        finish(Event::Kind::protocol_error, "server refused STARTTLS: " + r.text, out);
      } else if (parser_.buffered() > 0) {
        finish(Event::Kind::protocol_error, "server sent data after its STARTTLS reply", out);
      } else if (logout_wanted_) {
        finish(Event::Kind::logged_out, "closed before login", out);
      } else {
        step_ = Step::handshake;
        capabilities_.clear();
        have_capabilities_ = false;
        Event e;
        e.kind = Event::Kind::need_tls;
        e.message = "STARTTLS accepted";
        out.events.push_back(std::move(e));
      }
      return;
    case Step::authenticate:
      if (!ok) {
        finish(Event::Kind::auth_failed,
               "server refused the login for " + options_.user + ": " +
                   (r.text.empty() ? r.code : r.text),
               out);
        return;
      }
      authenticated_ = true;
      have_capabilities_ = r.code == "CAPABILITY";
      if (have_capabilities_) {
        capabilities_ = r.capabilities;
      }
      after_capabilities(now, out);
      return;
    case Step::examine:
      if (!ok) {
        finish(Event::Kind::protocol_error,
               "server refused EXAMINE " + options_.mailbox + ": " + r.text, out);
        return;
      }
      selected_ = true;
      out.events.push_back(
          Event{Event::Kind::ready, Event::Change::none, 0, options_.mailbox + " examined"});
      step_ = Step::idle_request;
      send("IDLE\r\n", "IDLE", now, out);
      return;
    case Step::idle_request:
    case Step::idling:
    case Step::idle_done:
      if (!ok) {
        finish(Event::Kind::protocol_error, "server refused IDLE: " + r.text, out);
        return;
      }
      refresh_at_.reset();
      step_ = Step::idle_request;  // the IDLE ended (our DONE, or the server's choice): again
      send("IDLE\r\n", "IDLE", now, out);
      return;
    default:
      finish(Event::Kind::protocol_error,
             std::string("unexpected tagged reply at step ") + step_name(), out);
      return;
  }
}

void Session::after_capabilities(TimePoint now, Output& out) {
  if (!have_capabilities_) {
    step_ = Step::capability;
    send("CAPABILITY\r\n", "CAPABILITY", now, out);
    return;
  }
  if (!authenticated_) {
    if (options_.starttls && !tls_done_) {
      if (!has_capability("STARTTLS")) {
        finish(Event::Kind::protocol_error, "server does not offer STARTTLS", out);
        return;
      }
      step_ = Step::starttls;
      send("STARTTLS\r\n", "STARTTLS", now, out);
      return;
    }
    authenticate(now, out);
    return;
  }
  if (!has_capability("IDLE")) {
    out.bytes += "A" + std::to_string(next_tag_++) + " LOGOUT\r\n";
    finish(Event::Kind::no_idle,
           "server does not offer IDLE (capabilities: " + joined(capabilities_) + ")", out);
    return;
  }
  step_ = Step::examine;
  const auto parts = astring_parts(options_.mailbox);
  if (parts.size() != 1) {
    finish(Event::Kind::protocol_error, "mailbox name cannot be sent: " + options_.mailbox, out);
    return;
  }
  send("EXAMINE " + parts[0] + "\r\n", "EXAMINE " + parts[0], now, out);
}

void Session::authenticate(TimePoint now, Output& out) {
  step_ = Step::authenticate;
  if (has_capability("AUTH=PLAIN") && mech_allowed("PLAIN")) {
    const std::string response =
        base64(std::string(1, '\0') + options_.user + std::string(1, '\0') + options_.password);
    if (has_capability("SASL-IR")) {
      send("AUTHENTICATE PLAIN " + response + "\r\n", "AUTHENTICATE PLAIN (redacted)", now, out);
    } else {
      send("AUTHENTICATE PLAIN\r\n", "AUTHENTICATE PLAIN", now, out);
      pending_parts_ = {response + "\r\n"};
    }
    return;
  }
  if (mech_allowed("LOGIN") && !has_capability("LOGINDISABLED")) {
    const auto user = astring_parts(options_.user);
    const auto password = astring_parts(options_.password);
    if (user.empty() || password.empty()) {
      finish(Event::Kind::auth_failed, "user name or password holds a NUL byte", out);
      return;
    }
    // Each literal ends a piece; the next piece goes after the server's "+".
    std::vector<std::string> pieces{"LOGIN"};
    for (const auto* parts : {&user, &password}) {
      pieces.back() += " " + (*parts)[0];
      if (parts->size() == 2) {
        pieces.back() += "\r\n";
        pieces.push_back((*parts)[1]);
      }
    }
    pieces.back() += "\r\n";
    const std::string shown_user = user.size() == 1 ? user[0] : user[0] + " (literal)";
    send(pieces[0], "LOGIN " + shown_user + " (password redacted)", now, out);
    pending_parts_.assign(pieces.begin() + 1, pieces.end());
    return;
  }
  finish(Event::Kind::auth_failed,
         "no login mechanism in common: the server offers " + joined(capabilities_) +
             "; AuthMechs allows " + joined(options_.auth_mechs),
         out);
}

}  // namespace himalaya::imap
