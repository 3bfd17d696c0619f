// The worker side of the scheduler protocol, shared by sslab-trainer,
// sslab-extractor and sslab-evaluator: register with the scheduler, then on
// each of the worker's devices (a slot) lease a job that fits that device,
// run it while a background thread sends heartbeats (renewing the lease,
// carrying progress, learning of a cancel), then complete or fail it. One
// job at a time per device.
//
// The job itself is a JobRunner: it gets the typed assignment
// (experiment/job_graph.h), mapped from the protocol here, and reports
// through a JobContext.
#ifndef SSLAB_SERVICES_WORKER_WORKER_H_
#define SSLAB_SERVICES_WORKER_WORKER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "experiment/device.h"
#include "experiment/job_graph.h"
#include "services/common/security.h"
#include "sslab/v1/worker_service.grpc.pb.h"
#include "sslab/v1/worker_status.pb.h"

namespace sslab::services {

struct WorkerOptions {
  // Unique per process; registering the same name again keeps the worker id.
  std::string name;
  // host:port of sslab-scheduler, and its token and TLS.
  std::string scheduler_address = "localhost:50051";
  ChannelSecurity scheduler_security;
  // The devices this worker runs jobs on, one job per device at a time, as
  // checked at startup (worker_main.h); non-empty, distinct ids.
  std::vector<experiment::DeviceInfo> devices;
  // Job kinds served (TRAIN for the trainer, ...).
  std::vector<experiment::JobKind> job_kinds;
  // What this process runs ("sslab", "git", "libtorch", "cuda", "cudnn",
  // "host"), sent at registration: the lineage of every job it runs.
  std::map<std::string, std::string> build;
  // Shared artifact directory (checkpoints, feature shards).
  std::filesystem::path artifact_dir = "var/artifacts";
  // The directories runs may read data sets from (empty: anywhere).
  std::vector<std::filesystem::path> dataset_roots;
  // Wait between lease attempts when no job fits.
  std::chrono::milliseconds idle_poll{500};
  // Deadline of every call to the scheduler.
  std::chrono::milliseconds rpc_deadline{10000};
  // Intra-op threads for LibTorch (<= 0: all cores).
  int threads = 0;
};

// What a running job sees of its worker. Thread-safe.
class JobContext {
 public:
  virtual ~JobContext() = default;

  // Records progress; it reaches the scheduler with the next heartbeat.
  virtual void ReportProgress(double fraction, int64_t epoch, int64_t step,
                              const std::map<std::string, double>& metrics) = 0;
  // True once the scheduler said the run was cancelled or the lease was lost:
  // stop between steps and return CANCELLED.
  virtual bool cancelled() const = 0;

  // Calls into WorkerService for the current job. Return the scheduler's
  // status; RegisterCheckpoint returns the checkpoint id.
  virtual absl::StatusOr<int64_t> RegisterCheckpoint(
      const experiment::CheckpointReport& checkpoint) = 0;
  virtual absl::Status RegisterFeatures(
      const std::vector<experiment::FeatureRef>& features) = 0;
  virtual absl::Status RecordResult(const experiment::ProbeResult& result) = 0;

  virtual const std::filesystem::path& artifact_dir() const = 0;

  // Adds to the job's lineage (sent when it completes), e.g. the data set's
  // fingerprint.
  virtual void AddLineage(const std::string& key, const std::string& value) {}
};

// Runs one job. OK completes it; CANCELLED means it stopped because the
// context said so; any other status fails it, retryable unless the code is
// INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND or UNIMPLEMENTED.
using JobRunner =
    std::function<absl::Status(const experiment::JobAssignment&, JobContext&)>;

// The lease / heartbeat loop. Thread-safe: Run on one thread, Stop and
// Status from any.
class Worker {
 public:
  Worker(WorkerOptions options, JobRunner runner);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Registers (retrying while the scheduler is unreachable) and serves jobs
  // until Stop(). A job running when Stop() is called is asked to stop
  // between steps (its context reports cancelled) and is failed as
  // retryable, so another worker resumes it from its last checkpoint.
  absl::Status Run();
  void Stop();

  // A snapshot for the worker's status API.
  v1::WorkerStatus Status() const;

 private:
  class Context;
  // Registers unless another slot re-registered since `generation` (what
  // the caller saw before its call failed); returns the status and sets
  // `generation` to the current one.
  absl::Status Register(int& generation);
  // Leases and runs jobs on slot `slot` until Stop().
  absl::Status ServeSlot(size_t slot);
  // Runs one leased job to its end, heartbeating meanwhile.
  void Execute(size_t slot, const v1::JobAssignment& leased);
  void HeartbeatLoop(Context& context);
  // Waits up to `timeout` or until Stop(); returns false when stopping.
  bool WaitOrStop(std::chrono::milliseconds timeout);
  int64_t worker_id() const;

  const WorkerOptions options_;
  const JobRunner runner_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;

  std::mutex register_mu_;  // serialises Register; guards generation_
  int generation_ = 0;      // registrations so far

  mutable std::mutex mu_;  // guards status_, slots_ and busy_
  v1::WorkerStatus status_;
  std::vector<v1::WorkerSlot> slots_;
  // Devices running a job, a gang's included: a slot whose device another
  // slot's gang holds waits, and only idle GPUs are offered for gangs.
  std::set<experiment::DeviceId> busy_;
  double lease_seconds_ = 30;
};

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_WORKER_WORKER_H_
