#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace sslab {
namespace {

std::atomic<LogFormat> log_format{LogFormat::kText};
std::atomic<int> min_rank{0};

int Rank(char severity) {
  switch (severity) {
    case 'W':
      return 1;
    case 'E':
      return 2;
    case 'F':
      return 3;
    default:
      return 0;
  }
}

const char* LevelName(char severity) {
  switch (severity) {
    case 'W':
      return "WARNING";
    case 'E':
      return "ERROR";
    case 'F':
      return "FATAL";
    default:
      return "INFO";
  }
}

}  // namespace

void SetLogFormat(LogFormat format) { log_format = format; }
void SetMinLogSeverity(char severity) { min_rank = Rank(severity); }

namespace internal {

LogMessage::LogMessage(char severity, const char* file, int line)
    : severity_(severity),
      file_(file),
      line_(line),
      time_(std::chrono::system_clock::now()) {}

LogMessage::~LogMessage() {
  if (Rank(severity_) >= min_rank || severity_ == 'F') {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(time_);
    const int millis =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                             time_.time_since_epoch())
                             .count() %
                         1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    const char* base = std::strrchr(file_, '/');
    const std::string source =
        absl::StrFormat("%s:%d", base != nullptr ? base + 1 : file_, line_);
    char stamp[32];
    std::string line;
    if (log_format == LogFormat::kJson) {
      std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
      // Invalid UTF-8 in a message (a path, say) is replaced, not thrown.
      line =
          nlohmann::ordered_json{
              {"time", absl::StrFormat("%s.%03dZ", stamp, millis)},
              {"level", LevelName(severity_)},
              {"source", source},
              {"message", stream_.str()}}
              .dump(-1, ' ', false,
                    nlohmann::ordered_json::error_handler_t::replace);
    } else {
      std::strftime(stamp, sizeof(stamp), "%Y%m%d %H:%M:%S", &tm);
      line = absl::StrFormat("%c%s.%03d %s] %s", severity_, stamp, millis,
                             source, stream_.str());
    }
    line += '\n';
    // One write() per line keeps concurrent messages from interleaving.
    [[maybe_unused]] ssize_t n =
        ::write(STDERR_FILENO, line.data(), line.size());
  }
  if (severity_ == 'F') std::abort();
}

}  // namespace internal
}  // namespace sslab
