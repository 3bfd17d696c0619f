// Building blocks shared by the study's networks. Internal to models/.
#ifndef SSLAB_MODELS_INTERNAL_LAYERS_H_
#define SSLAB_MODELS_INTERNAL_LAYERS_H_

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/model.h"

namespace sslab::models::internal {

// A validated ModelOptions plus what tests may vary. Units per stage are
// (3, 4, 6, 3) for the study's 50-layer networks.
struct NetworkConfig {
  ModelOptions options;
  std::array<int, 4> units = {3, 4, 6, 3};
};

// Stride of the first unit (ResNet) or of the transition before it (RevNet)
// of each stage: (1, 2, 2, 2), or (1, 2, 2, 1) with patch_strides.
std::array<int64_t, 4> StageStrides(const ModelOptions& options);

// BatchNorm eps of the official TF code (tf.layers.batch_normalization).
inline constexpr double kBatchNormEps = 1e-3;

// Bias-free convolution with symmetric padding `padding`.
torch::nn::Conv2d MakeConv(int64_t in_channels, int64_t out_channels,
                           int64_t kernel, int64_t stride, int64_t padding);
torch::nn::BatchNorm2d MakeBatchNorm(int64_t channels, double momentum);

// A convolution (with bias, on conv's device) computing the eval-mode
// bn(conv(x)). Callers swap it in with replace_module.
torch::nn::Conv2d FoldedConv(const torch::nn::Conv2dImpl& conv,
                             const torch::nn::BatchNorm2dImpl& bn);

// bn(x), or x when bn has been folded into the preceding convolution. A
// folded module is inference-only: calling it in training mode throws.
torch::Tensor BatchNormUnlessFolded(torch::nn::BatchNorm2d& bn,
                                    const torch::Tensor& x, bool folded);

// relu(bn(x)) (fused where BatchNormRelu can), or relu(x) when bn has been
// folded.
torch::Tensor BatchNormReluUnlessFolded(torch::nn::BatchNorm2d& bn,
                                        const torch::Tensor& x, bool folded);

// He-normal (fan-in, ReLU gain) conv weights, BatchNorm scale 1 / shift 0,
// zero biases; linear weights He-normal without gain. Applied to the
// children of `module` (callable from a constructor).
void InitializeWeights(torch::nn::Module& module);

// Copies parameters and buffers of `from` into `to` (same structure) and the
// training flag; moves `to` to `device` when set.
void CopyState(const torch::nn::Module& from, torch::nn::Module& to,
               const c10::optional<torch::Device>& device);

// Root max-pool of the official code: zero padding (tf.pad) of 1 then a
// 3x3/2 "valid" max-pool. Zero padding matters when inputs can be negative
// (v2 and RevNet have no ReLU before it).
torch::Tensor RootMaxPool(const torch::Tensor& x);

struct BottleneckOptions {
  BottleneckOptions(int64_t in_channels, int64_t out_channels)
      : in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  // Stride of the 3x3 conv (and the projection).
  TORCH_ARG(int64_t, stride) = 1;
  // v2 only: false gives RevNet's residual function F (no shortcut at all).
  TORCH_ARG(bool, shortcut) = true;
  TORCH_ARG(double, batch_norm_momentum) = 0.1;
};

// ResNet v1 bottleneck: conv1x1-BN-ReLU, conv3x3(stride)-BN-ReLU,
// conv1x1-BN, + shortcut (projection conv1x1+BN when stride > 1 or the width
// changes), ReLU. Inner width = out / 4.
class BottleneckV1Impl : public torch::nn::Cloneable<BottleneckV1Impl> {
 public:
  explicit BottleneckV1Impl(const BottleneckOptions& options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  // Folds all four BatchNorms into their convolutions (inference only).
  void FoldBatchNorm();

  BottleneckOptions options;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Conv2d shortcut_conv{nullptr};
  torch::nn::BatchNorm2d shortcut_bn{nullptr};
  bool folded = false;
};
TORCH_MODULE(BottleneckV1);

// ResNet v2 (pre-activation) bottleneck: BN-ReLU, then the projection (if
// any) applied to the pre-activated input, conv1x1, BN-ReLU-conv3x3(stride),
// BN-ReLU-conv1x1, + shortcut unless options.shortcut() is false.
class BottleneckV2Impl : public torch::nn::Cloneable<BottleneckV2Impl> {
 public:
  explicit BottleneckV2Impl(const BottleneckOptions& options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  // Folds bn2 into conv1 and bn3 into conv2 (inference only); bn1 acts on
  // the unit's input (a sum) and stays.
  void FoldBatchNorm();

  BottleneckOptions options;
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::Conv2d shortcut_conv{nullptr};
  bool folded = false;
};
TORCH_MODULE(BottleneckV2);

// Gathers what a ForwardEndpoints call returns. `names` are the network's
// endpoints in order; with `has_logits` "logits" follows them. The forward
// pass hands every endpoint to Emit in that order and stops as soon as Emit
// says the deepest wanted one is in. Throws c10::Error for a wanted name the
// network does not have.
class EndpointCollector {
 public:
  EndpointCollector(std::vector<std::string> names, bool has_logits,
                    const std::vector<std::string>& wanted);
  // Keeps `value` if the next endpoint is wanted; true when it was the
  // deepest wanted one (the caller then returns Take()).
  bool Emit(const torch::Tensor& value);
  std::map<std::string, torch::Tensor> Take() { return std::move(endpoints_); }

 private:
  std::vector<std::string> names_;
  std::vector<bool> wanted_;
  int last_ = -1;
  int next_ = 0;
  std::map<std::string, torch::Tensor> endpoints_;
};

// The endpoint list of ResNet/RevNet (without "logits").
std::vector<std::string> ResNetEndpointNames();

}  // namespace sslab::models::internal

#endif  // SSLAB_MODELS_INTERNAL_LAYERS_H_
