// The study's networks behind one interface: ResNet50 v1/v2, RevNet50,
// VGG19-BN, widened by a factor k, with named representation endpoints.
//
// Images are float tensors [N, C, H, W] scaled to [-1, 1]. Endpoint names:
//   ResNet/RevNet: after_root, block1, block2, block3, block4, pre_logits
//   VGG19-BN:      block1, block2, block3, block4, fc6, pre_logits
// plus "logits" when the model has a head (num_outputs > 0). Spatial
// endpoints are [N, C, H, W]; pre_logits and logits are [N, D].
//
// Parameter names are checkpoint keys: keep them stable.
#ifndef SSLAB_MODELS_MODEL_H_
#define SSLAB_MODELS_MODEL_H_

#include <torch/nn/module.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiment/vocabulary.h"

namespace sslab::models {

// The study's networks, as named in experiment/vocabulary.h.
using Architecture = experiment::Architecture;

struct ModelOptions {
  Architecture architecture = Architecture::kResNet50V2;
  // Widening factor k >= 1 (the paper uses 4, 8, 12, 16).
  int width = 4;
  // False gives the (-) variants: no ReLU before global pooling (v2, RevNet).
  bool last_relu = true;
  int in_channels = 3;
  // Size of the linear head producing "logits"; 0 means no head.
  int num_outputs = 1000;
  // 28-32 px inputs: 3x3 stride-1 root conv and no root max-pool (VGG19-BN:
  // no max-pool after its first stage).
  bool small_input = false;
  // Jigsaw / Relative Patch Location on 64x64 patches: root stride 1 and
  // stage strides (2, 2, 1) (ResNet/RevNet; as in the official code, VGG19-BN
  // is unchanged).
  bool patch_strides = false;
  // Input side (pixels) the network is built for. Only VGG19-BN depends on it:
  // its fc6 is a "valid" conv over the spatial size left after the last pool.
  // 0 means 224, or 32 with small_input, or 64 with patch_strides.
  int image_size = 0;
  // BatchNorm running-average momentum (PyTorch convention). The official TF
  // code uses decay 0.99, i.e. 0.01 here; 0.1 suits short runs. eps is 1e-3
  // as in the official code.
  double batch_norm_momentum = 0.1;
};

// A network that can return any of its endpoints. Not thread-safe (a
// torch::nn::Module); use one per thread or guard it.
class BackboneImpl : public torch::nn::Module {
 public:
  ~BackboneImpl() override = default;

  // Runs the network once and returns the `wanted` endpoints (all endpoints,
  // logits included, when empty). Stops early when the deepest wanted
  // endpoint is reached. Like any torch module it throws c10::Error on bad
  // input (an unknown endpoint name, "logits" without a head, an image too
  // small for the network): callers convert at their edge.
  virtual std::map<std::string, torch::Tensor> ForwardEndpoints(
      const torch::Tensor& images,
      const std::vector<std::string>& wanted = {}) = 0;

  // Representation endpoints in network order (without "logits").
  virtual std::vector<std::string> EndpointNames() const = 0;

  // Logits; requires num_outputs > 0.
  torch::Tensor forward(const torch::Tensor& images);

  // A deep copy (parameters, buffers, training flag) on `device`, or on the
  // same device when unset.
  std::shared_ptr<torch::nn::Module> clone(
      const c10::optional<torch::Device>& device =
          c10::nullopt) const override = 0;

  const ModelOptions& options() const { return options_; }

 protected:
  explicit BackboneImpl(ModelOptions options) : options_(options) {}

 private:
  ModelOptions options_;
};

// Builds a freshly initialised network (He-normal convolutions, BatchNorm
// scale 1 / shift 0; deterministic under torch::manual_seed). Returns
// INVALID_ARGUMENT naming the field for width < 1, in_channels < 1, num_outputs
// < 0, image_size < 0 or too small for VGG19-BN, batch_norm_momentum outside
// [0, 1], or last_relu=false on ResNet50 v1 or VGG19-BN (v1(-) and VGG(-) do
// not exist in the study).
absl::StatusOr<std::shared_ptr<BackboneImpl>> CreateModel(
    const ModelOptions& options);

// Shapes (without the batch dimension) of every endpoint, logits included
// when present, for a `channels` x `height` x `width` input: a dry run of one
// image in inference mode without gradients (the module's training flag and
// BatchNorm statistics are left as they were). Returns INVALID_ARGUMENT
// naming "image size" when the input is too small for the network.
absl::StatusOr<std::map<std::string, std::vector<int64_t>>> EndpointShapes(
    BackboneImpl& model, int channels, int height, int width);

// Folds every BatchNorm that directly follows a convolution into it (w' = w
// * s, b' = beta - mean * s with s = gamma / sqrt(var + eps)): the same
// endpoints up to float rounding, one pass over each such activation fewer.
// Which ones fold: all in ResNet50 v1 and VGG19-BN; the two inner ones of
// each pre-activation unit in ResNet50 v2 / RevNet50 (the others act on sums).
// For feature extraction. FAILED_PRECONDITION when `model` is in training
// mode; afterwards it is inference-only (a training-mode forward throws),
// and clone() does not carry the folding. Idempotent.
absl::Status FoldBatchNormForInference(BackboneImpl& model);

}  // namespace sslab::models

#endif  // SSLAB_MODELS_MODEL_H_
