// A threaded loader: worker threads read, decode and transform examples into
// a bounded queue of ready batches, handed out in order to one consumer.
//
// Randomness: the epoch's order is a function of (seed, epoch) and the
// transform seed of an example a function of (seed, epoch, dataset index), so
// batches are identical whatever the number of threads.
//
// Corrupt images: when the dataset says skip_corrupt() (imagefolder without
// `strict`), an example whose Get returns DATA_LOSS is left out of its batch
// (which is then smaller than batch_size) and counted in EpochStats; any other
// error, or any error when not skipping, ends the epoch: Next returns it.
#ifndef SSLAB_DATA_LOADER_H_
#define SSLAB_DATA_LOADER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/batch_source.h"
#include "data/dataset.h"
#include "data/transforms.h"

namespace sslab::data {

struct LoaderOptions {
  // Examples per batch, >= 1.
  int batch_size = 64;
  // Worker threads; 0 = decode in the consumer's thread inside Next().
  int threads = 2;
  // Ready batches kept ahead of the consumer (at least `threads` are in
  // flight regardless).
  int prefetch_batches = 4;
  // Reshuffle every epoch by (seed, epoch); false = dataset order.
  bool shuffle = true;
  // Drop the last incomplete batch.
  bool drop_last = true;
  uint64_t seed = 0;
  // Allocate batches in pinned (page-locked) memory when CUDA is available;
  // ignored otherwise.
  bool pin_memory = false;
  // Data-parallel training: this rank's part of each global batch of
  // batch_size * shard.count (batch_source.h); decodes only that part.
  Shard shard;
};

// Counts for the current epoch, over the batches handed out so far.
struct EpochStats {
  int64_t epoch = -1;
  int64_t batches = 0;
  int64_t examples = 0;
  // Corrupt images skipped (see above), and the first few of their messages.
  int64_t skipped_corrupt = 0;
  std::vector<std::string> skipped_messages;
};

// One epoch at a time. StartEpoch / Next / stats from one consumer thread.
class Loader final : public BatchSource {
 public:
  // Invalid options (batch_size < 1, threads < 0, ...) are reported by
  // StartEpoch as INVALID_ARGUMENT naming the field.
  Loader(std::shared_ptr<const Dataset> dataset,
         std::shared_ptr<const Transform> transform, LoaderOptions options);
  // Stops and joins the workers, also mid-epoch.
  ~Loader() override;
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts epoch `epoch` (>= 0), abandoning any unfinished one.
  absl::Status StartEpoch(int64_t epoch) override;

  // The next batch of the epoch, nullopt at its end. Returns
  // FAILED_PRECONDITION before StartEpoch, or the error that ended the epoch
  // (then again on every call until the next StartEpoch).
  absl::StatusOr<std::optional<Batch>> Next() override;

  int64_t batches_per_epoch() const override;
  EpochStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The transform seed the loader uses for example `index` in `epoch`.
uint64_t ExampleSeed(uint64_t seed, int64_t epoch, int64_t index);

}  // namespace sslab::data

#endif  // SSLAB_DATA_LOADER_H_
