// describe_failure() with isync 1.5.1's real output (Debian 13), recorded
// against Dovecot 2.4.1 and a closed port on loopback. 1.4.4's output is in
// sync_runner_test.cpp; the differences: the server's reply to a failed LOGIN
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

}  // namespace
}  // namespace himalaya::host
