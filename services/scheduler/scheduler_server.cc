#include "services/scheduler/scheduler_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "services/scheduler/experiment_service.h"
#include "services/scheduler/worker_service.h"

namespace sslab::services {

class SchedulerServer::Impl {
 public:
  Impl(scheduler::Scheduler* scheduler, const SchedulerServerOptions& options)
      : scheduler_(scheduler),
        options_(options),
        files_(options.artifact_dir.empty()
                   ? nullptr
                   : std::make_unique<ArtifactFiles>(options.artifact_dir)),
        experiments_(scheduler, &rpc_stats_, &options_.auth,
                     options_.max_watches, files_.get()),
        workers_(scheduler, &rpc_stats_, &options_.auth) {}

  absl::Status Start() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    const bool separate = !options_.worker_listen.empty();
    SSLAB_ASSIGN_OR_RETURN(
        server_, Serve(options_.listen, options_.tls, &port_,
                       separate ? nullptr : &workers_, &experiments_));
    worker_port_ = port_;
    if (separate) {
      SSLAB_ASSIGN_OR_RETURN(worker_server_,
                             Serve(options_.worker_listen, options_.worker_tls,
                                   &worker_port_, &workers_, nullptr));
    }
    expirer_ = std::thread([this] { ExpireLoop(); });
    return absl::OkStatus();
  }

  int port() const { return port_; }
  int worker_port() const { return worker_port_; }
  ExperimentServiceImpl* experiments() { return &experiments_; }
  const RpcStats* rpc_stats() const { return &rpc_stats_; }

  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    experiments_.Stop();
    scheduler_->Shutdown();  // wakes WatchRun handlers
    const auto deadline = std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(options_.shutdown_grace);
    for (grpc::Server* server : {server_.get(), worker_server_.get()}) {
      if (server == nullptr) continue;
      server->GetHealthCheckService()->Shutdown();
      server->Shutdown(deadline);
    }
    if (expirer_.joinable()) expirer_.join();
  }

 private:
  // A server on `address` for the given services (null: not served there).
  absl::StatusOr<std::unique_ptr<grpc::Server>> Serve(
      const std::string& address, const TlsFiles& tls, int* port,
      grpc::Service* workers, grpc::Service* experiments) {
    SSLAB_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                           ServerCredentials(tls));
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, credentials, port);
    builder.SetMaxReceiveMessageSize(options_.max_request_bytes);
    if (experiments != nullptr) builder.RegisterService(experiments);
    if (workers != nullptr) builder.RegisterService(workers);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (server == nullptr || *port == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
    }
    return server;
  }

  void ExpireLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopped_) {
      cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.expire_interval));
      if (stopped_) break;
      lock.unlock();
      absl::StatusOr<int> expired = scheduler_->ExpireLeases();
      if (!expired.ok()) {
        SSLAB_LOG(ERROR) << "lease expiry pass failed: " << expired.status();
      } else if (*expired > 0) {
        SSLAB_LOG(WARNING) << *expired << " lease(s) expired; jobs requeued";
      }
      if (files_ != nullptr && options_.auto_gc) CollectGarbage();
      lock.lock();
    }
  }

  // Retention over the runs that changed; their files removed.
  void CollectGarbage() {
    absl::StatusOr<std::vector<scheduler::Artifact>> unneeded =
        scheduler_->CollectGarbageOfChangedRuns();
    if (!unneeded.ok()) {
      SSLAB_LOG(ERROR) << "retention pass failed: " << unneeded.status();
      return;
    }
    if (unneeded->empty()) return;
    const Removed removed = files_->Remove(*unneeded);
    SSLAB_LOG(INFO) << "retention: deleted " << unneeded->size()
                    << " artifact(s), " << removed.files << " file(s), "
                    << removed.bytes << " bytes";
  }

  scheduler::Scheduler* const scheduler_;
  const SchedulerServerOptions options_;
  const std::unique_ptr<ArtifactFiles> files_;  // null: no artifact dir
  RpcStats rpc_stats_;
  ExperimentServiceImpl experiments_;
  WorkerServiceImpl workers_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> worker_server_;  // null: workers use server_
  int port_ = 0;
  int worker_port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::thread expirer_;
};

absl::StatusOr<std::unique_ptr<SchedulerServer>> SchedulerServer::Start(
    scheduler::Scheduler* scheduler, const SchedulerServerOptions& options) {
  auto impl = std::make_unique<Impl>(scheduler, options);
  absl::Status status = impl->Start();
  if (!status.ok()) return status;
  return std::unique_ptr<SchedulerServer>(new SchedulerServer(std::move(impl)));
}

SchedulerServer::SchedulerServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

SchedulerServer::~SchedulerServer() { impl_->Shutdown(); }

int SchedulerServer::port() const { return impl_->port(); }

int SchedulerServer::worker_port() const { return impl_->worker_port(); }

ExperimentServiceImpl* SchedulerServer::experiments() {
  return impl_->experiments();
}

const RpcStats* SchedulerServer::rpc_stats() const {
  return impl_->rpc_stats();
}

void SchedulerServer::Shutdown() { impl_->Shutdown(); }

}  // namespace sslab::services
