// checkhealth's push check (SPEC §10): one short IMAP session, apart from the
// watcher's, that logs in to the first push target, examines its mailbox,
// sees whether the server offers IDLE, and logs out.
//
// The result is the JSON object the Lua side's health check reads (the
// `push_check` reply):
//   enabled  "auto" | true | false (sync.push.enabled)
//   ok       the login and the EXAMINE worked (false when push is off: no login)
//   idle     the server offers IDLE; absent when the session did not get that far
//   server   "host:port"; absent when there is no account
//   user     the login name (never the password)
//   mailbox  the mailbox examined
//   config   the mbsync configuration read; absent when none was found
//   message  one line for a human
// It never holds the password, nor what a PassCmd printed.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "host/config.h"
#include "mbsync/environment.h"

namespace boost::asio {
class io_context;
}

namespace himalaya::host {

struct PushCheckOptions {
  std::vector<std::string> command;
  PushConfig push;
  mbsync::Environment env;
  std::chrono::milliseconds timeout = std::chrono::seconds(20);  // the whole check
};

// Calls `done` once, later, from the io_context.
void check_push(boost::asio::io_context& io, PushCheckOptions options,
                std::function<void(nlohmann::json)> done);

}  // namespace himalaya::host
