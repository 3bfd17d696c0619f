// ResNet50 v1 and v2 (models/resnet.py of the official code). Internal.
#ifndef SSLAB_MODELS_INTERNAL_RESNET_H_
#define SSLAB_MODELS_INTERNAL_RESNET_H_

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <string>
#include <vector>

#include "models/internal/layers.h"
#include "models/model.h"

namespace sslab::models::internal {

// Parameter names (checkpoint keys):
//   root_conv, root_bn (v1 only)
//   block{1..4}.{i}.{conv1,bn1,conv2,bn2,conv3,bn3,shortcut_conv,shortcut_bn}
//   final_bn (v2 only), logits (when num_outputs > 0)
class ResNetImpl : public BackboneImpl {
 public:
  explicit ResNetImpl(const NetworkConfig& config);

  std::map<std::string, torch::Tensor> ForwardEndpoints(
      const torch::Tensor& images,
      const std::vector<std::string>& wanted = {}) override;
  std::vector<std::string> EndpointNames() const override;
  std::shared_ptr<torch::nn::Module> clone(
      const c10::optional<torch::Device>& device = c10::nullopt) const override;
  // v1: folds root_bn into root_conv (the units fold themselves).
  void FoldRootBatchNorm();

 private:
  bool v2() const;

  NetworkConfig config_;
  torch::nn::Conv2d root_conv_{nullptr};
  torch::nn::BatchNorm2d root_bn_{nullptr};
  bool root_folded_ = false;
  // Typed handles to the units registered in the block{1..4} ModuleLists.
  std::vector<std::vector<BottleneckV1>> v1_units_;
  std::vector<std::vector<BottleneckV2>> v2_units_;
  torch::nn::BatchNorm2d final_bn_{nullptr};
  torch::nn::Linear logits_{nullptr};
};
TORCH_MODULE(ResNet);

}  // namespace sslab::models::internal

#endif  // SSLAB_MODELS_INTERNAL_RESNET_H_
