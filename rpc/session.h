// A msgpack-RPC session with Neovim over any byte stream.
//
// Contract:
// - Speaks exactly Neovim's three message shapes: request [0,id,method,args],
//   response [1,id,error,result] and notification [2,method,args]. Anything
//   else is a protocol violation: the session closes and every pending call
//   fails with an Error.
// - Single-threaded: every method must be called on the io_context's thread,
//   and every handler and callback runs there. One write is in flight at a time.
// - Every incoming request is answered exactly once. A handler that drops its
//   Reply without answering produces an error reply; an unknown method gets an
//   error reply. Replies to nested incoming requests leave in last-in-first-out
//   order, because Neovim 0.7 closes a channel that answers out of order.
// - Incoming messages larger than Options::max_message_bytes close the session.
// - Errors sent to the peer use Neovim's `[type, message]` shape.
#pragma once

#include <msgpack.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "rpc/error.h"
#include "rpc/transport.h"

namespace himalaya::rpc {

// Neovim's ext types. The payload of each is a msgpack integer.
struct Buffer {
  std::int64_t id = 0;
};
struct Window {
  std::int64_t id = 0;
};
struct Tabpage {
  std::int64_t id = 0;
};

// A decoded message value that keeps its zone alive.
using Object = std::shared_ptr<msgpack::object_handle>;

class Session;

// The one-shot answer to an incoming request. Movable, not copyable. If it is
// destroyed without having been used, it sends an error reply.
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
    std::size_t max_message_bytes = 16 * 1024 * 1024;
  };

  using RequestHandler = std::function<void(const msgpack::object& params, Reply reply)>;
  using NotificationHandler = std::function<void(const msgpack::object& params)>;

  static std::shared_ptr<Session> create(std::unique_ptr<Transport> transport, Options options);
  static std::shared_ptr<Session> create(std::unique_ptr<Transport> transport) {
    return create(std::move(transport), Options{});
  }
  ~Session();

  // Handlers are bound before start(). Binding a method twice replaces it.
  void on_request(std::string method, RequestHandler handler);
  void on_notification(std::string method, NotificationHandler handler);
  // Called once when the session closes, with the reason (EOF, protocol
  // violation, close()).
  void on_close(std::function<void(const Error&)> handler);

  // Typed binding: the params array is decoded into Args...; a decode failure
  // becomes a validation error reply, and the handler is not called.
  template <class... Args, class F>
  void bind(std::string method, F handler);  // F: void(Args..., Reply)

  void start();
  void close();
  bool is_open() const;

  // Outgoing request: args are packed as the params array. The callback
  // receives the result, the peer's error, or an Error when the session closes
  // first.
  template <class... Args>
  void request(const std::string& method, Callback<Object> done, const Args&... args) {
    msgpack::sbuffer params;
    pack_array(params, args...);
    request_packed(method, params, std::move(done));
  }
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

  Session(std::unique_ptr<Transport> transport, Options options);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace himalaya::rpc
