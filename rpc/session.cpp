#include "rpc/session.h"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <cassert>
#include <deque>
#include <exception>
#include <map>
#include <unordered_map>
#include <vector>

#include "rpc/decoder.h"
#include "rpc/wire_helpers.h"

namespace himalaya::rpc {

// What a Reply needs to answer: which request, and a weak way back to the
// session. `dispatching` is set while the handler runs synchronously, so that
// a Reply dropped inside the handler (or by an exception unwinding it) is
// answered by the dispatcher, which can say why.
struct Reply::State {
  std::weak_ptr<Session> session;
  std::uint64_t seq = 0;  // identifies the request on the unanswered stack
  std::uint32_t msgid = 0;
  bool used = false;
  bool dispatching = false;
  bool dropped = false;
};

namespace {

constexpr const char* dropped_message = "request dropped without a reply";

using detail::describe;
using detail::error_from_peer;
using detail::is_packed_array;
using detail::pack_error;

}  // namespace

struct Session::Impl {
  Impl(Session& owner, std::unique_ptr<Transport> t, Options o)
      : self(owner), transport(std::move(t)), decoder(o.max_message_bytes, o.max_depth) {}

  // An incoming request not yet answered, innermost last. Its reply waits here
  // until every request received after it has been answered.
  struct Unanswered {
    std::uint64_t seq;
    std::optional<msgpack::sbuffer> reply;
  };

  enum class Status { open, closed };

  Session& self;
  std::unique_ptr<Transport> transport;
  Decoder decoder;
  Status status = Status::open;
  bool started = false;

  std::unordered_map<std::string, RequestHandler> request_handlers;
  std::unordered_map<std::string, NotificationHandler> notification_handlers;
  std::function<void(const Error&)> close_handler;
  std::function<void(const std::string&)> diagnostic_handler;

  // Ordered, so that a close fails pending calls in the order they were made.
  std::map<std::uint32_t, Callback<Object>> pending;
  std::uint32_t next_msgid = 1;

  std::vector<Unanswered> unanswered;
  std::uint64_t next_seq = 1;

  std::deque<msgpack::sbuffer> write_queue;
  bool writing = false;

  void diagnose(const std::string& what) {
    if (!diagnostic_handler) {
      return;
    }
    try {
      diagnostic_handler(what);
    } catch (...) {
      // A failing logger must not take the session down.
    }
  }

  // ---- reading ----

  void read_more() {
    if (status != Status::open) {
      return;
    }
    std::pair<char*, std::size_t> area;
    try {
      area = decoder.prepare();
    } catch (const std::exception& e) {
      close_with(Error{Error::exception, std::string("cannot buffer input: ") + e.what()});
      return;
    }
    transport->async_read_some(
        area.first, area.second,
        [keep = self.shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          keep->impl_->on_read(ec, n);
        });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    if (status != Status::open) {
      return;
    }
    if (ec) {
      close_with(Error{Error::exception, ec == boost::asio::error::eof
                                             ? std::string("channel closed by peer")
                                             : "read failed: " + ec.message()});
      return;
    }
    decoder.commit(n);
    while (status == Status::open) {
      auto next = decoder.next();
      if (!next) {
        close_with(Error{Error::exception, "protocol violation: " + next.error().message});
        return;
      }
      if (!next.value()) {
        break;
      }
      dispatch(std::move(*next.value()));
    }
    read_more();
  }

  void dispatch(Message message) {
    switch (message.type) {
      case Message::Type::request:
        return on_request(std::move(message));
      case Message::Type::response:
        return on_response(std::move(message));
      case Message::Type::notification:
        return on_notification(message);
    }
  }

  void on_request(Message message) {
    auto state = std::make_shared<Reply::State>();
    state->session = self.weak_from_this();
    state->seq = next_seq++;
    state->msgid = message.msgid;
    unanswered.push_back(Unanswered{state->seq, std::nullopt});

    if (message.invalid) {
      diagnose("invalid request " + std::to_string(message.msgid) + ": " +
               message.invalid->message);
      Reply(state).fail(*message.invalid);
      return;
    }
    auto found = request_handlers.find(message.method);
    if (found == request_handlers.end()) {
      diagnose("no handler for request '" + message.method + "'");
      Reply(state).fail(Error{Error::exception, "Invalid method: " + message.method});
      return;
    }
    // Copied, so that a handler that rebinds its own method stays alive.
    RequestHandler handler = found->second;
    std::exception_ptr thrown;
    state->dispatching = true;
    try {
      handler(message.params, Reply(state));
    } catch (...) {
      thrown = std::current_exception();
    }
    state->dispatching = false;
    if (thrown) {
      diagnose("handler for '" + message.method + "' threw: " + describe(thrown));
    }
    if (state->dropped && !state->used) {
      // The Reply was destroyed inside the handler; answer for it now.
      Reply late(state);
      late.fail(Error{Error::exception, thrown ? message.method + ": " + describe(thrown)
                                               : std::string(dropped_message)});
    }
  }

