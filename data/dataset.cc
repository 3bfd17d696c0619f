#include "data/dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "data/internal/random.h"
#include "data/internal/sources.h"

namespace sslab::data {
namespace {

using internal::DeriveSeed;
using internal::Rng;

// Stream ids for DeriveSeed: the val split and the subsets draw from
// independent streams of the same seed.
constexpr uint64_t kValStream = 0x76616c;     // "val"
constexpr uint64_t kSubsetStream = 0x737562;  // "sub"

// A subset of another dataset, by index.
class SubsetDataset final : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<const Dataset> base,
                std::vector<int64_t> indices)
      : base_(std::move(base)), indices_(std::move(indices)) {}

  int64_t size() const override {
    return static_cast<int64_t>(indices_.size());
  }
  int num_classes() const override { return base_->num_classes(); }
  int channels() const override { return base_->channels(); }
  const std::vector<std::string>& class_names() const override {
    return base_->class_names();
  }
  int64_t label(int64_t index) const override {
    return base_->label(indices_[index]);
  }
  std::string source(int64_t index) const override {
    return base_->source(indices_[index]);
  }
  bool skip_corrupt() const override { return base_->skip_corrupt(); }
  absl::StatusOr<Example> Get(int64_t index) const override {
    if (index < 0 || index >= size()) return OutOfRange(index);
    return base_->Get(indices_[index]);
  }
  absl::StatusOr<Example> GetScaled(
      int64_t index,
      const std::function<double(int, int)>& min_scale) const override {
    if (index < 0 || index >= size()) return OutOfRange(index);
    return base_->GetScaled(indices_[index], min_scale);
  }
  absl::StatusOr<Example> GetScaledInto(
      int64_t index, const std::function<double(int, int)>& min_scale,
      std::vector<uint8_t>* buffer) const override {
    if (index < 0 || index >= size()) return OutOfRange(index);
    return base_->GetScaledInto(indices_[index], min_scale, buffer);
  }

 private:
  absl::Status OutOfRange(int64_t index) const {
    return absl::OutOfRangeError(
        absl::StrCat("index ", index, " not in [0, ", size(), ")"));
  }

  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

// Per-class lists of `indices` (in order), each shuffled by
// (seed, stream, class).
std::vector<std::vector<int64_t>> ShuffledByClass(
    const Dataset& base, const std::vector<int64_t>& indices, uint64_t seed,
    uint64_t stream) {
  std::vector<std::vector<int64_t>> by_class(base.num_classes());
  for (int64_t i : indices) by_class[base.label(i)].push_back(i);
  for (size_t c = 0; c < by_class.size(); ++c) {
    Rng rng(DeriveSeed(DeriveSeed(seed, stream), c));
    internal::Shuffle(by_class[c], rng);
  }
  return by_class;
}

// Splits `total` over classes as evenly as their sizes allow (water-filling:
// small classes give what they have, the rest share equally; remainders go
// to the lowest class ids). Monotone in `total`, so prefixes nest.
std::vector<int64_t> BalancedQuota(
    const std::vector<std::vector<int64_t>>& by_class, int64_t total) {
  const size_t k = by_class.size();
  std::vector<int64_t> quota(k, 0);
  std::vector<size_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return by_class[a].size() < by_class[b].size();
  });
  int64_t remaining = total;
  size_t left = 0;
  for (size_t c = 0; c < k; ++c) left += by_class[c].empty() ? 0 : 1;
  for (size_t c : order) {
    if (by_class[c].empty()) continue;
    const int64_t share = remaining / static_cast<int64_t>(left);
    quota[c] = std::min<int64_t>(share, by_class[c].size());
    remaining -= quota[c];
    --left;
  }
  for (size_t c = 0; c < k && remaining > 0; ++c) {
    if (quota[c] < static_cast<int64_t>(by_class[c].size())) {
      ++quota[c];
      --remaining;
    }
  }
  return quota;
}

