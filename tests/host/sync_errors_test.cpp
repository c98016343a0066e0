// describe_failure() with the real output of isync 1.4.4 (recorded against
// Dovecot 2.3.19 and closed ports on loopback) and of isync 1.5.1 (Debian 13,
// recorded against Dovecot 2.4.1 and a closed port on loopback). The
// differences in 1.5.1: the server's reply to a failed LOGIN
// comes without its "NO", and an mbsyncrc that says SSLType gets a notice
// line first.
#include "host/sync_errors.h"

#include <gtest/gtest.h>

namespace himalaya::host {
namespace {

TEST(DescribeFailureIsync15, AuthenticationFailed) {
  EXPECT_EQ(describe_failure(1, 0,
                             "*** IMAP Warning *** Password is being sent in the clear\n"
                             "IMAP command 'LOGIN <user> <pass>' returned an error: "
                             "[AUTHENTICATIONFAILED] Authentication failed.\n"),
            "authentication failed (check the user name and password): "
            "[AUTHENTICATIONFAILED] Authentication failed.");
}

TEST(DescribeFailureIsync15, AuthenticationFailedAfterTheSslTypeNotice) {
  EXPECT_EQ(describe_failure(1, 0,
                             "/home/u/.mbsyncrc: notice: SSLType is deprecated. Use TLSType "
                             "instead.\n"
                             "*** IMAP Warning *** Password is being sent in the clear\n"
                             "IMAP command 'LOGIN <user> <pass>' returned an error: "
                             "[AUTHENTICATIONFAILED] Authentication failed.\n"),
            "authentication failed (check the user name and password): "
            "[AUTHENTICATIONFAILED] Authentication failed.");
}

TEST(DescribeFailureIsync15, ServerDown) {
  EXPECT_EQ(describe_failure(1, 0,
                             "Cannot connect to 127.0.0.1 (127.0.0.1:53247): Connection refused\n"
                             "No working address found for 127.0.0.1\n"),
            "cannot connect to the mail server 127.0.0.1 (127.0.0.1:53247): Connection refused");
}

TEST(DescribeFailureIsync15, NoAuthenticationMechanismInCommon) {
  // AuthMechs PLAIN against Dovecot 2.4 on loopback without TLS (recorded).
  EXPECT_EQ(describe_failure(1, 0,
                             "IMAP error: selected SASL mechanism(s) not available;\n"
                             "   selected: PLAIN\n"
                             "   available: EXTERNAL\n"),
            "the server offers none of the authentication mechanisms allowed (AuthMechs): "
            "selected: PLAIN, available: EXTERNAL");
}

// describe_failure() with mbsync 1.4.4's real output (recorded against
// Dovecot 2.3.19 and closed ports on loopback).

TEST(DescribeFailure, AuthenticationFailedWithLogin) {
  EXPECT_EQ(describe_failure(1, 0,
                             "*** IMAP Warning *** Password is being sent in the clear\n"
                             "IMAP command 'LOGIN <user> <pass>' returned an error: NO "
                             "[AUTHENTICATIONFAILED] Authentication failed.\n"),
            "authentication failed (check the user name and password): NO "
            "[AUTHENTICATIONFAILED] Authentication failed.");
}

TEST(DescribeFailure, AuthenticationFailedWithSasl) {
  EXPECT_EQ(describe_failure(1, 0,
                             "IMAP command 'AUTHENTICATE PLAIN <authdata>' returned an error: NO "
                             "[AUTHENTICATIONFAILED] Authentication failed.\n"),
            "authentication failed (check the user name and password): NO "
            "[AUTHENTICATIONFAILED] Authentication failed.");
}

TEST(DescribeFailure, AuthenticationFailureNeverQuotesTheCommand) {
  std::string message = describe_failure(1, 0, "LOGIN failed for alice with password hunter2\n");
  EXPECT_EQ(message, "authentication failed (check the user name and password)");
}

TEST(DescribeFailure, ConnectionRefusedLooksPastTheSummaryLine) {
  EXPECT_EQ(describe_failure(1, 0,
                             "Cannot connect to 127.0.0.1 (127.0.0.1:1): Connection refused\n"
                             "No working address found for 127.0.0.1\n"),
            "cannot connect to the mail server 127.0.0.1 (127.0.0.1:1): Connection refused");
}

TEST(DescribeFailure, NetworkUnreachable) {
  EXPECT_EQ(describe_failure(1, 0,
                             "Cannot connect to 10.255.255.1 (10.255.255.1:993): Network is "
                             "unreachable\nNo working address found for 10.255.255.1\n"),
            "cannot connect to the mail server 10.255.255.1 (10.255.255.1:993): Network is "
            "unreachable");
}

TEST(DescribeFailure, ConnectionRefusedFromAnotherTool) {
  EXPECT_EQ(describe_failure(2, 0, "imap.example.org:993: Connection refused\n"),
            "cannot connect to the mail server: connection refused "
            "(imap.example.org:993: Connection refused)");
}

TEST(DescribeFailure, CannotResolveServer) {
  EXPECT_EQ(describe_failure(1, 0,
                             "Error: Cannot resolve server 'mail.nonexistent.invalid': Temporary "
                             "failure in name resolution\n"),
            "cannot resolve the mail server 'mail.nonexistent.invalid': Temporary failure in "
            "name resolution");
}

TEST(DescribeFailure, ChannelLocked) {
  EXPECT_EQ(describe_failure(1, 0,
                             "*** IMAP Warning *** Password is being sent in the clear\n"
                             "Error: channel :remote:INBOX-:local:INBOX is locked\n"),
            "another sync of the same mailboxes is running "
            "(channel :remote:INBOX-:local:INBOX is locked)");
}

TEST(DescribeFailure, MissingConfigFile) {
  EXPECT_EQ(describe_failure(1, 0,
                             "Cannot open config file '/home/u/.mbsyncrc': No such file or "
                             "directory\n"),
            "cannot open the mbsync config file '/home/u/.mbsyncrc': No such file or directory");
}

TEST(DescribeFailure, GenericFallbackQuotesTheLastNonEmptyLine) {
  EXPECT_EQ(describe_failure(1, 0,
                             "No channel or group named 'nosuch' defined.\n"
                             "No channel specified. Try 'mbsync -h'\n\n  \n"),
            "sync command exited with status 1: No channel specified. Try 'mbsync -h'");
  EXPECT_EQ(describe_failure(2, 0, ""), "sync command exited with status 2");
  EXPECT_EQ(describe_failure(0, 0, "progress 1/3\rprogress 3/3\r"),
            "sync command exited with status 0: progress 3/3");
}

TEST(DescribeFailure, Signal) {
  EXPECT_EQ(describe_failure(-1, SIGSEGV, ""), "sync command was killed by signal 11 (SIGSEGV)");
  EXPECT_EQ(describe_failure(-1, SIGTERM, "Terminated\n"),
            "sync command was killed by signal 15 (SIGTERM): Terminated");
}

TEST(DescribeFailure, ClipsAVeryLongLine) {
  std::string message = describe_failure(1, 0, std::string(5000, 'x'));
  EXPECT_LT(message.size(), 400U);
  EXPECT_EQ(message.substr(message.size() - 3), "...");
}

TEST(DescribeSpawnFailure, ByErrno) {
  EXPECT_EQ(describe_spawn_failure("mbsync", ENOENT), "sync command not found: mbsync");
  EXPECT_EQ(describe_spawn_failure("/x/mbsync", EACCES),
            "sync command is not executable: /x/mbsync");
  EXPECT_EQ(describe_spawn_failure("mbsync", EMFILE),
            "cannot start the sync command mbsync: Too many open files");
}

TEST(LastNonemptyLine, TrimsAndSkipsBlankLines) {
  EXPECT_EQ(last_nonempty_line("a\n  b  \n\n \t\n"), "b");
  EXPECT_EQ(last_nonempty_line(""), "");
  EXPECT_EQ(last_nonempty_line("\n\n"), "");
}

}  // namespace
}  // namespace himalaya::host
