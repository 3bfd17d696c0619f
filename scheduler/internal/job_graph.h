// The run side of the scheduler: creating runs and their jobs, advancing a
// run's job graph as jobs complete, failing, cancelling and deriving a run's
// state from its jobs. Private to scheduler/.
//
// Not thread-safe, and every method expects to run inside the caller's store
// transaction: the Scheduler serialises calls and owns the transactions.
#ifndef SSLAB_SCHEDULER_INTERNAL_JOB_GRAPH_H_
#define SSLAB_SCHEDULER_INTERNAL_JOB_GRAPH_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "scheduler/clock.h"
#include "scheduler/scheduler.h"
#include "storage/store.h"
#include "storage/types.h"

namespace sslab::scheduler::internal {

// The device a job of `kind` asks for: the run's probe device for PROBE
// jobs, its device for TRAIN and EXTRACT.
experiment::DeviceRequest JobDevice(const experiment::RunConfig& config,
                                    experiment::JobKind kind);

JobCounts CountJobs(const std::vector<storage::Job>& jobs);

// The state an unfinished run is in given its jobs: SUCCEEDED when every job
// did, RUNNING once any job was leased, else PENDING.
experiment::RunState DeriveRunState(const std::vector<storage::Job>& jobs);

class JobGraph {
 public:
  // None is owned; `stats` is updated as jobs fail.
  JobGraph(storage::Store* store, Clock* clock, SchedulerStats* stats)
      : store_(store), clock_(clock), stats_(stats) {}

  // Stores `run` (PENDING) and its TRAIN job. Returns the run id.
  absl::StatusOr<int64_t> CreateRun(storage::Run run);

  // Creates the EXTRACT job of a checkpoint unless the run already has one.
  absl::Status EnsureExtractJob(const storage::Run& run, int64_t checkpoint_id);

  // Checks that `job` produced what its kind must produce and creates what
  // follows it: the final EXTRACT job after TRAIN, the PROBE jobs after
  // EXTRACT. FAILED_PRECONDITION naming what is missing otherwise. Does not
  // change `job` itself.
  absl::Status AdvancePast(const storage::Run& run, const storage::Job& job);

  // Queues what `run`'s evaluation plan asks of its evaluated checkpoints
  // and they lack (after Scheduler::AddProbes widened the plan): the missing
  // PROBE jobs, or an EXTRACT job first where retention deleted the
  // features (AdvancePast then creates them). FAILED_PRECONDITION when such
  // a checkpoint was deleted too. Targets of the plan for which `again`
  // holds are queued even where the run has them (their results are
  // replaced); behind an EXTRACT job they wait as PENDING jobs, which
  // AdvancePast makes runnable.
  absl::StatusOr<ProbeAddition> QueueMissingProbes(
      const storage::Run& run,
      const std::function<bool(const experiment::ProbeTarget&)>& again =
          nullptr);

  // Fails `job` for good with `error`; the run fails with it and its other
  // unfinished jobs are cancelled (leased ones learn it at their heartbeat).
  absl::Status FailForGood(storage::Job job, const std::string& error);

  // Cancels every unfinished job of the run.
  absl::Status CancelUnfinishedJobs(int64_t run_id);

  // Re-derives the state of an unfinished run from its jobs.
  absl::Status RecomputeRunState(int64_t run_id);

 private:
  absl::StatusOr<int64_t> CreateJob(
      const storage::Run& run, experiment::JobKind kind,
      std::optional<int64_t> checkpoint_id,
      std::optional<experiment::ProbeTarget> probe = std::nullopt,
      experiment::JobState state = experiment::JobState::kRunnable);

  storage::Store* const store_;
  Clock* const clock_;
  SchedulerStats* const stats_;
};

}  // namespace sslab::scheduler::internal

#endif  // SSLAB_SCHEDULER_INTERNAL_JOB_GRAPH_H_
