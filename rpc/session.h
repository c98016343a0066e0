// A msgpack-RPC session with Neovim over any byte stream.
//
// Contract:
// - Speaks exactly Neovim's three message shapes: request [0,id,method,args],
//   response [1,id,error,result] and notification [2,method,args]. Anything
//   else is a protocol violation: the session closes and every pending call
//   fails with an Error. The one exception is a request whose msgid can be
//   read but whose method or params are malformed: it gets a validation error
//   reply and the session stays open. A response whose msgid matches no
//   pending call is a violation too, as in Neovim's channel.c.
// - Single-threaded: every method must be called on the io_context's thread,
//   and every handler and callback runs there. One write is in flight at a time.
// - Every incoming request is answered exactly once. A handler that drops its
//   Reply without answering produces an error reply; an unknown method gets an
//   error reply. Replies to nested incoming requests leave in last-in-first-out
//   order, because Neovim 0.7 closes a channel that answers out of order.
// - Incoming messages larger than Options::max_message_bytes close the session.
// - Errors sent to the peer use Neovim's `[type, message]` shape. Errors from
//   the peer may be `[type, message]`, a plain string, or anything else (which
//   becomes "unknown error"), as Neovim itself accepts.
// - Nothing thrown by msgpack, by a handler or by a callback leaves the
//   io_context: decode failures become error values, and exceptions from user
//   code become an error reply (for a request handler) and a diagnostic.
//
// Lifetime: a Session is held by shared_ptr. While a read or write is in
// flight the session keeps itself alive, so dropping the last outside
// reference during a callback is safe; it goes away once it is closed and its
// operations have finished. A Reply refers to its session weakly: answering
// after the session closed, or after it was destroyed, does nothing. Destroying
// an open session closes the transport but runs no callback.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "rpc/error.h"
#include "rpc/ext_types.h"
#include "rpc/transport.h"

namespace himalaya::rpc {

// Buffer, Window and Tabpage, Neovim's ext types, live in rpc/ext_types.h
// with their msgpack adaptors, so they pack and convert like any other value.

// A decoded message value that keeps its zone alive. For a response, get() is
// the result itself: `result.value()->get().as<int>()` (as<> throws
// msgpack::type_error on a mismatch, which the caller should catch).
using Object = std::shared_ptr<msgpack::object_handle>;

class Session;

// The one-shot answer to an incoming request. Movable, not copyable. If it is
// destroyed without having been used, it sends an error reply ("request
// dropped without a reply"). Using it a second time (or using a moved-from
// Reply) is a programming error: it asserts in debug builds and does nothing
// in release builds. ok() packs `value` with msgpack's adaptors, so anything
// msgpack can pack works, the handle types included; ok_nil() answers nil.
//
// A Reply can be kept and answered later, from another callback; to capture it
// in a std::function (which must be copyable), hold it in a shared_ptr.
class Reply {
 public:
  Reply(Reply&&) noexcept;
  Reply& operator=(Reply&&) noexcept;
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  ~Reply();

  template <class T>
  void ok(const T& value) {
    msgpack::sbuffer buf;
    msgpack::pack(buf, value);
    send_packed(nullptr, buf);
  }
  void ok_nil();
  // Answers with a value the caller packed itself (for example from
  // nlohmann::json::to_msgpack); `packed` must hold exactly one msgpack value.
  void ok_packed(const msgpack::sbuffer& packed) { send_packed(nullptr, packed); }
  void fail(Error error);

 private:
  friend class Session;
  struct State;
  explicit Reply(std::shared_ptr<State> state);
  void send_packed(const Error* error, const msgpack::sbuffer& result);
  std::shared_ptr<State> state_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  struct Options {
    // The largest incoming message accepted; a bigger one closes the session.
    // Containers are limited accordingly (a message of N bytes holds at most N
    // elements), so a forged length cannot make the decoder allocate more than
    // about 24 times this (the size of a decoded msgpack::object per element).
    std::size_t max_message_bytes = std::size_t{16} * 1024 * 1024;
    // The deepest nesting of arrays and maps accepted. Deeper input closes the
    // session: converting or printing such a value would recurse that deep.
    std::size_t max_depth = 128;
  };

  // `params` is always an array, valid only during the call: convert what you
  // keep. A handler may answer at once or keep the Reply and answer later.
  using RequestHandler = std::function<void(const msgpack::object& params, Reply reply)>;
  using NotificationHandler = std::function<void(const msgpack::object& params)>;

  static std::shared_ptr<Session> create(std::unique_ptr<Transport> transport, Options options);
  static std::shared_ptr<Session> create(std::unique_ptr<Transport> transport) {
    return create(std::move(transport), Options{});
  }
  ~Session();

