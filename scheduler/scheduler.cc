#include "scheduler/scheduler.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace sslab::scheduler {

using storage::Checkpoint;
using storage::DeviceKind;
using storage::Job;
using storage::JobKind;
using storage::JobState;
using storage::Run;
using storage::RunState;
using json = nlohmann::json;

namespace {

// What the scheduler keeps per run in Run::plan_json.
struct Plan {
  EvaluationPlan evaluation;
  DeviceKind device = DeviceKind::kCpu;
  DeviceKind probe_device = DeviceKind::kCpu;
  int max_attempts = 3;
};

std::string PlanToJson(const Plan& plan) {
  const EvaluationPlan& e = plan.evaluation;
  json j = {
      {"evaluation",
       {{"layers", e.layers},
        {"probe_kinds", e.probe_kinds},
        {"label_fractions", e.label_fractions},
        {"every_epochs", e.every_epochs},
        {"splits", e.splits}}},
      {"device", std::string(storage::DeviceKindName(plan.device))},
      {"probe_device", std::string(storage::DeviceKindName(plan.probe_device))},
      {"max_attempts", plan.max_attempts},
  };
  return j.dump();
}

absl::StatusOr<Plan> PlanFromJson(const Run& run) {
  try {
    json j = json::parse(run.plan_json);
    Plan plan;
    const json& e = j.at("evaluation");
    plan.evaluation.layers = e.at("layers").get<std::vector<std::string>>();
    plan.evaluation.probe_kinds =
        e.at("probe_kinds").get<std::vector<std::string>>();
    plan.evaluation.label_fractions =
        e.at("label_fractions").get<std::vector<double>>();
    plan.evaluation.every_epochs = e.at("every_epochs").get<int>();
    plan.evaluation.splits = e.at("splits").get<std::vector<std::string>>();
    auto device = storage::ParseDeviceKind(j.at("device").get<std::string>());
    auto probe =
        storage::ParseDeviceKind(j.at("probe_device").get<std::string>());
    if (!device || !probe) throw std::invalid_argument("device");
    plan.device = *device;
    plan.probe_device = *probe;
    plan.max_attempts = j.at("max_attempts").get<int>();
    return plan;
  } catch (const std::exception& e) {
    return absl::DataLossError(
        absl::StrCat("run ", run.id, " has a malformed plan in the database"));
  }
}

bool IsJsonObject(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object();
}

absl::Status Invalid(absl::string_view prefix, absl::string_view field,
                     absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(prefix, field, ": ", problem));
}

// Checks `spec` and fills the defaults into `plan`; `prefix` names the spec
// inside a sweep ("runs[2].").
absl::Status ValidateSpec(const RunSpec& spec, absl::string_view prefix,
                          Plan* plan) {
  if (spec.method.empty()) return Invalid(prefix, "method", "must be set");
  if (spec.architecture.empty()) {
    return Invalid(prefix, "architecture", "must be set");
  }
  if (spec.width < 1) {
    return Invalid(prefix, "width",
                   absl::StrCat("must be >= 1, got ", spec.width));
  }
  if (!IsJsonObject(spec.config_json)) {
    return Invalid(prefix, "config_json", "must be a JSON object");
  }
  if (!IsJsonObject(spec.versions_json)) {
    return Invalid(prefix, "versions_json", "must be a JSON object");
  }
  if (spec.max_attempts < 1) {
    return Invalid(prefix, "max_attempts",
                   absl::StrCat("must be >= 1, got ", spec.max_attempts));
  }
  EvaluationPlan e = spec.evaluation;
  if (e.every_epochs < 0) {
    return Invalid(prefix, "evaluation.every_epochs",
                   absl::StrCat("must be >= 0, got ", e.every_epochs));
  }
  if (e.probe_kinds.empty()) e.probe_kinds = {"linear"};
  if (e.label_fractions.empty()) e.label_fractions = {1.0};
  if (e.splits.empty()) e.splits = {"train", "val", "test"};
  auto check_names = [&](const std::vector<std::string>& names,
                         absl::string_view field) -> absl::Status {
    std::set<std::string> seen;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i].empty()) {
        return Invalid(prefix, absl::StrCat(field, "[", i, "]"),
                       "must not be empty");
      }
      if (!seen.insert(names[i]).second) {
        return Invalid(prefix, field,
                       absl::StrCat("'", names[i], "' appears twice"));
      }
    }
    return absl::OkStatus();
  };
  SSLAB_RETURN_IF_ERROR(check_names(e.layers, "evaluation.layers"));
  SSLAB_RETURN_IF_ERROR(check_names(e.probe_kinds, "evaluation.probe_kinds"));
  SSLAB_RETURN_IF_ERROR(check_names(e.splits, "evaluation.splits"));
  std::set<double> fractions;
  for (size_t i = 0; i < e.label_fractions.size(); ++i) {
    double f = e.label_fractions[i];
    if (!(f > 0 && f <= 1)) {
      return Invalid(prefix,
                     absl::StrCat("evaluation.label_fractions[", i, "]"),
                     absl::StrCat("must be in (0, 1], got ", f));
    }
    if (!fractions.insert(f).second) {
      return Invalid(prefix, "evaluation.label_fractions",
                     absl::StrCat(f, " appears twice"));
    }
  }
  if (!e.layers.empty() &&
      std::find(e.splits.begin(), e.splits.end(), "train") == e.splits.end()) {
    return Invalid(prefix, "evaluation.splits",
                   "must include \"train\" (probes train on it)");
  }
  plan->evaluation = std::move(e);
  plan->device = spec.device;
  plan->probe_device = spec.probe_device;
  plan->max_attempts = spec.max_attempts;
  return absl::OkStatus();
}

bool IsGpuDevice(absl::string_view device) {
  return absl::StartsWith(device, "cuda:");
}

