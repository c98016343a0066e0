#include "mbsync/config.h"

#include "mbsync/account_options.h"
#include "mbsync/keywords.h"
#include "mbsync/tokens.h"

namespace himalaya::mbsync {
namespace {

using detail::AccountDraft;
using detail::at;
using detail::Failure;
using detail::iequals;
using detail::single;

bool is_section_keyword(std::string_view key) {
  return iequals(key, "IMAPAccount") || iequals(key, "IMAPStore") || iequals(key, "MaildirStore") ||
         iequals(key, "Channel") || iequals(key, "Group");
}

// The section being read and what it has collected so far.
class Reader {
 public:
  explicit Reader(const Environment& env) : env_(env) {}

  Failure line(const std::vector<std::string>& words, int number);
  Failure end_section();
  Config take() { return std::move(config_); }

 private:
  enum class Section { none, account, imap_store, maildir_store, channel, group };

  Failure begin(const std::vector<std::string>& words, int number);
  Failure imap_store_line(const std::vector<std::string>& words, int number);
  Failure maildir_line(const std::vector<std::string>& words, int number);
  Failure channel_line(const std::vector<std::string>& words, int number);
  Failure side(const std::vector<std::string>& words, int number, ChannelSide& out);

  const Environment& env_;
  Config config_;
  Section section_ = Section::none;
  std::string section_keyword_;
  int section_line_ = 0;
  AccountDraft draft_;
  ImapStore imap_store_;
  MaildirStore maildir_;
  Channel channel_;
  Group group_;
};

Failure Reader::line(const std::vector<std::string>& words, int number) {
  if (words.size() < 2) {
    return at(number, "parameter missing after '" + words[0] + "'");
  }
  const std::string& key = words[0];
  const bool group_member =
      section_ == Section::group && (iequals(key, "Channel") || iequals(key, "Channels"));
  if (is_section_keyword(key) && !group_member) {
    if (section_ != Section::none) {
      return at(number, "keyword '" + key + "' is not recognized in " + section_keyword_ +
                            " sections (the section that begins on line " +
                            std::to_string(section_line_) + " needs an empty line to end it)");
    }
    return begin(words, number);
  }
  switch (section_) {
    case Section::none:  // a global option: none of ours
      return std::nullopt;
    case Section::account:
      return detail::account_option(draft_, words, number, env_).value_or(std::nullopt);
    case Section::imap_store:
      return imap_store_line(words, number);
    case Section::maildir_store:
      return maildir_line(words, number);
    case Section::channel:
      return channel_line(words, number);
    case Section::group:
      if (group_member) {
        group_.channels.insert(group_.channels.end(), words.begin() + 1, words.end());
      }
      return std::nullopt;
  }
  return std::nullopt;
}

Failure Reader::begin(const std::vector<std::string>& words, int number) {
  const std::string& key = words[0];
  const std::string& name = words[1];
  if (!iequals(key, "Group")) {
    if (Failure f = single(words, number)) {
      return f;
    }
  }
  section_keyword_ = key;
  section_line_ = number;
  if (iequals(key, "IMAPAccount")) {
    section_ = Section::account;
    draft_ = AccountDraft{};
    draft_.account.name = name;
    draft_.account.line = number;
  } else if (iequals(key, "IMAPStore")) {
    section_ = Section::imap_store;
    imap_store_ = ImapStore{};
    imap_store_.name = name;
    imap_store_.line = number;
    draft_ = AccountDraft{};
    draft_.account.name = name;
    draft_.account.line = number;
    draft_.account.inline_in_store = true;
  } else if (iequals(key, "MaildirStore")) {
    section_ = Section::maildir_store;
    maildir_ = MaildirStore{};
    maildir_.name = name;
    maildir_.line = number;
  } else if (iequals(key, "Channel")) {
    section_ = Section::channel;
    channel_ = Channel{};
    channel_.name = name;
    channel_.line = number;
  } else {
    section_ = Section::group;
    group_ = Group{name, number, std::vector<std::string>(words.begin() + 2, words.end())};
  }
  return std::nullopt;
}

Failure Reader::imap_store_line(const std::vector<std::string>& words, int number) {
  const std::string& key = words[0];
  if (iequals(key, "Account")) {
    if (Failure f = single(words, number)) {
      return f;
    }
    if (!config_.find_account(words[1])) {
      return at(number, "unknown IMAP account '" + words[1] + "' (an IMAPAccount must come first)");
    }
    imap_store_.account = words[1];
    return std::nullopt;
  }
  if (iequals(key, "Path")) {
    if (Failure f = single(words, number)) {
      return f;
    }
    imap_store_.path = words[1];
    return std::nullopt;
  }
  return detail::account_option(draft_, words, number, env_).value_or(std::nullopt);
}

Failure Reader::maildir_line(const std::vector<std::string>& words, int number) {
  const std::string& key = words[0];
  const bool path = iequals(key, "Path");
  if (!path && !iequals(key, "Inbox") && !iequals(key, "SubFolders")) {
    return std::nullopt;
  }
  if (Failure f = single(words, number)) {
    return f;
  }
  const std::string& value = words[1];
  if (path) {
    maildir_.path = expand_tilde(value, env_);
  } else if (iequals(key, "Inbox")) {
    maildir_.inbox = expand_tilde(value, env_);
  } else if (iequals(value, "Verbatim")) {
    maildir_.sub_folders = SubFolders::verbatim;
  } else if (iequals(value, "Maildir++")) {
    maildir_.sub_folders = SubFolders::maildirpp;
  } else if (iequals(value, "Legacy")) {
    maildir_.sub_folders = SubFolders::legacy;
  } else {
    return at(number,
              "unrecognized SubFolders style '" + value + "' (Verbatim, Maildir++ or Legacy)");
  }
  return std::nullopt;
}

Failure Reader::side(const std::vector<std::string>& words, int number, ChannelSide& out) {
  if (Failure f = single(words, number)) {
    return f;
  }
  const std::string& spec = words[1];
  const std::size_t second = spec.empty() || spec[0] != ':' ? std::string::npos : spec.find(':', 1);
  if (second == std::string::npos) {
    return at(number, "malformed mailbox spec '" + spec + "' for " + words[0] +
                          " (expected :store: or :store:mailbox)");
  }
  const std::string store = spec.substr(1, second - 1);
  if (!config_.find_imap_store(store) && !config_.find_maildir_store(store)) {
    return at(number, "unknown store '" + store + "' (a store must come before its channel)");
  }
  out = ChannelSide{store, spec.substr(second + 1)};
  return std::nullopt;
}

Failure Reader::channel_line(const std::vector<std::string>& words, int number) {
  const std::string& key = words[0];
  if (iequals(key, "Far") || iequals(key, "Master")) {
    return side(words, number, channel_.far);
  }
  if (iequals(key, "Near") || iequals(key, "Slave")) {
    return side(words, number, channel_.near);
  }
  if (iequals(key, "Patterns") || iequals(key, "Pattern")) {
    channel_.patterns.insert(channel_.patterns.end(), words.begin() + 1, words.end());
  }
  return std::nullopt;
}

Failure Reader::end_section() {
  const Section ended = section_;
  section_ = Section::none;
  switch (ended) {
    case Section::none:
      return std::nullopt;
    case Section::account:
      if (Failure f = detail::finish_account(draft_, "IMAP account '" + draft_.account.name + "'",
                                             draft_.account.line)) {
        return f;
      }
      config_.accounts.push_back(std::move(draft_.account));
      return std::nullopt;
    case Section::imap_store: {
      const std::string what = "IMAP store '" + imap_store_.name + "'";
      if (!imap_store_.account.empty()) {
        if (draft_.any_option) {
          return at(imap_store_.line, what + " has both Account and account-specific options");
        }
      } else {
        if (Failure f = detail::finish_account(draft_, what, imap_store_.line)) {
          return f;
        }
        imap_store_.account = imap_store_.name;
        imap_store_.account_inline = true;
        config_.accounts.push_back(std::move(draft_.account));
      }
      config_.imap_stores.push_back(std::move(imap_store_));
      return std::nullopt;
    }
    case Section::maildir_store:
      if (maildir_.sub_folders == SubFolders::maildirpp && !maildir_.path.empty()) {
        return at(maildir_.line, "MaildirStore '" + maildir_.name +
                                     "' sets Path, which SubFolders Maildir++ does not allow");
      }
      if (maildir_.inbox.empty()) {
        maildir_.inbox = expand_tilde("~/Maildir", env_);
      }
      config_.maildir_stores.push_back(std::move(maildir_));
      return std::nullopt;
    case Section::channel:
      if (channel_.far.store.empty()) {
        return at(channel_.line, "channel '" + channel_.name + "' has no Far (or Master) side");
      }
      if (channel_.near.store.empty()) {
        return at(channel_.line, "channel '" + channel_.name + "' has no Near (or Slave) side");
      }
      config_.channels.push_back(std::move(channel_));
      return std::nullopt;
    case Section::group:
      config_.groups.push_back(std::move(group_));
      return std::nullopt;
  }
  return std::nullopt;
}

template <class T>
const T* find_named(const std::vector<T>& items, std::string_view name) {
  for (const T& item : items) {
    if (item.name == name) {
      return &item;
    }
  }
  return nullptr;
}

}  // namespace

const char* to_string(TlsType tls) {
  switch (tls) {
    case TlsType::none:
      return "None";
    case TlsType::starttls:
      return "STARTTLS";
    case TlsType::imaps:
      return "IMAPS";
  }
  return "?";
}

const Account* Config::find_account(std::string_view name) const {
  for (const Account& a : accounts) {
    if (!a.inline_in_store && a.name == name) {
      return &a;
    }
  }
  return nullptr;
}

const Account* Config::account_of(const ImapStore& store) const {
  for (const Account& a : accounts) {
    if (a.name == store.account && a.inline_in_store == store.account_inline) {
      return &a;
    }
  }
  return nullptr;
}

const ImapStore* Config::find_imap_store(std::string_view name) const {
  return find_named(imap_stores, name);
}
const MaildirStore* Config::find_maildir_store(std::string_view name) const {
  return find_named(maildir_stores, name);
}
const Channel* Config::find_channel(std::string_view name) const {
  return find_named(channels, name);
}
const Group* Config::find_group(std::string_view name) const {
  return find_named(groups, name);
}

Result<Config> parse(std::string_view text, const Environment& env) {
  Reader reader(env);
  int number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    ++number;
    auto split = split_line(text.substr(start, end - start));
    start = end + 1;
    if (!split) {
      return at(number, split.error());
    }
    const LineWords& line = split.value();
    Failure failure;
    if (line.words.empty()) {
      if (!line.comment_only) {
        failure = reader.end_section();
      }
    } else {
      failure = reader.line(line.words, number);
    }
    if (failure) {
      return *failure;
    }
  }
  if (Failure f = reader.end_section()) {
    return *f;
  }
  return reader.take();
}

}  // namespace himalaya::mbsync
