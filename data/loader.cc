#include "data/loader.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/torch_util/runtime.h"
#include "data/internal/random.h"

namespace sslab::data {
namespace {

constexpr uint64_t kShuffleStream = 0x73687566;  // "shuf"
constexpr uint64_t kExampleStream = 0x6578;      // "ex"
constexpr size_t kMaxSkippedMessages = 10;

// One prepared batch (or the error that stopped it).
struct Prepared {
  absl::Status status;
  std::optional<Batch> batch;  // nullopt: every example was skipped
  int64_t skipped = 0;
  std::vector<std::string> skipped_messages;
};

absl::Status Annotate(const absl::Status& status, const Dataset& dataset,
                      int64_t index) {
  if (status.code() == absl::StatusCode::kDataLoss ||
      status.code() == absl::StatusCode::kNotFound) {
    return status;  // already names the file
  }
  return absl::Status(status.code(), absl::StrCat("example ", index, " (",
                                                  dataset.source(index),
                                                  "): ", status.message()));
}

}  // namespace

uint64_t ExampleSeed(uint64_t seed, int64_t epoch, int64_t index) {
  using internal::DeriveSeed;
  return DeriveSeed(DeriveSeed(DeriveSeed(seed, kExampleStream), epoch), index);
}

class Loader::Impl {
 public:
  Impl(std::shared_ptr<const Dataset> dataset,
       std::shared_ptr<const Transform> transform, LoaderOptions options)
      : dataset_(std::move(dataset)),
        transform_(std::move(transform)),
        options_(options) {
    if (dataset_ == nullptr || transform_ == nullptr) {
      options_status_ =
          absl::InvalidArgumentError("loader: null dataset or transform");
    } else if (options_.batch_size < 1) {
      options_status_ = absl::InvalidArgumentError(
          absl::StrCat("loader.batch_size: ", options_.batch_size, " < 1"));
    } else if (options_.threads < 0 || options_.threads > 256) {
      options_status_ = absl::InvalidArgumentError(absl::StrCat(
          "loader.threads: ", options_.threads, " not in [0, 256]"));
    } else if (options_.prefetch_batches < 0) {
      options_status_ = absl::InvalidArgumentError(absl::StrCat(
          "loader.prefetch_batches: ", options_.prefetch_batches, " < 0"));
    } else {
      options_status_ = CheckShard(options_.shard, "loader.shard");
    }
    pin_ = options_.pin_memory && CudaAvailable();
  }

  ~Impl() { Stop(); }

  int64_t batches_per_epoch() const {
    if (dataset_ == nullptr) return 0;
    return BatchesPerEpoch(dataset_->size(), options_.batch_size,
                           options_.drop_last, options_.shard);
  }