bool IsValidDeviceId(absl::string_view device) {
  if (device == "cpu") return true;
  if (!IsGpuDevice(device)) return false;
  absl::string_view index = device.substr(5);
  int n = 0;
  return !index.empty() && std::all_of(index.begin(), index.end(), [](char c) {
    return absl::ascii_isdigit(c);
  }) && absl::SimpleAtoi(index, &n);
}

json CheckpointJson(const Checkpoint& c) {
  return {{"id", c.id},
          {"epoch", c.epoch},
          {"step", c.step},
          {"path", c.path},
          {"sha256", c.sha256}};
}

// The part of a PROBE job's payload fixed at creation.
struct ProbeTarget {
  std::string layer;
  std::string probe_kind;
  double label_fraction = 1;
};

absl::StatusOr<ProbeTarget> ProbeTargetOf(const Job& job) {
  json j = json::parse(job.payload_json, nullptr, false);
  if (!j.is_object() || !j.contains("layer") || !j.contains("probe_kind") ||
      !j.contains("label_fraction")) {
    return absl::DataLossError(
        absl::StrCat("job ", job.id, " has a malformed payload"));
  }
  try {
    return ProbeTarget{j["layer"].get<std::string>(),
                       j["probe_kind"].get<std::string>(),
                       j["label_fraction"].get<double>()};
  } catch (const json::exception&) {
    return absl::DataLossError(
        absl::StrCat("job ", job.id, " has a malformed payload"));
  }
}

absl::Status NotLeased(const Job& job, int64_t worker_id) {
  return absl::FailedPreconditionError(
      absl::StrCat("job ", job.id, " is not leased by worker ", worker_id,
                   " (the lease expired or the job finished; it is ",
                   storage::JobStateName(job.state), ")"));
}

}  // namespace

class Scheduler::Impl {
 public:
  Impl(std::unique_ptr<storage::Store> store, Clock* clock,
       const SchedulerOptions& options)
      : store(std::move(store)), clock(clock), options(options) {}

  std::unique_ptr<storage::Store> store;
  Clock* clock;
  SchedulerOptions options;

  // Serialises every call: each is read-check-write on the store.
  std::mutex mu;

  std::mutex watch_mu;
  std::condition_variable watch_cv;
  std::atomic<uint64_t> version{1};
  bool shutdown = false;  // guarded by watch_mu

  void Bump() {
    {
      std::lock_guard<std::mutex> lock(watch_mu);
      version.fetch_add(1);
    }
    watch_cv.notify_all();
  }

  // Runs `body` in one store transaction and bumps the version when it
  // committed.
  absl::Status Mutate(absl::FunctionRef<absl::Status()> body) {
    absl::Status status = store->InTransaction(body);
    if (status.ok()) Bump();
    return status;
  }

  absl::StatusOr<storage::Worker> GetWorker(int64_t worker_id) {
    absl::StatusOr<storage::Worker> worker = store->GetWorker(worker_id);
    if (absl::IsNotFound(worker.status())) {
      return absl::NotFoundError(
          absl::StrCat("worker_id: worker ", worker_id, " is not registered"));
    }
    return worker;
  }

  absl::StatusOr<Job> GetJob(int64_t job_id) {
    absl::StatusOr<Job> job = store->GetJob(job_id);
    if (absl::IsNotFound(job.status())) {
      return absl::NotFoundError(
          absl::StrCat("job_id: job ", job_id, " not found"));
    }
    return job;
  }

  absl::StatusOr<Run> GetRun(int64_t run_id) {
    absl::StatusOr<Run> run = store->GetRun(run_id);
    if (absl::IsNotFound(run.status())) {
      return absl::NotFoundError(absl::StrCat("run ", run_id, " not found"));
    }
    return run;
  }

  // The job as held by `worker_id`: it must exist, the worker must be
  // registered and hold the job's live lease.
  absl::StatusOr<Job> HeldJob(int64_t worker_id, int64_t job_id) {
    SSLAB_RETURN_IF_ERROR(GetWorker(worker_id).status());
    SSLAB_ASSIGN_OR_RETURN(Job job, GetJob(job_id));
    if (job.lease_worker_id != worker_id || !job.lease_expiry.has_value()) {
      return NotLeased(job, worker_id);
    }
    return job;
  }

  // HeldJob for registering artifacts: also running (not cancelled) and of
  // the right kind.
  absl::StatusOr<Job> HeldRunningJob(int64_t worker_id, int64_t job_id,
                                     JobKind kind) {
    SSLAB_ASSIGN_OR_RETURN(Job job, HeldJob(worker_id, job_id));
    if (job.state == JobState::kCancelled) {
      return absl::FailedPreconditionError(
          absl::StrCat("job ", job.id, " was cancelled"));
    }
    if (job.kind != kind) {
      return absl::FailedPreconditionError(absl::StrCat(
          "job ", job.id, " is a ", storage::JobKindName(job.kind),
          " job; this call needs a ", storage::JobKindName(kind), " job"));
    }
    return job;
  }

  absl::StatusOr<int64_t> CreateRunLocked(const RunSpec& spec, const Plan& plan,
                                          std::optional<int64_t> sweep_id) {
    absl::Time now = clock->Now();
    Run run;
    run.name = spec.name.empty()
                   ? absl::StrCat(spec.method, "-", spec.architecture, "-k",
                                  spec.width)
                   : spec.name;
    run.sweep_id = sweep_id;
    run.state = RunState::kPending;
    run.method = spec.method;
    run.architecture = spec.architecture;
    run.width = spec.width;
    run.config_json = spec.config_json;
    run.plan_json = PlanToJson(plan);
    run.versions_json = spec.versions_json;
    run.priority = spec.priority;
    run.created_at = run.updated_at = now;
    SSLAB_ASSIGN_OR_RETURN(run.id, store->CreateRun(run));
    SSLAB_RETURN_IF_ERROR(
        CreateJob(run, plan, JobKind::kTrain, std::nullopt, "{}").status());
    return run.id;
  }

