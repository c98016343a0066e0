#include "mbsync/account_options.h"

#include <algorithm>
#include <cstdlib>

namespace himalaya::mbsync::detail {
namespace {

std::optional<int> parse_port(std::string_view v) {
  if (v.empty() || v.size() > 5 ||
      !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const int port = std::atoi(std::string(v).c_str());
  if (port > 65535) {
    return std::nullopt;
  }
  return port;
}

std::optional<bool> parse_bool(std::string_view v) {
  for (const char* yes : {"yes", "true", "on", "1"}) {
    if (iequals(v, yes)) {
      return true;
    }
  }
  for (const char* no : {"no", "false", "off", "0"}) {
    if (iequals(v, no)) {
      return false;
    }
  }
  return std::nullopt;
}

// "+command" means a command that prompts on the terminal.
std::string command_value(const std::string& value, bool* prompts) {
  *prompts = !value.empty() && value[0] == '+';
  return *prompts ? value.substr(1) : value;
}

}  // namespace

// Applies `words` if they are an account option; nullopt if they are not one.
std::optional<Failure> account_option(AccountDraft& d, const std::vector<std::string>& words,
                                      int line, const Environment& env) {
  const std::string& key = words[0];
  const std::string& value = words[1];
  Account& a = d.account;
  const bool multi = iequals(key, "AuthMechs") || iequals(key, "AuthMech");
  const bool known = multi || iequals(key, "Host") || iequals(key, "Port") ||
                     iequals(key, "User") || iequals(key, "UserCmd") || iequals(key, "Pass") ||
                     iequals(key, "PassCmd") || iequals(key, "Tunnel") || iequals(key, "TLSType") ||
                     iequals(key, "SSLType") || iequals(key, "CertificateFile") ||
                     iequals(key, "SystemCertificates");
  if (!known) {
    return std::nullopt;
  }
  d.any_option = true;
  if (multi) {
    if (!d.auth_mechs_given) {
      a.auth_mechs.clear();
      d.auth_mechs_given = true;
    }
    a.auth_mechs.insert(a.auth_mechs.end(), words.begin() + 1, words.end());
    return Failure{};
  }
  if (Failure f = single(words, line)) {
    return f;
  }
  if (iequals(key, "Host")) {
    // mbsync still takes the old URL notation: imaps://host, imap://host.
    std::string_view host = value;
    if (host.size() >= 6 && iequals(host.substr(0, 6), "imaps:")) {
      host.remove_prefix(6);
      d.tls = TlsType::imaps;
    } else if (host.size() >= 5 && iequals(host.substr(0, 5), "imap:")) {
      host.remove_prefix(5);
    }
    if (host.substr(0, 2) == "//") {
      host.remove_prefix(2);
    }
    a.host = std::string(host);
  } else if (iequals(key, "Port")) {
    const std::optional<int> port = parse_port(value);
    if (!port) {
      return Failure(at(line, "invalid port number '" + value + "'"));
    }
    d.port = *port == 0 ? std::nullopt : port;  // mbsync: 0 is the default
  } else if (iequals(key, "User")) {
    a.user = value;
  } else if (iequals(key, "UserCmd")) {
    bool prompts = false;
    a.user_cmd = command_value(value, &prompts);
  } else if (iequals(key, "Pass")) {
    a.pass = Secret(value);
  } else if (iequals(key, "PassCmd")) {
    a.pass_cmd = command_value(value, &a.pass_cmd_prompts);
  } else if (iequals(key, "Tunnel")) {
    a.tunnel = value;
  } else if (iequals(key, "TLSType") || iequals(key, "SSLType")) {
    if (iequals(value, "None")) {
      d.tls = TlsType::none;
    } else if (iequals(value, "STARTTLS")) {
      d.tls = TlsType::starttls;
    } else if (iequals(value, "IMAPS")) {
      d.tls = TlsType::imaps;
    } else {
      return Failure(at(line, "invalid " + key + " '" + value + "' (None, STARTTLS or IMAPS)"));
    }
  } else if (iequals(key, "CertificateFile")) {
    a.certificate_file = expand_tilde(value, env);
  } else {  // SystemCertificates
    const std::optional<bool> b = parse_bool(value);
    if (!b) {
      return Failure(at(line, "invalid boolean value '" + value + "' for " + key));
    }
    a.system_certificates = *b;
  }
  return Failure{};
}

Failure finish_account(AccountDraft& d, const std::string& what, int line) {
  Account& a = d.account;
  if (a.host.empty() && a.tunnel.empty()) {
    return at(line, what + " has neither Host nor Tunnel");
  }
  if (a.pass && !a.pass_cmd.empty()) {
    return at(line, what + " has both Pass and PassCmd");
  }
  a.tls = d.tls.value_or(a.tunnel.empty() ? TlsType::starttls : TlsType::none);
  a.port = d.port.value_or(a.tls == TlsType::imaps ? 993 : 143);
  return std::nullopt;
}

}  // namespace himalaya::mbsync::detail