  void on_response(Message message) {
    auto found = pending.find(message.msgid);
    if (found == pending.end()) {
      close_with(Error{Error::exception, "protocol violation: response with unknown msgid " +
                                             std::to_string(message.msgid)});
      return;
    }
    Callback<Object> done = std::move(found->second);
    pending.erase(found);
    if (!done) {
      return;
    }
    try {
      if (message.error.type != msgpack::type::NIL) {
        done(error_from_peer(message.error));
      } else {
        // The result keeps the message's zone; the rest of the message goes.
        done(std::make_shared<msgpack::object_handle>(message.result,
                                                      std::move(message.handle.zone())));
      }
    } catch (...) {
      diagnose("callback for msgid " + std::to_string(message.msgid) +
               " threw: " + describe(std::current_exception()));
    }
  }

  void on_notification(const Message& message) {
    auto found = notification_handlers.find(message.method);
    if (found == notification_handlers.end()) {
      if (message.method == "nvim_error_event") {
        diagnose("nvim_error_event: " + error_from_peer(message.params).message);
      } else {
        diagnose("no handler for notification '" + message.method + "'");
      }
      return;
    }
    NotificationHandler handler = found->second;
    try {
      handler(message.params);
    } catch (...) {
      diagnose("handler for notification '" + message.method +
               "' threw: " + describe(std::current_exception()));
    }
  }

  // ---- replying ----

  void send_reply(std::uint64_t seq, std::uint32_t msgid, const Error* error,
                  const msgpack::sbuffer* result) {
    if (status != Status::open) {
      return;
    }
    auto entry = std::find_if(unanswered.rbegin(), unanswered.rend(),
                              [seq](const Unanswered& u) { return u.seq == seq; });
    if (entry == unanswered.rend()) {
      return;
    }
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_array(4);
    pk.pack(1);
    pk.pack(msgid);
    if (error) {
      pack_error(pk, *error);
      pk.pack_nil();
    } else {
      pk.pack_nil();
      buf.write(result->data(), result->size());
    }
    entry->reply = std::move(buf);
    // Last in, first out: release every answered reply from the top down.
    while (!unanswered.empty() && unanswered.back().reply) {
      enqueue_write(std::move(*unanswered.back().reply));
      unanswered.pop_back();
    }
  }

  // ---- writing ----

  void enqueue_write(msgpack::sbuffer message) {
    if (status != Status::open) {
      return;
    }
    write_queue.push_back(std::move(message));
    if (!writing) {
      write_next();
    }
  }

  void write_next() {
    writing = true;
    const msgpack::sbuffer& front = write_queue.front();
    transport->async_write(
        front.data(), front.size(),
        [keep = self.shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          keep->impl_->on_written(ec);
        });
  }

  void on_written(const boost::system::error_code& ec) {
    writing = false;
    write_queue.pop_front();
    if (status != Status::open) {
      write_queue.clear();
      return;
    }
    if (ec) {
      close_with(Error{Error::exception, "write failed: " + ec.message()});
      return;
    }
    if (!write_queue.empty()) {
      write_next();
    }
  }

  // ---- closing ----

  void close_with(const Error& reason) {
    if (status == Status::closed) {
      return;
    }
    status = Status::closed;
    transport->close();
    unanswered.clear();
    // The buffer being written must outlive the write; the rest can go now.
    if (writing) {
      write_queue.erase(write_queue.begin() + 1, write_queue.end());
    } else {
      write_queue.clear();
    }
    auto failed = std::move(pending);
    pending.clear();
    for (auto& [msgid, done] : failed) {
      if (!done) {
        continue;
      }
      try {
        done(reason);
      } catch (...) {
        diagnose("callback for msgid " + std::to_string(msgid) +
                 " threw: " + describe(std::current_exception()));
      }
    }
    if (auto handler = std::move(close_handler)) {
      close_handler = nullptr;
      try {
        handler(reason);
      } catch (...) {
        diagnose("close handler threw: " + describe(std::current_exception()));
      }
    }
  }