  absl::StatusOr<int64_t> CreateJob(const Run& run, const Plan& plan,
                                    JobKind kind,
                                    std::optional<int64_t> checkpoint_id,
                                    std::string payload) {
    Job job;
    job.run_id = run.id;
    job.kind = kind;
    job.state = JobState::kRunnable;
    job.checkpoint_id = checkpoint_id;
    job.priority = run.priority;
    job.max_attempts = plan.max_attempts;
    job.device = kind == JobKind::kProbe ? plan.probe_device : plan.device;
    job.payload_json = std::move(payload);
    job.created_at = job.updated_at = clock->Now();
    return store->CreateJob(job);
  }

  // Creates the EXTRACT job of a checkpoint unless the run already has one.
  absl::Status EnsureExtractJob(const Run& run, const Plan& plan,
                                int64_t checkpoint_id) {
    if (plan.evaluation.layers.empty()) return absl::OkStatus();
    SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs, store->ListJobs(run.id));
    for (const Job& j : jobs) {
      if (j.kind == JobKind::kExtract && j.checkpoint_id == checkpoint_id) {
        return absl::OkStatus();
      }
    }
    return CreateJob(run, plan, JobKind::kExtract, checkpoint_id, "{}")
        .status();
  }

  // The payload handed to the worker, built at lease time so a retried TRAIN
  // job resumes from the newest checkpoint.
  absl::StatusOr<std::string> BuildPayload(const Run& run, const Plan& plan,
                                           const Job& job) {
    json payload = {
        {"run_id", run.id},
        {"job_id", job.id},
        {"kind", std::string(storage::JobKindName(job.kind))},
        {"attempt", job.attempts},
        {"config", json::parse(run.config_json, nullptr, false)},
    };
    switch (job.kind) {
      case JobKind::kTrain: {
        SSLAB_ASSIGN_OR_RETURN(std::vector<Checkpoint> ckpts,
                               store->ListCheckpoints(run.id));
        payload["resume_checkpoint"] =
            ckpts.empty() ? json(nullptr) : CheckpointJson(ckpts.back());
        payload["evaluate_every_epochs"] = plan.evaluation.every_epochs;
        break;
      }
      case JobKind::kExtract: {
        SSLAB_ASSIGN_OR_RETURN(
            Checkpoint ckpt,
            store->GetCheckpoint(job.checkpoint_id.value_or(0)));
        payload["checkpoint"] = CheckpointJson(ckpt);
        payload["layers"] = plan.evaluation.layers;
        payload["splits"] = plan.evaluation.splits;
        break;
      }
      case JobKind::kProbe: {
        SSLAB_ASSIGN_OR_RETURN(ProbeTarget target, ProbeTargetOf(job));
        SSLAB_ASSIGN_OR_RETURN(
            Checkpoint ckpt,
            store->GetCheckpoint(job.checkpoint_id.value_or(0)));
        SSLAB_ASSIGN_OR_RETURN(std::vector<storage::Feature> features,
                               store->ListFeatures(ckpt.id));
        json by_split = json::object();
        for (const storage::Feature& f : features) {
          if (f.layer != target.layer) continue;
          by_split[f.split] = {{"path", f.path},
                               {"sha256", f.sha256},
                               {"rows", f.rows},
                               {"dims", f.dims}};
        }
        payload["checkpoint"] = CheckpointJson(ckpt);
        payload["layer"] = target.layer;
        payload["probe_kind"] = target.probe_kind;
        payload["label_fraction"] = target.label_fraction;
        payload["features"] = std::move(by_split);
        break;
      }
    }
    return payload.dump();
  }

  // Fails `job` for good with `error`; the run fails with it and its other
  // unfinished jobs are cancelled (leased ones learn it at their heartbeat).
  absl::Status FailForGood(Job job, const std::string& error) {
    absl::Time now = clock->Now();
    job.state = JobState::kFailed;
    job.last_error = error;
    job.lease_expiry.reset();
    job.updated_at = now;
    SSLAB_RETURN_IF_ERROR(store->UpdateJob(job));
    SSLAB_ASSIGN_OR_RETURN(Run run, store->GetRun(job.run_id));
    if (storage::IsFinal(run.state)) return absl::OkStatus();
    SSLAB_RETURN_IF_ERROR(CancelUnfinishedJobs(run.id));
    run.state = RunState::kFailed;
    run.error = absl::StrCat(storage::JobKindName(job.kind), " job ", job.id,
                             " failed after ", job.attempts, " attempt",
                             job.attempts == 1 ? "" : "s", ": ", error);
    run.updated_at = now;
    return store->UpdateRun(run);
  }

  absl::Status CancelUnfinishedJobs(int64_t run_id) {
    SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs, store->ListJobs(run_id));
    for (Job& j : jobs) {
      if (storage::IsFinal(j.state)) continue;
      j.state = JobState::kCancelled;
      j.updated_at = clock->Now();
      SSLAB_RETURN_IF_ERROR(store->UpdateJob(j));
    }
    return absl::OkStatus();
  }

  // Derives a run's state from its jobs (final states stay).
  absl::Status RecomputeRunState(int64_t run_id) {
    SSLAB_ASSIGN_OR_RETURN(Run run, store->GetRun(run_id));
    if (storage::IsFinal(run.state)) return absl::OkStatus();
    SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs, store->ListJobs(run_id));
    bool all_succeeded = !jobs.empty();
    bool started = false;
    for (const Job& j : jobs) {
      if (j.state != JobState::kSucceeded) all_succeeded = false;
      if (j.attempts > 0) started = true;
    }
    RunState next = all_succeeded ? RunState::kSucceeded
                    : started     ? RunState::kRunning
                                  : RunState::kPending;
    if (next == run.state) return absl::OkStatus();
    run.state = next;
    run.updated_at = clock->Now();
    return store->UpdateRun(run);
  }

  // Releases every lease whose time ran out. Returns how many.
  absl::StatusOr<int> ExpireLeasesLocked() {
    absl::Time now = clock->Now();
    int expired = 0;
    absl::Status status = store->InTransaction([&]() -> absl::Status {
      SSLAB_ASSIGN_OR_RETURN(std::vector<Job> leased, store->ListLeasedJobs());
      for (Job& job : leased) {
        if (*job.lease_expiry > now) continue;
        ++expired;
        std::string error = absl::StrCat("lease expired: worker ",
                                         job.lease_worker_id.value_or(0),
                                         " stopped sending heartbeats");
        SSLAB_RETURN_IF_ERROR(ReleaseLost(std::move(job), error));
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    if (expired > 0) Bump();
    return expired;
  }

  // Takes a lease away from a worker that lost it (expiry, restart): the job
  // is requeued, or fails for good once it used max_attempts.
  absl::Status ReleaseLost(Job job, const std::string& error) {
    job.lease_expiry.reset();
    job.updated_at = clock->Now();
    if (job.state != JobState::kRunning) {  // cancelled while leased
      return store->UpdateJob(job);
    }
    SSLAB_LOG(WARNING) << "job " << job.id << " (run " << job.run_id
                       << "): " << error << " (attempt " << job.attempts
                       << " of " << job.max_attempts << ")";
    if (job.attempts >= job.max_attempts) return FailForGood(job, error);
    job.state = JobState::kRunnable;
    job.last_error = error;
    SSLAB_RETURN_IF_ERROR(store->UpdateJob(job));
    return RecomputeRunState(job.run_id);
  }

  JobCounts Count(const std::vector<Job>& jobs) {
    JobCounts c;
    for (const Job& j : jobs) {
      ++c.total;
      switch (j.state) {
        case JobState::kPending:
          ++c.pending;
          break;
        case JobState::kRunnable:
          ++c.runnable;
          break;
        case JobState::kRunning:
          ++c.running;
          break;
        case JobState::kSucceeded:
          ++c.succeeded;
          break;
        case JobState::kFailed:
          ++c.failed;
          break;
        case JobState::kCancelled:
          ++c.cancelled;
          break;
      }
    }
    return c;
  }
};

Scheduler::Scheduler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Scheduler::~Scheduler() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(
    std::unique_ptr<storage::Store> store, Clock* clock,
    const SchedulerOptions& options) {
  if (store == nullptr) return absl::InvalidArgumentError("store: is null");
  if (clock == nullptr) return absl::InvalidArgumentError("clock: is null");
  if (options.lease_duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("lease_duration: must be positive");
  }
  if (options.default_page_size < 1 ||
      options.max_page_size < options.default_page_size) {
    return absl::InvalidArgumentError(
        "default_page_size: must be in [1, max_page_size]");
  }
  auto impl = std::make_unique<Impl>(std::move(store), clock, options);
  {
    // Recovery: leases that ran out while we were down are expired now;
    // live ones stay with their workers. Run states are re-derived.
    std::lock_guard<std::mutex> lock(impl->mu);
    SSLAB_ASSIGN_OR_RETURN(int expired, impl->ExpireLeasesLocked());
    SSLAB_ASSIGN_OR_RETURN(std::vector<int64_t> active,
                           impl->store->ListActiveRunIds());
    SSLAB_RETURN_IF_ERROR(impl->store->InTransaction([&]() -> absl::Status {
      for (int64_t id : active) {
        SSLAB_RETURN_IF_ERROR(impl->RecomputeRunState(id));
      }
      return absl::OkStatus();
    }));
    SSLAB_LOG(INFO) << "scheduler recovered: " << active.size()
                    << " unfinished runs, " << expired << " expired leases";
  }
  return std::unique_ptr<Scheduler>(new Scheduler(std::move(impl)));
}

// ---- Experiments ----

absl::StatusOr<int64_t> Scheduler::SubmitRun(const RunSpec& spec) {
  Plan plan;
  SSLAB_RETURN_IF_ERROR(ValidateSpec(spec, "", &plan));
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  int64_t run_id = 0;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(run_id,
                           impl_->CreateRunLocked(spec, plan, std::nullopt));
    return absl::OkStatus();
  }));
  return run_id;
}

