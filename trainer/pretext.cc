#include "trainer/pretext.h"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/torch.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/triplet_loss.h"

namespace sslab::trainer {
namespace {

constexpr int64_t kGridCells = 9;
constexpr int64_t kCentreCell = 4;
constexpr int64_t kRotations = 4;

torch::Tensor ToNetworkLayout(torch::Tensor x, bool channels_last) {
  return channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast)
                       : x.contiguous();
}

// Cross-entropy and the number of arg-max hits, in float.
StepOutput Classification(const torch::Tensor& logits,
                          const torch::Tensor& labels) {
  torch::Tensor l = logits.to(torch::kFloat);
  StepOutput out;
  out.loss = torch::nn::functional::cross_entropy(l, labels);
  out.correct = l.detach().argmax(1).eq(labels).sum().to(torch::kFloat);
  out.total = labels.size(0);
  return out;
}

}  // namespace

PatchHeadImpl::PatchHeadImpl(int64_t in, int64_t hidden, int64_t out,
                             double dropout) {
  fc1_ = register_module("fc1", torch::nn::Linear(in, hidden));
  bn_ = register_module("bn", torch::nn::BatchNorm1d(hidden));
  dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
  fc2_ = register_module("fc2", torch::nn::Linear(hidden, out));
}

torch::Tensor PatchHeadImpl::forward(const torch::Tensor& x) {
  return fc2_(dropout_(torch::relu(bn_(fc1_(x)))));
}

models::ModelOptions PretextModelImpl::BackboneOptions(
    const TrainerOptions& options) {
  models::ModelOptions m = options.model;
  switch (options.method) {
    case Method::kRotation:
      m.num_outputs = kRotations;
      break;
    case Method::kSupervised:
      m.num_outputs = options.num_classes;
      break;
    case Method::kExemplar:
    case Method::kJigsaw:
    case Method::kRelativePatchLocation:
      m.num_outputs = options.embedding_dim;
      break;
  }
  m.patch_strides = IsPatchMethod(options.method);
  // VGG19-BN's fc6 depends on the input side; say it rather than guess.
  if (m.image_size == 0) m.image_size = ViewSize(options);
  return m;
}

absl::StatusOr<std::shared_ptr<PretextModelImpl>> PretextModelImpl::Create(
    const TrainerOptions& options, torch::Tensor permutations) {
  SSLAB_RETURN_IF_ERROR(ValidateTrainerOptions(options));
  if (options.method == Method::kJigsaw &&
      (!permutations.defined() || permutations.dim() != 2 ||
       permutations.size(1) != kGridCells)) {
    return absl::InvalidArgumentError(
        "permutations: Jigsaw needs an int64 [P, 9] permutation set");
  }
  SSLAB_ASSIGN_OR_RETURN(std::shared_ptr<models::BackboneImpl> backbone,
                         models::CreateModel(BackboneOptions(options)));
  try {
    return std::shared_ptr<PretextModelImpl>(
        new PretextModelImpl(options, std::move(backbone), permutations));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("building the pretext head: ", e.what()));
  }
}

PretextModelImpl::PretextModelImpl(
    const TrainerOptions& options,
    std::shared_ptr<models::BackboneImpl> backbone, torch::Tensor permutations)
    : method_(options.method), triplet_margin_(options.triplet_margin) {
  backbone_ = register_module("backbone", std::move(backbone));
  if (method_ == Method::kJigsaw) {
    permutations_ = register_buffer("permutations",
                                    permutations.to(torch::kLong).contiguous());
    head_ = register_module(
        "head",
        PatchHead(kGridCells * options.embedding_dim, options.head_hidden,
                  permutations_.size(0), options.head_dropout));
  } else if (method_ == Method::kRelativePatchLocation) {
    head_ = register_module(
        "head", PatchHead(2 * options.embedding_dim, options.head_hidden,
                          kGridCells - 1, options.head_dropout));
  }
}

