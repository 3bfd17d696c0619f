#include "services/worker/worker.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "services/common/experiment_proto.h"
#include "services/common/grpc_status.h"

namespace sslab::services {
namespace {

bool IsRetryable(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kCancelled:
      return false;
    default:
      return true;
  }
}

}  // namespace

// The context of one leased job: progress to send, cancellation, and the
// calls on the job, each stamped with this worker's id, the job's and the
// lease's token.
class Worker::Context final : public JobContext {
 public:
  Context(Worker& worker, size_t slot, int64_t worker_id, int64_t job_id,
          std::string lease_token)
      : worker_(worker),
        slot_(slot),
        worker_id_(worker_id),
        job_id_(job_id),
        lease_token_(std::move(lease_token)) {}

  // Names this lease in a request on the job.
  template <typename Request>
  Request& Stamp(Request& request) const {
    request.set_worker_id(worker_id_);
    request.set_job_id(job_id_);
    request.set_lease_token(lease_token_);
    return request;
  }

  void ReportProgress(double fraction, int64_t epoch, int64_t step,
                      const std::map<std::string, double>& metrics) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      fraction_ = fraction;
      epoch_ = epoch;
      step_ = step;
      for (const auto& [name, value] : metrics) metrics_[name] = value;
    }
    std::lock_guard<std::mutex> lock(worker_.mu_);
    v1::WorkerSlot& status = worker_.slots_[slot_];
    status.set_progress(fraction);
    status.set_epoch(epoch);
    status.set_step(step);
    for (const auto& [name, value] : metrics) {
      (*status.mutable_metrics())[name] = value;
    }
  }

  bool cancelled() const override { return cancelled_.load(); }

  void AddLineage(const std::string& key, const std::string& value) override {
    std::lock_guard<std::mutex> lock(mu_);
    lineage_[key] = value;
  }
  std::map<std::string, std::string> lineage() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lineage_;
  }

  absl::StatusOr<int64_t> RegisterCheckpoint(
      const experiment::CheckpointReport& checkpoint) override {
    v1::RegisterCheckpointRequest request = ToProto(checkpoint);
    Stamp(request);
    v1::RegisterCheckpointResponse response;
    SSLAB_RETURN_IF_ERROR(CallOnJob([&](grpc::ClientContext* ctx) {
      return worker_.stub_->RegisterCheckpoint(ctx, request, &response);
    }));
    return response.checkpoint_id();
  }

  absl::Status RegisterFeatures(
      const std::vector<experiment::FeatureRef>& features) override {
    v1::RegisterFeaturesRequest request;
    Stamp(request);
    for (const auto& f : features) *request.add_features() = ToProto(f);
    v1::RegisterFeaturesResponse response;
    return CallOnJob([&](grpc::ClientContext* ctx) {
      return worker_.stub_->RegisterFeatures(ctx, request, &response);
    });
  }

  absl::Status RecordResult(const experiment::ProbeResult& result) override {
    v1::RecordResultRequest request = ToProto(result);
    Stamp(request);
    v1::RecordResultResponse response;
    return CallOnJob([&](grpc::ClientContext* ctx) {
      return worker_.stub_->RecordResult(ctx, request, &response);
    });
  }

  const std::filesystem::path& artifact_dir() const override {
    return worker_.options_.artifact_dir;
  }

  // Heartbeat payload.
  v1::HeartbeatRequest HeartbeatRequest() const {
    v1::HeartbeatRequest request;
    Stamp(request);
    std::lock_guard<std::mutex> lock(mu_);
    request.set_progress(fraction_);
    request.set_epoch(epoch_);
    request.set_step(step_);
    for (const auto& [name, value] : metrics_) {
      (*request.mutable_metrics())[name] = value;
    }
    return request;
  }

  // Why the job must stop: the run was cancelled (do not retry) or this
  // worker lost the lease / is shutting down (the job is retried elsewhere).
  void Cancel(bool lease_lost) {
    if (lease_lost) lease_lost_ = true;
    cancelled_ = true;
  }
  bool lease_lost() const { return lease_lost_.load(); }

  int64_t job_id() const { return job_id_; }

  // Signals the heartbeat thread that the job is over.
  void Finish() {
    std::lock_guard<std::mutex> lock(done_mu_);
    done_ = true;
    done_cv_.notify_all();
  }
  // Waits up to `timeout`; true when the job finished meanwhile.
  bool WaitDone(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(done_mu_);
    return done_cv_.wait_for(lock, timeout, [this] { return done_; });
  }

  template <typename Fn>
  absl::Status Call(Fn&& fn) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     worker_.options_.rpc_deadline);
    return FromGrpcStatus(fn(&ctx));
  }

  // Call, repeated while the scheduler cannot be reached (it may be
  // restarting) until it answers, `give_up()` or the worker stops. Only for
  // calls the scheduler makes idempotent (registering artifacts, results,
  // the job's outcome): a repeat of a call it carried out is harmless.
  template <typename Fn, typename GiveUp>
  absl::Status CallUntilAnswered(Fn&& fn, GiveUp&& give_up) {
    std::chrono::milliseconds backoff(100);
    while (true) {
      absl::Status status = Call(fn);
      if (status.code() != absl::StatusCode::kUnavailable &&
          status.code() != absl::StatusCode::kDeadlineExceeded) {
        return status;
      }
      if (give_up() || !worker_.WaitOrStop(backoff)) return status;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
  // A call on the running job: retried until the job is cancelled or its
  // lease lost.
  template <typename Fn>
  absl::Status CallOnJob(Fn&& fn) {
    return CallUntilAnswered(std::forward<Fn>(fn),
                             [this] { return cancelled(); });
  }

  // The job has ended and its outcome is being reported: a heartbeat that
  // finds the lease gone has most likely met that report.
  void Reporting() { reporting_ = true; }
  bool reporting() const { return reporting_.load(); }

 private:
  Worker& worker_;
  const size_t slot_;
  const int64_t worker_id_;
  const int64_t job_id_;
  const std::string lease_token_;
  mutable std::mutex mu_;
  double fraction_ = 0;
  int64_t epoch_ = 0;
  int64_t step_ = 0;
  std::map<std::string, double> metrics_;
  std::map<std::string, std::string> lineage_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> lease_lost_{false};
  std::atomic<bool> reporting_{false};
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
};

Worker::Worker(WorkerOptions options, JobRunner runner)
    : options_(std::move(options)), runner_(std::move(runner)) {
  stub_ = v1::WorkerService::NewStub(
      OpenChannel(options_.scheduler_address, options_.scheduler_security));
  status_.set_name(options_.name);
  status_.set_scheduler_address(options_.scheduler_address);
  for (const experiment::DeviceInfo& device : options_.devices) {
    *status_.add_devices() = ToProto(device);
    v1::WorkerSlot slot;
    *slot.mutable_device() = ToProto(device);
    slots_.push_back(std::move(slot));
  }
  for (experiment::JobKind kind : options_.job_kinds) {
    status_.add_job_kinds(ToProto<v1::JobKind>(kind));
  }
  status_.set_phase(v1::WORKER_PHASE_CONNECTING);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  status_.mutable_start_time()->set_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

Worker::~Worker() { Stop(); }

void Worker::Stop() {
  stopping_ = true;
  std::lock_guard<std::mutex> lock(stop_mu_);
  stop_cv_.notify_all();
}

bool Worker::WaitOrStop(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(stop_mu_);
  return !stop_cv_.wait_for(lock, timeout, [this] { return stopping_.load(); });
}

v1::WorkerStatus Worker::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  v1::WorkerStatus out = status_;
  bool mirrored = false;
  for (const v1::WorkerSlot& slot : slots_) {
    *out.add_slots() = slot;
    if (mirrored || !slot.has_current_job()) continue;
    // The first busy slot, where one-device clients look.
    mirrored = true;
    *out.mutable_current_job() = slot.current_job();
    out.set_progress(slot.progress());
    out.set_epoch(slot.epoch());
    out.set_step(slot.step());
    *out.mutable_metrics() = slot.metrics();
  }
  if (mirrored && out.phase() == v1::WORKER_PHASE_IDLE) {
    out.set_phase(v1::WORKER_PHASE_RUNNING);
  }
  return out;
}

int64_t Worker::worker_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_.worker_id();
}

