// Readable messages for a sync that failed (SPEC §6: a failed sync is shown to
// the user as one warning, and the same failure is not repeated until it
// changes).
//
// These are pure functions of how the command ended and what it printed, so
// unit tests drive them with real mbsync 1.4.4 output. The wording of a known
// failure is stable for a given cause (the server's address is part of it, a
// counter or a timestamp never is), which is what lets the caller recognise
// "the same failure repeating".
//
// Credentials never reach a message: mbsync already masks them in the
// commands it echoes ("LOGIN <user> <pass>"), and for an authentication
// failure only the server's reply is quoted.
#pragma once

#include <string>
#include <string_view>

namespace himalaya::host {

// The message for a command that ran and did not succeed.
//
// `exit_status` is the status it exited with (ignored when `signal` != 0);
// `signal` is the signal that ended it, 0 if it exited; `output_tail` is the
// end of its combined stdout and stderr. A known mbsync failure found
// anywhere in the tail wins over the exit status:
//   authentication failed, connection refused / cannot connect, cannot
//   resolve server, channel locked, config file unreadable.
// Otherwise: "sync command exited with status N: <last non-empty line>" or
// "sync command was killed by signal N (SIGNAME): <last non-empty line>",
// without the ": ..." part when the command printed nothing.
std::string describe_failure(int exit_status, int signal, std::string_view output_tail);

// The message for a command that could not be started at all. `program` is
// the command's argv[0] as configured; `error_number` the errno of the failed
// step (ENOENT: not found, EACCES: not executable, else strerror).
std::string describe_spawn_failure(std::string_view program, int error_number);

// The last line of `text` that holds anything but white space, trimmed; ""
// if there is none. Both '\n' and '\r' end a line (progress counters use '\r').
std::string last_nonempty_line(std::string_view text);

}  // namespace himalaya::host
