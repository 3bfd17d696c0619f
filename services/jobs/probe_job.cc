// PROBE: one probe (L-BFGS, SGD or MLP) on one layer's features of one
// checkpoint, at one label fraction; records val and test accuracy.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/torch_util/runtime.h"
#include "evaluator/feature_shard.h"
#include "evaluator/probe.h"
#include "services/jobs/job_config.h"
#include "services/jobs/jobs.h"

namespace sslab::services {
namespace {

// Reads one split's features and the labels shard beside them, checking the
// checksum the extractor registered.
absl::StatusOr<evaluator::FeatureSplit> ReadSplit(
    const WorkerOptions& worker, const v1::FeatureShard& registered) {
  const auto path = ResolveArtifact(worker, registered.path());
  SSLAB_ASSIGN_OR_RETURN(evaluator::Shard features, evaluator::ReadShard(path));
  if (features.info.payload_sha256 != registered.sha256()) {
    return absl::DataLossError(absl::StrCat(
        path.string(), ": checksum differs from the one registered"));
  }
  SSLAB_ASSIGN_OR_RETURN(
      evaluator::Shard labels,
      evaluator::ReadShard(path.parent_path() / "labels.feat"));
  return evaluator::FeatureSplit{features.data, labels.data.reshape({-1})};
}

}  // namespace

absl::Status RunProbeJob(const v1::JobAssignment& assignment,
                         JobContext& context, const WorkerOptions& worker) {
  const v1::RunConfig& config = assignment.config();
  const v1::Job& job = assignment.job();
  ConfigureTorchThreads(ThreadsFor(config, worker));
  SSLAB_ASSIGN_OR_RETURN(c10::Device device,
                         ResolveDevice(DeviceName(assignment.device())));
  evaluator::ProbeData data;
  for (const v1::FeatureShard& shard : assignment.features()) {
    SSLAB_ASSIGN_OR_RETURN(evaluator::FeatureSplit split,
                           ReadSplit(worker, shard));
    if (shard.split() == "train") data.train = split;
    if (shard.split() == "val") data.val = split;
    if (shard.split() == "test") data.test = split;
  }
  if (!data.train.features.defined() || !data.test.features.defined()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "features: layer ", job.layer(), " needs train and test features"));
  }
  const uint64_t seed = static_cast<uint64_t>(config.seed());
  if (job.label_fraction() > 0 && job.label_fraction() < 1) {
    SSLAB_ASSIGN_OR_RETURN(
        data.train,
        evaluator::BalancedSubset(data.train, job.label_fraction(), seed));
  }
  const bool has_val =
      data.val.features.defined() && data.val.features.size(0) > 0;

  absl::StatusOr<evaluator::ProbeResult> result;
  std::map<std::string, std::string> hyperparameters;
  switch (job.probe_kind()) {
    case v1::PROBE_KIND_LBFGS: {
      evaluator::LbfgsProbeOptions options;
      options.device = device;
      if (!has_val) options.l2_grid = {1e-4};
      result = evaluator::RunLbfgsProbe(data, options);
      break;
    }
    case v1::PROBE_KIND_SGD: {
      evaluator::SgdProbeOptions options;
      options.device = device;
      options.seed = seed;
      options.decay_epochs = {options.epochs / 2, options.epochs * 3 / 4};
      result = evaluator::RunSgdProbe(data, options);
      hyperparameters["epochs"] = std::to_string(options.epochs);
      hyperparameters["learning_rate"] = absl::StrCat(options.learning_rate);
      break;
    }
    case v1::PROBE_KIND_MLP: {
      evaluator::MlpProbeOptions options;
      options.device = device;
      options.seed = seed;
      result = evaluator::RunMlpProbe(data, options);
      hyperparameters["hidden_units"] = std::to_string(options.hidden_units);
      hyperparameters["epochs"] = std::to_string(options.epochs);
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("probe_kind: unsupported value ", job.probe_kind()));
  }
  if (!result.ok()) return result.status();
  hyperparameters["l2"] = absl::StrCat(result->chosen_l2);
  hyperparameters["train_rows"] = std::to_string(data.train.features.size(0));

  v1::RecordResultRequest test;
  test.set_split("test");
  test.set_top1(result->test_top1);
  test.set_top5(result->test_top5);
  for (const auto& [k, v] : hyperparameters)
    (*test.mutable_hyperparameters())[k] = v;
  SSLAB_RETURN_IF_ERROR(context.RecordResult(test));
  if (has_val && !std::isnan(result->val_top1)) {
    v1::RecordResultRequest val = test;
    val.set_split("val");
    val.set_top1(result->val_top1);
    val.set_top5(0);
    SSLAB_RETURN_IF_ERROR(context.RecordResult(val));
  }
  SSLAB_LOG(INFO) << "run " << job.run_id() << " " << job.layer() << " "
                  << v1::ProbeKind_Name(job.probe_kind()) << ": test top-1 "
                  << result->test_top1;
  context.ReportProgress(1.0, 0, 0, {{"test_top1", result->test_top1}});
  return absl::OkStatus();
}

}  // namespace sslab::services