absl::StatusOr<SweepSubmission> Scheduler::SubmitSweep(const SweepSpec& spec) {
  if (spec.name.empty()) return Invalid("", "name", "must be set");
  if (!IsJsonObject(spec.grid_json)) {
    return Invalid("", "grid_json", "must be a JSON object");
  }
  if (spec.runs.empty()) return Invalid("", "runs", "must not be empty");
  std::vector<Plan> plans(spec.runs.size());
  for (size_t i = 0; i < spec.runs.size(); ++i) {
    SSLAB_RETURN_IF_ERROR(
        ValidateSpec(spec.runs[i], absl::StrCat("runs[", i, "]."), &plans[i]));
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  SweepSubmission out;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    storage::Sweep sweep;
    sweep.name = spec.name;
    sweep.grid_json = spec.grid_json;
    sweep.created_at = impl_->clock->Now();
    SSLAB_ASSIGN_OR_RETURN(out.sweep_id, impl_->store->CreateSweep(sweep));
    out.run_ids.clear();
    for (size_t i = 0; i < spec.runs.size(); ++i) {
      SSLAB_ASSIGN_OR_RETURN(
          int64_t id,
          impl_->CreateRunLocked(spec.runs[i], plans[i], out.sweep_id));
      out.run_ids.push_back(id);
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<RunStatus> Scheduler::GetRun(int64_t run_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  RunStatus status;
  SSLAB_ASSIGN_OR_RETURN(status.run, impl_->GetRun(run_id));
  SSLAB_ASSIGN_OR_RETURN(Plan plan, PlanFromJson(status.run));
  status.evaluation = std::move(plan.evaluation);
  SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs, impl_->store->ListJobs(run_id));
  status.jobs = impl_->Count(jobs);
  for (const Job& j : jobs) {
    if (j.kind == JobKind::kTrain) status.train_progress = j.progress;
  }
  status.job_list = std::move(jobs);
  SSLAB_ASSIGN_OR_RETURN(std::vector<storage::Metric> latest,
                         impl_->store->LatestMetrics(run_id));
  for (const storage::Metric& m : latest) {
    status.step = std::max(status.step, m.step);
    if (m.name == "epoch") {
      status.epoch = static_cast<int64_t>(m.value);
    } else {
      status.latest_metrics[m.name] = m.value;
    }
  }
  return status;
}

absl::StatusOr<storage::Sweep> Scheduler::GetSweep(int64_t sweep_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  absl::StatusOr<storage::Sweep> sweep = impl_->store->GetSweep(sweep_id);
  if (absl::IsNotFound(sweep.status())) {
    return absl::NotFoundError(absl::StrCat("sweep ", sweep_id, " not found"));
  }
  return sweep;
}

absl::StatusOr<RunPage> Scheduler::ListRuns(const storage::RunFilter& filter,
                                            int page_size,
                                            const std::string& page_token) {
  if (page_size < 0) {
    return Invalid("", "page_size",
                   absl::StrCat("must be >= 0, got ", page_size));
  }
  int limit = page_size == 0
                  ? impl_->options.default_page_size
                  : std::min(page_size, impl_->options.max_page_size);
  std::optional<int64_t> before;
  if (!page_token.empty()) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(page_token, &id) || id < 1) {
      return Invalid("", "page_token", "is not a token ListRuns returned");
    }
    before = id;
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  RunPage page;
  SSLAB_ASSIGN_OR_RETURN(page.runs,
                         impl_->store->ListRuns(filter, before, limit + 1));
  if (static_cast<int>(page.runs.size()) > limit) {
    page.runs.resize(limit);
    page.next_page_token = absl::StrCat(page.runs.back().id);
  }
  return page;
}

absl::StatusOr<std::vector<Job>> Scheduler::ListJobs(int64_t run_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->GetRun(run_id).status());
  return impl_->store->ListJobs(run_id);
}

