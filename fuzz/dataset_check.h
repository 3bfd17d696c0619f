// Opens a dataset written by a fuzz target and checks what the readers
// promise of any file: an error with one of OpenDataset's documented codes,
// or a dataset whose examples decode with the declared shape and labels.
#ifndef SSLAB_FUZZ_DATASET_CHECK_H_
#define SSLAB_FUZZ_DATASET_CHECK_H_

#include <cstdint>
#include <memory>

#include "data/dataset.h"
#include "fuzz/fuzz_util.h"

namespace sslab::fuzz {

// `flags` picks the split, the channels and the subsets.
inline void OpenAndCheckDataset(data::DatasetKind kind,
                                const std::filesystem::path& dir,
                                uint8_t flags) {
  data::DatasetSpec spec;
  spec.kind = kind;
  spec.path = dir.string();
  spec.channels = (flags & 4) != 0 ? 3 : ((flags & 8) != 0 ? 1 : 0);
  if ((flags & 16) != 0) spec.max_examples = 3;
  if ((flags & 32) != 0) spec.label_fraction = 0.5;
  spec.val_fraction = (flags & 64) != 0 ? 0.5 : 0.1;
  const data::Split split = static_cast<data::Split>((flags & 3) % 3);
  absl::StatusOr<std::shared_ptr<const data::Dataset>> opened =
      data::OpenDataset(spec, split);
  if (!opened.ok()) {
    CheckCode(opened.status(), "OpenDataset",
              {absl::StatusCode::kDataLoss, absl::StatusCode::kInvalidArgument,
               absl::StatusCode::kNotFound});
    return;
  }
  const data::Dataset& dataset = **opened;
  const int64_t n = dataset.size();
  if (n < 0 || dataset.num_classes() < 1 ||
      static_cast<int>(dataset.class_names().size()) != dataset.num_classes()) {
    Fail("OpenDataset: inconsistent dataset");
  }
  for (int64_t index : {int64_t{0}, n / 2, n - 1}) {
    if (index < 0 || index >= n) continue;
    absl::StatusOr<data::Example> example = dataset.Get(index);
    if (!example.ok()) {
      CheckCode(example.status(), "Get", {absl::StatusCode::kDataLoss});
      continue;
    }
    const at::Tensor& image = example->image;
    if (image.dim() != 3 || image.size(2) != dataset.channels() ||
        image.size(0) < 1 || image.size(1) < 1 ||
        image.scalar_type() != at::kByte) {
      Fail("Get: image of the wrong shape or type");
    }
    if (example->label < 0 || example->label >= dataset.num_classes() ||
        example->label != dataset.label(index)) {
      Fail("Get: label out of range or unlike label()");
    }
    if (dataset.source(index).empty()) Fail("source: empty");
  }
  if (dataset.Get(n).status().code() != absl::StatusCode::kOutOfRange) {
    Fail("Get(size()): expected OUT_OF_RANGE");
  }
}

}  // namespace sslab::fuzz

#endif  // SSLAB_FUZZ_DATASET_CHECK_H_