absl::Status Worker::Register(int& generation) {
  std::lock_guard<std::mutex> registering(register_mu_);
  if (generation != generation_) {  // another slot registered meanwhile
    generation = generation_;
    return absl::OkStatus();
  }
  v1::RegisterWorkerRequest request;
  request.set_name(options_.name);
  for (const experiment::DeviceInfo& device : options_.devices) {
    *request.add_devices() = ToProto(device);
  }
  for (experiment::JobKind kind : options_.job_kinds) {
    request.add_job_kinds(ToProto<v1::JobKind>(kind));
  }
  request.mutable_build()->insert(options_.build.begin(), options_.build.end());
  std::chrono::milliseconds backoff(200);
  while (!stopping_) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.rpc_deadline);
    v1::RegisterWorkerResponse response;
    absl::Status status =
        FromGrpcStatus(stub_->RegisterWorker(&ctx, request, &response));
    if (status.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      status_.set_worker_id(response.worker_id());
      status_.set_phase(v1::WORKER_PHASE_IDLE);
      if (response.lease_seconds() > 0)
        lease_seconds_ = response.lease_seconds();
      generation = ++generation_;
      SSLAB_LOG(INFO) << "registered with " << options_.scheduler_address
                      << " as worker " << response.worker_id() << " ("
                      << options_.name << ")";
      return absl::OkStatus();
    }
    if (status.code() != absl::StatusCode::kUnavailable &&
        status.code() != absl::StatusCode::kDeadlineExceeded) {
      return status;  // A bad registration will not get better by retrying.
    }
    SSLAB_LOG(WARNING) << "scheduler " << options_.scheduler_address
                       << " unreachable (" << status.message() << "); retrying";
    if (!WaitOrStop(backoff)) break;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
  return absl::CancelledError("worker stopped before registering");
}