absl::StatusOr<std::vector<Checkpoint>> Scheduler::ListCheckpoints(
    int64_t run_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->GetRun(run_id).status());
  return impl_->store->ListCheckpoints(run_id);
}

absl::StatusOr<std::vector<storage::ResultRow>> Scheduler::QueryResults(
    const storage::ResultFilter& filter) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (filter.run_id)
    SSLAB_RETURN_IF_ERROR(impl_->GetRun(*filter.run_id).status());
  if (filter.sweep_id) {
    absl::StatusOr<storage::Sweep> sweep =
        impl_->store->GetSweep(*filter.sweep_id);
    if (absl::IsNotFound(sweep.status())) {
      return absl::NotFoundError(
          absl::StrCat("sweep ", *filter.sweep_id, " not found"));
    }
    SSLAB_RETURN_IF_ERROR(sweep.status());
  }
  return impl_->store->QueryResults(filter);
}

absl::StatusOr<std::vector<storage::Metric>> Scheduler::ListMetrics(
    int64_t run_id, std::optional<std::string> name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->GetRun(run_id).status());
  return impl_->store->ListMetrics(run_id, std::move(name));
}

absl::Status Scheduler::Cancel(int64_t run_id, const std::string& reason) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  return impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(Run run, impl_->GetRun(run_id));
    if (storage::IsFinal(run.state)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run ", run_id, " already finished (",
          storage::RunStateName(run.state), "); nothing to cancel"));
    }
    SSLAB_RETURN_IF_ERROR(impl_->CancelUnfinishedJobs(run_id));
    run.state = RunState::kCancelled;
    if (!reason.empty()) run.error = absl::StrCat("cancelled: ", reason);
    run.updated_at = impl_->clock->Now();
    return impl_->store->UpdateRun(run);
  });
}

// ---- Watching ----

uint64_t Scheduler::version() const { return impl_->version.load(); }

uint64_t Scheduler::WaitForChange(uint64_t seen, absl::Time deadline) {
  std::unique_lock<std::mutex> lock(impl_->watch_mu);
  impl_->watch_cv.wait_until(lock, absl::ToChronoTime(deadline), [&] {
    return impl_->shutdown || impl_->version.load() != seen;
  });
  return impl_->version.load();
}

void Scheduler::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(impl_->watch_mu);
    impl_->shutdown = true;
  }
  impl_->watch_cv.notify_all();
}

// ---- Workers ----

