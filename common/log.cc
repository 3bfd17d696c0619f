#include "common/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace sslab::internal {

LogMessage::LogMessage(char severity, const char* file, int line)
    : severity_(severity) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                          now.time_since_epoch())
                          .count() %
                      1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d %H:%M:%S", &tm);
  const char* base = std::strrchr(file, '/');
  char millis_text[8];
  std::snprintf(millis_text, sizeof(millis_text), ".%03d",
                static_cast<int>(millis));
  stream_ << severity << stamp << millis_text << ' '
          << (base != nullptr ? base + 1 : file) << ':' << line << "] ";
}

LogMessage::~LogMessage() {
  stream_ << '\n';
  const std::string line = stream_.str();
  // One write() per line keeps concurrent messages from interleaving.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  if (severity_ == 'F') std::abort();
}

}  // namespace sslab::internal
