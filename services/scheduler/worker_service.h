// gRPC WorkerService over a scheduler::Scheduler: each handler checks the
// request's ids, maps it to the domain and the answer back.
//
// Thread-safety: thread-safe (the scheduler serialises its calls). Handlers
// catch every exception and answer INTERNAL.
#ifndef SSLAB_SERVICES_SCHEDULER_WORKER_SERVICE_H_
#define SSLAB_SERVICES_SCHEDULER_WORKER_SERVICE_H_

#include "scheduler/scheduler.h"
#include "services/common/security.h"
#include "services/scheduler/handler.h"
#include "services/scheduler/rpc_stats.h"
#include "sslab/v1/worker_service.grpc.pb.h"

namespace sslab::services {

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  // None is owned; each must outlive the service. `auth` (optional) checks
  // that every caller holds a worker token; `stats` (optional) records
  // every call's latency.
  explicit WorkerServiceImpl(scheduler::Scheduler* scheduler,
                             RpcStats* stats = nullptr,
                             const Authenticator* auth = nullptr)
      : scheduler_(scheduler), handle_(Role::kWorker, auth, stats) {}

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
  const Handler handle_;
};

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_SCHEDULER_WORKER_SERVICE_H_
