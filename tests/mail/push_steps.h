// Shared steps of the push tests (mail_push_*_test.cpp): SPEC §10 against
// the real mail stack (see mail_stack_steps.h for the stack itself).
//
// With push on, the primary's host holds one IMAP IDLE connection and runs
// mbsync when the server reports a change; the timer's interval is large
// (900 s, the default) so that any mail arriving within seconds came by push.
// Dovecot runs with verbose_proctitle (scripts/mailserver.sh): every IMAP
// session is one child process of the server's master titled
// `dovecot/imap [alice 127.0.0.1 IDLE]` while it idles. That title is the
// outside witness of how many watchers there are, on Dovecot 2.3 and 2.4
// alike, and it does not depend on the log's wording.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "tests/mail/mail_fixture.h"

namespace himalaya::mail {

// The scaled fleet of mail_stack_steps.h with push on (enabled = true, so a
// configuration it cannot use would be a warning), the timer's interval at
// `interval` and min_gap at 0.5 s.
FleetOptions push_options(double interval = 900);

// The server's IMAP sessions (its master's imap children) that are in IDLE
// right now: how many, and the pids of their imap processes.
int idle_sessions(const MailServer& server);
std::vector<long> idle_session_pids(const MailServer& server);
// The titles of all of its IMAP sessions, for a failing test's message.
std::string imap_titles(const MailServer& server);
// True when, for `period`, every look (each 50 ms) finds exactly `count`
// sessions in IDLE. Fails the test at the first look that does not.
bool idle_sessions_stay(const MailServer& server, int count, std::chrono::milliseconds period);

// status().push[key] of instance i as text ("absent" when the key is not
// there, "error: ..." when the status cannot be read).
std::string push_field(Fleet& fleet, std::size_t i, const std::string& key);
// Waits until instance i reports push.state == "idling".
bool wait_idling(Fleet& fleet, std::size_t i, std::chrono::milliseconds timeout);

// The vim.notify calls instance i recorded (see Fleet), one per line with
// their level, and how many had level WARN or higher.
std::string notes_of(Fleet& fleet, std::size_t i);
int warnings_of(Fleet& fleet, std::size_t i);

// A subject no other test or delivery uses.
std::string unique_subject(const std::string& prefix);
// Delivers a message and waits for it in the local Maildir; returns the
// seconds it took, or nothing after `timeout`.
std::optional<double> deliver_and_wait(const MailServer& server, const std::string& subject,
                                       std::chrono::milliseconds timeout);

// Sessions still logged in (no end in the log): with push, the watcher's.
std::vector<Session> open_sessions(const MailServer& server);

// The starting point of most push tests: `count` Neovims with `options`, the
// one primary found, idling, and seen by the server as the one IDLE session.
// Returns the primary's index (the test has failed when it returns nothing).
std::optional<std::size_t> start_idling_fleet(const MailServer& server, Fleet& fleet, int count,
                                              const FleetOptions& options);

}  // namespace himalaya::mail