absl::Status Worker::Run() {
  int generation = 0;
  absl::Status registered = Register(generation);
  if (!registered.ok()) return stopping_ ? absl::OkStatus() : registered;
  std::vector<absl::Status> results(options_.devices.size());
  std::vector<std::thread> slots;
  for (size_t i = 0; i < options_.devices.size(); ++i) {
    slots.emplace_back([this, i, &results] { results[i] = ServeSlot(i); });
  }
  for (std::thread& t : slots) t.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.set_phase(v1::WORKER_PHASE_STOPPING);
  }
  for (const absl::Status& result : results) {
    if (!result.ok()) return result;
  }
  return absl::OkStatus();
}

absl::Status Worker::ServeSlot(size_t slot) {
  const v1::Device device = ToProto(options_.devices[slot].id);
  int generation = 0;
  {
    std::lock_guard<std::mutex> registering(register_mu_);
    generation = generation_;
  }
  std::chrono::milliseconds backoff = options_.idle_poll;
  const experiment::DeviceId& own = options_.devices[slot].id;
  while (!stopping_) {
    v1::LeaseJobRequest request;
    request.set_worker_id(worker_id());
    *request.add_free_devices() = device;
    {
      // Its own device first: a one-device job runs there. A GPU slot also
      // offers the worker's other idle GPUs, which a data-parallel run's
      // gang may take with it; one lent to another slot's gang waits.
      std::lock_guard<std::mutex> lock(mu_);
      if (busy_.count(own) > 0) {
        request.clear_free_devices();
      } else if (own.is_cuda()) {
        for (const experiment::DeviceInfo& d : options_.devices) {
          if (d.id != own && d.id.is_cuda() && busy_.count(d.id) == 0) {
            *request.add_free_devices() = ToProto(d.id);
          }
        }
      }
    }
    if (request.free_devices_size() == 0) {
      if (!WaitOrStop(options_.idle_poll)) break;
      continue;
    }
    v1::LeaseJobResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.rpc_deadline);
    absl::Status status =
        FromGrpcStatus(stub_->LeaseJob(&ctx, request, &response));
    if (status.code() == absl::StatusCode::kNotFound) {
      // The scheduler forgot this worker (e.g. a fresh database): re-register.
      SSLAB_LOG(WARNING) << "scheduler does not know this worker: "
                         << status.message();
      absl::Status again = Register(generation);
      if (!again.ok()) {
        Stop();  // the other slots cannot lease either
        return stopping_ ? absl::OkStatus() : again;
      }
      continue;
    }
    if (!status.ok()) {
      SSLAB_LOG(WARNING) << "lease failed: " << status;
      if (!WaitOrStop(backoff)) break;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    backoff = options_.idle_poll;
    if (!response.has_assignment()) {
      if (!WaitOrStop(options_.idle_poll)) break;
      continue;
    }
    Execute(slot, response.assignment());
  }
  return absl::OkStatus();
}

void Worker::HeartbeatLoop(Context& context) {
  const auto period = std::chrono::milliseconds(
      std::max<int64_t>(100, static_cast<int64_t>(lease_seconds_ * 1000 / 3)));
  while (!context.WaitDone(period)) {
    if (stopping_) context.Cancel(/*lease_lost=*/true);
    v1::HeartbeatRequest request = context.HeartbeatRequest();
    v1::HeartbeatResponse response;
    absl::Status status = context.Call([&](grpc::ClientContext* ctx) {
      return stub_->Heartbeat(ctx, request, &response);
    });
    if (status.ok()) {
      if (response.cancelled()) {
        SSLAB_LOG(INFO) << "job " << context.job_id()
                        << ": run cancelled, stopping";
        context.Cancel(/*lease_lost=*/false);
      }
    } else if (status.code() == absl::StatusCode::kNotFound ||
               status.code() == absl::StatusCode::kFailedPrecondition) {
      if (context.reporting()) break;  // the outcome, recorded meanwhile
      SSLAB_LOG(WARNING) << "job " << context.job_id()
                         << ": lease lost: " << status.message();
      context.Cancel(/*lease_lost=*/true);
    } else {
      // The scheduler may be restarting: keep working, keep trying.
      SSLAB_LOG(WARNING) << "job " << context.job_id()
                         << ": heartbeat failed: " << status;
    }
  }
}