  std::uint32_t take_msgid() {
    // Skip 0 and any id still pending after a wrap-around.
    while (next_msgid == 0 || pending.count(next_msgid) != 0) {
      ++next_msgid;
    }
    return next_msgid++;
  }
};

// ---- Reply ----

Reply::Reply(std::shared_ptr<State> state) : state_(std::move(state)) {}

Reply::Reply(Reply&&) noexcept = default;

Reply& Reply::operator=(Reply&& other) noexcept {
  if (this != &other) {
    // The answer this Reply still owed is dropped: say so to the peer.
    Reply dropped(std::move(*this));
    state_ = std::move(other.state_);
  }
  return *this;
}

Reply::~Reply() {
  if (!state_ || state_->used) {
    return;
  }
  if (state_->dispatching) {
    state_->dropped = true;  // the dispatcher answers once the handler returns
    return;
  }
  try {
    fail(Error{Error::exception, dropped_message});
  } catch (...) {
    // Out of memory while packing: the session cannot do better.
  }
}

void Reply::ok_nil() {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer>(buf).pack_nil();
  send_packed(nullptr, buf);
}

void Reply::fail(Error error) {
  send_packed(&error, msgpack::sbuffer());
}

void Reply::send_packed(const Error* error, const msgpack::sbuffer& result) {
  assert(state_ && "Reply used after it was moved from");
  assert(!state_->used && "Reply used twice");
  if (!state_ || state_->used) {
    return;
  }
  state_->used = true;
  if (auto session = state_->session.lock()) {
    session->impl_->send_reply(state_->seq, state_->msgid, error, &result);
  }
}

// ---- Session ----

std::shared_ptr<Session> Session::create(std::unique_ptr<Transport> transport, Options options) {
  return std::shared_ptr<Session>(new Session(std::move(transport), options));
}

Session::Session(std::unique_ptr<Transport> transport, Options options)
    : impl_(std::make_unique<Impl>(*this, std::move(transport), options)) {}

Session::~Session() {
  // No callback runs from here: their owners may be mid-destruction too.
  impl_->status = Impl::Status::closed;
  impl_->transport->close();
}

void Session::on_request(std::string method, RequestHandler handler) {
  impl_->request_handlers[std::move(method)] = std::move(handler);
}

void Session::on_notification(std::string method, NotificationHandler handler) {
  impl_->notification_handlers[std::move(method)] = std::move(handler);
}

void Session::on_close(std::function<void(const Error&)> handler) {
  impl_->close_handler = std::move(handler);
}

void Session::on_diagnostic(std::function<void(const std::string&)> handler) {
  impl_->diagnostic_handler = std::move(handler);
}

void Session::start() {
  assert(!impl_->started && "Session::start() called twice");
  if (impl_->started) {
    return;
  }
  impl_->started = true;
  impl_->read_more();
}

void Session::close() {
  // A callback run by the close may drop the caller's last reference.
  auto keep = weak_from_this().lock();
  impl_->close_with(Error{Error::exception, "session closed"});
}

bool Session::is_open() const {
  return impl_->status == Impl::Status::open;
}

void Session::request_packed(const std::string& method, const msgpack::sbuffer& params,
                             Callback<Object> done) {
  assert(is_packed_array(params) && "request params must be one packed array");
  if (!is_open() || !is_packed_array(params)) {
    if (done) {
      Error error{Error::exception,
                  is_open() ? "request params are not an array" : "session is closed"};
      boost::asio::post(
          impl_->transport->executor(),
          [weak = weak_from_this(), done = std::move(done), error = std::move(error)] {
            try {
              done(error);
            } catch (...) {
              if (auto session = weak.lock()) {
                session->impl_->diagnose("callback threw: " + describe(std::current_exception()));
              }
            }
          });
    }
    return;
  }
  const std::uint32_t msgid = impl_->take_msgid();
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(4);
  pk.pack(0);
  pk.pack(msgid);
  pk.pack(method);
  buf.write(params.data(), params.size());
  impl_->pending.emplace(msgid, std::move(done));
  impl_->enqueue_write(std::move(buf));
}

void Session::notify_packed(const std::string& method, const msgpack::sbuffer& params) {
  assert(is_packed_array(params) && "notification params must be one packed array");
  if (!is_open() || !is_packed_array(params)) {
    return;
  }
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(3);
  pk.pack(2);
  pk.pack(method);
  buf.write(params.data(), params.size());
  impl_->enqueue_write(std::move(buf));
}

}  // namespace himalaya::rpc