absl::StatusOr<int64_t> Scheduler::RegisterWorker(const WorkerSpec& spec) {
  if (spec.name.empty()) return Invalid("", "name", "must be set");
  if (spec.devices.empty()) return Invalid("", "devices", "must not be empty");
  std::set<std::string> seen;
  for (size_t i = 0; i < spec.devices.size(); ++i) {
    if (!IsValidDeviceId(spec.devices[i])) {
      return Invalid(
          "", absl::StrCat("devices[", i, "]"),
          absl::StrCat("'", spec.devices[i], "' is not \"cpu\" or \"cuda:N\""));
    }
    if (!seen.insert(spec.devices[i]).second) {
      return Invalid("", "devices",
                     absl::StrCat("'", spec.devices[i], "' appears twice"));
    }
  }
  std::vector<JobKind> kinds = spec.kinds;
  if (kinds.empty())
    kinds = {JobKind::kTrain, JobKind::kExtract, JobKind::kProbe};
  std::sort(kinds.begin(), kinds.end());
  kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
  std::lock_guard<std::mutex> lock(impl_->mu);
  storage::Worker worker;
  worker.name = spec.name;
  worker.kinds = std::move(kinds);
  worker.devices = spec.devices;
  worker.registered_at = worker.last_heartbeat = impl_->clock->Now();
  storage::Worker stored;
  int released = 0;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(stored, impl_->store->UpsertWorker(worker));
    // A worker registers once per process: leases still held under its name
    // belong to a process that is gone, so they are released now rather
    // than at expiry (which would also keep its GPUs busy meanwhile).
    SSLAB_ASSIGN_OR_RETURN(std::vector<Job> held,
                           impl_->store->ListLeasedJobs(stored.id));
    for (Job& job : held) {
      ++released;
      SSLAB_RETURN_IF_ERROR(impl_->ReleaseLost(
          std::move(job),
          absl::StrCat("worker ", stored.id, " (", stored.name,
                       ") registered again, so its earlier process is gone")));
    }
    return absl::OkStatus();
  }));
  SSLAB_LOG(INFO) << "worker " << stored.id << " (" << stored.name
                  << ") registered"
                  << (released > 0
                          ? absl::StrCat(", released ", released,
                                         " leases of its earlier process")
                          : "");
  return stored.id;
}

absl::StatusOr<std::optional<Lease>> Scheduler::LeaseJob(
    int64_t worker_id, const std::vector<std::string>& free_devices) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  SSLAB_ASSIGN_OR_RETURN(storage::Worker worker, impl_->GetWorker(worker_id));
  for (size_t i = 0; i < free_devices.size(); ++i) {
    if (std::find(worker.devices.begin(), worker.devices.end(),
                  free_devices[i]) == worker.devices.end()) {
      return Invalid("", absl::StrCat("free_devices[", i, "]"),
                     absl::StrCat("worker ", worker_id, " has no device '",
                                  free_devices[i], "'"));
    }
  }
  std::optional<Lease> lease;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    absl::Time now = impl_->clock->Now();
    SSLAB_RETURN_IF_ERROR(impl_->store->TouchWorker(worker_id, now));
    // A GPU held by a live lease is busy whatever the worker reports.
    SSLAB_ASSIGN_OR_RETURN(std::vector<Job> held,
                           impl_->store->ListLeasedJobs(worker_id));
    std::set<std::string> busy;
    for (const Job& j : held) busy.insert(j.lease_device);
    bool cpu_free = false;
    std::string gpu;
    for (const std::string& d : free_devices) {
      if (d == "cpu") cpu_free = true;
      if (IsGpuDevice(d) && gpu.empty() && !busy.count(d)) gpu = d;
    }
    std::vector<DeviceKind> fits;
    if (cpu_free) fits.push_back(DeviceKind::kCpu);
    if (!gpu.empty()) fits.push_back(DeviceKind::kGpu);
    if (fits.empty()) return absl::OkStatus();
    SSLAB_ASSIGN_OR_RETURN(
        std::vector<Job> candidates,
        impl_->store->ListRunnableJobs(worker.kinds, fits, 1));
    if (candidates.empty()) return absl::OkStatus();
    Job job = std::move(candidates.front());
    SSLAB_ASSIGN_OR_RETURN(Run run, impl_->store->GetRun(job.run_id));
    SSLAB_ASSIGN_OR_RETURN(Plan plan, PlanFromJson(run));
    job.state = JobState::kRunning;
    job.attempts += 1;
    job.lease_worker_id = worker_id;
    job.lease_device = job.device == DeviceKind::kGpu ? gpu : "cpu";
    job.lease_expiry = now + impl_->options.lease_duration;
    job.updated_at = now;
    SSLAB_ASSIGN_OR_RETURN(job.payload_json,
                           impl_->BuildPayload(run, plan, job));
    SSLAB_RETURN_IF_ERROR(impl_->store->UpdateJob(job));
    SSLAB_RETURN_IF_ERROR(impl_->RecomputeRunState(run.id));
    lease = Lease{job, job.lease_device, *job.lease_expiry};
    return absl::OkStatus();
  }));
  if (lease) {
    SSLAB_LOG(INFO) << "leased " << storage::JobKindName(lease->job.kind)
                    << " job " << lease->job.id << " (run " << lease->job.run_id
                    << ", attempt " << lease->job.attempts << ") to worker "
                    << worker_id << " on " << lease->device;
  }
  return lease;
}

absl::StatusOr<HeartbeatReply> Scheduler::Heartbeat(
    int64_t worker_id, int64_t job_id, double progress,
    const std::vector<storage::Metric>& metrics) {
  HeartbeatInfo info;
  info.progress = progress;
  info.metrics = metrics;
  return Heartbeat(worker_id, job_id, info);
}

