// Every way the configuration reader refuses a text: each error names the
// line to fix (the section's first line for a section-wide problem).
#include <gtest/gtest.h>

#include "mbsync/config.h"

namespace himalaya::mbsync {
namespace {

Error parse_error(std::string_view text) {
  Environment env;
  env.home = "/home/u";
  Result<Config> config = parse(text, env);
  EXPECT_FALSE(config.ok()) << "parsed, but should not have:\n" << text;
  return config.ok() ? Error{} : config.error();
}

void expect_error(std::string_view text, int line, const std::string& message) {
  const Error error = parse_error(text);
  EXPECT_EQ(error.line, line) << error.describe();
  EXPECT_EQ(error.message, message);
}

const char* const account = "IMAPAccount a\nHost h\n\n";

TEST(MbsyncConfigErrors, UnterminatedQuote) {
  expect_error("IMAPAccount a\nHost h\nPassCmd \"pass show x\n", 3, "missing closing quote");
}

TEST(MbsyncConfigErrors, BackslashAtTheEndOfTheLine) {
  expect_error("IMAPAccount a\nHost h\\\n", 2,
               "unterminated escape sequence (a backslash ends the line)");
}

TEST(MbsyncConfigErrors, KeywordWithoutValue) {
  expect_error("IMAPAccount a\nHost h\nUser\n", 3, "parameter missing after 'User'");
  expect_error("Channel\n", 1, "parameter missing after 'Channel'");
}

TEST(MbsyncConfigErrors, UnquotedCommandWithSpaces) {
  expect_error("IMAPAccount a\nHost h\nPassCmd pass show mail/gmail\n", 3,
               "excess token 'show' after PassCmd (quote a value that holds spaces)");
}

TEST(MbsyncConfigErrors, ExtraWordsAfterSectionName) {
  expect_error("IMAPAccount my account\nHost h\n", 1,
               "excess token 'account' after IMAPAccount (quote a value that holds spaces)");
}

TEST(MbsyncConfigErrors, BadPort) {
  for (const char* port : {"65536", "99999", "imaps", "-1", "12a", "123456"}) {
    expect_error(std::string("IMAPAccount a\nHost h\nPort ") + port + "\n", 3,
                 std::string("invalid port number '") + port + "'");
  }
}

TEST(MbsyncConfigErrors, BadTlsType) {
  expect_error("IMAPAccount a\nHost h\nTLSType SSL\n", 3,
               "invalid TLSType 'SSL' (None, STARTTLS or IMAPS)");
  expect_error("IMAPAccount a\nHost h\nSSLType yes\n", 3,
               "invalid SSLType 'yes' (None, STARTTLS or IMAPS)");
}

TEST(MbsyncConfigErrors, BadBoolean) {
  expect_error("IMAPAccount a\nHost h\nSystemCertificates maybe\n", 3,
               "invalid boolean value 'maybe' for SystemCertificates");
}

TEST(MbsyncConfigErrors, BadSubFolders) {
  expect_error("MaildirStore l\nSubFolders Flat\n", 2,
               "unrecognized SubFolders style 'Flat' (Verbatim, Maildir++ or Legacy)");
}

TEST(MbsyncConfigErrors, StoreNamesAnUnknownAccount) {
  expect_error(std::string(account) + "IMAPStore r\nAccount b\n", 5,
               "unknown IMAP account 'b' (an IMAPAccount must come first)");
}

TEST(MbsyncConfigErrors, StoreNamesAnAccountDefinedLater) {
  expect_error("IMAPStore r\nAccount a\n\nIMAPAccount a\nHost h\n", 2,
               "unknown IMAP account 'a' (an IMAPAccount must come first)");
}

TEST(MbsyncConfigErrors, ChannelNamesAnUnknownStore) {
  expect_error("MaildirStore l\n\nChannel c\nFar :remote:\nNear :l:\n", 4,
               "unknown store 'remote' (a store must come before its channel)");
  expect_error("MaildirStore l\n\nChannel c\nFar :l:\nSlave :nope:INBOX\n", 5,
               "unknown store 'nope' (a store must come before its channel)");
}

TEST(MbsyncConfigErrors, MalformedMailboxSpec) {
  expect_error("MaildirStore l\n\nChannel c\nFar l\n", 4,
               "malformed mailbox spec 'l' for Far (expected :store: or :store:mailbox)");
  expect_error("MaildirStore l\n\nChannel c\nNear :l\n", 4,
               "malformed mailbox spec ':l' for Near (expected :store: or :store:mailbox)");
}

TEST(MbsyncConfigErrors, SectionKeywordInsideASectionNeedsAnEmptyLine) {
  // mbsync 1.4.4: "keyword 'IMAPStore' is not recognized in IMAPAccount sections".
  expect_error("IMAPAccount a\nHost h\nIMAPStore r\nAccount a\n", 3,
               "keyword 'IMAPStore' is not recognized in IMAPAccount sections (the section that "
               "begins on line 1 needs an empty line to end it)");
  // A comment-only line does not end a section either.
  expect_error("MaildirStore l\n# local\nChannel c\n", 3,
               "keyword 'Channel' is not recognized in MaildirStore sections (the section that "
               "begins on line 1 needs an empty line to end it)");
}

TEST(MbsyncConfigErrors, AccountWithoutHostOrTunnel) {
  expect_error("IMAPAccount a\nUser me\n\n", 1, "IMAP account 'a' has neither Host nor Tunnel");
  expect_error("IMAPStore r\nUser me\n", 1, "IMAP store 'r' has neither Host nor Tunnel");
}

TEST(MbsyncConfigErrors, BothPassAndPassCmd) {
  expect_error("IMAPAccount a\nHost h\nPass x\nPassCmd \"pass a\"\n", 1,
               "IMAP account 'a' has both Pass and PassCmd");
}

TEST(MbsyncConfigErrors, StoreWithBothAccountAndAccountOptions) {
  expect_error(std::string(account) + "IMAPStore r\nAccount a\nHost other\n", 4,
               "IMAP store 'r' has both Account and account-specific options");
}

TEST(MbsyncConfigErrors, ChannelWithoutOneSide) {
  expect_error("MaildirStore l\n\nChannel c\nNear :l:\n", 3,
               "channel 'c' has no Far (or Master) side");
  expect_error("MaildirStore l\n\nChannel c\nMaster :l:\n", 3,
               "channel 'c' has no Near (or Slave) side");
}

TEST(MbsyncConfigErrors, MaildirPlusPlusWithPath) {
  expect_error("MaildirStore l\nPath ~/M/\nSubFolders Maildir++\n", 1,
               "MaildirStore 'l' sets Path, which SubFolders Maildir++ does not allow");
}

TEST(MbsyncConfigErrors, DescribeNamesFileAndLine) {
  EXPECT_EQ((Error{"/home/u/.mbsyncrc", 7, "bad"}).describe(), "/home/u/.mbsyncrc:7: bad");
  EXPECT_EQ((Error{"", 7, "bad"}).describe(), "line 7: bad");
  EXPECT_EQ((Error{"/x", 0, "missing"}).describe(), "/x: missing");
  EXPECT_EQ((Error{"", 0, "plain"}).describe(), "plain");
}

TEST(MbsyncConfigErrors, ErrorsStopAtTheFirstOne) {
  const Error error = parse_error("IMAPAccount a\nHost h\nPort x\nTLSType y\n");
  EXPECT_EQ(error.line, 3);
}

}  // namespace
}  // namespace himalaya::mbsync
