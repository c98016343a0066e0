// Callbacks that may outlive what they call into. Guard::wrap() gives a
// callback that runs `fn` only while its Guard lives and has not been reset
// since: an Asio handler or a posted function that fires after its owner was
// destroyed, or after its timer was re-armed or cancelled, does nothing.
// Single-threaded, like everything on the io_context.
#pragma once

#include <memory>
#include <utility>

namespace himalaya::coordinator {

class Guard {
 public:
  template <class Fn>
  auto wrap(Fn fn) const {
    return [alive = std::weak_ptr<const int>(token_), fn = std::move(fn)](auto&&... args) mutable {
      if (!alive.expired()) {
        fn(std::forward<decltype(args)>(args)...);
      }
    };
  }
  // Every callback wrapped so far does nothing from now on.
  void reset() { token_ = std::make_shared<const int>(0); }

 private:
  std::shared_ptr<const int> token_ = std::make_shared<const int>(0);
};

}  // namespace himalaya::coordinator
