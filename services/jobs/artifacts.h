// Where job artifacts live: paths registered with the scheduler are relative
// to the worker's artifact directory.
//   runs/<run>/checkpoints/attempt-<A>/epoch-NNNN.ckpt
// Each attempt of a TRAIN job writes its own files: an attempt that lost its
// lease but still runs never overwrites a checkpoint the next one registered.
//   runs/<run>/features/ckpt-<checkpoint>/<split>/<layer>.feat (+ labels.feat)
#ifndef SSLAB_SERVICES_JOBS_ARTIFACTS_H_
#define SSLAB_SERVICES_JOBS_ARTIFACTS_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"

namespace sslab::services {

// A registered artifact path (relative, or absolute) as a file path, and back.
inline std::filesystem::path ResolveArtifact(
    const std::filesystem::path& artifact_dir, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? p : artifact_dir / p;
}
inline std::string RelativeArtifact(const std::filesystem::path& artifact_dir,
                                    const std::filesystem::path& path) {
  return path.lexically_relative(artifact_dir).string();
}

inline std::filesystem::path CheckpointDir(
    const std::filesystem::path& artifact_dir, int64_t run_id, int attempt) {
  return artifact_dir / "runs" / std::to_string(run_id) / "checkpoints" /
         absl::StrCat("attempt-", attempt);
}
inline std::filesystem::path FeatureDir(
    const std::filesystem::path& artifact_dir, int64_t run_id,
    int64_t checkpoint_id) {
  return artifact_dir / "runs" / std::to_string(run_id) / "features" /
         absl::StrCat("ckpt-", checkpoint_id);
}

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_JOBS_ARTIFACTS_H_
