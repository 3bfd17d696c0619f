// PROBE: one probe (L-BFGS, SGD or MLP) on one layer's features of one
// checkpoint, at one label fraction; records val and test accuracy.
#include <cmath>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/torch_util/runtime.h"
#include "evaluator/feature_shard.h"
#include "evaluator/probe.h"
#include "services/jobs/artifacts.h"
#include "services/jobs/job_options.h"
#include "services/jobs/jobs.h"

namespace sslab::services {
namespace {

using experiment::ProbeKind;
using experiment::Split;

// Reads one split's features and the labels shard beside them, checking the
// checksum the extractor registered.
absl::StatusOr<evaluator::FeatureSplit> ReadSplit(
    const std::filesystem::path& artifacts,
    const experiment::FeatureRef& registered) {
  SSLAB_ASSIGN_OR_RETURN(
      const std::filesystem::path path,
      OpenArtifact(artifacts, registered.path, "features.path"));
  SSLAB_ASSIGN_OR_RETURN(
      const std::filesystem::path labels_path,
      OpenArtifact(
          artifacts,
          (std::filesystem::path(registered.path).parent_path() / "labels.feat")
              .string(),
          "features.path"));
  SSLAB_ASSIGN_OR_RETURN(evaluator::Shard features, evaluator::ReadShard(path));
  if (features.info.payload_sha256 != registered.sha256) {
    return absl::DataLossError(absl::StrCat(
        registered.path, ": checksum differs from the one registered"));
  }
  SSLAB_ASSIGN_OR_RETURN(evaluator::Shard labels,
                         evaluator::ReadShard(labels_path));
  return evaluator::FeatureSplit{features.data, labels.data.reshape({-1})};
}

}  // namespace

absl::Status RunProbeJob(const experiment::JobAssignment& assignment,
                         JobContext& context, const WorkerOptions& worker) {
  const experiment::RunConfig& config = assignment.config;
  if (!assignment.probe) {
    return absl::InvalidArgumentError("probe: a PROBE job needs its target");
  }
  const experiment::ProbeTarget& target = *assignment.probe;
  const int threads = ThreadsFor(config, worker.threads);
  if (target.probe_kind == experiment::ProbeKind::kLbfgs) {
    ConfigureThreadsForBlasWork(threads);  // its work is BLAS products
  } else {
    ConfigureTorchThreads(threads);
  }
  SSLAB_ASSIGN_OR_RETURN(c10::Device device,
                         ResolveDevice(assignment.device.ToString()));
  evaluator::ProbeData data;
  for (const experiment::FeatureRef& shard : assignment.features) {
    SSLAB_ASSIGN_OR_RETURN(evaluator::FeatureSplit split,
                           ReadSplit(context.artifact_dir(), shard));
    switch (shard.split) {
      case Split::kTrain:
        data.train = split;
        break;
      case Split::kVal:
        data.val = split;
        break;
      case Split::kTest:
        data.test = split;
        break;
    }
  }
  if (!data.train.features.defined() || !data.test.features.defined()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "features: layer ", target.layer, " needs train and test features"));
  }
  const uint64_t seed = static_cast<uint64_t>(config.seed);
  SSLAB_ASSIGN_OR_RETURN(
      data, evaluator::WithLabelFraction(std::move(data), target.label_fraction,
                                         seed));
  const bool has_val =
      data.val.features.defined() && data.val.features.size(0) > 0;

  absl::StatusOr<evaluator::ProbeResult> result;
  experiment::ProbeResult test;
  test.split = Split::kTest;
  switch (target.probe_kind) {
    case ProbeKind::kLbfgs:
      result = evaluator::RunLbfgsProbe(
          data, LbfgsOptionsFor(config, device, has_val));
      break;
    case ProbeKind::kSgd: {
      const evaluator::SgdProbeOptions options = SgdOptionsFor(config, device);
      result = evaluator::RunSgdProbe(data, options);
      test.hyperparameters["epochs"] = std::to_string(options.epochs);
      test.hyperparameters["learning_rate"] =
          absl::StrCat(options.learning_rate);
      break;
    }
    case ProbeKind::kMlp: {
      const evaluator::MlpProbeOptions options = MlpOptionsFor(config, device);
      result = evaluator::RunMlpProbe(data, options);
      test.hyperparameters["hidden_units"] =
          std::to_string(options.hidden_units);
      test.hyperparameters["epochs"] = std::to_string(options.epochs);
      break;
    }
  }
  if (!result.ok()) return result.status();
  test.hyperparameters["l2"] = absl::StrCat(result->chosen_l2);
  test.hyperparameters["train_rows"] =
      std::to_string(data.train.features.size(0));
  if (has_val) {
    test.hyperparameters["val_rows"] =
        std::to_string(data.val.features.size(0));
  }
  test.top1 = result->test_top1;
  test.top5 = result->test_top5;
  SSLAB_RETURN_IF_ERROR(context.RecordResult(test));
  if (has_val && !std::isnan(result->val_top1)) {
    experiment::ProbeResult val = test;
    val.split = Split::kVal;
    val.top1 = result->val_top1;
    val.top5 = 0;
    SSLAB_RETURN_IF_ERROR(context.RecordResult(val));
  }
  SSLAB_LOG(INFO) << "run " << assignment.run_id << " " << target.layer << " "
                  << experiment::Name(target.probe_kind) << ": test top-1 "
                  << result->test_top1;
  context.ReportProgress(1.0, 0, 0, {{"test_top1", result->test_top1}});
  return absl::OkStatus();
}

}  // namespace sslab::services
