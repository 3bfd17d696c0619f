// Minimal leveled logging to stderr, one line per message:
//   I20261128 08:10:00.123 trainer.cc:42] message
// Thread-safe: each message is formatted in full and written with one call.
// Debian's Abseil (20220623) predates absl/log, hence this.
#ifndef SSLAB_COMMON_LOG_H_
#define SSLAB_COMMON_LOG_H_

#include <sstream>

namespace sslab::internal {

class LogMessage {
 public:
  LogMessage(char severity, const char* file, int line);
  ~LogMessage();  // Writes the line; aborts for severity 'F'.
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  char severity_;
  std::ostringstream stream_;
};

}  // namespace sslab::internal

#define SSLAB_LOG_INFO ::sslab::internal::LogMessage('I', __FILE__, __LINE__)
#define SSLAB_LOG_WARNING ::sslab::internal::LogMessage('W', __FILE__, __LINE__)
#define SSLAB_LOG_ERROR ::sslab::internal::LogMessage('E', __FILE__, __LINE__)
#define SSLAB_LOG_FATAL ::sslab::internal::LogMessage('F', __FILE__, __LINE__)
// Usage: SSLAB_LOG(INFO) << "leased job " << id;
#define SSLAB_LOG(severity) SSLAB_LOG_##severity.stream()

#endif  // SSLAB_COMMON_LOG_H_
