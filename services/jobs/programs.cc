#include "services/jobs/jobs.h"

namespace sslab::services {
namespace {

using RunJob = absl::Status (*)(const v1::JobAssignment&, JobContext&,
                                const WorkerOptions&);

WorkerProgram MakeProgram(std::string name, std::string description,
                          v1::JobKind kind, RunJob run) {
  WorkerProgram program;
  program.name = std::move(name);
  program.description = std::move(description);
  program.job_kinds = {kind};
  program.make_runner = [run](const WorkerOptions& options) -> JobRunner {
    return [run, options](const v1::JobAssignment& assignment,
                          JobContext& context) {
      return run(assignment, context, options);
    };
  };
  return program;
}

}  // namespace

WorkerProgram TrainerProgram() {
  return MakeProgram("sslab-trainer", "sslab pretext-training worker",
                     v1::JOB_KIND_TRAIN, &RunTrainJob);
}

WorkerProgram ExtractorProgram() {
  return MakeProgram("sslab-extractor", "sslab feature-extraction worker",
                     v1::JOB_KIND_EXTRACT, &RunExtractJob);
}

WorkerProgram EvaluatorProgram() {
  return MakeProgram("sslab-evaluator", "sslab probe-evaluation worker",
                     v1::JOB_KIND_PROBE, &RunProbeJob);
}

}  // namespace sslab::services
