// RunConfig (proto) -> options of the domain libraries, shared by the jobs.
#ifndef SSLAB_SERVICES_JOBS_JOB_CONFIG_H_
#define SSLAB_SERVICES_JOBS_JOB_CONFIG_H_

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/transforms.h"
#include "services/worker/worker.h"
#include "sslab/v1/types.pb.h"
#include "trainer/options.h"

namespace sslab::services {

// The dataset a run names, for one split. `max_examples` caps every split.
data::DatasetSpec DatasetSpecFor(const v1::RunConfig& config);

// The trainer's options for a run on `device` ("cpu", "cuda:0").
absl::StatusOr<trainer::TrainerOptions> TrainerOptionsFor(
    const v1::RunConfig& config, int channels, const std::string& device,
    int threads);

// The evaluation transform of the run's method ("eval", or "eval_patches"
// for Jigsaw / Relative Patch Location); training transforms come from
// trainer::MakeDatasetBatchSource.
data::TransformOptions EvalTransformFor(const v1::RunConfig& config,
                                        int channels);

// "cpu" or "cuda:N".
std::string DeviceName(const v1::Device& device);

// Threads for LibTorch: the run's setting, else the worker's, else all cores.
int ThreadsFor(const v1::RunConfig& config, const WorkerOptions& worker);

// A registered artifact path (relative to the artifact directory, or
// absolute) as a file path, and back.
std::filesystem::path ResolveArtifact(const WorkerOptions& worker,
                                      const std::string& path);
std::string RelativeArtifact(const WorkerOptions& worker,
                             const std::filesystem::path& path);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_JOBS_JOB_CONFIG_H_
