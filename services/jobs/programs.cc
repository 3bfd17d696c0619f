#include <torch/cuda.h>

#include "services/jobs/jobs.h"

namespace sslab::services {
namespace {

using RunJob = absl::Status (*)(const experiment::JobAssignment&, JobContext&,
                                const WorkerOptions&);

WorkerProgram MakeProgram(std::string name, std::string description,
                          experiment::JobKind kind, RunJob run) {
  WorkerProgram program;
  program.name = std::move(name);
  program.description = std::move(description);
  program.job_kinds = {kind};
  program.cuda_device_count = [] {
    return static_cast<int>(torch::cuda::device_count());
  };
  program.make_runner = [run](const WorkerOptions& options) -> JobRunner {
    return [run, options](const experiment::JobAssignment& assignment,
                          JobContext& context) {
      return run(assignment, context, options);
    };
  };
  return program;
}

}  // namespace

WorkerProgram TrainerProgram() {
  return MakeProgram("sslab-trainer", "sslab pretext-training worker",
                     experiment::JobKind::kTrain, &RunTrainJob);
}

WorkerProgram ExtractorProgram() {
  return MakeProgram("sslab-extractor", "sslab feature-extraction worker",
                     experiment::JobKind::kExtract, &RunExtractJob);
}

WorkerProgram EvaluatorProgram() {
  return MakeProgram("sslab-evaluator", "sslab probe-evaluation worker",
                     experiment::JobKind::kProbe, &RunProbeJob);
}

}  // namespace sslab::services
