// EXTRACT: features of one checkpoint at every planned layer, for the
// train / val / test splits, streamed into shards and registered.
#include <filesystem>

#include "common/log.h"
#include "common/status_macros.h"
#include "common/torch_util/runtime.h"
#include "data/loader.h"
#include "evaluator/extractor.h"
#include "services/jobs/artifacts.h"
#include "services/jobs/job_options.h"
#include "services/jobs/jobs.h"
#include "trainer/checkpoint.h"

namespace sslab::services {
namespace {

// The backbone plus the "pixels" pseudo-endpoint (its input), so that the
// raw-pixel baseline is extracted, pooled and probed like any layer.
class WithPixelsImpl final : public models::BackboneImpl {
 public:
  explicit WithPixelsImpl(std::shared_ptr<models::BackboneImpl> backbone)
      : models::BackboneImpl(backbone->options()),
        backbone_(register_module("backbone", std::move(backbone))) {}

  std::map<std::string, torch::Tensor> ForwardEndpoints(
      const torch::Tensor& images,
      const std::vector<std::string>& wanted) override {
    std::vector<std::string> layers;
    for (const std::string& layer : wanted) {
      if (layer != experiment::kPixelsLayer) layers.push_back(layer);
    }
    std::map<std::string, torch::Tensor> endpoints;
    if (wanted.empty() || !layers.empty()) {
      endpoints = backbone_->ForwardEndpoints(images, layers);
    }
    if (wanted.empty() || layers.size() < wanted.size()) {
      endpoints[experiment::kPixelsLayer] = images;
    }
    return endpoints;
  }

  std::shared_ptr<torch::nn::Module> clone(
      const c10::optional<torch::Device>& device) const override {
    return std::make_shared<WithPixelsImpl>(
        std::dynamic_pointer_cast<models::BackboneImpl>(
            backbone_->clone(device)));
  }

  std::vector<std::string> EndpointNames() const override {
    std::vector<std::string> names = {experiment::kPixelsLayer};
    for (std::string& name : backbone_->EndpointNames()) {
      names.push_back(std::move(name));
    }
    return names;
  }

 private:
  std::shared_ptr<models::BackboneImpl> backbone_;
};

}  // namespace

absl::Status RunExtractJob(const experiment::JobAssignment& assignment,
                           JobContext& context, const WorkerOptions& worker) {
  const experiment::RunConfig& config = assignment.config;
  const std::filesystem::path& artifacts = context.artifact_dir();
  if (!assignment.checkpoint) {
    return absl::InvalidArgumentError("checkpoint: an EXTRACT job needs one");
  }
  SSLAB_RETURN_IF_ERROR(
      CheckDatasetPath(config.dataset.path, worker.dataset_roots));
  const int threads = ThreadsFor(config, worker.threads);
  ConfigureTorchThreads(threads);
  SSLAB_ASSIGN_OR_RETURN(c10::Device device,
                         ResolveDevice(assignment.device.ToString()));
  SSLAB_ASSIGN_OR_RETURN(
      const std::filesystem::path checkpoint_path,
      OpenVerifiedArtifact(artifacts, assignment.checkpoint->path,
                           assignment.checkpoint->sha256, "checkpoint.path"));
  SSLAB_ASSIGN_OR_RETURN(
      trainer::LoadedModel loaded,
      trainer::LoadModelFromCheckpoint(checkpoint_path, device));

  evaluator::ExtractionOptions options;
  options.layers = assignment.layers;
  options.device = device;
  options.dtype = config.evaluation.feature_dtype ==
                          experiment::FeatureDtype::kFloat16
                      ? evaluator::ShardDtype::kFloat16
                      : evaluator::ShardDtype::kFloat32;
  std::shared_ptr<models::BackboneImpl> model = loaded.backbone;
  if (std::find(options.layers.begin(), options.layers.end(),
                experiment::kPixelsLayer) != options.layers.end()) {
    model = std::make_shared<WithPixelsImpl>(model);
  }
  const std::filesystem::path out_dir =
      FeatureDir(artifacts, assignment.run_id, assignment.checkpoint->id);

  std::vector<experiment::FeatureRef> features;
  const size_t splits = assignment.splits.size();
  for (size_t i = 0; i < splits; ++i) {
    if (context.cancelled()) return absl::CancelledError("extraction stopped");
    const experiment::Split split = assignment.splits[i];
    const std::string split_name(experiment::Name(split));
    SSLAB_ASSIGN_OR_RETURN(
        std::shared_ptr<const data::Dataset> dataset,
        MissingOnThisWorker(data::OpenDataset(DatasetSpecFor(config), split)));
    SSLAB_ASSIGN_OR_RETURN(
        std::shared_ptr<const data::Transform> transform,
        data::MakeTransform(EvalTransformFor(config, dataset->channels())));
    data::Loader loader(dataset, transform,
                        ExtractLoaderOptionsFor(device, threads));
    SSLAB_ASSIGN_OR_RETURN(std::vector<evaluator::LayerShard> shards,
                           evaluator::ExtractFeatures(*model, loader, options,
                                                      out_dir, split_name));
    for (const evaluator::LayerShard& shard : shards) {
      if (shard.layer == "labels") continue;  // beside every layer's shard
      features.push_back(
          {shard.layer, split, RelativeArtifact(artifacts, shard.path),
           shard.info.payload_sha256, shard.info.rows, shard.info.dims,
           shard.info.file_bytes});
    }
    SSLAB_LOG(INFO) << "run " << assignment.run_id << ": extracted "
                    << split_name << " (" << dataset->size() << " images, "
                    << shards.size() - 1 << " layers)";
    context.ReportProgress(static_cast<double>(i + 1) / splits, 0, 0,
                           {{"images", static_cast<double>(dataset->size())}});
  }
  return context.RegisterFeatures(features);
}

}  // namespace sslab::services
