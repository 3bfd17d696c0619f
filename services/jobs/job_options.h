// The one place where a run's configuration (experiment::RunConfig) becomes
// the options of the domain libraries: the dataset and transforms (data/),
// the trainer (trainer/), extraction and probes (evaluator/).
//
// Thread-safe (pure functions).
#ifndef SSLAB_SERVICES_JOBS_JOB_OPTIONS_H_
#define SSLAB_SERVICES_JOBS_JOB_OPTIONS_H_

#include <c10/core/Device.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "evaluator/probe.h"
#include "experiment/device.h"
#include "experiment/run_config.h"
#include "trainer/options.h"

namespace sslab::services {

// The dataset a run names (`max_examples` caps every split).
data::DatasetSpec DatasetSpecFor(const experiment::RunConfig& config);

// Whether training on `device` runs the forward pass in bf16 autocast: the
// run's precision, where "auto" means bf16 on CUDA and fp32 on CPU
// (docs/benchmarks.md measures both on CPU).
bool UsesBf16(const experiment::RunConfig& config,
              const experiment::DeviceId& device);

// LibTorch threads: the run's setting, else the worker's, else all cores;
// never more than the cores.
int ThreadsFor(const experiment::RunConfig& config, int worker_threads);

// The trainer's options for a run on `device`, for images of `channels`
// channels in `num_classes` classes.
trainer::TrainerOptions TrainerOptionsFor(const experiment::RunConfig& config,
                                          int channels, int num_classes,
                                          const experiment::DeviceId& device,
                                          int threads);

// The loader of a TRAIN job (pinned memory on CUDA).
data::LoaderOptions TrainLoaderOptionsFor(const experiment::RunConfig& config,
                                          const experiment::DeviceId& device,
                                          int threads);

// The evaluation transform of the run's method: whole images, or the 3x3
// patch grid for Jigsaw / Relative Patch Location.
data::TransformOptions EvalTransformFor(const experiment::RunConfig& config,
                                        int channels);

// The loader of one split of an EXTRACT job: every image once, in order.
data::LoaderOptions ExtractLoaderOptionsFor(const c10::Device& device,
                                            int threads);

// Probe options (the run's probe settings), on `device`. `has_val`: without
// a val split the L-BFGS probe cannot choose its L2 weight and uses 1e-4.
evaluator::LbfgsProbeOptions LbfgsOptionsFor(
    const experiment::RunConfig& config, const c10::Device& device,
    bool has_val);
evaluator::SgdProbeOptions SgdOptionsFor(const experiment::RunConfig& config,
                                         const c10::Device& device);
evaluator::MlpProbeOptions MlpOptionsFor(const experiment::RunConfig& config,
                                         const c10::Device& device);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_JOBS_JOB_OPTIONS_H_
