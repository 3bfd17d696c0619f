// gRPC WorkerService over a scheduler::Scheduler: each handler checks the
// request's ids, maps it to the domain and the answer back.
//
// Thread-safety: thread-safe (the scheduler serialises its calls). Handlers
// catch every exception and answer INTERNAL.
#ifndef SSLAB_SERVICES_SCHEDULER_WORKER_SERVICE_H_
#define SSLAB_SERVICES_SCHEDULER_WORKER_SERVICE_H_

#include "scheduler/scheduler.h"
#include "services/scheduler/rpc_stats.h"
#include "sslab/v1/worker_service.grpc.pb.h"

namespace sslab::services {

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  // Neither is owned; both must outlive the service. `stats` (optional)
  // records every call's latency.
  explicit WorkerServiceImpl(scheduler::Scheduler* scheduler,
                             RpcStats* stats = nullptr)
      : scheduler_(scheduler), stats_(stats) {}

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
  RpcStats* const stats_;
};

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_SCHEDULER_WORKER_SERVICE_H_
