#include "host/push_plan.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "mbsync/locate.h"
#include "mbsync/selection.h"

namespace himalaya::host {
namespace {

bool is_mbsync(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return false;
  }
  const std::string& program = argv[0];
  const std::size_t slash = program.rfind('/');
  return program.substr(slash == std::string::npos ? 0 : slash + 1) == "mbsync";
}

imap::Endpoint::Tls endpoint_tls(mbsync::TlsType tls) {
  switch (tls) {
    case mbsync::TlsType::none:
      return imap::Endpoint::Tls::none;
    case mbsync::TlsType::imaps:
      return imap::Endpoint::Tls::implicit;
    case mbsync::TlsType::starttls:
      break;
  }
  return imap::Endpoint::Tls::starttls;
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

// The accounts the command syncs, each once, in the order of the file; all of
// them when that cannot be told (not mbsync, or no channel selected).
std::vector<const mbsync::Account*> accounts_synced(const mbsync::Config& config,
                                                    const std::vector<std::string>& argv) {
  std::vector<const mbsync::Account*> accounts;
  auto add = [&accounts](const mbsync::Account* account) {
    if (account != nullptr &&
        std::find(accounts.begin(), accounts.end(), account) == accounts.end()) {
      accounts.push_back(account);
    }
  };
  if (is_mbsync(argv)) {
    auto channels = mbsync::selected_channels(config, argv);
    if (channels && !channels.value().empty()) {
      for (const mbsync::Channel* channel : channels.value()) {
        for (const mbsync::ChannelSide* side : {&channel->far, &channel->near}) {
          if (const mbsync::ImapStore* store = config.find_imap_store(side->store)) {
            add(config.account_of(*store));
          }
        }
      }
      std::vector<const mbsync::Account*> ordered;
      for (const mbsync::Account& account : config.accounts) {
        if (std::find(accounts.begin(), accounts.end(), &account) != accounts.end()) {
          ordered.push_back(&account);
        }
      }
      return ordered;
    }
  }
  for (const mbsync::Account& account : config.accounts) {
    add(&account);
  }
  return accounts;
}

}  // namespace

std::string PushTarget::server() const {
  return endpoint.host + ":" + std::to_string(endpoint.port);
}

PushPlan plan_from_config(const mbsync::Config& config, const std::vector<std::string>& argv,
                          const std::vector<std::string>& mailboxes) {
  PushPlan plan;
  for (const mbsync::Account* account : accounts_synced(config, argv)) {
    if (!account->tunnel.empty()) {
      plan.skipped.push_back("account '" + account->name +
                             "' connects through a Tunnel, which push does not use");
      continue;
    }
    PushTarget base;
    base.account = account->name;
    base.endpoint.host = account->host;
    base.endpoint.port = static_cast<std::uint16_t>(account->port);
    base.endpoint.tls = endpoint_tls(account->tls);
    base.endpoint.certificate_file = account->certificate_file;
    base.endpoint.system_certificates = account->system_certificates;
    base.user = account->user;
    base.user_cmd = account->user_cmd;
    if (account->pass) {
      base.pass = *account->pass;
    }
    base.pass_cmd = account->pass_cmd;
    for (const std::string& mech : account->auth_mechs) {
      base.auth_mechs.push_back(upper(mech));
    }
    for (const std::string& mailbox : mailboxes) {
      PushTarget target = base;
      target.mailbox = mailbox;
      plan.targets.push_back(std::move(target));
    }
  }
  if (plan.targets.empty()) {
    plan.problem = plan.skipped.empty() ? "the mbsync configuration has no IMAP account"
                                        : plan.skipped.front();
  }
  return plan;
}

PushPlan plan_push(const std::vector<std::string>& command, const PushConfig& push,
                   const mbsync::Environment& env) {
  const mbsync::Location where =
      mbsync::locate(command, push.mbsyncrc, env, [](const std::string& path) {
        std::error_code ignored;
        return std::filesystem::exists(path, ignored);
      });
  mbsync::Result<mbsync::Config> config = mbsync::load(where.path, env);
  if (!config) {
    PushPlan plan;
    plan.problem = "cannot use the mbsync configuration: " + config.error().describe();
    return plan;
  }
  PushPlan plan = plan_from_config(config.value(), command, push.mailboxes);
  plan.config_path = where.path;
  return plan;
}

}  // namespace himalaya::host
