// What every handler of the scheduler's services shares: the caller check,
// running the body with exceptions caught and the status converted, and the
// id checks that come before any domain call.
#ifndef SSLAB_SERVICES_SCHEDULER_HANDLER_H_
#define SSLAB_SERVICES_SCHEDULER_HANDLER_H_

#include <grpcpp/server_context.h>
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
#include "services/common/security.h"
#include "services/scheduler/rpc_stats.h"

namespace sslab::services {

// What every handler of one service shares: the caller must hold a token of
// the service's role, and each call's latency goes to `stats`.
class Handler {
 public:
  // Neither is owned; `auth` null: every caller is accepted; `stats` null:
  // latencies are not recorded.
  Handler(Role role, const Authenticator* auth, RpcStats* stats)
      : role_(role), auth_(auth), stats_(stats) {}

  // Checks the caller (services/common/security.h), then runs `body` and
  // converts its status, and any exception, for the client.
  grpc::Status operator()(const grpc::ServerContext* context, const char* rpc,
                          absl::FunctionRef<absl::Status()> body) const {
    const absl::Time start = absl::Now();
    grpc::Status status(grpc::StatusCode::INTERNAL,
                        "internal error in the scheduler (see its log)");
    try {
      absl::Status allowed =
          auth_ == nullptr ? absl::OkStatus() : auth_->Check(context, role_);
      status = ToGrpcStatus(allowed.ok() ? body() : allowed);
    } catch (const std::exception& e) {
      SSLAB_LOG(ERROR) << rpc << ": unexpected exception: " << e.what();
    } catch (...) {
      SSLAB_LOG(ERROR) << rpc << ": unexpected exception";
    }
    if (stats_ != nullptr) stats_->Record(rpc, absl::Now() - start);
    return status;
  }

 private:
  const Role role_;
  const Authenticator* const auth_;
  RpcStats* const stats_;
};

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