absl::Status ValidateSpec(const DatasetSpec& spec) {
  if (experiment::Name(spec.kind).empty()) {
    return absl::InvalidArgumentError("dataset.kind: unknown value");
  }
  if (spec.path.empty())
    return absl::InvalidArgumentError("dataset.path: empty");
  if (!(spec.val_fraction >= 0.0 && spec.val_fraction < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset.val_fraction: ", spec.val_fraction, " not in [0, 1)"));
  }
  if (!(spec.label_fraction > 0.0 && spec.label_fraction <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset.label_fraction: ", spec.label_fraction, " not in (0, 1]"));
  }
  if (spec.max_examples < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset.max_examples: ", spec.max_examples, " is negative"));
  }
  if (spec.channels != 0 && spec.channels != 1 && spec.channels != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset.channels: ", spec.channels, " not one of 0, 1, 3"));
  }
  return absl::OkStatus();
}

}  // namespace

Dataset::~Dataset() = default;

absl::StatusOr<Example> Dataset::GetScaled(
    int64_t index, const std::function<double(int, int)>& min_scale) const {
  return Get(index);
}

absl::StatusOr<Example> Dataset::GetScaledInto(
    int64_t index, const std::function<double(int, int)>& min_scale,
    std::vector<uint8_t>* buffer) const {
  return GetScaled(index, min_scale);
}

absl::StatusOr<std::shared_ptr<const Dataset>> OpenDataset(
    const DatasetSpec& spec, Split split) {
  SSLAB_RETURN_IF_ERROR(ValidateSpec(spec));
  const bool test = split == Split::kTest;
  std::shared_ptr<const Dataset> base;
  if (spec.kind == DatasetKind::kIdx) {
    SSLAB_ASSIGN_OR_RETURN(base,
                           internal::OpenIdx(spec.path, test, spec.channels));
  } else if (spec.kind == DatasetKind::kCifar) {
    SSLAB_ASSIGN_OR_RETURN(base,
                           internal::OpenCifar(spec.path, test, spec.channels));
  } else {
    SSLAB_ASSIGN_OR_RETURN(
        base,
        internal::OpenImageFolder(spec.path, test, spec.channels, spec.strict));
  }

  std::vector<int64_t> indices(base->size());
  std::iota(indices.begin(), indices.end(), 0);
  if (!test && spec.val_fraction > 0) {
    // Stratified hold-out: the first round(f * n_c) of each class's shuffle,
    // leaving at least one training example per class.
    std::vector<std::vector<int64_t>> by_class =
        ShuffledByClass(*base, indices, spec.seed, kValStream);
    std::vector<char> in_val(base->size(), 0);
    for (const auto& members : by_class) {
      const int64_t n = static_cast<int64_t>(members.size());
      const int64_t k = std::min<int64_t>(
          std::llround(spec.val_fraction * static_cast<double>(n)),
          std::max<int64_t>(n - 1, 0));
      for (int64_t i = 0; i < k; ++i) in_val[members[i]] = 1;
    }
    const char want = split == Split::kVal ? 1 : 0;
    std::vector<int64_t> kept;
    for (int64_t i : indices) {
      if (in_val[i] == want) kept.push_back(i);
    }
    indices = std::move(kept);
  } else if (split == Split::kVal) {
    indices.clear();
  }

  const bool label_subset = split == Split::kTrain && spec.label_fraction < 1.0;
  const int64_t n = static_cast<int64_t>(indices.size());
  if (label_subset || (spec.max_examples > 0 && spec.max_examples < n)) {
    std::vector<std::vector<int64_t>> by_class =
        ShuffledByClass(*base, indices, spec.seed, kSubsetStream);
    int64_t total = n;
    if (label_subset) {
      total = std::max<int64_t>(
          1, std::llround(spec.label_fraction * static_cast<double>(n)));
    }
    if (spec.max_examples > 0) total = std::min(total, spec.max_examples);
    const std::vector<int64_t> quota = BalancedQuota(by_class, total);
    std::vector<int64_t> kept;
    for (size_t c = 0; c < by_class.size(); ++c) {
      kept.insert(kept.end(), by_class[c].begin(),
                  by_class[c].begin() + quota[c]);
    }
    std::sort(kept.begin(), kept.end());
    indices = std::move(kept);
  }
  if (static_cast<int64_t>(indices.size()) == base->size()) return base;
  return std::shared_ptr<const Dataset>(
      std::make_shared<SubsetDataset>(std::move(base), std::move(indices)));
}

}  // namespace sslab::data
