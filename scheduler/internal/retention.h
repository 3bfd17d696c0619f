// Which of a run's artifacts retention no longer needs. Private to
// scheduler/; a pure function of the run's records, so it is tested alone.
//
// Kept, always: everything of a pinned run; every checkpoint that was
// evaluated (has an EXTRACT job: the only checkpoints EXTRACT and PROBE jobs
// refer to), the final one, and the last `keep_last_checkpoints` by epoch,
// or while
// training goes on at least the last 1 + experiment::kFallbackCheckpoints
// (what a restarted TRAIN job resumes from, or falls back on); a checkpoint's
// feature
// shards until its EXTRACT job and every PROBE job of it succeeded (a failed
// or cancelled probe may be retried), or for good with keep_features.
#ifndef SSLAB_SCHEDULER_INTERNAL_RETENTION_H_
#define SSLAB_SCHEDULER_INTERNAL_RETENTION_H_

#include <cstdint>
#include <map>
#include <vector>

#include "scheduler/scheduler.h"
#include "storage/types.h"

namespace sslab::scheduler::internal {

struct Unneeded {
  std::vector<storage::Checkpoint> checkpoints;
  std::vector<storage::Feature> features;
};

// `checkpoints` and `features` (by checkpoint id) may include rows already
// deleted; those are never returned again.
Unneeded FindUnneeded(
    const storage::Run& run, const std::vector<storage::Job>& jobs,
    const std::vector<storage::Checkpoint>& checkpoints,
    const std::map<int64_t, std::vector<storage::Feature>>& features,
    const RetentionOptions& options);

}  // namespace sslab::scheduler::internal

#endif  // SSLAB_SCHEDULER_INTERNAL_RETENTION_H_
