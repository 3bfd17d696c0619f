#include "models/internal/layers.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/conv.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_join.h"
#include "models/internal/batch_norm_relu.h"

namespace sslab::models::internal {

std::array<int64_t, 4> StageStrides(const ModelOptions& options) {
  return {1, 2, 2, options.patch_strides ? 1 : 2};
}

torch::nn::Conv2d MakeConv(int64_t in_channels, int64_t out_channels,
                           int64_t kernel, int64_t stride, int64_t padding) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in_channels, out_channels, kernel)
          .stride(stride)
          .padding(padding)
          .bias(false));
}

torch::nn::BatchNorm2d MakeBatchNorm(int64_t channels, double momentum) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels)
                                    .eps(kBatchNormEps)
                                    .momentum(momentum));
}

torch::nn::Conv2d FoldedConv(const torch::nn::Conv2dImpl& conv,
                             const torch::nn::BatchNorm2dImpl& bn) {
  torch::NoGradGuard no_grad;
  const torch::Tensor scale =
      bn.weight / (bn.running_var + bn.options.eps()).sqrt();
  torch::Tensor bias = bn.bias - bn.running_mean * scale;
  if (conv.bias.defined()) bias = bias + conv.bias * scale;
  const auto& o = conv.options;
  torch::nn::Conv2d folded(torch::nn::Conv2dOptions(o.in_channels(),
                                                    o.out_channels(),
                                                    o.kernel_size())
                               .stride(o.stride())
                               .padding(o.padding())
                               .dilation(o.dilation())
                               .groups(o.groups())
                               .padding_mode(o.padding_mode())
                               .bias(true));
  folded->weight.set_data(conv.weight * scale.reshape({-1, 1, 1, 1}));
  folded->bias.set_data(bias.contiguous());
  folded->train(conv.is_training());
  return folded;
}

torch::Tensor BatchNormUnlessFolded(torch::nn::BatchNorm2d& bn,
                                    const torch::Tensor& x, bool folded) {
  if (!folded) return bn(x);
  TORCH_CHECK(!bn->is_training(),
              "BatchNorm was folded for inference; this model cannot train");
  return x;
}

torch::Tensor BatchNormReluUnlessFolded(torch::nn::BatchNorm2d& bn,
                                        const torch::Tensor& x, bool folded) {
  if (!folded) return BatchNormRelu(*bn, x);
  return BatchNormUnlessFolded(bn, x, folded).relu_();
}

void InitializeWeights(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/false)) {
    if (auto* conv = child->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanIn,
                                       torch::kReLU);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* bn = child->as<torch::nn::BatchNorm2dImpl>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    } else if (auto* linear = child->as<torch::nn::LinearImpl>()) {
      torch::nn::init::kaiming_normal_(linear->weight, 0.0, torch::kFanIn,
                                       torch::kLinear);
      if (linear->bias.defined()) linear->bias.zero_();
    }
  }
}

void CopyState(const torch::nn::Module& from, torch::nn::Module& to,
               const c10::optional<torch::Device>& device) {
  torch::NoGradGuard no_grad;
  auto source_params = from.named_parameters(/*recurse=*/true);
  for (auto& item : to.named_parameters(/*recurse=*/true)) {
    item.value().copy_(source_params[item.key()]);
  }
  auto source_buffers = from.named_buffers(/*recurse=*/true);
  for (auto& item : to.named_buffers(/*recurse=*/true)) {
    item.value().copy_(source_buffers[item.key()]);
  }
  to.train(from.is_training());
  if (device.has_value()) to.to(*device);
}

torch::Tensor RootMaxPool(const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  torch::Tensor padded =
      F::pad(x, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kConstant));
  return F::max_pool2d(padded, F::MaxPool2dFuncOptions(3).stride(2));
}

BottleneckV1Impl::BottleneckV1Impl(const BottleneckOptions& options_)
    : options(options_) {
  reset();
}

void BottleneckV1Impl::reset() {
  const int64_t in = options.in_channels(), out = options.out_channels();
  const int64_t inner = out / 4;
  const double m = options.batch_norm_momentum();
  conv1 = register_module("conv1", MakeConv(in, inner, 1, 1, 0));
  bn1 = register_module("bn1", MakeBatchNorm(inner, m));
  conv2 =
      register_module("conv2", MakeConv(inner, inner, 3, options.stride(), 1));
  bn2 = register_module("bn2", MakeBatchNorm(inner, m));
  conv3 = register_module("conv3", MakeConv(inner, out, 1, 1, 0));
  bn3 = register_module("bn3", MakeBatchNorm(out, m));
  if (options.stride() > 1 || in != out) {
    shortcut_conv = register_module("shortcut_conv",
                                    MakeConv(in, out, 1, options.stride(), 0));
    shortcut_bn = register_module("shortcut_bn", MakeBatchNorm(out, m));
  }
}

