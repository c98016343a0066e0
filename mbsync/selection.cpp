#include "mbsync/selection.h"

#include <algorithm>

namespace himalaya::mbsync {
namespace {

void add_once(std::vector<const Channel*>& out, const Channel* channel) {
  if (std::find(out.begin(), out.end(), channel) == out.end()) {
    out.push_back(channel);
  }
}

Error unknown(std::string_view name) {
  return Error{"", 0, "no channel or group named '" + std::string(name) + "'"};
}

// "channel:box,box" names the channel.
std::string_view channel_part(std::string_view spec) {
  return spec.substr(0, spec.find(':'));
}

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  return path;
}

MaildirRoot root_of_path(const std::string& path) {
  if (!path.empty() && path.back() == '/') {
    return MaildirRoot{without_trailing_slashes(path), ""};
  }
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return MaildirRoot{".", path};
  }
  return MaildirRoot{slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// Whether the scan of `root` reaches `path`.
bool inside(const std::string& path, const MaildirRoot& root) {
  std::string base = root.directory;
  if (base.empty() || base.back() != '/') {
    base += '/';
  }
  base += root.name_prefix;
  return path.size() > base.size() && path.compare(0, base.size(), base) == 0;
}

}  // namespace

std::vector<std::string> channel_names(const Config& config) {
  std::vector<std::string> names;
  names.reserve(config.channels.size());
  for (const Channel& channel : config.channels) {
    names.push_back(channel.name);
  }
  return names;
}

Result<std::vector<const Channel*>> resolve(const Config& config, std::string_view name) {
  std::vector<const Channel*> out;
  if (const Group* group = config.find_group(name)) {
    for (const std::string& member : group->channels) {
      const Channel* channel = config.find_channel(channel_part(member));
      if (channel == nullptr) {
        return Error{"", group->line,
                     "group '" + group->name + "' names channel '" +
                         std::string(channel_part(member)) + "', which does not exist"};
      }
      add_once(out, channel);
    }
    return out;
  }
  const Channel* channel = config.find_channel(channel_part(name));
  if (channel == nullptr) {
    return unknown(name);
  }
  out.push_back(channel);
  return out;
}

Result<std::vector<const Channel*>> selected_channels(const Config& config,
                                                      const std::vector<std::string>& argv) {
  bool all = false;
  std::size_t i = 1;
  for (; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      break;
    }
    if (arg[1] == '-') {
      all = all || arg == "--all";
      if (arg == "--config") {
        ++i;
      }
      continue;
    }
    for (std::size_t k = 1; k < arg.size(); ++k) {
      all = all || arg[k] == 'a';
      if (arg[k] == 'c') {
        ++i;
        break;
      }
    }
  }
  std::vector<const Channel*> out;
  if (all) {
    for (const Channel& channel : config.channels) {
      out.push_back(&channel);
    }
    return out;
  }
  for (; i < argv.size(); ++i) {
    Result<std::vector<const Channel*>> named = resolve(config, argv[i]);
    if (!named) {
      return named.error();
    }
    for (const Channel* channel : named.value()) {
      add_once(out, channel);
    }
  }
  if (out.empty()) {
    return Error{"", 0, "the sync command selects no channel (name one, or use -a)"};
  }
  return out;
}

std::vector<MaildirRoot> maildir_roots(const Config& config,
                                       const std::vector<const Channel*>& channels) {
  std::vector<const MaildirStore*> stores;
  for (const Channel* channel : channels) {
    for (const ChannelSide* side : {&channel->far, &channel->near}) {
      const MaildirStore* store = config.find_maildir_store(side->store);
      if (store != nullptr && std::find(stores.begin(), stores.end(), store) == stores.end()) {
        stores.push_back(store);
      }
    }
  }
  std::vector<MaildirRoot> roots;
  for (const MaildirStore* store : stores) {
    if (!store->path.empty()) {
      const MaildirRoot root = root_of_path(store->path);
      if (std::find(roots.begin(), roots.end(), root) == roots.end()) {
        roots.push_back(root);
      }
    }
  }
  const std::size_t paths = roots.size();
  for (const MaildirStore* store : stores) {
    const MaildirRoot inbox{without_trailing_slashes(store->inbox), ""};
    const bool covered =
        std::any_of(roots.begin(), roots.begin() + paths,
                    [&](const MaildirRoot& r) { return inside(inbox.directory, r); });
    if (!covered && std::find(roots.begin(), roots.end(), inbox) == roots.end()) {
      roots.push_back(inbox);
    }
  }
  return roots;
}

}  // namespace himalaya::mbsync
