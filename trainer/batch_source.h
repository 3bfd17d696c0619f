// Where the trainer's batches come from: a small seam between the training
// loop and the data pipeline, so tests and benchmarks can feed generated
// tensors and services can feed data::Loader (see data_batch_source.h).
#ifndef SSLAB_TRAINER_BATCH_SOURCE_H_
#define SSLAB_TRAINER_BATCH_SOURCE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sslab::trainer {

// One step's input, on any device (the trainer moves it).
struct TrainingBatch {
  // float [B, V, C, H, W]: V views of each of B source images. Rotation
  // takes V=4 (0/90/180/270 degrees, or V=1 and the trainer rotates),
  // Exemplar V>=2 crops, patch methods V=9 patches in grid order (row-major),
  // supervised V>=1.
  at::Tensor views;
  // int64 [B, V]: per-view labels from the transform (rotation index);
  // optional (undefined) for every method.
  at::Tensor labels;
  // int64 [B]: class labels; required by the supervised method only.
  at::Tensor classes;
};

// A sequence of epochs of batches. Implementations must give the same
// batches for the same epoch number so that a resumed run sees what an
// uninterrupted run would have seen (exact resume). Not thread-safe: the
// trainer calls it from one thread.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Starts (or restarts) epoch `epoch` (0-based).
  virtual absl::Status StartEpoch(int64_t epoch) = 0;
  // The next batch of the current epoch, or nullopt at its end.
  virtual absl::StatusOr<std::optional<TrainingBatch>> Next() = 0;
  // Number of batches Next() yields per epoch (> 0).
  virtual int64_t batches_per_epoch() const = 0;
};

// Serves fixed tensors: `views` [N, V, C, H, W] (and optional `classes` [N])
// cut into batches of `batch_size` (the last partial batch dropped), order
// shuffled per epoch with seed (seed, epoch) when `shuffle`. For tests and
// benchmarks.
class TensorBatchSource final : public BatchSource {
 public:
  TensorBatchSource(at::Tensor views, at::Tensor classes, int64_t batch_size,
                    bool shuffle, uint64_t seed);
  absl::Status StartEpoch(int64_t epoch) override;
  absl::StatusOr<std::optional<TrainingBatch>> Next() override;
  int64_t batches_per_epoch() const override;

 private:
  at::Tensor views_;
  at::Tensor classes_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  at::Tensor order_;
  int64_t next_ = 0;
};

}  // namespace sslab::trainer

#endif  // SSLAB_TRAINER_BATCH_SOURCE_H_
