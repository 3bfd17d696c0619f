#include "services/scheduler/scheduler_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "services/scheduler/experiment_service.h"
#include "services/scheduler/worker_service.h"

namespace sslab::services {

class SchedulerServer::Impl {
 public:
  Impl(scheduler::Scheduler* scheduler, const SchedulerServerOptions& options)
      : scheduler_(scheduler),
        options_(options),
        experiments_(scheduler, &rpc_stats_),
        workers_(scheduler, &rpc_stats_) {}

  absl::Status Start() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&experiments_);
    builder.RegisterService(&workers_);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", options_.listen));
    }
    expirer_ = std::thread([this] { ExpireLoop(); });
    return absl::OkStatus();
  }

  int port() const { return port_; }
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
    if (server_) {
      server_->GetHealthCheckService()->Shutdown();
      server_->Shutdown(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(options_.shutdown_grace));
    }
    if (expirer_.joinable()) expirer_.join();
  }

 private:
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
      lock.lock();
    }
  }

  scheduler::Scheduler* const scheduler_;
  const SchedulerServerOptions options_;
  RpcStats rpc_stats_;
  ExperimentServiceImpl experiments_;
  WorkerServiceImpl workers_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
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

ExperimentServiceImpl* SchedulerServer::experiments() {
  return impl_->experiments();
}

const RpcStats* SchedulerServer::rpc_stats() const {
  return impl_->rpc_stats();
}

void SchedulerServer::Shutdown() { impl_->Shutdown(); }

}  // namespace sslab::services
