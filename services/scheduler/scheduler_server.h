// The sslab-scheduler gRPC server: ExperimentService + WorkerService over a
// scheduler::Scheduler (on one address, or the WorkerService on its own),
// plus gRPC health checking and server reflection, and a background pass that
// expires leases.
//
// Thread-safety: Start() returns a running server; Shutdown() may be called
// from any thread, once or more.
#ifndef SSLAB_SERVICES_SCHEDULER_SCHEDULER_SERVER_H_
#define SSLAB_SERVICES_SCHEDULER_SCHEDULER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scheduler/scheduler.h"
#include "services/common/security.h"
#include "services/scheduler/experiment_service.h"
#include "services/scheduler/rpc_stats.h"

namespace sslab::services {

struct SchedulerServerOptions {
  // host:port to listen on; port 0 picks a free port (see port()).
  // Default: 127.0.0.1:50051.
  std::string listen = "127.0.0.1:50051";
  // How often expired leases are requeued. Default: 2 s.
  absl::Duration expire_interval = absl::Seconds(2);
  // How long Shutdown() lets in-flight calls finish before cancelling them.
  // Default: 2 s.
  absl::Duration shutdown_grace = absl::Seconds(2);
  // Tokens every call must carry (services/common/security.h). Default:
  // none, every caller is accepted.
  Authenticator auth;
  // TLS on `listen`. Default: plaintext.
  TlsFiles tls;
  // When set, the WorkerService listens here instead of on `listen`, with
  // `worker_tls` (whose `ca` makes workers present a certificate: mutual
  // TLS), so that the worker API can stay on an internal network.
  std::string worker_listen;
  TlsFiles worker_tls;
  // WatchRun streams open at once (each holds a thread). Default: 64.
  int max_watches = 64;
  // Largest request accepted, bytes. Default: 4 MiB (a sweep of 1000 runs'
  // configs fits many times over).
  int max_request_bytes = 4 << 20;
  // The artifact directory workers share. Empty: the artifact lifecycle
  // calls (CollectGarbage, DeleteRun) answer FAILED_PRECONDITION and
  // nothing is ever deleted.
  std::string artifact_dir;
  // With artifact_dir: apply retention (the scheduler's RetentionOptions)
  // every expire_interval to the runs a job of which ended since (runs from
  // before this process wait for CollectGarbage).
  bool auto_gc = true;
};

class SchedulerServer {
 public:
  // Starts serving. `scheduler` is not owned and must outlive the server.
  // UNAVAILABLE if an address cannot be bound; INVALID_ARGUMENT/NOT_FOUND
  // for unusable TLS files.
  static absl::StatusOr<std::unique_ptr<SchedulerServer>> Start(
      scheduler::Scheduler* scheduler, const SchedulerServerOptions& options);

  // Shuts down (if not done yet).
  ~SchedulerServer();
  SchedulerServer(const SchedulerServer&) = delete;
  SchedulerServer& operator=(const SchedulerServer&) = delete;

  // The bound port, and that of the WorkerService (the same one unless
  // worker_listen was given).
  int port() const;
  int worker_port() const;

  // Its ExperimentService (for the HTTP API, which answers from the same
  // handlers) and the latency of every call it served.
  ExperimentServiceImpl* experiments();
  const RpcStats* rpc_stats() const;

  // Ends watches, stops accepting calls, lets in-flight ones finish (up to
  // shutdown_grace), and stops the expiry pass. Idempotent.
  void Shutdown();

 private:
  class Impl;
  explicit SchedulerServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_SCHEDULER_SCHEDULER_SERVER_H_
