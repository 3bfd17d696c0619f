// VGG19 with BatchNorm (models/vggnet.py of the official code). Internal.
#ifndef SSLAB_MODELS_INTERNAL_VGG_H_
#define SSLAB_MODELS_INTERNAL_VGG_H_

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <string>
#include <vector>

#include "models/internal/layers.h"
#include "models/model.h"

namespace sslab::models::internal {

struct ConvBnReluOptions {
  ConvBnReluOptions(int64_t in_channels, int64_t out_channels, int64_t kernel)
      : in_channels_(in_channels),
        out_channels_(out_channels),
        kernel_(kernel) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel);
  TORCH_ARG(int64_t, padding) = 0;
  TORCH_ARG(double, batch_norm_momentum) = 0.1;
};

// Bias-free conv, BatchNorm, ReLU. Children: conv, bn.
class ConvBnReluImpl : public torch::nn::Cloneable<ConvBnReluImpl> {
 public:
  explicit ConvBnReluImpl(const ConvBnReluOptions& options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  // Folds bn into conv (inference only).
  void FoldBatchNorm();

  ConvBnReluOptions options;
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  bool folded = false;
};
TORCH_MODULE(ConvBnRelu);

// Side of the square fc6 kernel for `options` (image_size resolved):
// the spatial size left after the max-pools. < 1 when the image is too small.
int64_t VggFc6Kernel(const ModelOptions& options);
// options.image_size, or its documented default when 0.
int ResolvedImageSize(const ModelOptions& options);

// Width w = 8k; stages [w,w], [2w,2w], [4w x4], [8w x4], [8w x4], a 2x2
// max-pool after each (small_input: not after the first). block1..block4 are
// the outputs of stages 2..5 (the paper's naming); fc6 is a "valid" conv over
// what is left with 512k channels + BN + ReLU; fc7 is 1x1 conv 512k + BN +
// ReLU, spatially averaged (a no-op at the intended size) = pre_logits.
// Parameter names: stage{1..5}.{i}.{conv,bn}, fc6.{conv,bn}, fc7.{conv,bn},
// logits.
class VggImpl : public BackboneImpl {
 public:
  explicit VggImpl(const NetworkConfig& config);

  std::map<std::string, torch::Tensor> ForwardEndpoints(
      const torch::Tensor& images,
      const std::vector<std::string>& wanted = {}) override;
  std::vector<std::string> EndpointNames() const override;
  std::shared_ptr<torch::nn::Module> clone(
      const c10::optional<torch::Device>& device = c10::nullopt) const override;

 private:
  NetworkConfig config_;
  std::vector<std::vector<ConvBnRelu>> stages_;
  ConvBnRelu fc6_{nullptr}, fc7_{nullptr};
  torch::nn::Linear logits_{nullptr};
};
TORCH_MODULE(Vgg);

}  // namespace sslab::models::internal

#endif  // SSLAB_MODELS_INTERNAL_VGG_H_
