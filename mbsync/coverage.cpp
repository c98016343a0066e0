#include "mbsync/coverage.h"

#include <algorithm>
#include <cctype>

#include "mbsync/selection.h"

namespace himalaya::mbsync {
namespace {

// INBOX, and INBOX/..., in mbsync's spelling whatever the case written.
std::string canonical(std::string_view name) {
  std::string out(name);
  const std::size_t end = std::min(out.find('/'), out.size());
  if (end == 5) {
    std::string first = out.substr(0, 5);
    for (char& c : first) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (first == "INBOX") {
      out.replace(0, 5, first);
    }
  }
  return out;
}

bool wildcard_match(std::string_view pattern, std::string_view name) {
  if (pattern.empty()) {
    return name.empty();
  }
  const char p = pattern.front();
  if (p == '*' || p == '%') {
    // Try every length the wildcard may take, shortest first.
    for (std::size_t n = 0; n <= name.size(); ++n) {
      if (wildcard_match(pattern.substr(1), name.substr(n))) {
        return true;
      }
      if (n < name.size() && p == '%' && name[n] == '/') {
        return false;
      }
    }
    return false;
  }
  return !name.empty() && name.front() == p && wildcard_match(pattern.substr(1), name.substr(1));
}

bool side_covers(const Config& config, const Channel& channel, const ChannelSide& side,
                 std::string_view account, const std::string& mailbox) {
  const ImapStore* store = config.find_imap_store(side.store);
  if (store == nullptr) {
    return false;  // a Maildir side
  }
  const Account* owner = config.account_of(*store);
  if (!account.empty() && (owner == nullptr || owner->name != account)) {
    return false;
  }
  if (mailbox.empty()) {
    return true;
  }
  if (!channel.patterns.empty()) {
    return patterns_select(channel.patterns, mailbox);
  }
  return canonical(side.box.empty() ? "INBOX" : side.box) == mailbox;
}

}  // namespace

bool patterns_select(const std::vector<std::string>& patterns, std::string_view mailbox) {
  const std::string name = canonical(mailbox);
  bool selected = false;
  for (const std::string& written : patterns) {
    const bool exclude = !written.empty() && written.front() == '!';
    const std::string pattern = canonical(std::string_view(written).substr(exclude ? 1 : 0));
    if (wildcard_match(pattern, name)) {
      selected = !exclude;
    }
  }
  return selected;
}

bool covers(const Config& config, std::string_view name, std::string_view account,
            std::string_view mailbox) {
  const Result<std::vector<const Channel*>> channels = resolve(config, name);
  if (!channels) {
    return false;
  }
  const std::string box = canonical(mailbox);
  for (const Channel* channel : channels.value()) {
    if (side_covers(config, *channel, channel->far, account, box) ||
        side_covers(config, *channel, channel->near, account, box)) {
      return true;
    }
  }
  return false;
}

}  // namespace himalaya::mbsync
