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
#include "data/batch_source.h"
#include "evaluator/feature_shard.h"
#include "evaluator/pooling.h"
#include "models/model.h"

namespace sslab::evaluator {

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
// one epoch (epoch 0) of `source` into out_dir/split/. A batch's views are
// [B, V, C, H, W]: V = 1 for whole images, V > 1 for patch grids, whose
// per-patch features are averaged (REFERENCE.md). Puts the model in eval mode
// (BatchNorm uses its running statistics), folds its BatchNorm when asked,
// and runs it under inference mode. Returns the shards, layers first (in
// network order) then labels.
// Errors: INVALID_ARGUMENT naming "layers" for an endpoint the architecture
// does not have, "split" for an empty name or an empty source, "views" /
// "classes" for malformed batches (wrong rank, label count, view count
// changing between batches), "model" when it produces NaN/Inf; the source's
// own errors as is; RESOURCE_EXHAUSTED for out of memory; INTERNAL for I/O.
absl::StatusOr<std::vector<LayerShard>> ExtractFeatures(
    models::BackboneImpl& model, data::BatchSource& source,
    const ExtractionOptions& options, const std::filesystem::path& out_dir,
    const std::string& split);

// The file a layer's shard of `split` is written to.
std::filesystem::path ShardPath(const std::filesystem::path& out_dir,
                                const std::string& split,
                                const std::string& layer);

}  // namespace sslab::evaluator

#endif  // SSLAB_EVALUATOR_EXTRACTOR_H_
