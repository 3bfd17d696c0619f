// gRPC ExperimentService over a scheduler::Scheduler: each handler checks
// the request's ids, maps it to the domain (services/common/experiment_proto.h)
// and maps the answer back; the scheduler does the rest.
//
// Handlers other than WatchRun use their ServerContext only for the caller
// check, which a null one passes: the HTTP API (services/http) checks its
// own requests, then calls them in process with a null one.
//
// Thread-safety: thread-safe (the scheduler serialises its calls). Handlers
// catch every exception and answer INTERNAL, so no request can take the
// process down.
#ifndef SSLAB_SERVICES_SCHEDULER_EXPERIMENT_SERVICE_H_
#define SSLAB_SERVICES_SCHEDULER_EXPERIMENT_SERVICE_H_

#include <atomic>

#include "scheduler/scheduler.h"
#include "services/common/security.h"
#include "services/scheduler/artifact_files.h"
#include "services/scheduler/handler.h"
#include "services/scheduler/rpc_stats.h"
#include "sslab/v1/experiment_service.grpc.pb.h"

namespace sslab::services {

class ExperimentServiceImpl final : public v1::ExperimentService::Service {
 public:
  // None is owned; each must outlive the service. `auth` (optional) checks
  // that every caller holds a client token; `stats` (optional) records
  // every call's latency. Each WatchRun holds a server thread while it is
  // open: beyond `max_watches` at once, WatchRun answers RESOURCE_EXHAUSTED.
  // Without `files` (the artifact directory), CollectGarbage and DeleteRun
  // answer FAILED_PRECONDITION.
  explicit ExperimentServiceImpl(scheduler::Scheduler* scheduler,
                                 RpcStats* stats = nullptr,
                                 const Authenticator* auth = nullptr,
                                 int max_watches = 64,
                                 const ArtifactFiles* files = nullptr)
      : scheduler_(scheduler),
        files_(files),
        handle_(Role::kClient, auth, stats),
        max_watches_(max_watches) {}

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
  grpc::Status AddProbes(grpc::ServerContext* context,
                         const v1::AddProbesRequest* request,
                         v1::AddProbesResponse* response) override;
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
  grpc::Status GetMetricHistory(
      grpc::ServerContext* context, const v1::GetMetricHistoryRequest* request,
      v1::GetMetricHistoryResponse* response) override;
  grpc::Status ListSweeps(grpc::ServerContext* context,
                          const v1::ListSweepsRequest* request,
                          v1::ListSweepsResponse* response) override;
  grpc::Status GetSweep(grpc::ServerContext* context,
                        const v1::GetSweepRequest* request,
                        v1::GetSweepResponse* response) override;
  grpc::Status ListWorkers(grpc::ServerContext* context,
                           const v1::ListWorkersRequest* request,
                           v1::ListWorkersResponse* response) override;
  grpc::Status CollectGarbage(grpc::ServerContext* context,
                              const v1::CollectGarbageRequest* request,
                              v1::CollectGarbageResponse* response) override;
  grpc::Status PinRun(grpc::ServerContext* context,
                      const v1::PinRunRequest* request,
                      v1::PinRunResponse* response) override;
  grpc::Status DeleteRun(grpc::ServerContext* context,
                         const v1::DeleteRunRequest* request,
                         v1::DeleteRunResponse* response) override;

 private:
  // The artifact directory's files; null without one.
  absl::Status NeedFiles() const;

  scheduler::Scheduler* const scheduler_;
  const ArtifactFiles* const files_;
  const Handler handle_;
  std::atomic<bool> stopping_{false};
  const int max_watches_;
  std::atomic<int> watches_{0};
};

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_SCHEDULER_EXPERIMENT_SERVICE_H_
