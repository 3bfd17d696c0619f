#include "evaluator/extractor.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <memory>
#include <new>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace sslab::evaluator {
namespace {

absl::Status TorchError(const c10::Error& e, absl::string_view what) {
  const std::string msg = e.what_without_backtrace();
  if (msg.find("out of memory") != std::string::npos ||
      msg.find("can't allocate") != std::string::npos) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": ", msg));
  }
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", msg));
}

absl::StatusOr<std::vector<std::string>> ResolveLayers(
    const models::BackboneImpl& model, const std::vector<std::string>& asked) {
  std::vector<std::string> known = model.EndpointNames();
  if (model.options().num_outputs > 0) known.push_back("logits");
  if (asked.empty()) return model.EndpointNames();
  std::vector<std::string> out;
  for (const std::string& name : known) {
    if (std::find(asked.begin(), asked.end(), name) != asked.end()) {
      out.push_back(name);
    }
  }
  for (const std::string& name : asked) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "layers: '", name, "' is not an endpoint of ",
          std::string(experiment::Name(model.options().architecture)),
          " (one of ", absl::StrJoin(known, ", "), ")"));
    }
    if (name == "labels") {
      return absl::InvalidArgumentError("layers: 'labels' is reserved");
    }
  }
  return out;
}

}  // namespace

std::filesystem::path ShardPath(const std::filesystem::path& out_dir,
                                const std::string& split,
                                const std::string& layer) {
  return out_dir / split / (layer + ".feat");
}

absl::StatusOr<std::vector<LayerShard>> ExtractFeatures(
    models::BackboneImpl& model, data::BatchSource& source,
    const ExtractionOptions& options, const std::filesystem::path& out_dir,
    const std::string& split) {
  if (split.empty() || split.find('/') != std::string::npos || split == "." ||
      split == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("split: '", split, "' is not a valid name"));
  }
  if (options.pool_cap < 1) {
    return absl::InvalidArgumentError("pool_cap: must be >= 1");
  }
  SSLAB_ASSIGN_OR_RETURN(std::vector<std::string> layers,
                         ResolveLayers(model, options.layers));

  std::vector<std::unique_ptr<ShardWriter>> writers(layers.size());
  std::unique_ptr<ShardWriter> label_writer;
  int64_t patches = -1;  // views per example: 1, or a patch grid's count
  int64_t rows = 0;
  try {
    model.to(options.device);
    model.eval();
    if (options.fold_batch_norm) {
      SSLAB_RETURN_IF_ERROR(models::FoldBatchNormForInference(model));
    }
    c10::InferenceMode inference;
    SSLAB_RETURN_IF_ERROR(source.StartEpoch(0));
    while (true) {
      SSLAB_ASSIGN_OR_RETURN(std::optional<data::Batch> batch, source.Next());
      if (!batch.has_value()) break;
      const at::Tensor& views = batch->views;
      if (!views.defined() || views.dim() != 5 || views.size(0) == 0 ||
          views.size(1) == 0) {
        return absl::InvalidArgumentError(
            "views: expected a non-empty [B, V, C, H, W] batch");
      }
      const int64_t b = views.size(0);
      const at::Tensor& classes = batch->classes;
      if (!classes.defined() || classes.dim() != 1 || classes.size(0) != b ||
          classes.scalar_type() != at::kLong) {
        return absl::InvalidArgumentError(
            absl::StrCat("classes: expected ", b,
                         " int64 class labels for the batch at row ", rows));
      }
      // Whole images (V = 1) or patch grids (V > 1), the same for a split.
      const int64_t v = views.size(1);
      if (patches >= 0 && v != patches) {
        return absl::InvalidArgumentError(
            "views: the view count changed between batches");
      }
      patches = v;
      at::Tensor x =
          views.to(options.device, at::kFloat)
              .reshape({b * v, views.size(2), views.size(3), views.size(4)});
      std::map<std::string, at::Tensor> endpoints =
          model.ForwardEndpoints(x, layers);
      for (size_t i = 0; i < layers.size(); ++i) {
        auto it = endpoints.find(layers[i]);
        if (it == endpoints.end()) {
          return absl::InternalError(
              absl::StrCat("model did not return endpoint '", layers[i], "'"));
        }
        at::Tensor f =
            PoolAndFlatten(it->second, options.pool_cap, options.pooling);
        if (v > 1) f = f.view({b, v, f.size(1)}).mean(1);
        if (!at::isfinite(f).all().item<bool>()) {
          return absl::InvalidArgumentError(
              absl::StrCat("model: produced NaN or Inf at layer ", layers[i]));
        }
        if (writers[i] == nullptr) {
          SSLAB_ASSIGN_OR_RETURN(
              writers[i],
              ShardWriter::Create(ShardPath(out_dir, split, layers[i]),
                                  layers[i], f.size(1), options.dtype));
        }
        SSLAB_RETURN_IF_ERROR(writers[i]->Append(f));
      }
      if (label_writer == nullptr) {
        SSLAB_ASSIGN_OR_RETURN(
            label_writer,
            ShardWriter::Create(ShardPath(out_dir, split, "labels"), "labels",
                                1, ShardDtype::kInt64));
      }
      SSLAB_RETURN_IF_ERROR(label_writer->Append(classes.unsqueeze(1)));
      rows += b;
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("feature extraction: out of memory");
  } catch (const c10::Error& e) {
    return TorchError(e, "views");
  }
  if (rows == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("split: '", split, "' has no examples"));
  }
  writers.push_back(std::move(label_writer));
  layers.push_back("labels");
  std::vector<LayerShard> out;
  for (size_t i = 0; i < writers.size(); ++i) {
    absl::StatusOr<ShardInfo> info = writers[i]->Finish();
    if (!info.ok()) {
      // Take back the shards already renamed: all or nothing.
      for (const LayerShard& done : out) {
        std::error_code ec;
        std::filesystem::remove(done.path, ec);
      }
      return info.status();
    }
    out.push_back({layers[i], ShardPath(out_dir, split, layers[i]), *info});
  }
  return out;
}

}  // namespace sslab::evaluator
