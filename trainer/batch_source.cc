#include "trainer/batch_source.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <utility>

namespace sslab::trainer {

TensorBatchSource::TensorBatchSource(at::Tensor views, at::Tensor classes,
                                     int64_t batch_size, bool shuffle,
                                     uint64_t seed)
    : views_(std::move(views)),
      classes_(std::move(classes)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed) {}

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

absl::StatusOr<std::optional<TrainingBatch>> TensorBatchSource::Next() {
  if (!order_.defined()) {
    return absl::FailedPreconditionError("Next called before StartEpoch");
  }
  if (next_ + batch_size_ > order_.size(0)) return std::nullopt;
  at::Tensor index = order_.narrow(0, next_, batch_size_);
  next_ += batch_size_;
  TrainingBatch batch;
  batch.views = views_.index_select(0, index);
  if (classes_.defined()) batch.classes = classes_.index_select(0, index);
  return batch;
}

int64_t TensorBatchSource::batches_per_epoch() const {
  return views_.defined() && batch_size_ > 0 ? views_.size(0) / batch_size_ : 0;
}

}  // namespace sslab::trainer
