#include "models/internal/vgg.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/modules/container/modulelist.h>

#include "absl/strings/str_cat.h"

namespace sslab::models::internal {
namespace {

std::vector<std::string> VggEndpointNames() {
  return experiment::RepresentationLayers(Architecture::kVgg19Bn);
}

}  // namespace

ConvBnReluImpl::ConvBnReluImpl(const ConvBnReluOptions& options_)
    : options(options_) {
  reset();
}

void ConvBnReluImpl::reset() {
  conv = register_module("conv",
                         MakeConv(options.in_channels(), options.out_channels(),
                                  options.kernel(), 1, options.padding()));
  bn = register_module("bn", MakeBatchNorm(options.out_channels(),
                                           options.batch_norm_momentum()));
}

torch::Tensor ConvBnReluImpl::forward(const torch::Tensor& x) {
  return BatchNormReluUnlessFolded(bn, conv(x), folded);
}

void ConvBnReluImpl::FoldBatchNorm() {
  if (folded) return;
  conv = replace_module("conv", FoldedConv(*conv, *bn));
  folded = true;
}

int ResolvedImageSize(const ModelOptions& options) {
  if (options.image_size > 0) return options.image_size;
  if (options.small_input) return 32;
  if (options.patch_strides) return 64;
  return 224;
}

int64_t VggFc6Kernel(const ModelOptions& options) {
  int64_t side = ResolvedImageSize(options);
  const int pools = options.small_input ? 4 : 5;
  for (int i = 0; i < pools; ++i) side /= 2;
  return side;
}

VggImpl::VggImpl(const NetworkConfig& config)
    : BackboneImpl(config.options), config_(config) {
  const ModelOptions& o = config_.options;
  const double m = o.batch_norm_momentum;
  const int64_t w = 8 * static_cast<int64_t>(o.width);
  const std::vector<std::vector<int64_t>> widths = {
      {w, w},
      {2 * w, 2 * w},
      {4 * w, 4 * w, 4 * w, 4 * w},
      {8 * w, 8 * w, 8 * w, 8 * w},
      {8 * w, 8 * w, 8 * w, 8 * w}};
  int64_t in = o.in_channels;
  stages_.resize(widths.size());
  for (size_t s = 0; s < widths.size(); ++s) {
    torch::nn::ModuleList list;
    for (int64_t out : widths[s]) {
      stages_[s].emplace_back(
          ConvBnReluOptions(in, out, 3).padding(1).batch_norm_momentum(m));
      list->push_back(stages_[s].back());
      in = out;
    }
    register_module(absl::StrCat("stage", s + 1), list);
  }
  const int64_t fc = 512 * static_cast<int64_t>(o.width);
  fc6_ = register_module(
      "fc6",
      ConvBnRelu(
          ConvBnReluOptions(in, fc, VggFc6Kernel(o)).batch_norm_momentum(m)));
  fc7_ = register_module(
      "fc7", ConvBnRelu(ConvBnReluOptions(fc, fc, 1).batch_norm_momentum(m)));
  if (o.num_outputs > 0) {
    logits_ = register_module("logits", torch::nn::Linear(fc, o.num_outputs));
  }
  InitializeWeights(*this);
}

std::vector<std::string> VggImpl::EndpointNames() const {
  return VggEndpointNames();
}

std::map<std::string, torch::Tensor> VggImpl::ForwardEndpoints(
    const torch::Tensor& images, const std::vector<std::string>& wanted) {
  namespace F = torch::nn::functional;
  EndpointCollector endpoints(VggEndpointNames(), !logits_.is_empty(), wanted);
  auto pool = [](const torch::Tensor& t) {
    return F::max_pool2d(t, F::MaxPool2dFuncOptions(2).stride(2));
  };

  torch::Tensor x = images;
  for (size_t s = 0; s < stages_.size(); ++s) {
    for (auto& unit : stages_[s]) x = unit(x);
    if (s > 0 && endpoints.Emit(x)) return endpoints.Take();
    if (s > 0 || !config_.options.small_input) x = pool(x);
  }
  x = fc6_(x);
  if (endpoints.Emit(x)) return endpoints.Take();
  x = fc7_(x).mean({2, 3});
  if (endpoints.Emit(x)) return endpoints.Take();
  endpoints.Emit(logits_(x));
  return endpoints.Take();
}

std::shared_ptr<torch::nn::Module> VggImpl::clone(
    const c10::optional<torch::Device>& device) const {
  auto copy = std::make_shared<VggImpl>(config_);
  CopyState(*this, *copy, device);
  return copy;
}

}  // namespace sslab::models::internal
