// What training and feature extraction consume: epochs of batches.
// data::Loader is one (decoded, transformed examples of a dataset);
// TensorBatchSource serves fixed tensors to tests and benchmarks.
#ifndef SSLAB_DATA_BATCH_SOURCE_H_
#define SSLAB_DATA_BATCH_SOURCE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sslab::data {

// One batch, on any device. From a Loader on CPU, the memory of `views` is
// recycled for a later batch once no tensor refers to it any more (hold the
// tensor, not a raw pointer, while using it).
struct Batch {
  // float [B, V, C, S, S]: V views of each of B examples (Rotation: 4
  // rotations, or 1 and the trainer rotates; Exemplar: >= 2 crops; patch
  // methods: 9 patches in grid order; evaluation: 1 image or 9 patches).
  at::Tensor views;
  // int64 [B, V]: per-view labels from the transform; may be undefined.
  at::Tensor labels;
  // int64 [B]: dataset indices; may be undefined.
  at::Tensor indices;
  // int64 [B]: class labels (supervised training, extraction).
  at::Tensor classes;
};

// A sequence of epochs of batches. A source gives the same batches for the
// same epoch number, so a resumed run sees what an uninterrupted one would
// have. Not thread-safe: one consumer thread.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Starts (or restarts) epoch `epoch` (>= 0), abandoning any unfinished one.
  virtual absl::Status StartEpoch(int64_t epoch) = 0;
  // The next batch of the epoch, nullopt at its end, or the error that ended
  // it. FAILED_PRECONDITION before StartEpoch.
  virtual absl::StatusOr<std::optional<Batch>> Next() = 0;
  // Number of batches Next() yields per epoch.
  virtual int64_t batches_per_epoch() const = 0;
};

// One rank's part of the data in data-parallel training. Each epoch's order
// is cut into global batches of batch_size * count examples, and rank
// `index` reads the index-th slice of batch_size of each: the ranks together
// see what one process with the global batch sees, and every rank gets the
// same number of batches (an incomplete last global batch is dropped).
struct Shard {
  int index = 0;
  int count = 1;
};

// INVALID_ARGUMENT naming `field` unless 0 <= index < count.
absl::Status CheckShard(const Shard& shard, const char* field);

// Batches per epoch of `n` examples in batches of `batch_size` (>= 1), for
// `shard`; `drop_last` only matters for a single shard.
int64_t BatchesPerEpoch(int64_t n, int64_t batch_size, bool drop_last,
                        const Shard& shard);

// The part of an epoch's `order` that `shard` reads, in order (the order
// itself for a single shard).
std::vector<int64_t> ShardOrder(std::vector<int64_t> order, int64_t batch_size,
                                const Shard& shard);

// Serves `views` [N, V, C, H, W] (and `classes` [N], optional) in batches of
// `batch_size`: in order, or shuffled per epoch with seed (seed, epoch);
// `drop_last` leaves out a last partial batch; `shard` reads one rank's part.
class TensorBatchSource final : public BatchSource {
 public:
  TensorBatchSource(at::Tensor views, at::Tensor classes, int64_t batch_size,
                    bool shuffle = false, uint64_t seed = 0,
                    bool drop_last = true, Shard shard = {});
  absl::Status StartEpoch(int64_t epoch) override;
  absl::StatusOr<std::optional<Batch>> Next() override;
  int64_t batches_per_epoch() const override;

 private:
  at::Tensor views_;
  at::Tensor classes_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  bool drop_last_;
  Shard shard_;
  at::Tensor order_;
  int64_t next_ = 0;
};

}  // namespace sslab::data

#endif  // SSLAB_DATA_BATCH_SOURCE_H_