  // Handlers are bound before start(). Binding a method twice replaces it.
  // The session owns its handlers: a handler that captures the session's
  // shared_ptr makes a cycle and keeps it alive forever; capture a weak_ptr.
  void on_request(std::string method, RequestHandler handler);
  void on_notification(std::string method, NotificationHandler handler);
  // Called once when the session closes, with the reason (EOF, protocol
  // violation, close()). It runs after every pending call has been failed.
  void on_close(std::function<void(const Error&)> handler);
  // Called with a one-line description of anything that went wrong but did
  // not close the session: a notification nobody handles (an unhandled
  // `nvim_error_event` included), a request for an unbound method or a
  // malformed request (both answered with an error), an exception thrown by a
  // handler or a callback. rpc/ does no
  // logging of its own; the host logs these. Optional.
  void on_diagnostic(std::function<void(const std::string&)> handler);

  // Typed binding: the params array is decoded into Args...; a decode failure
  // (wrong number of params, or one that does not convert) becomes a
  // validation error reply, and the handler is not called. Each Args must be
  // convertible with msgpack's as<>(); `msgpack::object` takes a param raw,
  // valid only during the call. F must be copyable (it goes in a
  // std::function).
  template <class... Args, class F>
  void bind(std::string method, F handler);  // F: void(Args..., Reply)

  // Starts reading. Writes (requests, notifications) may be issued before.
  void start();
  // Closes the transport, fails every pending call with an Error and runs
  // on_close. Idempotent.
  void close();
  // True until the session closes (EOF, error, violation or close()).
  bool is_open() const;

  // Outgoing request: args are packed as the params array. The callback
  // receives the result, the peer's error, or an Error when the session closes
  // first. Msgids start at 1. On a closed session the callback still runs,
  // with an Error, but later (posted), never from inside this call.
  template <class... Args>
  void request(const std::string& method, Callback<Object> done, const Args&... args) {
    msgpack::sbuffer params;
    pack_array(params, args...);
    request_packed(method, params, std::move(done));
  }
  // Outgoing notification; on a closed session it is dropped.
  template <class... Args>
  void notify(const std::string& method, const Args&... args) {
    msgpack::sbuffer params;
    pack_array(params, args...);
    notify_packed(method, params);
  }

  // Low-level forms, for callers that pack params themselves (`params` must
  // hold one packed msgpack array).
  void request_packed(const std::string& method, const msgpack::sbuffer& params,
                      Callback<Object> done);
  void notify_packed(const std::string& method, const msgpack::sbuffer& params);

 private:
  template <class... Args>
  static void pack_array(msgpack::sbuffer& buf, const Args&... args) {
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_array(sizeof...(Args));
    (pk.pack(args), ...);
  }

  friend class Reply;
  Session(std::unique_ptr<Transport> transport, Options options);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

namespace detail {

// Converts one param into its slot, or records why it could not.
template <class T>
void decode_param(const msgpack::object& o, std::size_t index, std::optional<T>& slot,
                  std::optional<Error>& error) {
  if (error) {
    return;
  }
  try {
    slot.emplace(o.as<T>());
  } catch (const std::exception&) {
    error = Error{Error::validation, "param " + std::to_string(index + 1) + " has the wrong type"};
  }
}

template <class... Args, std::size_t... I>
std::optional<Error> decode_params(const msgpack::object& params,
                                   std::tuple<std::optional<Args>...>& slots,
                                   std::index_sequence<I...>) {
  (void)slots;  // unused when Args is empty
  if (params.type != msgpack::type::ARRAY || params.via.array.size != sizeof...(Args)) {
    const std::size_t got = params.type == msgpack::type::ARRAY ? params.via.array.size : 0;
    return Error{Error::validation, "expected " + std::to_string(sizeof...(Args)) +
                                        " params, got " + std::to_string(got)};
  }
  std::optional<Error> error;
  (decode_param(params.via.array.ptr[I], I, std::get<I>(slots), error), ...);
  return error;
}

}  // namespace detail

template <class... Args, class F>
void Session::bind(std::string method, F handler) {
  static_assert(std::is_invocable_v<F&, std::decay_t<Args>..., Reply>,
                "bind<Args...>: the handler must be callable as void(Args..., Reply)");
  auto decode_then_call = [name = method, handler = std::move(handler)](
                              const msgpack::object& params, Reply reply) mutable {
    std::tuple<std::optional<std::decay_t<Args>>...> slots;
    if (auto error = detail::decode_params<std::decay_t<Args>...>(
            params, slots, std::index_sequence_for<Args...>{})) {
      error->message = name + ": " + error->message;
      reply.fail(std::move(*error));
      return;
    }
    std::apply([&](auto&... slot) { handler(std::move(*slot)..., std::move(reply)); }, slots);
  };
  on_request(std::move(method), std::move(decode_then_call));
}

}  // namespace himalaya::rpc
