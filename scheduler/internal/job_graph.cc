#include "scheduler/internal/job_graph.h"

#include <algorithm>
#include <functional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sslab::scheduler::internal {

using experiment::JobKind;
using experiment::JobState;
using experiment::RunState;
using storage::Checkpoint;
using storage::Job;
using storage::Run;

experiment::DeviceRequest JobDevice(const experiment::RunConfig& config,
                                    JobKind kind) {
  return kind == JobKind::kProbe ? config.probe_device : config.device;
}

JobCounts CountJobs(const std::vector<Job>& jobs) {
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

RunState DeriveRunState(const std::vector<Job>& jobs) {
  const bool all_succeeded =
      !jobs.empty() && std::all_of(jobs.begin(), jobs.end(), [](const Job& j) {
        return j.state == JobState::kSucceeded;
      });
  if (all_succeeded) return RunState::kSucceeded;
  const bool started = std::any_of(jobs.begin(), jobs.end(),
                                   [](const Job& j) { return j.attempts > 0; });
  return started ? RunState::kRunning : RunState::kPending;
}

namespace {

// The targets of `plan` that no PROBE job of checkpoint `checkpoint_id` in
// `jobs` covers (succeeded, or yet to run: failed and cancelled ones ended a
// run that cannot gain probes).
std::vector<experiment::ProbeTarget> MissingTargets(
    const experiment::EvaluationPlan& plan, const std::vector<Job>& jobs,
    int64_t checkpoint_id) {
  std::vector<experiment::ProbeTarget> missing;
  for (experiment::ProbeTarget& target : experiment::ProbeTargets(plan)) {
    const bool covered =
        std::any_of(jobs.begin(), jobs.end(), [&](const Job& j) {
          return j.kind == JobKind::kProbe &&
                 j.checkpoint_id == checkpoint_id && j.probe == target &&
                 (j.state == JobState::kSucceeded ||
                  !experiment::IsFinal(j.state));
        });
    if (!covered) missing.push_back(std::move(target));
  }
  return missing;
}

// The first (layer, split) of `plan` without a feature shard of the
// checkpoint that is still there, if any.
absl::StatusOr<std::optional<std::pair<std::string, experiment::Split>>>
FirstMissingFeature(storage::Store& store,
                    const experiment::EvaluationPlan& plan,
                    int64_t checkpoint_id) {
  SSLAB_ASSIGN_OR_RETURN(std::vector<storage::Feature> features,
                         store.ListFeatures(checkpoint_id));
  std::set<std::pair<std::string, experiment::Split>> have;
  for (const auto& f : features) {
    if (!f.deleted_at) have.insert({f.layer, f.split});
  }
  for (const std::string& layer : plan.layers) {
    for (experiment::Split split : experiment::kEvaluationSplits) {
      if (!have.count({layer, split})) return std::make_pair(layer, split);
    }
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<int64_t> JobGraph::CreateRun(Run run) {
  run.state = RunState::kPending;
  run.created_at = run.updated_at = clock_->Now();
  SSLAB_ASSIGN_OR_RETURN(run.id, store_->CreateRun(run));
  SSLAB_RETURN_IF_ERROR(CreateJob(run, JobKind::kTrain, std::nullopt).status());
  return run.id;
}

absl::StatusOr<int64_t> JobGraph::CreateJob(
    const Run& run, JobKind kind, std::optional<int64_t> checkpoint_id,
    std::optional<experiment::ProbeTarget> probe, JobState state) {
  Job job;
  job.run_id = run.id;
  job.kind = kind;
  job.state = state;
  job.checkpoint_id = checkpoint_id;
  job.probe = std::move(probe);
  job.priority = run.priority;
  job.max_attempts = run.max_attempts;
  job.device = JobDevice(run.config, kind);
  job.created_at = job.updated_at = clock_->Now();
  return store_->CreateJob(job);
}

absl::Status JobGraph::EnsureExtractJob(const Run& run, int64_t checkpoint_id) {
  SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs, store_->ListJobs(run.id));
  for (const Job& j : jobs) {
    if (j.kind == JobKind::kExtract && j.checkpoint_id == checkpoint_id) {
      return absl::OkStatus();
    }
  }
  return CreateJob(run, JobKind::kExtract, checkpoint_id).status();
}

absl::Status JobGraph::AdvancePast(const Run& run, const Job& job) {
  const experiment::EvaluationPlan& plan = run.config.evaluation;
  switch (job.kind) {
    case JobKind::kTrain: {
      SSLAB_ASSIGN_OR_RETURN(std::vector<Checkpoint> ckpts,
                             store_->ListCheckpoints(run.id));
      if (ckpts.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "TRAIN job ", job.id,
            " cannot complete: it registered no checkpoint to evaluate"));
      }
      // The last checkpoint is the final one even if not marked so.
      Checkpoint last = ckpts.back();
      if (!last.is_final) {
        last.is_final = true;
        SSLAB_RETURN_IF_ERROR(store_->UpsertCheckpoint(last).status());
      }
      return EnsureExtractJob(run, last.id);
    }
    case JobKind::kExtract: {
      const int64_t ckpt = job.checkpoint_id.value_or(0);
      SSLAB_ASSIGN_OR_RETURN(auto missing,
                             FirstMissingFeature(*store_, plan, ckpt));
      if (missing) {
        return absl::FailedPreconditionError(absl::StrCat(
            "EXTRACT job ", job.id, " cannot complete: no features for layer '",
            missing->first, "' split '", experiment::Name(missing->second),
            "' were registered"));
      }
      // A re-extraction (QueueMissingProbes) adds only what is not probed,
      // and starts the probes queued again behind it.
      SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs, store_->ListJobs(run.id));
      for (experiment::ProbeTarget& target : MissingTargets(plan, jobs, ckpt)) {
        SSLAB_RETURN_IF_ERROR(
            CreateJob(run, JobKind::kProbe, ckpt, std::move(target)).status());
      }
      for (Job& waiting : jobs) {
        if (waiting.kind != JobKind::kProbe || waiting.checkpoint_id != ckpt ||
            waiting.state != JobState::kPending) {
          continue;
        }
        waiting.state = JobState::kRunnable;
        waiting.updated_at = clock_->Now();
        SSLAB_RETURN_IF_ERROR(store_->UpdateJob(waiting));
      }
      return absl::OkStatus();
    }
    case JobKind::kProbe: {
      storage::ResultFilter filter;
      filter.run_id = run.id;
      filter.layer = job.probe->layer;
      filter.probe_kind = job.probe->probe_kind;
      SSLAB_ASSIGN_OR_RETURN(std::vector<storage::ResultRow> rows,
                             store_->QueryResults(filter));
      const bool recorded =
          std::any_of(rows.begin(), rows.end(), [&](const auto& r) {
            return r.result.checkpoint_id == job.checkpoint_id &&
                   r.result.target == *job.probe;
          });
      if (!recorded) {
        return absl::FailedPreconditionError(absl::StrCat(
            "PROBE job ", job.id, " cannot complete: it recorded no result"));
      }
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown job kind");
}

absl::StatusOr<ProbeAddition> JobGraph::QueueMissingProbes(
    const Run& run,
    const std::function<bool(const experiment::ProbeTarget&)>& again) {
  const experiment::EvaluationPlan& plan = run.config.evaluation;
  SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs, store_->ListJobs(run.id));
  std::set<int64_t> evaluated;
  for (const Job& j : jobs) {
    if (j.kind == JobKind::kExtract && j.checkpoint_id) {
      evaluated.insert(*j.checkpoint_id);
    }
  }
  ProbeAddition added;
  for (int64_t ckpt : evaluated) {
    std::vector<experiment::ProbeTarget> missing =
        MissingTargets(plan, jobs, ckpt);
    std::vector<experiment::ProbeTarget> redo;
    if (again) {
      for (experiment::ProbeTarget& target : experiment::ProbeTargets(plan)) {
        if (again(target) && std::find(missing.begin(), missing.end(),
                                       target) == missing.end()) {
          redo.push_back(std::move(target));
        }
      }
    }
    if (missing.empty() && redo.empty()) continue;
    added.probe_jobs += static_cast<int>(missing.size() + redo.size());
    SSLAB_ASSIGN_OR_RETURN(auto absent,
                           FirstMissingFeature(*store_, plan, ckpt));
    // Behind a re-extraction the missing targets are created when it ends
    // (AdvancePast); the ones probed again wait for it as PENDING jobs.
    const JobState redo_state =
        absent ? JobState::kPending : JobState::kRunnable;
    for (experiment::ProbeTarget& target : redo) {
      SSLAB_RETURN_IF_ERROR(
          CreateJob(run, JobKind::kProbe, ckpt, std::move(target), redo_state)
              .status());
    }
    if (!absent) {
      for (experiment::ProbeTarget& target : missing) {
        SSLAB_RETURN_IF_ERROR(
            CreateJob(run, JobKind::kProbe, ckpt, std::move(target)).status());
      }
      continue;
    }
    SSLAB_ASSIGN_OR_RETURN(Checkpoint checkpoint, store_->GetCheckpoint(ckpt));
    if (checkpoint.deleted_at) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run ", run.id, ": the features of its epoch ", checkpoint.epoch,
          " checkpoint were deleted, and so was the checkpoint: nothing to "
          "extract them from again"));
    }
    SSLAB_RETURN_IF_ERROR(CreateJob(run, JobKind::kExtract, ckpt).status());
    ++added.extract_jobs;
  }
  return added;
}

