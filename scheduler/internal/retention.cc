#include "scheduler/internal/retention.h"

#include <algorithm>
#include <set>

#include "experiment/job_graph.h"

namespace sslab::scheduler::internal {

using experiment::JobKind;
using experiment::JobState;

Unneeded FindUnneeded(
    const storage::Run& run, const std::vector<storage::Job>& jobs,
    const std::vector<storage::Checkpoint>& checkpoints,
    const std::map<int64_t, std::vector<storage::Feature>>& features,
    const RetentionOptions& options) {
  Unneeded out;
  if (run.pinned) return out;

  // Per checkpoint: was it evaluated (EXTRACT and PROBE jobs only refer to
  // evaluated checkpoints, so this keeps every one a job needs), and did
  // everything that reads its features succeed.
  std::set<int64_t> evaluated, features_pending;
  std::map<int64_t, int> probes;
  bool training = false;
  for (const storage::Job& job : jobs) {
    if (job.kind == JobKind::kTrain && !experiment::IsFinal(job.state)) {
      training = true;
    }
    if (!job.checkpoint_id) continue;
    const int64_t id = *job.checkpoint_id;
    if (job.kind == JobKind::kExtract) evaluated.insert(id);
    if (job.state != JobState::kSucceeded) features_pending.insert(id);
    if (job.kind == JobKind::kProbe) ++probes[id];
  }

  std::vector<const storage::Checkpoint*> live;
  for (const storage::Checkpoint& c : checkpoints) {
    if (!c.deleted_at) live.push_back(&c);
  }
  std::sort(live.begin(), live.end(),
            [](const auto* a, const auto* b) { return a->epoch < b->epoch; });
  size_t keep_last = options.keep_last_checkpoints <= 0
                         ? live.size()
                         : static_cast<size_t>(options.keep_last_checkpoints);
  if (training) {
    keep_last =
        std::max<size_t>(keep_last, 1 + experiment::kFallbackCheckpoints);
  }
  for (size_t i = 0; i < live.size(); ++i) {
    const storage::Checkpoint& c = *live[i];
    const bool recent = i + keep_last >= live.size();
    if (!recent && !c.is_final && !evaluated.count(c.id)) {
      out.checkpoints.push_back(c);
    }
    if (options.keep_features || features_pending.count(c.id) ||
        !evaluated.count(c.id) || probes[c.id] == 0) {
      continue;
    }
    auto it = features.find(c.id);
    if (it == features.end()) continue;
    for (const storage::Feature& f : it->second) {
      if (!f.deleted_at) out.features.push_back(f);
    }
  }
  return out;
}

}  // namespace sslab::scheduler::internal
