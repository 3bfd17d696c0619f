// The flags (and environment variables) with which every sslab service says
// how it logs (common/log.h):
//   --log-format (SSLAB_LOG_FORMAT)  text (default) | json: one object per
//                                    line for log collectors
//   --log-level (SSLAB_LOG_LEVEL)    info (default) | warning | error
#ifndef SSLAB_SERVICES_COMMON_LOG_FLAGS_H_
#define SSLAB_SERVICES_COMMON_LOG_FLAGS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "common/log.h"

namespace sslab::services {

struct LogFlags {
  std::string format = "text";
  std::string level = "info";

  // After parsing: sets the process's log format and level.
  void Apply() const {
    SetLogFormat(format == "json" ? LogFormat::kJson : LogFormat::kText);
    SetMinLogSeverity(level == "error" ? 'E' : level == "warning" ? 'W' : 'I');
  }
};

inline void AddLogFlags(CLI::App& app, LogFlags* flags) {
  app.add_option("--log-format", flags->format, "text|json")
      ->envname("SSLAB_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", flags->level,
                 "info|warning|error: the least severe messages written")
      ->envname("SSLAB_LOG_LEVEL")
      ->check(CLI::IsMember({"info", "warning", "error"}))
      ->capture_default_str();
}

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_COMMON_LOG_FLAGS_H_
