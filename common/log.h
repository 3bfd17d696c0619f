// Minimal leveled logging to stderr, one line per message, as text
//   I20261128 08:10:00.123 trainer.cc:42] message
// or, after SetLogFormat(LogFormat::kJson), as one JSON object per line
//   {"time":"2026-11-28T08:10:00.123Z","level":"INFO","source":"trainer.cc:42","message":"message"}
// for log collectors. Thread-safe: each message is formatted in full and
// written with one call. Debian's Abseil (20220623) predates absl/log, hence
// this.
#ifndef SSLAB_COMMON_LOG_H_
#define SSLAB_COMMON_LOG_H_

#include <chrono>
#include <sstream>

namespace sslab {

enum class LogFormat { kText, kJson };

// Process-wide, set once at startup (services/common/log_flags.h) before
// threads log. Defaults: text, every severity.
void SetLogFormat(LogFormat format);
// Drops messages below `severity`, one of 'I' < 'W' < 'E' < 'F' (fatal
// messages are always written).
void SetMinLogSeverity(char severity);

namespace internal {

class LogMessage {
 public:
  LogMessage(char severity, const char* file, int line);
  ~LogMessage();  // Writes the line; aborts for severity 'F'.
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  char severity_;
  const char* file_;
  int line_;
  std::chrono::system_clock::time_point time_;
  std::ostringstream stream_;
};

}  // namespace internal
}  // namespace sslab

#define SSLAB_LOG_INFO ::sslab::internal::LogMessage('I', __FILE__, __LINE__)
#define SSLAB_LOG_WARNING ::sslab::internal::LogMessage('W', __FILE__, __LINE__)
#define SSLAB_LOG_ERROR ::sslab::internal::LogMessage('E', __FILE__, __LINE__)
#define SSLAB_LOG_FATAL ::sslab::internal::LogMessage('F', __FILE__, __LINE__)
// Usage: SSLAB_LOG(INFO) << "leased job " << id;
#define SSLAB_LOG(severity) SSLAB_LOG_##severity.stream()

#endif  // SSLAB_COMMON_LOG_H_
