// Logging for the host: a rotating log file plus stderr, never stdout.
//
// stdout carries msgpack-RPC only; a single stray byte there makes Neovim close
// the channel. Logging must never throw into its caller either, so spdlog's
// error handler swallows sink failures (a full disk, a removed directory).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace himalaya::host {

// Builds the process-wide logger. If the log file cannot be opened, logging
// falls back to stderr alone and `file_error` says why.
std::shared_ptr<spdlog::logger> make_logger(const std::filesystem::path& log_file, bool debug,
                                            std::string& file_error);

}  // namespace himalaya::host