void Worker::Execute(size_t slot, const v1::JobAssignment& leased) {
  const v1::Job& job = leased.job();
  const int64_t worker_id = this->worker_id();
  std::vector<experiment::DeviceId> held = {options_.devices[slot].id};
  for (const v1::Device& d : leased.devices()) {
    if (absl::StatusOr<experiment::DeviceId> id = FromProto(d, "devices");
        id.ok()) {
      held.push_back(*id);
    }
  }
  // The slots whose devices the job holds: this one and, for a gang, the
  // idle peers it took along, which show the job too.
  std::vector<size_t> slots_held;
  std::string on;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const experiment::DeviceId& d : held) busy_.insert(d);
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (i != slot && std::find(held.begin(), held.end(),
                                 options_.devices[i].id) == held.end()) {
        continue;
      }
      slots_held.push_back(i);
      absl::StrAppend(&on, on.empty() ? "" : ", ",
                      options_.devices[i].id.ToString());
      v1::WorkerSlot& status = slots_[i];
      *status.mutable_current_job() = job;
      status.set_progress(0);
      status.set_epoch(0);
      status.set_step(0);
      status.clear_metrics();
    }
  }
  SSLAB_LOG(INFO) << "job " << job.job_id() << " (run " << job.run_id() << ", "
                  << v1::JobKind_Name(job.kind()) << ") leased on " << on;
  Context context(*this, slot, worker_id, job.job_id(), leased.lease_token());
  std::thread heartbeat([&] { HeartbeatLoop(context); });
  absl::Status result;
  // A lease this build cannot read fails for good: retrying cannot fix it.
  absl::StatusOr<experiment::JobAssignment> assignment = FromProto(leased);
  if (!assignment.ok()) {
    result = absl::InvalidArgumentError(
        absl::StrCat("the scheduler's assignment is invalid: ",
                     assignment.status().message()));
  } else {
    try {
      result = runner_(*assignment, context);
    } catch (const std::exception& e) {
      result = absl::InternalError(absl::StrCat("job raised: ", e.what()));
    }
  }
  // Stopped by this worker's shutdown, the job is handed back: the
  // scheduler queues it again and allows it one more attempt.
  const bool released = !result.ok() && context.lease_lost() && stopping_;
  if (context.lease_lost() && !result.ok()) {
    // Another worker owns (or will own) the job now, or we are shutting
    // down: hand it back as retryable where the scheduler still listens.
    result =
        absl::UnavailableError(released ? "the worker is stopping"
                                        : "worker stopped or lost its lease");
  }
  // Logged when the job stops running, before the report lets the scheduler
  // lease it again: the logs order the attempts of a job.
  if (result.ok()) {
    SSLAB_LOG(INFO) << "job " << job.job_id() << " succeeded";
  } else {
    SSLAB_LOG(WARNING) << "job " << job.job_id() << " failed: " << result;
  }
  // The outcome is reported until the scheduler answers (a restarting
  // scheduler would otherwise requeue a finished job when its lease ran
  // out, and meanwhile count this device busy with it), while the
  // heartbeats keep the lease.
  context.Reporting();
  absl::Status reported;
  auto stop_trying = [] { return false; };
  if (result.ok()) {
    v1::CompleteJobRequest request;
    context.Stamp(request);
    const std::map<std::string, std::string> lineage = context.lineage();
    request.mutable_lineage()->insert(lineage.begin(), lineage.end());
    v1::CompleteJobResponse response;
    reported = context.CallUntilAnswered(
        [&](grpc::ClientContext* ctx) {
          return stub_->CompleteJob(ctx, request, &response);
        },
        stop_trying);
  } else {
    v1::FailJobRequest request;
    context.Stamp(request);
    request.set_error(std::string(result.message()));
    request.set_retryable(IsRetryable(result.code()));
    request.set_released(released);
    v1::FailJobResponse response;
    reported = context.CallUntilAnswered(
        [&](grpc::ClientContext* ctx) {
          return stub_->FailJob(ctx, request, &response);
        },
        stop_trying);
  }
  context.Finish();
  heartbeat.join();
  if (!reported.ok()) {
    // Stopping, or the lease was lost: the scheduler requeues the job when
    // the lease runs out.
    SSLAB_LOG(WARNING) << "job " << job.job_id()
                       << ": could not report the outcome: " << reported;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (result.ok()) {
    status_.set_jobs_succeeded(status_.jobs_succeeded() + 1);
  } else {
    status_.set_jobs_failed(status_.jobs_failed() + 1);
    status_.set_last_error(std::string(result.message()));
  }
  for (size_t i : slots_held) slots_[i].clear_current_job();
  for (const experiment::DeviceId& d : held) busy_.erase(d);
  if (stopping_) status_.set_phase(v1::WORKER_PHASE_STOPPING);
}

}  // namespace sslab::services
