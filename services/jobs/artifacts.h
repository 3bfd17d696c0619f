// Where job artifacts live, how a job opens one it was handed, and which
// data sets it may read. Paths
// registered with the scheduler are relative to the worker's artifact
// directory:
//   runs/<run>/checkpoints/attempt-<A>/epoch-NNNN.ckpt
//   runs/<run>/features/ckpt-<checkpoint>/<split>/<layer>.feat (+ labels.feat)
// Each attempt of a TRAIN job writes its own files: an attempt that lost its
// lease but still runs never overwrites a checkpoint the next one registered.
#ifndef SSLAB_SERVICES_JOBS_ARTIFACTS_H_
#define SSLAB_SERVICES_JOBS_ARTIFACTS_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace sslab::services {

// The file a registered artifact path names, checked before anything reads
// it: the path is relative with no ".." (experiment::CheckArtifactPath); the
// file, symlinks resolved, lies inside `artifact_dir`; it is a regular file
// (not /dev/zero, a FIFO or a directory). INVALID_ARGUMENT naming `field`
// otherwise; UNAVAILABLE for a missing file (retried, on another worker
// first: this one's artifact directory may not be the shared one).
// Messages carry the registered path, never where a symlink led.
absl::StatusOr<std::filesystem::path> OpenArtifact(
    const std::filesystem::path& artifact_dir, const std::string& path,
    absl::string_view field);

// OpenArtifact, and the file's SHA-256 must be `sha256` (DATA_LOSS naming
// the registered path otherwise): a checkpoint is verified before torch
// parses a byte of it.
absl::StatusOr<std::filesystem::path> OpenVerifiedArtifact(
    const std::filesystem::path& artifact_dir, const std::string& path,
    const std::string& sha256, absl::string_view field);

// A run's dataset path must lie, symlinks resolved, inside one of `roots`
// (the worker's --dataset-roots; empty: anywhere). FAILED_PRECONDITION naming
// "dataset.path" and the roots otherwise, the same answer whether the path
// exists or not: a client learns nothing of the files outside the roots.
absl::Status CheckDatasetPath(const std::string& path,
                              const std::vector<std::filesystem::path>& roots);

// What this worker cannot find another may have (a data set mounted on some
// workers only): NOT_FOUND becomes UNAVAILABLE, which the worker reports as
// retryable and the scheduler hands to another worker first. Other statuses
// pass unchanged.
absl::Status MissingOnThisWorker(const absl::Status& status);
template <typename T>
absl::StatusOr<T> MissingOnThisWorker(absl::StatusOr<T> value) {
  if (value.ok()) return value;
  return MissingOnThisWorker(value.status());
}

// A file under `artifact_dir` as the relative path to register.
inline std::string RelativeArtifact(const std::filesystem::path& artifact_dir,
                                    const std::filesystem::path& path) {
  return path.lexically_relative(artifact_dir).string();
}

// Everything of one run lies under its directory.
inline std::filesystem::path RunDir(const std::filesystem::path& artifact_dir,
                                    int64_t run_id) {
  return artifact_dir / "runs" / std::to_string(run_id);
}
inline std::filesystem::path CheckpointDir(
    const std::filesystem::path& artifact_dir, int64_t run_id, int attempt) {
  return RunDir(artifact_dir, run_id) / "checkpoints" /
         absl::StrCat("attempt-", attempt);
}
inline std::filesystem::path FeatureDir(
    const std::filesystem::path& artifact_dir, int64_t run_id,
    int64_t checkpoint_id) {
  return RunDir(artifact_dir, run_id) / "features" /
         absl::StrCat("ckpt-", checkpoint_id);
}

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_JOBS_ARTIFACTS_H_
