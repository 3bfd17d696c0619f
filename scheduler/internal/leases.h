// The worker side of the scheduler: which job a worker gets for its free
// devices, what it is handed (the typed JobAssignment), which leases it
// holds, and what happens to leases that run out or are lost. Private to
// scheduler/.
//
// Not thread-safe, and every method expects to run inside the caller's store
// transaction: the Scheduler serialises calls and owns the transactions.
#ifndef SSLAB_SCHEDULER_INTERNAL_LEASES_H_
#define SSLAB_SCHEDULER_INTERNAL_LEASES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scheduler/clock.h"
#include "scheduler/internal/job_graph.h"
#include "scheduler/scheduler.h"
#include "storage/store.h"

namespace sslab::scheduler::internal {

// What identifies a worker's GPU across workers: the key the worker found
// (a CUDA UUID), else one unique to the worker and device.
std::string GpuKey(const storage::Worker& worker,
                   const experiment::DeviceId& device);

// Which GPUs live leases hold, by physical key: two workers that see the
// same GPU (two containers given one device) never both get a lease on it.
// CPUs are not tracked: each worker runs at most one job on its CPU slot.
class GpuOccupancy {
 public:
  static GpuOccupancy Of(const std::vector<storage::Worker>& workers,
                         const std::vector<storage::Job>& leased);
  // Whether `worker`'s `gpu` is held by a live lease (of any worker).
  bool Busy(const storage::Worker& worker,
            const experiment::DeviceId& gpu) const;
  // Whether a worker heard from since `alive_since` that serves `kind` has
  // `count` GPUs no lease holds.
  bool AnyIdle(const std::vector<storage::Worker>& workers,
               experiment::JobKind kind, absl::Time alive_since,
               size_t count = 1) const;

 private:
  std::set<std::string> busy_;
};

class Leases {
 public:
  // None is owned; `stats` records queue waits, durations and requeues.
  Leases(storage::Store* store, Clock* clock, JobGraph* graph,
         absl::Duration lease_duration, SchedulerStats* stats)
      : store_(store),
        clock_(clock),
        graph_(graph),
        lease_duration_(lease_duration),
        stats_(stats) {}

  // Leases the first queued job `worker` serves that fits `free_devices`
  // (already checked to be the worker's own), or nullopt.
  absl::StatusOr<std::optional<Lease>> LeaseFor(
      const storage::Worker& worker,
      const std::vector<experiment::DeviceId>& free_devices);

  // The job as held by `lease`: the worker must be registered (NOT_FOUND
  // otherwise) and hold the job's live lease with that token
  // (FAILED_PRECONDITION).
  absl::StatusOr<storage::Job> Held(const LeaseRef& lease);
  // Held(), and also not cancelled and of `kind`: for registering artifacts.
  absl::StatusOr<storage::Job> HeldRunning(const LeaseRef& lease,
                                           experiment::JobKind kind);

  // Whether `job` was last leased under `lease` (worker and token), live or
  // not: for retried CompleteJob/FailJob calls.
  static bool LastLeasedAs(const storage::Job& job, const LeaseRef& lease);

  // Renews the lease of a held job.
  void Renew(storage::Job& job) const;

  // Releases every lease whose time ran out; returns how many.
  absl::StatusOr<int> ExpireDue();

  // Takes a lease from a worker that lost it (expiry, restart): the job is
  // requeued, or fails for good once it used max_attempts.
  absl::Status ReleaseLost(storage::Job job, const std::string& error);

  // The worker ended an attempt (CompleteJob or FailJob): records how long
  // the lease lasted, when this process saw it start.
  void AttemptEnded(const storage::Job& job);

 private:
  // What the worker is handed, built at lease time so that a retried TRAIN
  // job resumes from the newest checkpoint.
  absl::StatusOr<experiment::JobAssignment> Assign(
      const storage::Run& run, const storage::Job& job,
      const std::vector<experiment::DeviceId>& devices);

  storage::Store* const store_;
  Clock* const clock_;
  JobGraph* const graph_;
  const absl::Duration lease_duration_;
  SchedulerStats* const stats_;
  // When each live lease began (leases from before a restart are absent).
  std::map<int64_t, absl::Time> lease_started_;
};

}  // namespace sslab::scheduler::internal

#endif  // SSLAB_SCHEDULER_INTERNAL_LEASES_H_