absl::StatusOr<HeartbeatReply> Scheduler::Heartbeat(int64_t worker_id,
                                                    int64_t job_id,
                                                    const HeartbeatInfo& info) {
  for (size_t i = 0; i < info.metrics.size(); ++i) {
    if (info.metrics[i].name.empty()) {
      return Invalid("", absl::StrCat("metrics[", i, "].name"), "must be set");
    }
  }
  // A NaN loss is worth reporting, but SQLite stores NaN as NULL: drop it.
  std::vector<storage::Metric> metrics;
  for (const storage::Metric& m : info.metrics) {
    if (std::isfinite(m.value)) metrics.push_back(m);
  }
  if (info.epoch >= 0) {
    metrics.push_back({std::max<int64_t>(info.step, 0), "epoch",
                       static_cast<double>(info.epoch)});
  }
  if (info.step >= 0) {
    for (storage::Metric& m : metrics) {
      if (m.step == 0) m.step = info.step;
    }
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  HeartbeatReply reply;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    absl::Time now = impl_->clock->Now();
    SSLAB_ASSIGN_OR_RETURN(Job job, impl_->HeldJob(worker_id, job_id));
    SSLAB_RETURN_IF_ERROR(impl_->store->TouchWorker(worker_id, now));
    if (job.state == JobState::kCancelled) {
      reply.cancelled = true;
      reply.lease_expiry = *job.lease_expiry;
      return absl::OkStatus();
    }
    if (std::isfinite(info.progress)) {
      job.progress = std::clamp(info.progress, 0.0, 1.0);
    }
    job.lease_expiry = now + impl_->options.lease_duration;
    job.updated_at = now;
    SSLAB_RETURN_IF_ERROR(impl_->store->UpdateJob(job));
    SSLAB_RETURN_IF_ERROR(
        impl_->store->AppendMetrics(job.run_id, metrics, now));
    reply.lease_expiry = *job.lease_expiry;
    return absl::OkStatus();
  }));
  return reply;
}

absl::Status Scheduler::CompleteJob(int64_t worker_id, int64_t job_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  return impl_->Mutate([&]() -> absl::Status {
    absl::Time now = impl_->clock->Now();
    SSLAB_RETURN_IF_ERROR(impl_->GetWorker(worker_id).status());
    SSLAB_ASSIGN_OR_RETURN(Job job, impl_->GetJob(job_id));
    if (job.state == JobState::kSucceeded && job.lease_worker_id == worker_id) {
      return absl::OkStatus();  // a retried call
    }
    SSLAB_ASSIGN_OR_RETURN(job, impl_->HeldJob(worker_id, job_id));
    job.lease_expiry.reset();
    job.updated_at = now;
    if (job.state == JobState::kCancelled) return impl_->store->UpdateJob(job);

    SSLAB_ASSIGN_OR_RETURN(Run run, impl_->store->GetRun(job.run_id));
    SSLAB_ASSIGN_OR_RETURN(Plan plan, PlanFromJson(run));
    const EvaluationPlan& e = plan.evaluation;
    switch (job.kind) {
      case JobKind::kTrain: {
        if (e.layers.empty()) break;
        SSLAB_ASSIGN_OR_RETURN(std::vector<Checkpoint> ckpts,
                               impl_->store->ListCheckpoints(run.id));
        if (ckpts.empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "TRAIN job ", job.id,
              " cannot complete: it registered no checkpoint to evaluate"));
        }
        // The last checkpoint is the final one even if not marked so.
        Checkpoint last = ckpts.back();
        if (!last.is_final) {
          last.is_final = true;
          SSLAB_RETURN_IF_ERROR(impl_->store->UpsertCheckpoint(last).status());
        }
        SSLAB_RETURN_IF_ERROR(impl_->EnsureExtractJob(run, plan, last.id));
        break;
      }
      case JobKind::kExtract: {
        int64_t ckpt = job.checkpoint_id.value_or(0);
        SSLAB_ASSIGN_OR_RETURN(std::vector<storage::Feature> features,
                               impl_->store->ListFeatures(ckpt));
        std::set<std::pair<std::string, std::string>> have;
        for (const auto& f : features) have.insert({f.layer, f.split});
        for (const std::string& layer : e.layers) {
          for (const std::string& split : e.splits) {
            if (!have.count({layer, split})) {
              return absl::FailedPreconditionError(
                  absl::StrCat("EXTRACT job ", job.id,
                               " cannot complete: no features for "
                               "layer '",
                               layer, "' split '", split, "' were registered"));
            }
          }
        }
        for (const std::string& layer : e.layers) {
          for (const std::string& kind : e.probe_kinds) {
            for (double fraction : e.label_fractions) {
              json target = {{"layer", layer},
                             {"probe_kind", kind},
                             {"label_fraction", fraction}};
              SSLAB_RETURN_IF_ERROR(impl_
                                        ->CreateJob(run, plan, JobKind::kProbe,
                                                    ckpt, target.dump())
                                        .status());
            }
          }
        }
        break;
      }
      case JobKind::kProbe: {
        SSLAB_ASSIGN_OR_RETURN(ProbeTarget target, ProbeTargetOf(job));
        storage::ResultFilter filter;
        filter.run_id = run.id;
        filter.layer = target.layer;
        filter.probe_kind = target.probe_kind;
        SSLAB_ASSIGN_OR_RETURN(std::vector<storage::ResultRow> rows,
                               impl_->store->QueryResults(filter));
        bool recorded =
            std::any_of(rows.begin(), rows.end(), [&](const auto& r) {
              return r.result.checkpoint_id == job.checkpoint_id &&
                     r.result.label_fraction == target.label_fraction;
            });
        if (!recorded) {
          return absl::FailedPreconditionError(absl::StrCat(
              "PROBE job ", job.id, " cannot complete: it recorded no result"));
        }
        break;
      }
    }
    job.state = JobState::kSucceeded;
    job.progress = 1;
    SSLAB_RETURN_IF_ERROR(impl_->store->UpdateJob(job));
    return impl_->RecomputeRunState(run.id);
  });
}

