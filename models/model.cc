#include "models/model.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/utils.h>

#include <exception>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "models/internal/layers.h"
#include "models/internal/resnet.h"
#include "models/internal/revnet.h"
#include "models/internal/vgg.h"

namespace sslab::models {
namespace {

absl::Status ValidateOptions(const ModelOptions& o) {
  if (o.width < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "width: the widening factor k must be >= 1, got ", o.width));
  }
  if (o.in_channels < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("in_channels must be >= 1, got ", o.in_channels));
  }
  if (o.num_outputs < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_outputs must be >= 0, got ", o.num_outputs));
  }
  if (o.image_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("image_size must be >= 0, got ", o.image_size));
  }
  if (!(o.batch_norm_momentum >= 0.0 && o.batch_norm_momentum <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch_norm_momentum must be in [0, 1], got ", o.batch_norm_momentum));
  }
  if (o.architecture == Architecture::kVgg19Bn && !o.last_relu) {
    return absl::InvalidArgumentError(
        "last_relu: VGG19-BN has no (-) variant (fc7 always ends with a ReLU)");
  }
  if (o.architecture == Architecture::kVgg19Bn &&
      internal::VggFc6Kernel(o) < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image_size: ", internal::ResolvedImageSize(o),
        " px is too small for VGG19-BN (needs >= ", o.small_input ? 16 : 32,
        ")"));
  }
  if (o.architecture == Architecture::kResNet50V1 && !o.last_relu) {
    return absl::InvalidArgumentError(
        "last_relu: ResNet50 v1 always ends with a ReLU; v1(-) does not exist");
  }
  return absl::OkStatus();
}

}  // namespace

torch::Tensor BackboneImpl::forward(const torch::Tensor& images) {
  TORCH_CHECK(options_.num_outputs > 0,
              "forward() needs a head: num_outputs is 0");
  return ForwardEndpoints(images, {"logits"}).at("logits");
}

absl::StatusOr<std::shared_ptr<BackboneImpl>> CreateModel(
    const ModelOptions& options) {
  SSLAB_RETURN_IF_ERROR(ValidateOptions(options));
  internal::NetworkConfig config;
  config.options = options;
  try {
    switch (options.architecture) {
      case Architecture::kResNet50V1:
      case Architecture::kResNet50V2:
        return std::shared_ptr<BackboneImpl>(
            std::make_shared<internal::ResNetImpl>(config));
      case Architecture::kRevNet50:
        return std::shared_ptr<BackboneImpl>(
            std::make_shared<internal::RevNetImpl>(config));
      case Architecture::kVgg19Bn:
        return std::shared_ptr<BackboneImpl>(
            std::make_shared<internal::VggImpl>(config));
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "out of memory building ", experiment::Name(options.architecture),
        " k=", options.width));
  } catch (const c10::Error& e) {
    return absl::InternalError(e.what_without_backtrace());
  }
  return absl::InvalidArgumentError("architecture: unknown value");
}

absl::StatusOr<std::map<std::string, std::vector<int64_t>>> EndpointShapes(
    BackboneImpl& model, int channels, int height, int width) {
  if (channels < 1 || height < 1 || width < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("image size: need positive channels/height/width, got ",
                     channels, "x", height, "x", width));
  }
  const bool was_training = model.is_training();
  torch::TensorOptions tensor_options;
  auto parameters = model.parameters();
  if (!parameters.empty()) {
    tensor_options = tensor_options.device(parameters.front().device())
                         .dtype(parameters.front().dtype());
  }
  std::map<std::string, std::vector<int64_t>> shapes;
  try {
    torch::NoGradGuard no_grad;
    model.eval();  // batch of one; leaves running statistics alone
    torch::Tensor image =
        torch::zeros({1, channels, height, width}, tensor_options);
    for (const auto& [name, value] : model.ForwardEndpoints(image)) {
      std::vector<int64_t> shape(value.sizes().begin() + 1,
                                 value.sizes().end());
      shapes.emplace(name, std::move(shape));
    }
  } catch (const c10::Error& e) {
    model.train(was_training);
    return absl::InvalidArgumentError(absl::StrCat(
        "image size ", channels, "x", height, "x", width,
        " does not fit the network: ", e.what_without_backtrace()));
  }
  model.train(was_training);
  return shapes;
}

absl::Status FoldBatchNormForInference(BackboneImpl& model) {
  if (model.is_training()) {
    return absl::FailedPreconditionError(
        "BatchNorm folding needs the model in eval mode (running statistics)");
  }
  if (auto* resnet = model.as<internal::ResNetImpl>()) {
    resnet->FoldRootBatchNorm();
  }
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* unit = module->as<internal::BottleneckV1Impl>()) {
      unit->FoldBatchNorm();
    } else if (auto* unit = module->as<internal::BottleneckV2Impl>()) {
      unit->FoldBatchNorm();
    } else if (auto* block = module->as<internal::ConvBnReluImpl>()) {
      block->FoldBatchNorm();
    }
  }
  return absl::OkStatus();
}

}  // namespace sslab::models
