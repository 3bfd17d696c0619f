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
#include "data/transforms.h"
#include "trainer/options.h"

namespace sslab::trainer {

// The transform kind a method trains on: "rotation", "exemplar", "patches"
// (Jigsaw, Relative Patch Location) or "supervised".
std::string TrainingTransformKind(Method method);

// The training transform of `options`: the method's kind at its view size,
// with options.augmentation applied. kInception is the study's (crops of
// 5-100% of the area, flip, brightness and saturation jitter); kLight keeps
// crops of 60-100% and the flip and drops the colour jitter: at 28-32 px a
// 5% crop is a 6-7 px patch blown up 4-5x, too little to tell a rotation
// from, and public CIFAR-scale rotation code uses no scale or colour
// augmentation at all (docs/study-fmnist.md has the measurement). Patch
// methods cut their own patches and ignore it.
data::TransformOptions TrainingTransformOptions(const TrainerOptions& options);

// Opens `split` of `dataset` with the method's training transform at
// options.image_size and options.model.in_channels channels, and a loader
// with options.batch_size and `loader` for the rest (batch_size overridden,
// drop_last forced so every step has the configured batch). A data-parallel
// rank reads its shard: batch_size / world_size of every global batch.
// Errors from
// data/ are passed through (INVALID_ARGUMENT naming the field, NOT_FOUND,
// DATA_LOSS naming the file).
absl::StatusOr<std::unique_ptr<data::BatchSource>> MakeDatasetBatchSource(
    const data::DatasetSpec& dataset, data::Split split,
    const TrainerOptions& options, data::LoaderOptions loader = {});

}  // namespace sslab::trainer

#endif  // SSLAB_TRAINER_DATA_BATCH_SOURCE_H_
