#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
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
  program.torch_build = [] {
    std::map<std::string, std::string> build = {{"libtorch", TORCH_VERSION}};
    const at::CUDAHooksInterface& cuda = at::detail::getCUDAHooks();
    if (cuda.hasCUDA()) {
      // 12040 -> "12.4"; cuDNN 8902 -> "8.9.2" (its MAJOR*1000+MINOR*100+PATCH
      // before 9, MAJOR*10000+MINOR*100+PATCH from 9 on).
      const long rt = cuda.versionCUDART();
      build["cuda"] = absl::StrCat(rt / 1000, ".", rt % 1000 / 10);
      const long dnn = cuda.versionCuDNN();
      build["cudnn"] =
          dnn >= 90000
              ? absl::StrCat(dnn / 10000, ".", dnn % 10000 / 100, ".",
                             dnn % 100)
              : absl::StrCat(dnn / 1000, ".", dnn % 1000 / 100, ".", dnn % 100);
    }
    return build;
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
