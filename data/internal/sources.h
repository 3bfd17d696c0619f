// The readers behind OpenDataset: each opens all examples of one file set
// (the training or the test files) as a Dataset.
#ifndef SSLAB_DATA_INTERNAL_SOURCES_H_
#define SSLAB_DATA_INTERNAL_SOURCES_H_

#include <memory>

#include "absl/status/statusor.h"
#include "data/dataset.h"

namespace sslab::data::internal {

// `test` picks the test files instead of the training files. `channels` is
// DatasetSpec::channels. Errors as documented for OpenDataset.
absl::StatusOr<std::shared_ptr<const Dataset>> OpenIdx(const std::string& path,
                                                       bool test, int channels);
absl::StatusOr<std::shared_ptr<const Dataset>> OpenCifar(
    const std::string& path, bool test, int channels);
absl::StatusOr<std::shared_ptr<const Dataset>> OpenImageFolder(
    const std::string& path, bool test, int channels, bool strict);

}  // namespace sslab::data::internal

#endif  // SSLAB_DATA_INTERNAL_SOURCES_H_
