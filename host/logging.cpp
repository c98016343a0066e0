#include "host/logging.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <system_error>
#include <vector>

namespace himalaya::host {

std::shared_ptr<spdlog::logger> make_logger(const std::filesystem::path& log_file, bool debug,
                                            std::string& file_error) {
  std::vector<spdlog::sink_ptr> sinks;
  auto to_stderr = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  to_stderr->set_level(spdlog::level::warn);
  sinks.push_back(to_stderr);
  if (!log_file.empty()) {
    try {
      std::error_code ec;
      std::filesystem::create_directories(log_file.parent_path(), ec);
      constexpr std::size_t max_size = 1024 * 1024;
      constexpr std::size_t max_files = 3;
      sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(log_file.string(),
                                                                             max_size, max_files));
    } catch (const std::exception& e) {
      file_error = e.what();
    }
  }
  auto logger = std::make_shared<spdlog::logger>("himalaya-coord", sinks.begin(), sinks.end());
  logger->set_level(debug ? spdlog::level::debug : spdlog::level::info);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %P %l: %v");
  logger->flush_on(spdlog::level::info);
  logger->set_error_handler([](const std::string&) {});
  return logger;
}

}  // namespace himalaya::host
