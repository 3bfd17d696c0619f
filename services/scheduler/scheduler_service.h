// gRPC ExperimentService and WorkerService over a scheduler::Scheduler: each
// handler validates its request (INVALID_ARGUMENT naming the field), maps it
// to the domain, and maps the answer back. No logic of its own beyond that.
//
// Thread-safety: thread-safe (the scheduler serialises its calls). Handlers
// catch every exception and answer INTERNAL, so no request can take the
// process down.
#ifndef SSLAB_SERVICES_SCHEDULER_SCHEDULER_SERVICE_H_
#define SSLAB_SERVICES_SCHEDULER_SCHEDULER_SERVICE_H_

#include <atomic>

#include "scheduler/scheduler.h"
#include "sslab/v1/experiment_service.grpc.pb.h"
#include "sslab/v1/worker_service.grpc.pb.h"

namespace sslab::services {

class ExperimentServiceImpl final : public v1::ExperimentService::Service {
 public:
  // `scheduler` is not owned and must outlive the service.
  explicit ExperimentServiceImpl(scheduler::Scheduler* scheduler)
      : scheduler_(scheduler) {}

  // Ends every WatchRun stream (before the server shuts down).
  void Stop() { stopping_ = true; }

  grpc::Status SubmitRun(grpc::ServerContext* context,
                         const v1::SubmitRunRequest* request,
                         v1::SubmitRunResponse* response) override;
  grpc::Status SubmitSweep(grpc::ServerContext* context,
                           const v1::SubmitSweepRequest* request,
                           v1::SubmitSweepResponse* response) override;
  grpc::Status GetRun(grpc::ServerContext* context,
                      const v1::GetRunRequest* request,
                      v1::GetRunResponse* response) override;
  grpc::Status ListRuns(grpc::ServerContext* context,
                        const v1::ListRunsRequest* request,
                        v1::ListRunsResponse* response) override;
  grpc::Status CancelRun(grpc::ServerContext* context,
                         const v1::CancelRunRequest* request,
                         v1::CancelRunResponse* response) override;
  grpc::Status WatchRun(
      grpc::ServerContext* context, const v1::WatchRunRequest* request,
      grpc::ServerWriter<v1::WatchRunResponse>* writer) override;
  grpc::Status ListCheckpoints(grpc::ServerContext* context,
                               const v1::ListCheckpointsRequest* request,
                               v1::ListCheckpointsResponse* response) override;
  grpc::Status QueryResults(grpc::ServerContext* context,
                            const v1::QueryResultsRequest* request,
                            v1::QueryResultsResponse* response) override;
  grpc::Status GetVersion(grpc::ServerContext* context,
                          const v1::GetVersionRequest* request,
                          v1::GetVersionResponse* response) override;

 private:
  scheduler::Scheduler* const scheduler_;
  std::atomic<bool> stopping_{false};
};

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  // `scheduler` is not owned and must outlive the service. `lease_duration`
  // is what RegisterWorker tells workers.
  WorkerServiceImpl(scheduler::Scheduler* scheduler,
                    absl::Duration lease_duration)
      : scheduler_(scheduler), lease_duration_(lease_duration) {}

  grpc::Status RegisterWorker(grpc::ServerContext* context,
                              const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override;
  grpc::Status LeaseJob(grpc::ServerContext* context,
                        const v1::LeaseJobRequest* request,
                        v1::LeaseJobResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context,
                         const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status CompleteJob(grpc::ServerContext* context,
                           const v1::CompleteJobRequest* request,
                           v1::CompleteJobResponse* response) override;
  grpc::Status FailJob(grpc::ServerContext* context,
                       const v1::FailJobRequest* request,
                       v1::FailJobResponse* response) override;
  grpc::Status RegisterCheckpoint(
      grpc::ServerContext* context,
      const v1::RegisterCheckpointRequest* request,
      v1::RegisterCheckpointResponse* response) override;
  grpc::Status RegisterFeatures(
      grpc::ServerContext* context, const v1::RegisterFeaturesRequest* request,
      v1::RegisterFeaturesResponse* response) override;
  grpc::Status RecordResult(grpc::ServerContext* context,
                            const v1::RecordResultRequest* request,
                            v1::RecordResultResponse* response) override;

 private:
  scheduler::Scheduler* const scheduler_;
  const absl::Duration lease_duration_;
};

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_SCHEDULER_SCHEDULER_SERVICE_H_
