// What every handler of the scheduler's services shares: running the body
// with exceptions caught and the status converted, and the id checks that
// come before any domain call.
#ifndef SSLAB_SERVICES_SCHEDULER_HANDLER_H_
#define SSLAB_SERVICES_SCHEDULER_HANDLER_H_

#include <grpcpp/support/status.h>

#include <cstdint>
#include <exception>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "services/common/grpc_status.h"
#include "services/scheduler/rpc_stats.h"

namespace sslab::services {

// Runs `body` and converts its status, and any exception, for the client;
// records how long it took in `stats` (when given).
inline grpc::Status Handle(const char* rpc, RpcStats* stats,
                           absl::FunctionRef<absl::Status()> body) {
  const absl::Time start = absl::Now();
  grpc::Status status(grpc::StatusCode::INTERNAL,
                      "internal error in the scheduler (see its log)");
  try {
    status = ToGrpcStatus(body());
  } catch (const std::exception& e) {
    SSLAB_LOG(ERROR) << rpc << ": unexpected exception: " << e.what();
  } catch (...) {
    SSLAB_LOG(ERROR) << rpc << ": unexpected exception";
  }
  if (stats != nullptr) stats->Record(rpc, absl::Now() - start);
  return status;
}

inline absl::Status InvalidField(absl::string_view field,
                                 absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// Ids are positive; 0 is "not given".
inline absl::Status CheckId(int64_t id, absl::string_view field) {
  if (id > 0) return absl::OkStatus();
  return InvalidField(
      field, id == 0 ? "required" : absl::StrCat("must be positive, got ", id));
}

// Client-supplied free text (errors, reasons) is kept to a sane length.
inline constexpr size_t kMaxMessageLength = 4000;
inline std::string Truncate(const std::string& s,
                            size_t n = kMaxMessageLength) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_SCHEDULER_HANDLER_H_
