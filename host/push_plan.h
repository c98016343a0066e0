// What push watches (SPEC §10): the IMAP accounts of the user's mbsync
// configuration, each with the mailboxes of `sync.push.mailboxes`.
//
// The configuration is the one mbsync itself reads for the sync command
// (mbsync/locate.h): its `-c`, else sync.push.mbsyncrc, else mbsync's
// default. The accounts are those of the IMAP stores that the command's
// channels sync (`mbsync -a`: all of them; `mbsync work`: those of group
// `work`). When the command is not mbsync itself (a wrapper script), which
// channels it syncs is unknown, and every account in the file is watched.
//
// Accounts that cannot be watched are left out with a reason: one that
// connects through a `Tunnel` (push opens its own TCP connection). A plan
// with no target says why in `problem`.
#pragma once

#include <string>
#include <vector>

#include "host/config.h"
#include "imap/client.h"
#include "mbsync/config.h"
#include "mbsync/environment.h"
#include "mbsync/secret.h"

namespace himalaya::host {

// One IDLE connection: an account and one of its mailboxes.
struct PushTarget {
  std::string account;  // the IMAPAccount's name
  imap::Endpoint endpoint;
  std::string user;                     // "" when user_cmd gives it
  std::string user_cmd;                 // mbsync's UserCmd, run with /bin/sh -c
  mbsync::Secret pass;                  // empty when pass_cmd gives it
  std::string pass_cmd;                 // mbsync's PassCmd
  std::vector<std::string> auth_mechs;  // upper case, as Session wants them
  std::string mailbox;

  std::string server() const;  // "host:port"
};

struct PushPlan {
  std::string config_path;  // the mbsync configuration read; "" when none was found
  std::vector<PushTarget> targets;
  std::string problem;               // why there is no target, when there is none
  std::vector<std::string> skipped;  // accounts left out, each with its reason
};

// The targets in a parsed configuration for the sync command `argv` (pure).
PushPlan plan_from_config(const mbsync::Config& config, const std::vector<std::string>& argv,
                          const std::vector<std::string>& mailboxes);

// Locates and reads the configuration, then plan_from_config(). Reads one
// small file; never runs UserCmd or PassCmd (push_credentials.h does, later).
PushPlan plan_push(const std::vector<std::string>& command, const PushConfig& push,
                   const mbsync::Environment& env);

}  // namespace himalaya::host