absl::Status JobGraph::FailForGood(Job job, const std::string& error) {
  const absl::Time now = clock_->Now();
  ++stats_->failures[job.kind];
  job.state = JobState::kFailed;
  job.last_error = error;
  job.lease_expiry.reset();
  job.updated_at = now;
  SSLAB_RETURN_IF_ERROR(store_->UpdateJob(job));
  SSLAB_ASSIGN_OR_RETURN(Run run, store_->GetRun(job.run_id));
  if (experiment::IsFinal(run.state)) return absl::OkStatus();
  SSLAB_RETURN_IF_ERROR(CancelUnfinishedJobs(run.id));
  run.state = RunState::kFailed;
  run.error =
      absl::StrCat(absl::AsciiStrToUpper(experiment::Name(job.kind)), " job ",
                   job.id, " failed after ", job.attempts, " attempt",
                   job.attempts == 1 ? "" : "s", ": ", error);
  run.updated_at = now;
  return store_->UpdateRun(run);
}

absl::Status JobGraph::CancelUnfinishedJobs(int64_t run_id) {
  SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs, store_->ListJobs(run_id));
  for (Job& j : jobs) {
    if (experiment::IsFinal(j.state)) continue;
    j.state = JobState::kCancelled;
    j.updated_at = clock_->Now();
    SSLAB_RETURN_IF_ERROR(store_->UpdateJob(j));
  }
  return absl::OkStatus();
}

absl::Status JobGraph::RecomputeRunState(int64_t run_id) {
  SSLAB_ASSIGN_OR_RETURN(Run run, store_->GetRun(run_id));
  if (experiment::IsFinal(run.state)) return absl::OkStatus();
  SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs, store_->ListJobs(run_id));
  const RunState next = DeriveRunState(jobs);
  if (next == run.state) return absl::OkStatus();
  run.state = next;
  run.updated_at = clock_->Now();
  return store_->UpdateRun(run);
}

}  // namespace sslab::scheduler::internal
