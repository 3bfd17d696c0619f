// Proto <-> domain mapping for the scheduler service: sslab.v1 messages to
// and from scheduler:: / storage:: types. The only place that knows both.
//
// Thread-safe (pure functions). Conversions from the domain never fail: a
// stored JSON blob that does not parse leaves the proto fields unset.
#ifndef SSLAB_SERVICES_SCHEDULER_CONVERT_H_
#define SSLAB_SERVICES_SCHEDULER_CONVERT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "scheduler/scheduler.h"
#include "sslab/v1/types.pb.h"
#include "sslab/v1/worker_service.pb.h"
#include "storage/types.h"

namespace sslab::services {

void ToProto(absl::Time t, google::protobuf::Timestamp* out);
absl::Time FromProto(const google::protobuf::Timestamp& t);

v1::RunState ToProto(storage::RunState state);
std::optional<storage::RunState> FromProto(v1::RunState state);
v1::JobKind ToProto(storage::JobKind kind);
std::optional<storage::JobKind> FromProto(v1::JobKind kind);
v1::JobState ToProto(storage::JobState state);

// An expanded config -> what the scheduler stores: names, config JSON,
// versions, evaluation plan, devices.
scheduler::RunSpec ToRunSpec(const v1::RunConfig& expanded,
                             const std::string& name, int priority);

// A run with its counts and progress (training position and the latest
// value of each metric, as the scheduler reads them), and its jobs when
// `with_jobs`.
v1::Run ToProto(const scheduler::RunStatus& status, bool with_jobs);
// A run as listed (no counts, jobs or metrics).
v1::Run ToProto(const storage::Run& run);
v1::Job ToProto(const storage::Job& job);
v1::Checkpoint ToProto(const storage::Checkpoint& checkpoint);
v1::Result ToProto(const storage::ResultRow& row);

// "cpu" / "cuda:N" <-> Device. INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> DeviceId(const v1::Device& device,
                                     const std::string& field);
v1::Device DeviceFromId(const std::string& id);

// A lease -> everything the worker needs (typed fields from the payload).
v1::JobAssignment ToAssignment(const scheduler::Lease& lease);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_SCHEDULER_CONVERT_H_
