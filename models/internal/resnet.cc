#include "models/internal/resnet.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/nn/modules/container/modulelist.h>

#include "absl/strings/str_cat.h"
#include "models/internal/batch_norm_relu.h"

namespace sslab::models::internal {

ResNetImpl::ResNetImpl(const NetworkConfig& config)
    : BackboneImpl(config.options), config_(config) {
  const ModelOptions& o = config_.options;
  const int64_t k = o.width;
  const double m = o.batch_norm_momentum;
  const int64_t root_channels = 16 * k;
  if (o.small_input) {
    root_conv_ = register_module(
        "root_conv", MakeConv(o.in_channels, root_channels, 3, 1, 1));
  } else {
    root_conv_ = register_module(
        "root_conv",
        MakeConv(o.in_channels, root_channels, 7, o.patch_strides ? 1 : 2, 3));
  }
  if (!v2())
    root_bn_ = register_module("root_bn", MakeBatchNorm(root_channels, m));

  const std::array<int64_t, 4> strides = StageStrides(o);
  int64_t in = root_channels;
  int64_t out = 4 * root_channels;
  v1_units_.resize(4);
  v2_units_.resize(4);
  for (int stage = 0; stage < 4; ++stage) {
    torch::nn::ModuleList list;
    for (int unit = 0; unit < config_.units[stage]; ++unit) {
      BottleneckOptions unit_options(in, out);
      unit_options.stride(unit == 0 ? strides[stage] : 1)
          .batch_norm_momentum(m);
      if (v2()) {
        v2_units_[stage].emplace_back(unit_options);
        list->push_back(v2_units_[stage].back());
      } else {
        v1_units_[stage].emplace_back(unit_options);
        list->push_back(v1_units_[stage].back());
      }
      in = out;
    }
    register_module(absl::StrCat("block", stage + 1), list);
    out *= 2;
  }
  if (v2()) final_bn_ = register_module("final_bn", MakeBatchNorm(in, m));
  if (o.num_outputs > 0) {
    logits_ = register_module("logits", torch::nn::Linear(in, o.num_outputs));
  }
  InitializeWeights(*this);
}

void ResNetImpl::FoldRootBatchNorm() {
  if (!root_bn_ || root_folded_) return;
  root_conv_ = replace_module("root_conv", FoldedConv(*root_conv_, *root_bn_));
  root_folded_ = true;
}

bool ResNetImpl::v2() const {
  return config_.options.architecture != Architecture::kResNet50V1;
}

std::vector<std::string> ResNetImpl::EndpointNames() const {
  return ResNetEndpointNames();
}

std::map<std::string, torch::Tensor> ResNetImpl::ForwardEndpoints(
    const torch::Tensor& images, const std::vector<std::string>& wanted) {
  EndpointCollector endpoints(ResNetEndpointNames(), !logits_.is_empty(),
                              wanted);

  torch::Tensor x = root_conv_(images);
  if (root_bn_) x = BatchNormReluUnlessFolded(root_bn_, x, root_folded_);
  if (!config_.options.small_input) x = RootMaxPool(x);
  if (endpoints.Emit(x)) return endpoints.Take();

  for (int stage = 0; stage < 4; ++stage) {
    if (v2()) {
      for (auto& unit : v2_units_[stage]) x = unit(x);
    } else {
      for (auto& unit : v1_units_[stage]) x = unit(x);
    }
    if (endpoints.Emit(x)) return endpoints.Take();
  }

  if (final_bn_) {
    x = config_.options.last_relu ? BatchNormRelu(*final_bn_, x) : final_bn_(x);
  }
  x = x.mean({2, 3});
  if (endpoints.Emit(x)) return endpoints.Take();
  endpoints.Emit(logits_(x));
  return endpoints.Take();
}

std::shared_ptr<torch::nn::Module> ResNetImpl::clone(
    const c10::optional<torch::Device>& device) const {
  auto copy = std::make_shared<ResNetImpl>(config_);
  CopyState(*this, *copy, device);
  return copy;
}

}  // namespace sslab::models::internal
