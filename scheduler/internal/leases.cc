#include "scheduler/internal/leases.h"

#include <sys/random.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace sslab::scheduler::internal {
namespace {

using experiment::DeviceId;
using experiment::DeviceRequest;
using experiment::JobKind;
using experiment::JobState;
using storage::Job;

experiment::CheckpointRef RefOf(const storage::Checkpoint& c) {
  return {c.id, c.epoch, c.step, c.path, c.sha256};
}

std::string Upper(JobKind kind) {
  return absl::AsciiStrToUpper(experiment::Name(kind));
}

// Queued jobs looked at per lease request, in queue order: the first that
// should not go elsewhere is leased.
constexpr int kLeaseCandidates = 16;

// 256 bits from the kernel's CSPRNG, as hex.
std::string NewLeaseToken() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
    // getrandom only fails with EINTR (or ENOSYS before Linux 3.17): retry.
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace

std::string GpuKey(const storage::Worker& worker, const DeviceId& device) {
  for (const experiment::DeviceInfo& d : worker.devices) {
    if (d.id == device && !d.key.empty()) return d.key;
  }
  return absl::StrCat("worker ", worker.id, " ", device.ToString());
}

GpuOccupancy GpuOccupancy::Of(const std::vector<storage::Worker>& workers,
                              const std::vector<Job>& leased) {
  GpuOccupancy out;
  for (const Job& job : leased) {
    std::vector<DeviceId> held = job.lease_gang;
    if (held.empty() && job.lease_device) held.push_back(*job.lease_device);
    for (const storage::Worker& w : workers) {
      if (job.lease_worker_id != w.id) continue;
      for (const DeviceId& d : held) {
        if (d.is_cuda()) out.busy_.insert(GpuKey(w, d));
      }
    }
  }
  return out;
}

bool GpuOccupancy::Busy(const storage::Worker& worker,
                        const DeviceId& gpu) const {
  return busy_.count(GpuKey(worker, gpu)) > 0;
}

bool GpuOccupancy::AnyIdle(const std::vector<storage::Worker>& workers,
                           JobKind kind, absl::Time alive_since,
                           size_t count) const {
  for (const storage::Worker& w : workers) {
    if (w.last_heartbeat < alive_since) continue;
    if (std::find(w.kinds.begin(), w.kinds.end(), kind) == w.kinds.end()) {
      continue;
    }
    size_t idle = 0;
    for (const experiment::DeviceInfo& d : w.devices) {
      if (d.id.is_cuda() && !Busy(w, d.id) && ++idle >= count) return true;
    }
  }
  return false;
}

absl::StatusOr<std::optional<Lease>> Leases::LeaseFor(
    const storage::Worker& worker, const std::vector<DeviceId>& free_devices) {
  const absl::Time now = clock_->Now();
  SSLAB_RETURN_IF_ERROR(store_->TouchWorker(worker.id, now));
  SSLAB_ASSIGN_OR_RETURN(std::vector<storage::Worker> workers,
                         store_->ListWorkers());
  SSLAB_ASSIGN_OR_RETURN(std::vector<Job> leased, store_->ListLeasedJobs());
  const GpuOccupancy gpus = GpuOccupancy::Of(workers, leased);

  // This worker's CPU and GPUs that are free: reported free by the worker,
  // and (a GPU) held by no live lease of any worker.
  std::optional<DeviceId> cpu;
  std::vector<DeviceId> free_gpus;
  for (const DeviceId& d : free_devices) {
    if (!d.is_cuda()) {
      cpu = d;
    } else if (!gpus.Busy(worker, d)) {
      free_gpus.push_back(d);
    }
  }
  // An auto job goes to a GPU when one is free: to this worker's, or to the
  // CPU only when no live worker serving its kind has a GPU idle.
  const absl::Time alive_since = now - lease_duration_;
  std::set<storage::JobFit> fits;
  for (JobKind kind : worker.kinds) {
    if (!free_gpus.empty()) {
      fits.insert({kind, DeviceRequest::kCuda});
      fits.insert({kind, DeviceRequest::kAuto});
    }
    if (cpu) {
      fits.insert({kind, DeviceRequest::kCpu});
      if (!gpus.AnyIdle(workers, kind, alive_since)) {
        fits.insert({kind, DeviceRequest::kAuto});
      }
    }
  }
  if (fits.empty()) return std::nullopt;
  SSLAB_ASSIGN_OR_RETURN(std::vector<Job> candidates,
                         store_->ListRunnableJobs(fits, kLeaseCandidates));
  // Where a job would run here, one device per rank (a TRAIN job has its
  // run's devices_per_run ranks, leased as a gang: all or nothing), or
  // nothing when it does not fit. Ranks of a CPU gang share the CPU.
  std::map<int64_t, storage::Run> runs;
  auto ranks_of = [&](const Job& job) -> absl::StatusOr<size_t> {
    auto run = runs.find(job.run_id);
    if (run == runs.end()) {
      SSLAB_ASSIGN_OR_RETURN(storage::Run r, store_->GetRun(job.run_id));
      run = runs.emplace(job.run_id, std::move(r)).first;
    }
    if (job.kind != JobKind::kTrain) return 1;
    return static_cast<size_t>(std::max(1, run->second.config.devices_per_run));
  };
  auto place = [&](const Job& job) -> absl::StatusOr<std::vector<DeviceId>> {
    SSLAB_ASSIGN_OR_RETURN(const size_t ranks, ranks_of(job));
    const bool gpus_fit = free_gpus.size() >= ranks;
    bool on_gpu = false;
    switch (job.device) {
      case DeviceRequest::kCuda:
        if (!gpus_fit) return std::vector<DeviceId>{};
        on_gpu = true;
        break;
      case DeviceRequest::kCpu:
        if (!cpu) return std::vector<DeviceId>{};
        break;
      case DeviceRequest::kAuto:
        on_gpu = gpus_fit;
        if (!on_gpu &&
            (!cpu || gpus.AnyIdle(workers, job.kind, alive_since, ranks))) {
          return std::vector<DeviceId>{};
        }
        break;
    }
    if (on_gpu)
      return std::vector<DeviceId>(free_gpus.begin(),
                                   free_gpus.begin() + ranks);
    return std::vector<DeviceId>(ranks, *cpu);
  };
  // A job whose last attempt failed or was lost on this worker goes to
  // another live worker of its kind first, for two lease durations: what
  // failed may be this worker's (a data set it lacks, its disk, its device).
  auto elsewhere = [&](const Job& job) {
    if (job.attempts == 0 || job.lease_worker_id != worker.id ||
        now - job.updated_at >= 2 * lease_duration_) {
      return false;
    }
    return std::any_of(
        workers.begin(), workers.end(), [&](const storage::Worker& w) {
          return w.id != worker.id && w.last_heartbeat >= alive_since &&
                 std::find(w.kinds.begin(), w.kinds.end(), job.kind) !=
                     w.kinds.end();
        });
  };
  const size_t worker_gpus = static_cast<size_t>(std::count_if(
      worker.devices.begin(), worker.devices.end(),
      [](const experiment::DeviceInfo& d) { return d.id.is_cuda(); }));
  std::optional<Job> chosen;
  std::vector<DeviceId> devices;
  // A GPU gang ahead in the queue that does not fit yet holds back the GPUs
  // of a worker that could host it: they free up for it, instead of going
  // one by one to the jobs behind it, which could starve it for good.
  bool hold_gpus = false;
  for (Job& candidate : candidates) {
    if (elsewhere(candidate)) continue;
    SSLAB_ASSIGN_OR_RETURN(devices, place(candidate));
    if (devices.empty()) {
      SSLAB_ASSIGN_OR_RETURN(const size_t ranks, ranks_of(candidate));
      hold_gpus = hold_gpus || (ranks > 1 && worker_gpus >= ranks &&
                                candidate.device != DeviceRequest::kCpu);
      continue;
    }
    if (hold_gpus && devices.front().is_cuda()) continue;
    chosen = std::move(candidate);
    break;
  }
  if (!chosen) return std::nullopt;

  Lease lease;
  lease.job = std::move(*chosen);
  Job& job = lease.job;
  // A queued job was last updated when it became runnable.
  stats_->RecordQueueWait(job.kind, now - job.updated_at);
  lease_started_[job.id] = now;
  const DeviceId device = devices.front();
  job.state = JobState::kRunning;
  job.attempts += 1;
  job.lease_worker_id = worker.id;
  job.lease_device = device;
  job.lease_gang.clear();
  if (devices.size() > 1) job.lease_gang = devices;
  job.lineage = worker.build;
  job.lineage["worker"] = worker.name;
  std::string& device_label = job.lineage["device"] = device.ToString();
  const auto info = std::find_if(
      worker.devices.begin(), worker.devices.end(),
      [&](const experiment::DeviceInfo& d) { return d.id == device; });
  if (info != worker.devices.end() && !info->name.empty()) {
    absl::StrAppend(&device_label, " (", info->name, ")");
  }
  if (devices.size() > 1) {
    std::string& ranks = job.lineage["data_parallel"] =
        absl::StrCat(devices.size(), " ranks:");
    for (const DeviceId& d : devices)
      absl::StrAppend(&ranks, " ", d.ToString());
  }
  lease.token = NewLeaseToken();
  job.lease_token_sha256 = Sha256Hex(lease.token);
  job.updated_at = now;
  Renew(job);
  lease.expiry = *job.lease_expiry;
  const storage::Run& run = runs.at(job.run_id);
  SSLAB_ASSIGN_OR_RETURN(lease.assignment, Assign(run, job, devices));
  SSLAB_RETURN_IF_ERROR(store_->UpdateJob(job));
  SSLAB_RETURN_IF_ERROR(graph_->RecomputeRunState(run.id));
  return lease;
}

absl::StatusOr<experiment::JobAssignment> Leases::Assign(
    const storage::Run& run, const Job& job,
    const std::vector<DeviceId>& devices) {
  experiment::JobAssignment a;
  a.run_id = run.id;
  a.job_id = job.id;
  a.kind = job.kind;
  a.attempt = job.attempts;
  a.config = run.config;
  a.device = devices.front();
  if (devices.size() > 1) a.devices = devices;
  switch (job.kind) {
    case JobKind::kTrain: {
      SSLAB_ASSIGN_OR_RETURN(std::vector<storage::Checkpoint> ckpts,
                             store_->ListCheckpoints(run.id));
      if (!ckpts.empty()) a.checkpoint = RefOf(ckpts.back());
      for (int i = static_cast<int>(ckpts.size()) - 2;
           i >= 0 && static_cast<int>(a.fallback_checkpoints.size()) <
                         experiment::kFallbackCheckpoints;
           --i) {
        if (ckpts[i].deleted_at) continue;  // retention took it
        a.fallback_checkpoints.push_back(RefOf(ckpts[i]));
      }
      break;
    }
    case JobKind::kExtract: {
      SSLAB_ASSIGN_OR_RETURN(
          storage::Checkpoint ckpt,
          store_->GetCheckpoint(job.checkpoint_id.value_or(0)));
      a.checkpoint = RefOf(ckpt);
      a.layers = run.config.evaluation.layers;
      a.splits.assign(std::begin(experiment::kEvaluationSplits),
                      std::end(experiment::kEvaluationSplits));
      break;
    }
    case JobKind::kProbe: {
      SSLAB_ASSIGN_OR_RETURN(
          storage::Checkpoint ckpt,
          store_->GetCheckpoint(job.checkpoint_id.value_or(0)));
      a.checkpoint = RefOf(ckpt);
      a.probe = job.probe;
      SSLAB_ASSIGN_OR_RETURN(std::vector<storage::Feature> features,
                             store_->ListFeatures(ckpt.id));
      for (const storage::Feature& f : features) {
        if (f.layer != job.probe->layer) continue;
        a.features.push_back(
            {f.layer, f.split, f.path, f.sha256, f.rows, f.dims, f.bytes});
      }
      break;
    }
  }
  return a;
}

absl::StatusOr<Job> Leases::Held(const LeaseRef& lease) {
  absl::StatusOr<storage::Worker> worker = store_->GetWorker(lease.worker_id);
  if (absl::IsNotFound(worker.status())) {
    return absl::NotFoundError(absl::StrCat(
        "worker_id: worker ", lease.worker_id, " is not registered"));
  }
  SSLAB_RETURN_IF_ERROR(worker.status());
  absl::StatusOr<Job> job = store_->GetJob(lease.job_id);
  if (absl::IsNotFound(job.status())) {
    return absl::NotFoundError(
        absl::StrCat("job_id: job ", lease.job_id, " not found"));
  }
  SSLAB_RETURN_IF_ERROR(job.status());
  if (job->lease_worker_id != lease.worker_id ||
      !job->lease_expiry.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", job->id, " is not leased by worker ", lease.worker_id,
        " (the lease expired or the job finished; it is ",
        experiment::Name(job->state), ")"));
  }
  if (!LastLeasedAs(*job, lease)) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease_token: not the token of job ", job->id,
                     "'s current lease (attempt ", job->attempts,
                     "); an earlier attempt may no longer act on the job"));
  }
  return job;
}

