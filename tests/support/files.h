// Temporary directories and whole-file reads and writes for tests.
#pragma once

#include <filesystem>
#include <string>

namespace himalaya::testing {

// A fresh directory under the system's temporary directory, named
// `<prefix>-XXXXXX`, removed with everything in it on destruction. Throws if
// it cannot be made.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "coord-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The whole file; "" if it cannot be read.
std::string slurp(const std::filesystem::path& p);

// Replaces the file's contents with `text` (in place, not atomically).
void spit(const std::filesystem::path& p, const std::string& text);

}  // namespace himalaya::testing
