// The user name and password of a push target: `User` or the output of
// `UserCmd`, `Pass` or the output of `PassCmd`, as mbsync would use them.
//
// The commands run without blocking the host (shell_output.h). The password
// only ever lives in an mbsync::Secret; an error names the account and the
// option that failed ("PassCmd of account 'work' exited with status 2"),
// never what a command printed.
#pragma once

#include <functional>
#include <string>

#include "host/push_plan.h"
#include "mbsync/secret.h"

namespace boost::asio {
class io_context;
}

namespace himalaya::host {

struct Credentials {
  bool ok = false;
  std::string user;
  mbsync::Secret password;
  std::string error;  // when not ok
};

// Calls `done` once, later, from the io_context.
void resolve_credentials(boost::asio::io_context& io, const PushTarget& target,
                         std::function<void(Credentials)> done);

}  // namespace himalaya::host
