// absl::Status <-> grpc::Status, the one place where the two meet.
//
// The canonical codes have the same numbers in both, so the code is kept and
// the message copied. Thread-safe (pure functions).
#ifndef SSLAB_SERVICES_COMMON_GRPC_STATUS_H_
#define SSLAB_SERVICES_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace sslab::services {

// Converts a domain status for a client. INTERNAL, UNKNOWN and DATA_LOSS
// messages may carry details a client must not see (SQL text, paths): they
// are logged here and replaced by a generic message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Converts what a server (or the channel) answered. A failure the client
// never got an answer for (deadline, unreachable server) keeps its code.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_COMMON_GRPC_STATUS_H_
