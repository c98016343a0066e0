// The account options of an mbsync configuration (Host, Port, User, UserCmd,
// Pass, PassCmd, Tunnel, TLSType/SSLType, CertificateFile,
// SystemCertificates, AuthMechs), read the same way in an IMAPAccount section
// and inline in an IMAPStore section. Internal to config.cpp.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mbsync/config.h"
#include "mbsync/keywords.h"

namespace himalaya::mbsync::detail {

// What an account section has said so far; the defaults that depend on other
// options (Port on TLSType, TLSType on Tunnel) wait for finish_account().
struct AccountDraft {
  Account account;
  std::optional<int> port;
  std::optional<TlsType> tls;
  bool auth_mechs_given = false;
  bool any_option = false;  // an account option appeared (IMAPStore: not with Account)
};

// Applies `words` (keyword and at least one value) when they are an account
// option: the outcome, Failure{} for success; nullopt when the keyword is not
// an account option.
std::optional<Failure> account_option(AccountDraft& draft, const std::vector<std::string>& words,
                                      int line, const Environment& env);

// mbsync's checks and defaults once the section has ended. `what` names the
// section in a message ("IMAP account 'x'"), `line` is where it began.
Failure finish_account(AccountDraft& draft, const std::string& what, int line);

}  // namespace himalaya::mbsync::detail
