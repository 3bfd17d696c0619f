// The pretext training loop: SGD with momentum and weight decay, linear
// warm-up then step decays, periodic atomic checkpoints, exact resume,
// progress reports and cancellation between steps.
//
//   SSLAB_ASSIGN_OR_RETURN(auto trainer, Trainer::Create(options));
//   if (resuming) SSLAB_RETURN_IF_ERROR(trainer->RestoreCheckpoint(path));
//   SSLAB_ASSIGN_OR_RETURN(TrainSummary s, trainer->Train(source, hooks));
//
// A Trainer is not thread-safe: call it from one thread (hooks run on that
// thread). Create seeds LibTorch's global generator and Train sets the
// process-wide intra-op thread count (both are process state).
#ifndef SSLAB_TRAINER_TRAINER_H_
#define SSLAB_TRAINER_TRAINER_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/batch_source.h"
#include "trainer/data_parallel.h"
#include "trainer/options.h"

namespace sslab::trainer {

class PretextModelImpl;

// Reported every `progress_every_steps` steps and after the last step.
struct Progress {
  int64_t step = 0;         // Optimizer steps taken so far (global).
  int64_t total_steps = 0;  // Steps of the whole run.
  int64_t epoch = 0;        // 0-based epoch of the last step.
  double loss = 0;          // Mean loss over the steps since the last report.
  double pretext_accuracy = 0;   // Same window, in [0, 1].
  double learning_rate = 0;      // Of the last step.
  double images_per_second = 0;  // Source images (not views), same window.
  double eta_seconds = 0;        // Remaining steps at the window's pace.
};

struct CheckpointInfo {
  std::string path;
  int64_t epoch = 0;  // Completed epochs.
  int64_t step = 0;
  double epoch_loss = 0;              // Mean over the last epoch.
  double epoch_pretext_accuracy = 0;  // Mean over the last epoch.
};

struct TrainHooks {
  std::function<void(const Progress&)> on_progress;
  std::function<void(const CheckpointInfo&)> on_checkpoint;
  // Polled before every step; true stops training (no checkpoint is written
  // for the partial epoch: a resumed run restarts it from the last
  // checkpoint).
  std::function<bool()> should_stop;
};

struct TrainSummary {
  int64_t epochs_completed = 0;
  int64_t steps = 0;
  bool cancelled = false;
  double last_epoch_loss = 0;
  double last_epoch_pretext_accuracy = 0;
  std::string last_checkpoint;  // Empty when none was written.
};

class Trainer {
 public:
  // Validates `options` (INVALID_ARGUMENT naming the field), resolves the
  // device (FAILED_PRECONDITION when unavailable), seeds, and builds the
  // network and the Jigsaw permutation set. Data-parallel: joins the group
  // (DataParallel::Join's errors) and takes rank 0's initial weights.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const TrainerOptions& options);
  ~Trainer();

  // Loads network, optimizer, epoch, step and generator states written by
  // this trainer. Returns NOT_FOUND / DATA_LOSS (naming the file) for a
  // missing or corrupt file, FAILED_PRECONDITION when the checkpoint's
  // method, architecture or shape-defining options differ from this run's,
  // and INVALID_ARGUMENT when its tensors do not fit the network.
  absl::Status RestoreCheckpoint(const std::filesystem::path& path);

  // Trains from the current epoch to options.epochs. Returns
  // INVALID_ARGUMENT for batches of the wrong shape, the source's error if it
  // fails, RESOURCE_EXHAUSTED on out-of-memory, INTERNAL for other LibTorch
  // failures, the group's error when a data-parallel peer is lost.
  // Cancellation is not an error (summary.cancelled). Data-parallel: every
  // rank calls Train with its shard of the data (data::Shard); progress and
  // epoch figures are over all ranks; a stop on any rank stops them all;
  // only rank 0 writes checkpoints and calls on_checkpoint.
  absl::StatusOr<TrainSummary> Train(data::BatchSource& source,
                                     const TrainHooks& hooks = {});

  // Writes a checkpoint of the current state to `path` atomically.
  absl::Status WriteCheckpoint(const std::filesystem::path& path) const;

  // Learning rate at global step `step` with `steps_per_epoch` steps per
  // epoch: linear warm-up to base * batch / 256, then step decays.
  double LearningRate(int64_t step, int64_t steps_per_epoch) const;

  const TrainerOptions& options() const { return options_; }
  int64_t epoch() const { return epoch_; }
  int64_t step() const { return step_; }
  // The data-parallel group's c10d backend ("gloo", "nccl"); "" without one.
  std::string collectives() const {
    return parallel_ ? parallel_->backend() : std::string();
  }
  // Jigsaw's permutation set, int64 [P, 9] (undefined for other methods).
  const at::Tensor& permutations() const { return permutations_; }
  PretextModelImpl& model() { return *model_; }

 private:
  Trainer(const TrainerOptions& options, c10::Device device);

  TrainerOptions options_;
  c10::Device device_;
  std::shared_ptr<PretextModelImpl> model_;
  // Parameter names and their momentum buffers (undefined until the first
  // update), in named_parameters() order.
  std::vector<std::string> parameter_names_;
  std::vector<at::Tensor> parameters_;
  std::vector<at::Tensor> momentum_;
  at::Tensor permutations_;
  at::Generator generator_;  // CPU; per-step random choices.
  // Set when options.data_parallel.world_size > 1.
  std::unique_ptr<DataParallel> parallel_;
  int64_t epoch_ = 0;
  int64_t step_ = 0;
};

}  // namespace sslab::trainer

#endif  // SSLAB_TRAINER_TRAINER_H_