absl::Status Scheduler::FailJob(int64_t worker_id, int64_t job_id,
                                const std::string& error, bool retryable) {
  std::string message = error.empty() ? "(no error message)" : error;
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  return impl_->Mutate([&]() -> absl::Status {
    absl::Time now = impl_->clock->Now();
    SSLAB_RETURN_IF_ERROR(impl_->GetWorker(worker_id).status());
    SSLAB_ASSIGN_OR_RETURN(Job job, impl_->GetJob(job_id));
    if (job.state == JobState::kFailed && job.lease_worker_id == worker_id &&
        !job.lease_expiry) {
      return absl::OkStatus();  // a retried call
    }
    SSLAB_ASSIGN_OR_RETURN(job, impl_->HeldJob(worker_id, job_id));
    job.lease_expiry.reset();
    job.updated_at = now;
    if (job.state == JobState::kCancelled) return impl_->store->UpdateJob(job);
    SSLAB_LOG(WARNING) << storage::JobKindName(job.kind) << " job " << job.id
                       << " (run " << job.run_id << ") failed on worker "
                       << worker_id << (retryable ? " (retryable)" : "") << ": "
                       << message;
    if (retryable && job.attempts < job.max_attempts) {
      job.state = JobState::kRunnable;
      job.last_error = message;
      SSLAB_RETURN_IF_ERROR(impl_->store->UpdateJob(job));
      return impl_->RecomputeRunState(job.run_id);
    }
    return impl_->FailForGood(job, message);
  });
}

absl::StatusOr<int64_t> Scheduler::RegisterCheckpoint(
    int64_t worker_id, int64_t job_id, const CheckpointInfo& info) {
  if (info.epoch < 0) {
    return Invalid("", "epoch", absl::StrCat("must be >= 0, got ", info.epoch));
  }
  if (info.step < 0) {
    return Invalid("", "step", absl::StrCat("must be >= 0, got ", info.step));
  }
  if (info.path.empty()) return Invalid("", "path", "must be set");
  if (info.bytes < 0) {
    return Invalid("", "bytes", absl::StrCat("must be >= 0, got ", info.bytes));
  }
  if (!IsJsonObject(info.metrics_json)) {
    return Invalid("", "metrics_json", "must be a JSON object");
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  int64_t id = 0;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Job job, impl_->HeldRunningJob(worker_id, job_id, JobKind::kTrain));
    SSLAB_ASSIGN_OR_RETURN(Run run, impl_->store->GetRun(job.run_id));
    SSLAB_ASSIGN_OR_RETURN(Plan plan, PlanFromJson(run));
    Checkpoint c;
    c.run_id = run.id;
    c.epoch = info.epoch;
    c.step = info.step;
    c.path = info.path;
    c.sha256 = info.sha256;
    c.bytes = info.bytes;
    c.metrics_json = info.metrics_json;
    c.is_final = info.is_final;
    c.created_at = impl_->clock->Now();
    SSLAB_ASSIGN_OR_RETURN(id, impl_->store->UpsertCheckpoint(c));
    int every = plan.evaluation.every_epochs;
    if (info.is_final ||
        (every > 0 && info.epoch > 0 && info.epoch % every == 0)) {
      SSLAB_RETURN_IF_ERROR(impl_->EnsureExtractJob(run, plan, id));
    }
    return absl::OkStatus();
  }));
  return id;
}

absl::Status Scheduler::RegisterFeatures(
    int64_t worker_id, int64_t job_id,
    const std::vector<FeatureInfo>& features) {
  for (size_t i = 0; i < features.size(); ++i) {
    const FeatureInfo& f = features[i];
    std::string field = absl::StrCat("features[", i, "].");
    if (f.layer.empty()) return Invalid(field, "layer", "must be set");
    if (f.split.empty()) return Invalid(field, "split", "must be set");
    if (f.path.empty()) return Invalid(field, "path", "must be set");
    if (f.rows < 0) return Invalid(field, "rows", "must be >= 0");
    if (f.dims < 0) return Invalid(field, "dims", "must be >= 0");
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  return impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Job job, impl_->HeldRunningJob(worker_id, job_id, JobKind::kExtract));
    absl::Time now = impl_->clock->Now();
    for (const FeatureInfo& info : features) {
      storage::Feature f;
      f.checkpoint_id = job.checkpoint_id.value_or(0);
      f.layer = info.layer;
      f.split = info.split;
      f.path = info.path;
      f.sha256 = info.sha256;
      f.rows = info.rows;
      f.dims = info.dims;
      f.created_at = now;
      SSLAB_RETURN_IF_ERROR(impl_->store->UpsertFeature(f).status());
    }
    return absl::OkStatus();
  });
}

absl::Status Scheduler::RecordResult(int64_t worker_id, int64_t job_id,
                                     const ResultInfo& result) {
  if (result.split.empty()) return Invalid("", "split", "must be set");
  if (!(result.top1 >= 0 && result.top1 <= 1)) {
    return Invalid("", "top1",
                   absl::StrCat("must be in [0, 1], got ", result.top1));
  }
  if (!(result.top5 >= 0 && result.top5 <= 1)) {
    return Invalid("", "top5",
                   absl::StrCat("must be in [0, 1], got ", result.top5));
  }
  if (!IsJsonObject(result.hyperparameters_json)) {
    return Invalid("", "hyperparameters_json", "must be a JSON object");
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  return impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Job job, impl_->HeldRunningJob(worker_id, job_id, JobKind::kProbe));
    SSLAB_ASSIGN_OR_RETURN(ProbeTarget target, ProbeTargetOf(job));
    storage::Result r;
    r.checkpoint_id = job.checkpoint_id.value_or(0);
    r.layer = target.layer;
    r.probe_kind = target.probe_kind;
    r.label_fraction = target.label_fraction;
    r.split = result.split;
    r.top1 = result.top1;
    r.top5 = result.top5;
    r.hyperparameters_json = result.hyperparameters_json;
    r.created_at = impl_->clock->Now();
    return impl_->store->UpsertResult(r).status();
  });
}

absl::Duration Scheduler::lease_duration() const {
  return impl_->options.lease_duration;
}

absl::StatusOr<int> Scheduler::ExpireLeases() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->ExpireLeasesLocked();
}

}  // namespace sslab::scheduler
