#include "mbsync/maildir_count.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace himalaya::mbsync {
namespace {

constexpr int max_depth = 32;

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using Dir = std::unique_ptr<DIR, DirCloser>;

bool is_directory(const std::string& parent, const struct dirent* entry) {
  if (entry->d_type == DT_DIR) {
    return true;
  }
  if (entry->d_type != DT_UNKNOWN && entry->d_type != DT_LNK) {
    return false;
  }
  struct stat st {};
  return ::stat((parent + "/" + entry->d_name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

class Scanner {
 public:
  explicit Scanner(MaildirSnapshot& out) : out_(out) {}

  // Looks for Maildir folders in `path` and below.
  void folder_tree(const std::string& path, const std::string& name_prefix, int depth) {
    Dir dir(::opendir(path.c_str()));
    if (!dir) {
      if (depth > 0 || errno != ENOENT) {
        ++out_.unreadable;
      }
      return;
    }
    std::vector<std::string> subdirs;
    bool has_cur = false;
    bool has_new = false;
    while (const struct dirent* entry = ::readdir(dir.get())) {
      const std::string name = entry->d_name;
      if (name == "." || name == ".." || name.compare(0, name_prefix.size(), name_prefix) != 0) {
        continue;
      }
      if (!is_directory(path, entry)) {
        continue;
      }
      has_cur = has_cur || name == "cur";
      has_new = has_new || name == "new";
      subdirs.push_back(name);
    }
    dir.reset();
    const bool maildir = has_cur && has_new && name_prefix.empty();
    if (maildir) {
      ++out_.folders;
      messages(path + "/new");
      messages(path + "/cur");
    }
    if (depth >= max_depth) {
      return;
    }
    for (const std::string& name : subdirs) {
      if (maildir && (name == "cur" || name == "new" || name == "tmp")) {
        continue;
      }
      folder_tree(path + "/" + name, "", depth + 1);
    }
  }

 private:
  // The message files of one new/ or cur/ directory.
  void messages(const std::string& path) {
    Dir dir(::opendir(path.c_str()));
    if (!dir) {
      ++out_.unreadable;
      return;
    }
    while (const struct dirent* entry = ::readdir(dir.get())) {
      if (entry->d_name[0] == '.' || entry->d_type == DT_DIR) {
        continue;  // ".", "..", and dot files, which are no messages by Maildir's rules
      }
      const char* name = entry->d_name;
      const char* info = std::strstr(name, ":2,");
      out_.unique_names.emplace_back(name, info != nullptr ? info - name : std::strlen(name));
    }
  }

  MaildirSnapshot& out_;
};

}  // namespace

std::string unique_name(const std::string& file_name) {
  const std::size_t info = file_name.find(":2,");
  return info == std::string::npos ? file_name : file_name.substr(0, info);
}

MaildirSnapshot snapshot(const std::vector<MaildirRoot>& roots) {
  MaildirSnapshot out;
  Scanner scanner(out);
  for (const MaildirRoot& root : roots) {
    scanner.folder_tree(root.directory, root.name_prefix, 0);
  }
  std::sort(out.unique_names.begin(), out.unique_names.end());
  out.unique_names.erase(std::unique(out.unique_names.begin(), out.unique_names.end()),
                         out.unique_names.end());
  return out;
}

std::size_t new_messages(const MaildirSnapshot& before, const MaildirSnapshot& after) {
  std::size_t added = 0;
  auto old = before.unique_names.begin();
  for (const std::string& name : after.unique_names) {
    while (old != before.unique_names.end() && *old < name) {
      ++old;
    }
    if (old == before.unique_names.end() || *old != name) {
      ++added;
    }
  }
  return added;
}

}  // namespace himalaya::mbsync
