#include "data/batch_source.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <utility>

namespace sslab::data {

TensorBatchSource::TensorBatchSource(at::Tensor views, at::Tensor classes,
                                     int64_t batch_size, bool shuffle,
                                     uint64_t seed, bool drop_last)
    : views_(std::move(views)),
      classes_(std::move(classes)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed),
      drop_last_(drop_last) {}

absl::Status TensorBatchSource::StartEpoch(int64_t epoch) {
  if (!views_.defined() || views_.dim() != 5) {
    return absl::InvalidArgumentError("views: expected [N, V, C, H, W]");
  }
  if (batch_size_ < 1) {
    return absl::InvalidArgumentError("batch_size: must be >= 1");
  }
  const int64_t n = views_.size(0);
  if (shuffle_) {
    // The order is a function of (seed, epoch) only.
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(
        seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
    order_ = at::randperm(n, generator, at::TensorOptions().dtype(at::kLong));
  } else {
    order_ = at::arange(n, at::TensorOptions().dtype(at::kLong));
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
  if (!views_.defined() || batch_size_ < 1) return 0;
  const int64_t n = views_.size(0);
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

}  // namespace sslab::data
