// Training batches from the data pipeline (data/): a dataset split, the
// method's training transform and a threaded data::Loader.
#ifndef SSLAB_TRAINER_DATA_BATCH_SOURCE_H_
#define SSLAB_TRAINER_DATA_BATCH_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "data/batch_source.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "trainer/options.h"

namespace sslab::trainer {

// The transform kind a method trains on: "rotation", "exemplar", "patches"
// (Jigsaw, Relative Patch Location) or "supervised".
std::string TrainingTransformKind(Method method);

// Opens `split` of `dataset` with the method's training transform at
// options.image_size and options.model.in_channels channels, and a loader
// with options.batch_size and `loader` for the rest (batch_size overridden,
// drop_last forced so every step has the configured batch). Errors from
// data/ are passed through (INVALID_ARGUMENT naming the field, NOT_FOUND,
// DATA_LOSS naming the file).
absl::StatusOr<std::unique_ptr<data::BatchSource>> MakeDatasetBatchSource(
    const data::DatasetSpec& dataset, data::Split split,
    const TrainerOptions& options, data::LoaderOptions loader = {});

}  // namespace sslab::trainer

#endif  // SSLAB_TRAINER_DATA_BATCH_SOURCE_H_
