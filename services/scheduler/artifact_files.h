// The scheduler's hands on the artifact directory (its --data-dir, which
// workers share): removing what retention or `sslab rm` let go. The
// scheduler (scheduler/) decides and records; this removes.
//
// Thread-compatible; calls on distinct artifacts may run concurrently.
#ifndef SSLAB_SERVICES_SCHEDULER_ARTIFACT_FILES_H_
#define SSLAB_SERVICES_SCHEDULER_ARTIFACT_FILES_H_

#include <cstdint>
#include <filesystem>
#include <vector>

#include "scheduler/scheduler.h"

namespace sslab::services {

struct Removed {
  int64_t files = 0;
  int64_t bytes = 0;
};

class ArtifactFiles {
 public:
  explicit ArtifactFiles(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& dir() const { return dir_; }

  // Removes the artifacts' files. A feature shard takes its split's
  // labels.feat with it once no layer's shard is left beside it; emptied
  // directories go too. A path that is not a plain relative path inside
  // the directory is skipped (and logged); a missing file counts as
  // removed. Returns what was removed.
  Removed Remove(const std::vector<scheduler::Artifact>& artifacts) const;

  // Removes runs/<run_id>/ and everything under it (temporary files and
  // checkpoints of attempts never registered included).
  Removed RemoveRun(int64_t run_id) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_SCHEDULER_ARTIFACT_FILES_H_
