// How the host and its push watcher process (himalaya-coord-push, push/)
// talk: JSON, one object per line, over two pipes.
//
// Why a process of its own: the watcher is the only part that speaks TLS and
// parses what a network server sends. In its own process a bug there cannot
// take the coordinator (and the primary role) down with it, and only the
// primary, with push on, maps OpenSSL: every other host stays small (its RSS
// is measured by bench/startup.sh).
//
// host -> watcher, on its stdin: one line of settings, then nothing; the
// watcher logs out and exits when its stdin closes (the host stopped it, or
// died).
//   {"mode": "watch" | "check", "command": [...sync.command...],
//    "push": {"enabled": "auto" | true | false, "mbsyncrc": "...", "mailboxes": [...]}}
// watcher -> host, on its stdout (never the host's own stdout, which is
// Neovim's channel):
//   {"log": "text"}        a line for the host log
//   {"warn": "text"}       a warning for the user (enabled = true only)
//   {"changed": {"account": "...", "mailbox": "..."}}
//                          the server reported a change in that mailbox of
//                          that IMAPAccount: a push sync is due
//   {"status": {...}}      PushStatus: state, why, retry_at (wall clock),
//                          servers, mailboxes, last_event (wall clock)
//   {"check": {...}}       check mode's one answer (push/check.h)
// No line ever holds a password.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "host/config.h"
#include "host/push_state.h"

namespace himalaya::host {

struct PushSettings {
  enum class Mode { watch, check };
  Mode mode = Mode::watch;
  std::vector<std::string> command;
  PushConfig push;
};

std::string encode_settings(const PushSettings& settings);  // one line, with its '\n'
// The settings in `line`, or nullopt with `error` saying what is wrong.
std::optional<PushSettings> decode_settings(const std::string& line, std::string& error);

// A status for the wire, and back. `now` is the wall clock of the side that
// encodes or decodes (one machine, one wall clock): retry_in travels as an
// absolute retry_at.
nlohmann::json status_to_wire(const PushStatus& status, double now);
// nullopt for a value that is not such a status.
std::optional<PushStatus> status_from_wire(const nlohmann::json& value, double now);

}  // namespace himalaya::host
