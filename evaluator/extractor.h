// Per-layer feature extraction: runs a frozen network once over a split and
// streams every requested endpoint, pooled to at most ~pool_cap values per
// image, into one shard per layer (plus one "labels" shard).
//
// Output, for split S under `out_dir`:
//   out_dir/S/<layer>.feat  [rows, dims] float32 or float16
//   out_dir/S/labels.feat   [rows, 1] int64
// Only one batch of features is in memory at a time. All shards of a split
// are written to temporary files and renamed into place only after the last
// batch succeeded, so on any error no shard of this call appears.
//
// Not thread-safe with respect to the model (a torch module); different
// models may be extracted concurrently.
#ifndef SSLAB_EVALUATOR_EXTRACTOR_H_
#define SSLAB_EVALUATOR_EXTRACTOR_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evaluator/feature_shard.h"
#include "evaluator/pooling.h"
#include "models/model.h"

namespace sslab::evaluator {

// One batch of images and their class labels. `images` is float [B, C, H, W],
// or [B, P, C, H, W] for patch models (Jigsaw / Relative Patch Location:
// P = 9 grid patches), whose per-patch features are averaged.
struct ExampleBatch {
  at::Tensor images;
  at::Tensor labels;  // int64 [B]
};

// The seam between extraction and data loading: tests feed generated
// tensors; services adapt data::Loader (see LoaderBatchSource).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // The next batch, nullopt at the end of the split, or the error that
  // stopped reading (returned as is by ExtractFeatures).
  virtual absl::StatusOr<std::optional<ExampleBatch>> Next() = 0;
};

// Serves slices of in-memory tensors, in order.
class TensorBatchSource : public BatchSource {
 public:
  TensorBatchSource(at::Tensor images, at::Tensor labels, int64_t batch_size);
  absl::StatusOr<std::optional<ExampleBatch>> Next() override;

 private:
  at::Tensor images_, labels_;
  int64_t batch_size_;
  int64_t next_ = 0;
};

// Adapts any callable with data::Loader::Next()'s shape. A data::Batch has
// views [B, V, C, H, W] and classes [B]: V = 1 becomes [B, C, H, W], V = 9
// (patch transforms) stays 5-D and is averaged over patches.
template <typename Loader>
class LoaderBatchSource : public BatchSource {
 public:
  explicit LoaderBatchSource(Loader* loader) : loader_(loader) {}
  absl::StatusOr<std::optional<ExampleBatch>> Next() override {
    auto next = loader_->Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) return std::nullopt;
    auto& batch = **next;
    at::Tensor images = batch.views;
    if (images.dim() == 5 && images.size(1) == 1) images = images.select(1, 0);
    return ExampleBatch{images, batch.classes};
  }

 private:
  Loader* loader_;
};

struct ExtractionOptions {
  // Endpoints to extract; empty = all of model.EndpointNames(). "logits" is
  // accepted when the model has a head.
  std::vector<std::string> layers;
  // Endpoints with more values per image are pooled (see pooling.h).
  int64_t pool_cap = 9000;
  PoolingMode pooling = PoolingMode::kAverage;
  ShardDtype dtype = ShardDtype::kFloat32;
  // Where the network runs; the model is moved there.
  c10::Device device = c10::kCPU;
  // Fold BatchNorm into the convolutions first (models::
  // FoldBatchNormForInference): same features, fewer passes over the
  // activations (docs/benchmarks.md). Leaves the model inference-only.
  bool fold_batch_norm = true;
};

struct LayerShard {
  std::string layer;  // or "labels"
  std::filesystem::path path;
  ShardInfo info;
};

// Extracts the split `split` (a path component: "train", "val", "test") from
// `source` into out_dir/split/. Puts the model in eval mode (BatchNorm uses
// its running statistics), folds its BatchNorm when asked, and runs it under
// inference mode. Returns the
// shards, layers first (in network order) then labels.
// Errors: INVALID_ARGUMENT naming "layers" for an endpoint the architecture
// does not have, "split" for an empty name or an empty source, "images" /
// "labels" for malformed batches (wrong rank, label count, patch count
// changing between batches), "model" when it produces NaN/Inf; the source's
// own errors as is; RESOURCE_EXHAUSTED for out of memory; INTERNAL for I/O.
absl::StatusOr<std::vector<LayerShard>> ExtractFeatures(
    models::BackboneImpl& model, BatchSource& source,
    const ExtractionOptions& options, const std::filesystem::path& out_dir,
    const std::string& split);

// The file a layer's shard of `split` is written to.
std::filesystem::path ShardPath(const std::filesystem::path& out_dir,
                                const std::string& split,
                                const std::string& layer);

}  // namespace sslab::evaluator

#endif  // SSLAB_EVALUATOR_EXTRACTOR_H_