  absl::Status StartEpoch(int64_t epoch) {
    if (!options_status_.ok()) return options_status_;
    if (epoch < 0) {
      return absl::InvalidArgumentError(absl::StrCat("epoch: ", epoch, " < 0"));
    }
    Stop();
    order_.resize(dataset_->size());
    std::iota(order_.begin(), order_.end(), 0);
    if (options_.shuffle) {
      internal::Rng rng(internal::DeriveSeed(
          internal::DeriveSeed(options_.seed, kShuffleStream), epoch));
      internal::Shuffle(order_, rng);
    }
    order_ = ShardOrder(std::move(order_), options_.batch_size, options_.shard);
    epoch_ = epoch;
    num_batches_ = batches_per_epoch();
    next_claim_ = 0;
    next_emit_ = 0;
    cancel_ = false;
    ready_.clear();
    epoch_status_ = absl::OkStatus();
    stats_ = EpochStats();
    stats_.epoch = epoch;
    started_ = true;
    window_ = std::max(options_.prefetch_batches, options_.threads);
    for (int t = 0; t < options_.threads; ++t) {
      workers_.emplace_back([this] { WorkerLoop(); });
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<Batch>> Next() {
    if (!started_) {
      return absl::FailedPreconditionError(
          "loader: Next() before StartEpoch()");
    }
    while (true) {
      if (!epoch_status_.ok()) return epoch_status_;
      if (next_emit_ >= num_batches_) return std::optional<Batch>();
      Prepared prepared;
      if (options_.threads == 0) {
        prepared = Prepare(next_emit_);
        ++next_emit_;
      } else {
        std::unique_lock<std::mutex> lock(mu_);
        ready_cv_.wait(lock, [&] { return ready_.count(next_emit_) > 0; });
        auto it = ready_.find(next_emit_);
        prepared = std::move(it->second);
        ready_.erase(it);
        ++next_emit_;
        lock.unlock();
        claim_cv_.notify_all();
      }
      if (!prepared.status.ok()) {
        epoch_status_ = prepared.status;
        Stop();
        return epoch_status_;
      }
      stats_.skipped_corrupt += prepared.skipped;
      for (std::string& m : prepared.skipped_messages) {
        if (stats_.skipped_messages.size() < kMaxSkippedMessages) {
          stats_.skipped_messages.push_back(std::move(m));
        }
      }
      if (!prepared.batch.has_value()) continue;  // all skipped
      stats_.batches += 1;
      stats_.examples += prepared.batch->indices.size(0);
      return std::move(prepared.batch);
    }
  }

  EpochStats stats() const { return stats_; }

 private:
  void WorkerLoop() {
    while (true) {
      int64_t b;
      {
        std::unique_lock<std::mutex> lock(mu_);
        claim_cv_.wait(lock, [&] {
          return cancel_ || next_claim_ >= num_batches_ ||
                 next_claim_ < next_emit_ + window_;
        });
        if (cancel_ || next_claim_ >= num_batches_) return;
        b = next_claim_++;
      }
      Prepared prepared = Prepare(b);
      const bool failed = !prepared.status.ok();
      {
        std::lock_guard<std::mutex> lock(mu_);
        ready_[b] = std::move(prepared);
      }
      ready_cv_.notify_all();
      if (failed) return;  // the consumer stops the epoch when it gets there
    }
  }

  // Reads and transforms batch `b`; runs on a worker (or the consumer).
  Prepared Prepare(int64_t b) {
    Prepared out;
    try {
      const int64_t n = static_cast<int64_t>(order_.size());
      const int64_t begin = b * options_.batch_size;
      const int64_t end = std::min<int64_t>(begin + options_.batch_size, n);
      const int64_t views = transform_->num_views();
      const int64_t c = transform_->channels();
      const int64_t s = transform_->view_size();
      at::TensorOptions float_options = at::TensorOptions().dtype(at::kFloat);
      at::TensorOptions long_options = at::TensorOptions().dtype(at::kLong);
      if (pin_) {
        float_options = float_options.pinned_memory(true);
        long_options = long_options.pinned_memory(true);
      }
      const int64_t capacity = end - begin;
      Batch batch;
      batch.views = pin_ ? at::empty({capacity, views, c, s, s}, float_options)
                         : PooledViews({capacity, views, c, s, s});
      batch.labels = at::empty({capacity, views}, long_options);
      batch.indices = at::empty({capacity}, long_options);
      batch.classes = at::empty({capacity}, long_options);
      float* views_out = batch.views.data_ptr<float>();
      int64_t* labels_out = batch.labels.data_ptr<int64_t>();
      int64_t* indices_out = batch.indices.data_ptr<int64_t>();
      int64_t* classes_out = batch.classes.data_ptr<int64_t>();
      const size_t sample_floats = static_cast<size_t>(views * c * s * s);
      int64_t k = 0;
      for (int64_t i = begin; i < end; ++i) {
        if (cancel_.load(std::memory_order_relaxed)) {
          out.status = absl::CancelledError("loader stopped");
          return out;
        }
        const int64_t index = order_[i];
        const uint64_t seed = ExampleSeed(options_.seed, epoch_, index);
        const Transform& transform = *transform_;
        // Decoded into a per-thread buffer and transformed straight into the
        // batch: no allocation or copy per image.
        thread_local std::vector<uint8_t> buffer;
        absl::StatusOr<Example> example = dataset_->GetScaledInto(
            index,
            [&transform, seed](int height, int width) {
              return transform.MinDecodeScale(height, width, seed);
            },
            &buffer);
        if (!example.ok()) {
          if (example.status().code() == absl::StatusCode::kDataLoss &&
              dataset_->skip_corrupt()) {
            ++out.skipped;
            out.skipped_messages.emplace_back(example.status().message());
            continue;
          }
          out.status = Annotate(example.status(), *dataset_, index);
          return out;
        }
        const absl::Status applied =
            transform_->ApplyInto(*example, seed, views_out + k * sample_floats,
                                  labels_out + k * views);
        if (buffer.capacity() > (size_t{64} << 20)) {
          std::vector<uint8_t>().swap(buffer);  // after a huge image
        }
        if (!applied.ok()) {
          out.status = Annotate(applied, *dataset_, index);
          return out;
        }
        indices_out[k] = index;
        classes_out[k] = example->label;
        ++k;
      }
      if (k == 0) return out;
      if (k < capacity) {
        batch.views = batch.views.narrow(0, 0, k);
        batch.labels = batch.labels.narrow(0, 0, k);
        batch.indices = batch.indices.narrow(0, 0, k);
        batch.classes = batch.classes.narrow(0, 0, k);
      }
      out.batch = std::move(batch);
    } catch (const std::bad_alloc&) {
      out.status = absl::ResourceExhaustedError("loader: out of memory");
    } catch (const std::exception& e) {
      out.status = absl::InternalError(absl::StrCat("loader: ", e.what()));
    }
    return out;
  }

  // A views tensor from the pool when one is free (only the pool holds it),
  // else a new one that joins the pool. Reusing batch memory saves a fresh
  // mapping and its page faults per batch.
  at::Tensor PooledViews(at::IntArrayRef sizes) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    for (at::Tensor& t : pool_) {
      if (t.sizes() == sizes && t.use_count() == 1 &&
          t.storage().use_count() == 1) {
        return t;
      }
    }
    at::Tensor t = at::empty(sizes, at::kFloat);
    if (pool_.size() < static_cast<size_t>(window_ + options_.threads + 2)) {
      pool_.push_back(t);
    }
    return t;
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancel_ = true;
    }
    claim_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  const std::shared_ptr<const Dataset> dataset_;
  const std::shared_ptr<const Transform> transform_;
  const LoaderOptions options_;
  absl::Status options_status_;
  bool pin_ = false;

  // Set by StartEpoch before the workers start; read-only while they run.
  std::vector<int64_t> order_;
  int64_t epoch_ = -1;
  int64_t num_batches_ = 0;
  int64_t window_ = 1;
  bool started_ = false;

  std::mutex mu_;
  std::condition_variable claim_cv_;  // workers wait for room to claim
  std::condition_variable ready_cv_;  // the consumer waits for its batch
  int64_t next_claim_ = 0;            // guarded by mu_
  int64_t next_emit_ = 0;  // guarded by mu_ (written by the consumer)
  std::atomic<bool> cancel_{false};
  std::map<int64_t, Prepared> ready_;  // guarded by mu_
  std::vector<std::thread> workers_;
  std::mutex pool_mu_;
  std::vector<at::Tensor> pool_;  // guarded by pool_mu_

  // Consumer-only state.
  absl::Status epoch_status_;
  EpochStats stats_;
};

Loader::Loader(std::shared_ptr<const Dataset> dataset,
               std::shared_ptr<const Transform> transform,
               LoaderOptions options)
    : impl_(std::make_unique<Impl>(std::move(dataset), std::move(transform),
                                   options)) {}
Loader::~Loader() = default;
absl::Status Loader::StartEpoch(int64_t epoch) {
  return impl_->StartEpoch(epoch);
}
absl::StatusOr<std::optional<Batch>> Loader::Next() { return impl_->Next(); }
int64_t Loader::batches_per_epoch() const { return impl_->batches_per_epoch(); }
EpochStats Loader::stats() const { return impl_->stats(); }

}  // namespace sslab::data