bool Leases::LastLeasedAs(const Job& job, const LeaseRef& lease) {
  // The stored hash is of a 64-character token: an empty or wrong one never
  // matches, and comparing hashes leaks nothing about the token.
  return job.lease_worker_id == lease.worker_id &&
         !job.lease_token_sha256.empty() &&
         job.lease_token_sha256 == Sha256Hex(lease.token);
}

absl::StatusOr<Job> Leases::HeldRunning(const LeaseRef& lease, JobKind kind) {
  SSLAB_ASSIGN_OR_RETURN(Job job, Held(lease));
  if (job.state == JobState::kCancelled) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job.id, " was cancelled"));
  }
  if (job.kind != kind) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job.id, " is a ", Upper(job.kind),
                     " job; this call needs a ", Upper(kind), " job"));
  }
  return job;
}

void Leases::Renew(Job& job) const {
  job.lease_expiry = clock_->Now() + lease_duration_;
}

absl::StatusOr<int> Leases::ExpireDue() {
  const absl::Time now = clock_->Now();
  SSLAB_ASSIGN_OR_RETURN(std::vector<Job> leased, store_->ListLeasedJobs());
  int expired = 0;
  for (Job& job : leased) {
    if (*job.lease_expiry > now) continue;
    ++expired;
    ++stats_->lease_expiries;
    const std::string error =
        absl::StrCat("lease expired: worker ", job.lease_worker_id.value_or(0),
                     " stopped sending heartbeats");
    SSLAB_RETURN_IF_ERROR(ReleaseLost(std::move(job), error));
  }
  return expired;
}

void Leases::AttemptEnded(const Job& job) {
  const auto it = lease_started_.find(job.id);
  if (it == lease_started_.end()) return;
  stats_->RecordDuration(job.kind, clock_->Now() - it->second);
  lease_started_.erase(it);
}

absl::Status Leases::ReleaseLost(Job job, const std::string& error) {
  lease_started_.erase(job.id);
  job.lease_expiry.reset();
  job.updated_at = clock_->Now();
  if (job.state != JobState::kRunning) {  // cancelled while leased
    return store_->UpdateJob(job);
  }
  SSLAB_LOG(WARNING) << "job " << job.id << " (run " << job.run_id
                     << "): " << error << " (attempt " << job.attempts << " of "
                     << job.max_attempts << ")";
  if (job.attempts >= job.max_attempts) {
    return graph_->FailForGood(std::move(job), error);
  }
  job.state = JobState::kRunnable;
  job.last_error = error;
  ++stats_->retries[job.kind];
  SSLAB_RETURN_IF_ERROR(store_->UpdateJob(job));
  return graph_->RecomputeRunState(job.run_id);
}

}  // namespace sslab::scheduler::internal
