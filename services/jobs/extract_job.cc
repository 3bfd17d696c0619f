// EXTRACT: features of one checkpoint at every planned layer, for the
// train / val / test splits, streamed into shards and registered.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/torch_util/runtime.h"
#include "data/loader.h"
#include "evaluator/extractor.h"
#include "services/common/run_config.h"
#include "services/jobs/job_config.h"
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
      if (layer != kPixelsLayer) layers.push_back(layer);
    }
    std::map<std::string, torch::Tensor> endpoints;
    if (wanted.empty() || !layers.empty()) {
      endpoints = backbone_->ForwardEndpoints(images, layers);
    }
    if (wanted.empty() || layers.size() < wanted.size()) {
      endpoints[kPixelsLayer] = images;
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
    std::vector<std::string> names = {kPixelsLayer};
    for (std::string& name : backbone_->EndpointNames()) {
      names.push_back(std::move(name));
    }
    return names;
  }

 private:
  std::shared_ptr<models::BackboneImpl> backbone_;
};

}  // namespace

absl::Status RunExtractJob(const v1::JobAssignment& assignment,
                           JobContext& context, const WorkerOptions& worker) {
  const v1::RunConfig& config = assignment.config();
  const int threads = ThreadsFor(config, worker);
  ConfigureTorchThreads(threads);
  SSLAB_ASSIGN_OR_RETURN(c10::Device device,
                         ResolveDevice(DeviceName(assignment.device())));
  const auto checkpoint_path =
      ResolveArtifact(worker, assignment.checkpoint().path());
  SSLAB_ASSIGN_OR_RETURN(
      trainer::LoadedModel loaded,
      trainer::LoadModelFromCheckpoint(checkpoint_path, device));

  std::vector<std::string> splits(assignment.splits().begin(),
                                  assignment.splits().end());
  if (splits.empty()) splits = {"train", "val", "test"};
  evaluator::ExtractionOptions options;
  options.layers.assign(assignment.layers().begin(), assignment.layers().end());
  options.device = device;
  std::shared_ptr<models::BackboneImpl> model = loaded.backbone;
  if (std::find(options.layers.begin(), options.layers.end(), kPixelsLayer) !=
      options.layers.end()) {
    model = std::make_shared<WithPixelsImpl>(model);
  }
  const std::filesystem::path out_dir =
      worker.artifact_dir / "runs" / std::to_string(assignment.job().run_id()) /
      "features" /
      absl::StrCat("ckpt-", assignment.checkpoint().checkpoint_id());

  v1::RegisterFeaturesRequest request;
  for (size_t i = 0; i < splits.size(); ++i) {
    if (context.cancelled()) return absl::CancelledError("extraction stopped");
    SSLAB_ASSIGN_OR_RETURN(data::Split split, data::ParseSplit(splits[i]));
    SSLAB_ASSIGN_OR_RETURN(std::shared_ptr<const data::Dataset> dataset,
                           data::OpenDataset(DatasetSpecFor(config), split));
    SSLAB_ASSIGN_OR_RETURN(
        std::shared_ptr<const data::Transform> transform,
        data::MakeTransform(EvalTransformFor(config, dataset->channels())));
    data::LoaderOptions loader_options;
    loader_options.batch_size = 256;
    loader_options.threads = threads;
    loader_options.shuffle = false;
    loader_options.drop_last = false;
    loader_options.pin_memory = device.is_cuda();
    data::Loader loader(dataset, transform, loader_options);
    SSLAB_RETURN_IF_ERROR(loader.StartEpoch(0));
    evaluator::LoaderBatchSource<data::Loader> source(&loader);
    SSLAB_ASSIGN_OR_RETURN(std::vector<evaluator::LayerShard> shards,
                           evaluator::ExtractFeatures(*model, source, options,
                                                      out_dir, splits[i]));
    for (const evaluator::LayerShard& shard : shards) {
      if (shard.layer == "labels") continue;  // beside every layer's shard
      v1::FeatureShard* registered = request.add_features();
      registered->set_layer(shard.layer);
      registered->set_split(splits[i]);
      registered->set_path(RelativeArtifact(worker, shard.path));
      registered->set_sha256(shard.info.payload_sha256);
      registered->set_rows(shard.info.rows);
      registered->set_dims(shard.info.dims);
    }
    SSLAB_LOG(INFO) << "run " << assignment.job().run_id() << ": extracted "
                    << splits[i] << " (" << dataset->size() << " images, "
                    << shards.size() - 1 << " layers)";
    context.ReportProgress(static_cast<double>(i + 1) / splits.size(), 0, 0,
                           {{"images", static_cast<double>(dataset->size())}});
  }
  return context.RegisterFeatures(std::move(request));
}

}  // namespace sslab::services
