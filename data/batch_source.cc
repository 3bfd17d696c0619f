#include "data/batch_source.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sslab::data {

absl::Status CheckShard(const Shard& shard, const char* field) {
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": rank ", shard.index, " of ", shard.count,
                     " (needs 0 <= rank < count)"));
  }
  return absl::OkStatus();
}

int64_t BatchesPerEpoch(int64_t n, int64_t batch_size, bool drop_last,
                        const Shard& shard) {
  if (batch_size < 1) return 0;
  if (shard.count > 1) return n / (batch_size * shard.count);
  return drop_last ? n / batch_size : (n + batch_size - 1) / batch_size;
}

std::vector<int64_t> ShardOrder(std::vector<int64_t> order, int64_t batch_size,
                                const Shard& shard) {
  if (shard.count <= 1) return order;
  const int64_t global = batch_size * shard.count;
  const int64_t batches = BatchesPerEpoch(static_cast<int64_t>(order.size()),
                                          batch_size, true, shard);
  std::vector<int64_t> mine;
  mine.reserve(batches * batch_size);
  for (int64_t b = 0; b < batches; ++b) {
    const auto first = order.begin() + b * global + shard.index * batch_size;
    mine.insert(mine.end(), first, first + batch_size);
  }
  return mine;
}

TensorBatchSource::TensorBatchSource(at::Tensor views, at::Tensor classes,
                                     int64_t batch_size, bool shuffle,
                                     uint64_t seed, bool drop_last, Shard shard)
    : views_(std::move(views)),
      classes_(std::move(classes)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed),
      drop_last_(drop_last),
      shard_(shard) {}

absl::Status TensorBatchSource::StartEpoch(int64_t epoch) {
  if (!views_.defined() || views_.dim() != 5) {
    return absl::InvalidArgumentError("views: expected [N, V, C, H, W]");
  }
  if (batch_size_ < 1) {
    return absl::InvalidArgumentError("batch_size: must be >= 1");
  }
  SSLAB_RETURN_IF_ERROR(CheckShard(shard_, "shard"));
  const int64_t n = views_.size(0);
  if (shuffle_) {
    // The order is a function of (seed, epoch) only.
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(
        seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
    order_ = at::randperm(n, generator, at::TensorOptions().dtype(at::kLong));
  } else {
    order_ = at::arange(n, at::TensorOptions().dtype(at::kLong));
  }
  if (shard_.count > 1) {
    const int64_t* first = order_.data_ptr<int64_t>();
    const std::vector<int64_t> mine =
        ShardOrder({first, first + n}, batch_size_, shard_);
    order_ = at::tensor(mine, at::TensorOptions().dtype(at::kLong));
  }
  next_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Batch>> TensorBatchSource::Next() {
  if (!order_.defined()) {
    return absl::FailedPreconditionError("Next called before StartEpoch");
  }
  const int64_t left = order_.size(0) - next_;
  const int64_t len = std::min(batch_size_, left);
  if (len <= 0 || (drop_last_ && len < batch_size_)) return std::nullopt;
  at::Tensor index = order_.narrow(0, next_, len);
  next_ += len;
  Batch batch;
  batch.views = views_.index_select(0, index);
  batch.indices = index;
  if (classes_.defined()) {
    batch.classes = classes_.numel() == views_.size(0)
                        ? classes_.index_select(0, index)
                        : classes_;  // a mismatch the consumer reports
  }
  return batch;
}

int64_t TensorBatchSource::batches_per_epoch() const {
  if (!views_.defined()) return 0;
  return BatchesPerEpoch(views_.size(0), batch_size_, drop_last_, shard_);
}

}  // namespace sslab::data