torch::Tensor BottleneckV1Impl::forward(const torch::Tensor& x) {
  torch::Tensor h = BatchNormReluUnlessFolded(bn1, conv1(x), folded);
  h = BatchNormReluUnlessFolded(bn2, conv2(h), folded);
  h = BatchNormUnlessFolded(bn3, conv3(h), folded);
  // BatchNorm's backward needs its input, not its output: in-place is safe.
  if (shortcut_conv) {
    h.add_(BatchNormUnlessFolded(shortcut_bn, shortcut_conv(x), folded));
  } else {
    h.add_(x);
  }
  return h.relu_();
}

void BottleneckV1Impl::FoldBatchNorm() {
  if (folded) return;
  conv1 = replace_module("conv1", FoldedConv(*conv1, *bn1));
  conv2 = replace_module("conv2", FoldedConv(*conv2, *bn2));
  conv3 = replace_module("conv3", FoldedConv(*conv3, *bn3));
  if (shortcut_conv) {
    shortcut_conv = replace_module("shortcut_conv",
                                   FoldedConv(*shortcut_conv, *shortcut_bn));
  }
  folded = true;
}

BottleneckV2Impl::BottleneckV2Impl(const BottleneckOptions& options_)
    : options(options_) {
  reset();
}

void BottleneckV2Impl::reset() {
  const int64_t in = options.in_channels(), out = options.out_channels();
  const int64_t inner = out / 4;
  const double m = options.batch_norm_momentum();
  bn1 = register_module("bn1", MakeBatchNorm(in, m));
  conv1 = register_module("conv1", MakeConv(in, inner, 1, 1, 0));
  bn2 = register_module("bn2", MakeBatchNorm(inner, m));
  conv2 =
      register_module("conv2", MakeConv(inner, inner, 3, options.stride(), 1));
  bn3 = register_module("bn3", MakeBatchNorm(inner, m));
  conv3 = register_module("conv3", MakeConv(inner, out, 1, 1, 0));
  if (options.shortcut() && (options.stride() > 1 || in != out)) {
    shortcut_conv = register_module("shortcut_conv",
                                    MakeConv(in, out, 1, options.stride(), 0));
  }
}

torch::Tensor BottleneckV2Impl::forward(const torch::Tensor& x) {
  torch::Tensor pre = BatchNormRelu(*bn1, x);
  torch::Tensor h = conv1(pre);
  h = conv2(BatchNormReluUnlessFolded(bn2, h, folded));
  h = conv3(BatchNormReluUnlessFolded(bn3, h, folded));
  if (!options.shortcut()) return h;
  // Convolution's backward does not need its output: in-place add is safe.
  return h.add_(shortcut_conv ? shortcut_conv(pre) : x);
}

void BottleneckV2Impl::FoldBatchNorm() {
  if (folded) return;
  conv1 = replace_module("conv1", FoldedConv(*conv1, *bn2));
  conv2 = replace_module("conv2", FoldedConv(*conv2, *bn3));
  folded = true;
}

EndpointCollector::EndpointCollector(std::vector<std::string> names,
                                     bool has_logits,
                                     const std::vector<std::string>& wanted)
    : names_(std::move(names)) {
  if (has_logits) names_.push_back("logits");
  wanted_.assign(names_.size(), wanted.empty());
  if (wanted.empty()) {
    last_ = static_cast<int>(names_.size()) - 1;
    return;
  }
  for (const std::string& name : wanted) {
    auto it = std::find(names_.begin(), names_.end(), name);
    TORCH_CHECK(it != names_.end(), "unknown endpoint '", name,
                "'; this network has: ", absl::StrJoin(names_, ", "));
    const int index = static_cast<int>(it - names_.begin());
    wanted_[index] = true;
    last_ = std::max(last_, index);
  }
}

bool EndpointCollector::Emit(const torch::Tensor& value) {
  if (wanted_[next_]) endpoints_.emplace(names_[next_], value);
  return next_++ == last_;
}

std::vector<std::string> ResNetEndpointNames() {
  // ResNet v1/v2 and RevNet share their endpoints.
  return experiment::RepresentationLayers(Architecture::kResNet50V2);
}

}  // namespace sslab::models::internal
