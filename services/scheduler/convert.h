// The scheduler's records (storage::, scheduler::) as sslab.v1 messages, for
// the scheduler's services. Config, vocabulary and assignment mapping is in
// services/common/experiment_proto.h; this file adds what only the
// scheduler has: stored runs, jobs, checkpoints, results and leases.
//
// Thread-safe (pure functions); never fails.
#ifndef SSLAB_SERVICES_SCHEDULER_CONVERT_H_
#define SSLAB_SERVICES_SCHEDULER_CONVERT_H_

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "scheduler/scheduler.h"
#include "sslab/v1/types.pb.h"
#include "sslab/v1/worker_service.pb.h"
#include "storage/types.h"

namespace sslab::services {

void ToProto(absl::Time t, google::protobuf::Timestamp* out);
absl::Time FromProto(const google::protobuf::Timestamp& t);

// A run with its counts and progress (training position and the latest
// value of each metric, as the scheduler reads them), and its jobs when
// `with_jobs`.
v1::Run ToProto(const scheduler::RunStatus& status, bool with_jobs);
// A run as listed (no counts, jobs or metrics).
v1::Run ToProto(const storage::Run& run);
v1::Job ToProto(const storage::Job& job);
v1::Checkpoint ToProto(const storage::Checkpoint& checkpoint);
v1::Result ToProto(const storage::ResultRow& row);
v1::Artifact ToProto(const scheduler::Artifact& artifact);

// A lease -> everything the worker needs.
v1::JobAssignment ToProto(const scheduler::Lease& lease);

v1::Sweep ToProto(const storage::SweepSummary& sweep);
v1::Worker ToProto(const scheduler::WorkerInfo& worker);
v1::MetricSeries ToProto(const scheduler::MetricSeries& series);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_SCHEDULER_CONVERT_H_
