// RevNet50 (revnet in models/resnet.py of the official code). Internal.
//
// Each unit splits its input x = [x1, x2] by channel halves and returns
// [x2, x1 + F(x2)], F being a v2 bottleneck without shortcut. The unit is
// invertible: x2 = first half of the output, x1 = second half - F(x2). With
// memory saving on (the default), a stage keeps only its output for the
// backward pass and recomputes each unit's input from its output there, so
// the activation memory does not grow with the number of units.
#ifndef SSLAB_MODELS_INTERNAL_REVNET_H_
#define SSLAB_MODELS_INTERNAL_REVNET_H_

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "models/internal/layers.h"
#include "models/model.h"

namespace sslab::models::internal {

struct RevStageOptions {
  RevStageOptions(int64_t channels, int64_t units)
      : channels_(channels), units_(units) {}
  // Input = output channels (even).
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, units);
  TORCH_ARG(double, batch_norm_momentum) = 0.1;
};

// A run of reversible units. Children are named "0", "1", ... (the F of each
// unit), so a stage registered as "block1" gives "block1.0.conv1.weight".
class RevStageImpl : public torch::nn::Cloneable<RevStageImpl> {
 public:
  explicit RevStageImpl(const RevStageOptions& options);
  void reset() override;

  // Memory-saving when gradients are needed and memory_saving is on;
  // otherwise ordinary autograd (which stores every activation). The graph
  // refers to this module: it must outlive the backward pass.
  torch::Tensor forward(const torch::Tensor& x);
  // The units with ordinary autograd.
  torch::Tensor ForwardUnits(const torch::Tensor& x);
  // The stage's input reconstructed from its output (no gradients; BatchNorm
  // statistics untouched).
  torch::Tensor Invert(const torch::Tensor& y);

  // Gradients w.r.t. the stage input and every parameter (in parameters()
  // order; undefined for parameters that do not require grad) from the
  // stage output `y` and dL/dy, recomputing activations unit by unit.
  std::pair<torch::Tensor, std::vector<torch::Tensor>> Backward(
      const torch::Tensor& y, const torch::Tensor& grad_y);

  void set_memory_saving(bool on) { memory_saving_ = on; }
  bool memory_saving() const { return memory_saving_; }

  RevStageOptions options;
  std::vector<BottleneckV2> units;

 private:
  bool memory_saving_ = true;
};
TORCH_MODULE(RevStage);

// Parameter names (checkpoint keys): root_conv, block{1..4}.{i}.{bn1,conv1,
// bn2,conv2,bn3,conv3}, final_bn, logits (when num_outputs > 0).
class RevNetImpl : public BackboneImpl {
 public:
  explicit RevNetImpl(const NetworkConfig& config);

  std::map<std::string, torch::Tensor> ForwardEndpoints(
      const torch::Tensor& images,
      const std::vector<std::string>& wanted = {}) override;
  std::vector<std::string> EndpointNames() const override;
  std::shared_ptr<torch::nn::Module> clone(
      const c10::optional<torch::Device>& device = c10::nullopt) const override;

  // Off: ordinary autograd that stores activations (for tests/comparisons).
  void set_memory_saving(bool on);

 private:
  NetworkConfig config_;
  bool memory_saving_ = true;
  torch::nn::Conv2d root_conv_{nullptr};
  std::vector<RevStage> stages_;
  torch::nn::BatchNorm2d final_bn_{nullptr};
  torch::nn::Linear logits_{nullptr};
};
TORCH_MODULE(RevNet);

}  // namespace sslab::models::internal

#endif  // SSLAB_MODELS_INTERNAL_REVNET_H_
