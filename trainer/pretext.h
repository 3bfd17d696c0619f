// The network a pretext method trains: a backbone (models/) plus, for the
// patch methods, a head over concatenated patch embeddings; and the method's
// loss and pretext accuracy for one batch.
//
// Module names are checkpoint keys: "backbone.*" and "head.*".
// Not thread-safe (a torch::nn::Module).
#ifndef SSLAB_TRAINER_PRETEXT_H_
#define SSLAB_TRAINER_PRETEXT_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/batch_source.h"
#include "models/model.h"
#include "trainer/options.h"

namespace sslab::trainer {

// FC(in, hidden) -> BatchNorm -> ReLU -> dropout -> FC(hidden, out): the
// Jigsaw / Relative Patch Location head.
class PatchHeadImpl : public torch::nn::Module {
 public:
  PatchHeadImpl(int64_t in, int64_t hidden, int64_t out, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear fc1_{nullptr};
  torch::nn::BatchNorm1d bn_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc2_{nullptr};
};
TORCH_MODULE(PatchHead);

// Loss and accuracy counts of one step; tensors stay on the device so the
// loop syncs only when it reports.
struct StepOutput {
  torch::Tensor loss;     // 0-d float, differentiable.
  torch::Tensor correct;  // 0-d float: correctly solved pretext examples.
  int64_t total = 0;      // Pretext examples in the step.
};

class PretextModelImpl : public torch::nn::Module {
 public:
  // The backbone options actually used for `options` (num_outputs and
  // patch_strides derived from the method).
  static models::ModelOptions BackboneOptions(const TrainerOptions& options);

  // Builds the backbone and head with the current global torch seed.
  // `permutations` (int64 [P, 9]) is required for Jigsaw, ignored otherwise.
  static absl::StatusOr<std::shared_ptr<PretextModelImpl>> Create(
      const TrainerOptions& options, torch::Tensor permutations);

  // Returns INVALID_ARGUMENT naming the field if `batch` does not have the
  // shape the method needs.
  absl::Status CheckBatch(const data::Batch& batch) const;

  // Forward pass and loss for a batch already on the model's device.
  // `generator` draws the per-image Jigsaw permutations (CPU generator).
  // May throw c10::Error (the trainer converts it).
  StepOutput Compute(const data::Batch& batch, at::Generator& generator,
                     bool channels_last);

  const std::shared_ptr<models::BackboneImpl>& backbone() const {
    return backbone_;
  }
  Method method() const { return method_; }

 private:
  PretextModelImpl(const TrainerOptions& options,
                   std::shared_ptr<models::BackboneImpl> backbone,
                   torch::Tensor permutations);

  torch::Tensor Embed(const torch::Tensor& views, bool channels_last);

  Method method_;
  double triplet_margin_;
  std::shared_ptr<models::BackboneImpl> backbone_;
  PatchHead head_{nullptr};
  torch::Tensor permutations_;  // Buffer [P, 9] int64; Jigsaw only.
};

}  // namespace sslab::trainer

#endif  // SSLAB_TRAINER_PRETEXT_H_
