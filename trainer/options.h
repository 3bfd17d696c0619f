// Configuration of a pretext-training run: the method, the network, the
// optimisation schedule and where checkpoints go. Every field has the paper's
// default (REFERENCE.md, "Pretext training"); scale epochs for small data.
#ifndef SSLAB_TRAINER_OPTIONS_H_
#define SSLAB_TRAINER_OPTIONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiment/vocabulary.h"
#include "models/model.h"
#include "trainer/data_parallel.h"

namespace sslab::trainer {

// The pretext tasks, as named in experiment/vocabulary.h (which also says
// which are patch methods: experiment::IsPatchMethod).
using Method = experiment::Method;

struct TrainerOptions {
  Method method = Method::kRotation;
  // The backbone. `num_outputs` and `patch_strides` are derived from the
  // method by the trainer (4 for rotation, num_classes for supervised,
  // embedding_dim otherwise; patch strides for patch methods).
  models::ModelOptions model;

  // Source images per step (each contributes several views): the global
  // batch, over all data-parallel ranks.
  int64_t batch_size = 64;
  // Each rank's batch is cut into this many parts, each forward and
  // backward on its own, their gradients summed before the step: the same
  // update with less activation memory, except that BatchNorm normalises
  // each part with its own statistics (as each rank's replica does).
  int micro_batches = 1;
  // Data-parallel training (data_parallel.h): the source gives this rank
  // batch_size / world_size images per step (data::Shard), gradients are
  // averaged over the ranks, and only rank 0 writes checkpoints. BatchNorm
  // stays per replica, as in the study's TPU training. World size 1 trains
  // without a group unless a backend is named (a group of one).
  DataParallelOptions data_parallel;
  // Side of the images the data transform produces; for patch methods the
  // side of the square cut into the 3x3 grid (>= 24, i.e. 8 px patches).
  int image_size = 224;
  // The training views' augmentation (data_batch_source.h); kAuto = kLight
  // up to experiment::kLightAugmentationMaxSize px.
  experiment::Augmentation augmentation = experiment::Augmentation::kInception;

  int num_classes = 1000;       // Supervised: classes of the labels.
  int embedding_dim = 1000;     // Exemplar / patch methods: embedding size.
  int head_hidden = 4096;       // Patch methods: hidden units of the head.
  double head_dropout = 0.5;    // Patch methods: dropout of the head.
  double triplet_margin = 0.5;  // Exemplar.
  int num_permutations = 100;   // Jigsaw: permutation set size.

  // SGD with momentum; lr = base_learning_rate * batch_size / 256.
  double base_learning_rate = 0.1;
  double momentum = 0.9;
  double weight_decay = 1e-4;
  int64_t epochs = 35;
  // Linear warm-up from 0 to the peak rate over this many epochs.
  double warmup_epochs = 5;
  // The rate is multiplied by decay_factor at each of these epochs.
  std::vector<double> decay_epochs = {15, 25};
  double decay_factor = 0.1;

  // Empty: no checkpoints. Otherwise one every `checkpoint_every_epochs`
  // epochs (0: only at the end) and one at the end, named
  // `epoch-NNNN.ckpt`.
  std::string checkpoint_dir;
  int64_t checkpoint_every_epochs = 5;

  // Seeds the network initialisation, Jigsaw's permutation set and the
  // per-step random choices (permutation per image, dropout).
  uint64_t seed = 0;
  // Intra-op threads set before training (<= 0: all hardware threads).
  int threads = 2;
  // "cpu", "cuda", "cuda:N" or "auto".
  std::string device = "cpu";
  // Channels-last memory format for activations and conv weights.
  bool channels_last = false;
  // bfloat16 autocast for the forward pass (CUDA; CPU where supported).
  bool bf16_autocast = false;
  // Progress callback period in steps (>= 1).
  int64_t progress_every_steps = 10;
};

// Side of the square views the backbone sees: image_size, or for patch
// methods the patch side, round(floor(image_size / 3) * 64 / 85) (the
// paper's 64 px patches of 85 px cells). The data transform is built with the
// same value.
int ViewSize(const TrainerOptions& options);

// Returns INVALID_ARGUMENT naming the first offending field.
absl::Status ValidateTrainerOptions(const TrainerOptions& options);

// JSON round trip of every field (architecture and method by name).
// FromJson fills absent fields with defaults and returns INVALID_ARGUMENT
// naming the field for a wrong type or unknown name.
std::string TrainerOptionsToJson(const TrainerOptions& options);
absl::StatusOr<TrainerOptions> TrainerOptionsFromJson(absl::string_view json);

}  // namespace sslab::trainer

#endif  // SSLAB_TRAINER_OPTIONS_H_
