#include "services/common/grpc_status.h"

#include <string>

#include "common/log.h"

namespace sslab::services {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      SSLAB_LOG(ERROR) << "request failed: " << status;
      return grpc::Status(code,
                          std::string(absl::StatusCodeToString(status.code())) +
                              ": internal error in the scheduler (see "
                              "its log)");
    default:
      return grpc::Status(code, std::string(status.message()));
  }
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace sslab::services