absl::Status PretextModelImpl::CheckBatch(const data::Batch& batch) const {
  const torch::Tensor& v = batch.views;
  if (!v.defined() || v.dim() != 5) {
    return absl::InvalidArgumentError(
        "views: expected a float tensor [B, V, C, H, W]");
  }
  const int64_t b = v.size(0), views = v.size(1);
  if (b < 1) return absl::InvalidArgumentError("views: empty batch");
  if (v.size(2) != backbone_->options().in_channels) {
    return absl::InvalidArgumentError(
        absl::StrCat("views: ", v.size(2), " channels, the model takes ",
                     backbone_->options().in_channels));
  }
  switch (method_) {
    case Method::kRotation:
      if (views != 1 && views != kRotations) {
        return absl::InvalidArgumentError(absl::StrCat(
            "views: rotation takes 1 or 4 views per image, got ", views));
      }
      if (views == kRotations && batch.labels.defined() &&
          (batch.labels.dim() != 2 || batch.labels.size(0) != b ||
           batch.labels.size(1) != views)) {
        return absl::InvalidArgumentError("labels: expected int64 [B, 4]");
      }
      break;
    case Method::kExemplar:
      if (views < 2) {
        return absl::InvalidArgumentError(
            "views: exemplar needs >= 2 crops per image");
      }
      if (b < 2) {
        return absl::InvalidArgumentError(
            "batch_size: exemplar needs >= 2 images per batch (negatives)");
      }
      break;
    case Method::kJigsaw:
    case Method::kRelativePatchLocation:
      if (views != kGridCells) {
        return absl::InvalidArgumentError(absl::StrCat(
            "views: patch methods take 9 patches per image, got ", views));
      }
      break;
    case Method::kSupervised:
      if (!batch.classes.defined() || batch.classes.dim() != 1 ||
          batch.classes.size(0) != b) {
        return absl::InvalidArgumentError(
            "classes: supervised training needs int64 class labels [B]");
      }
      break;
  }
  return absl::OkStatus();
}

torch::Tensor PretextModelImpl::Embed(const torch::Tensor& views,
                                      bool channels_last) {
  return backbone_->forward(
      ToNetworkLayout(views.flatten(0, 1), channels_last));
}

StepOutput PretextModelImpl::Compute(const data::Batch& batch,
                                     at::Generator& generator,
                                     bool channels_last) {
  const torch::Tensor& views = batch.views;
  const int64_t b = views.size(0);
  const int64_t v = views.size(1);
  const auto long_options =
      torch::TensorOptions().dtype(torch::kLong).device(views.device());
  switch (method_) {
    case Method::kRotation: {
      torch::Tensor x = views;
      torch::Tensor labels;
      if (v == 1) {
        torch::Tensor img = views.select(1, 0);
        x = torch::stack(
            {img, torch::rot90(img, 1, {2, 3}), torch::rot90(img, 2, {2, 3}),
             torch::rot90(img, 3, {2, 3})},
            1);
        labels = torch::arange(kRotations, long_options).repeat({b});
      } else if (batch.labels.defined()) {
        labels = batch.labels.to(long_options).reshape({-1});
      } else {
        labels = torch::arange(kRotations, long_options).repeat({b});
      }
      return Classification(Embed(x, channels_last), labels);
    }
    case Method::kSupervised: {
      torch::Tensor labels =
          batch.classes.to(long_options).repeat_interleave(v);
      return Classification(Embed(views, channels_last), labels);
    }
    case Method::kExemplar: {
      torch::Tensor embeddings = Embed(views, channels_last).to(torch::kFloat);
      torch::Tensor labels =
          torch::arange(b, long_options).repeat_interleave(v);
      // Distances in float32, outside autocast: bf16 loses the small
      // differences semi-hard mining compares.
      c10::impl::ExcludeDispatchKeyGuard no_autocast(
          c10::autocast_dispatch_keyset);
      StepOutput out;
      out.loss = TripletSemiHardLoss(embeddings, labels, triplet_margin_);
      out.total = b * v;
      out.correct = NearestNeighbourAccuracy(embeddings, labels) *
                    static_cast<double>(out.total);
      return out;
    }
    case Method::kJigsaw: {
      const int64_t p = permutations_.size(0);
      torch::Tensor chosen =
          torch::randint(p, {b}, generator,
                         torch::TensorOptions().dtype(torch::kLong))
              .to(views.device());
      // Position j of image i's shuffled sequence holds cell perm[j].
      torch::Tensor cells =
          permutations_.index_select(0, chosen) +
          torch::arange(b, long_options).unsqueeze(1) * kGridCells;
      torch::Tensor shuffled =
          views.flatten(0, 1).index_select(0, cells.view({-1}));
      torch::Tensor embeddings =
          backbone_->forward(ToNetworkLayout(shuffled, channels_last));
      torch::Tensor logits = head_(embeddings.reshape({b, -1}));
      return Classification(logits, chosen);
    }
    case Method::kRelativePatchLocation: {
      torch::Tensor embeddings =
          Embed(views, channels_last).reshape({b, kGridCells, -1});
      torch::Tensor neighbours = embeddings.index_select(
          1, torch::tensor({0, 1, 2, 3, 5, 6, 7, 8}, long_options));
      torch::Tensor centre =
          embeddings.narrow(1, kCentreCell, 1)
              .expand({b, kGridCells - 1, embeddings.size(2)});
      torch::Tensor pairs = torch::cat({neighbours, centre}, 2)
                                .reshape({b * (kGridCells - 1), -1});
      torch::Tensor labels =
          torch::arange(kGridCells - 1, long_options).repeat({b});
      return Classification(head_(pairs), labels);
    }
  }
  return {};
}

}  // namespace sslab::trainer
