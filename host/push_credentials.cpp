#include "host/push_credentials.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <utility>

#include "host/shell_output.h"

namespace himalaya::host {
namespace {

// A PassCmd may wait for a pinentry the user has to answer.
constexpr auto command_timeout = std::chrono::seconds(120);

void resolve_password(boost::asio::io_context& io, const PushTarget& target,
                      std::shared_ptr<Credentials> creds, std::function<void(Credentials)> done) {
  if (!target.pass.empty()) {
    creds->password = target.pass;
    creds->ok = true;
    boost::asio::post(io, [creds, done = std::move(done)] { done(std::move(*creds)); });
    return;
  }
  if (target.pass_cmd.empty()) {
    creds->error = "account '" + target.account +
                   "' has neither Pass nor PassCmd, and push cannot ask for a password";
    boost::asio::post(io, [creds, done = std::move(done)] { done(std::move(*creds)); });
    return;
  }
  const std::string account = target.account;
  run_shell(io, target.pass_cmd, command_timeout,
            [creds, account, done = std::move(done)](ShellResult result) {
              if (result.ok) {
                creds->password = mbsync::Secret(std::move(result.line));
                creds->ok = true;
              } else {
                creds->error = "PassCmd of account '" + account + "' " + result.error;
              }
              done(std::move(*creds));
            });
}

}  // namespace

void resolve_credentials(boost::asio::io_context& io, const PushTarget& target,
                         std::function<void(Credentials)> done) {
  auto creds = std::make_shared<Credentials>();
  if (target.user_cmd.empty()) {
    creds->user = target.user;
    if (creds->user.empty()) {
      creds->error = "account '" + target.account + "' has neither User nor UserCmd";
      boost::asio::post(io, [creds, done = std::move(done)] { done(std::move(*creds)); });
      return;
    }
    resolve_password(io, target, creds, std::move(done));
    return;
  }
  run_shell(io, target.user_cmd, command_timeout,
            [&io, target, creds, done = std::move(done)](ShellResult result) mutable {
              if (!result.ok) {
                creds->error = "UserCmd of account '" + target.account + "' " + result.error;
                done(std::move(*creds));
                return;
              }
              creds->user = std::move(result.line);
              resolve_password(io, target, creds, std::move(done));
            });
}

}  // namespace himalaya::host
