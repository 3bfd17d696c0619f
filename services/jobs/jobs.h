// The three kinds of job a worker runs, as JobRunners for services/worker:
// TRAIN (pretext training with checkpoints and resume), EXTRACT (per-layer
// features of a checkpoint for the train/val/test splits) and PROBE (one
// probe on one layer's features). Each maps the run's RunConfig to the
// domain libraries' options; this is the only place that does.
//
// Artifacts, under the worker's artifact directory (paths registered with
// the scheduler are relative to it):
//   runs/<run>/checkpoints/epoch-NNNN.ckpt
//   runs/<run>/features/ckpt-<checkpoint>/<split>/<layer>.feat (+ labels.feat)
#ifndef SSLAB_SERVICES_JOBS_JOBS_H_
#define SSLAB_SERVICES_JOBS_JOBS_H_

#include "services/worker/worker.h"
#include "services/worker/worker_main.h"

namespace sslab::services {

absl::Status RunTrainJob(const v1::JobAssignment& assignment,
                         JobContext& context, const WorkerOptions& worker);
absl::Status RunExtractJob(const v1::JobAssignment& assignment,
                           JobContext& context, const WorkerOptions& worker);
absl::Status RunProbeJob(const v1::JobAssignment& assignment,
                         JobContext& context, const WorkerOptions& worker);

// The worker binaries: sslab-trainer (TRAIN), sslab-extractor (EXTRACT) and
// sslab-evaluator (PROBE).
WorkerProgram TrainerProgram();
WorkerProgram ExtractorProgram();
WorkerProgram EvaluatorProgram();

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_JOBS_JOBS_H_
