// The three kinds of job a worker runs, as JobRunners for services/worker:
// TRAIN (pretext training with checkpoints and resume), EXTRACT (per-layer
// features of a checkpoint for the evaluation splits) and PROBE (one probe
// on one layer's features). Each takes the typed assignment and derives the
// libraries' options in job_options.h; artifacts go where artifacts.h says.
#ifndef SSLAB_SERVICES_JOBS_JOBS_H_
#define SSLAB_SERVICES_JOBS_JOBS_H_

#include "experiment/job_graph.h"
#include "services/worker/worker.h"
#include "services/worker/worker_main.h"

namespace sslab::services {

absl::Status RunTrainJob(const experiment::JobAssignment& assignment,
                         JobContext& context, const WorkerOptions& worker);
absl::Status RunExtractJob(const experiment::JobAssignment& assignment,
                           JobContext& context, const WorkerOptions& worker);
absl::Status RunProbeJob(const experiment::JobAssignment& assignment,
                         JobContext& context, const WorkerOptions& worker);

// The worker binaries: sslab-trainer (TRAIN), sslab-extractor (EXTRACT) and
// sslab-evaluator (PROBE).
WorkerProgram TrainerProgram();
WorkerProgram ExtractorProgram();
WorkerProgram EvaluatorProgram();

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_JOBS_JOBS_H_
