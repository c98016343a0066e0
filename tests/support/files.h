// Temporary directories and whole-file reads and writes for tests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace himalaya::testing {

// Makes a fresh directory under the system's temporary directory, named
// `<stem>XXXXXX` with the X's replaced (mkdtemp(3)); throws if it cannot.
std::filesystem::path make_temp_dir(const std::string& stem);

// A fresh directory (make_temp_dir), removed with everything in it on
// destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& stem = "coord-test-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The whole file; "" if it cannot be read.
std::string slurp(const std::filesystem::path& p);

// The complete lines of `text`, without their newlines: a last line still
// being written (no newline yet) is left out.
std::vector<std::string> complete_lines(const std::string& text);

// Replaces the file's contents with `text` (in place, not atomically).
void spit(const std::filesystem::path& p, const std::string& text);

}  // namespace himalaya::testing
