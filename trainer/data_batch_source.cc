#include "trainer/data_batch_source.h"

#include <algorithm>
#include <utility>

#include "common/status_macros.h"
#include "experiment/run_config.h"

namespace sslab::trainer {

std::string TrainingTransformKind(Method method) {
  switch (method) {
    case Method::kRotation:
      return "rotation";
    case Method::kExemplar:
      return "exemplar";
    case Method::kJigsaw:
    case Method::kRelativePatchLocation:
      return "patches";
    case Method::kSupervised:
      return "supervised";
  }
  return "supervised";
}

data::TransformOptions TrainingTransformOptions(const TrainerOptions& options) {
  data::TransformOptions transform;
  transform.kind = TrainingTransformKind(options.method);
  transform.image_size = options.image_size;
  if (IsPatchMethod(options.method)) transform.patch_size = ViewSize(options);
  transform.channels = options.model.in_channels;
  experiment::Augmentation augmentation = options.augmentation;
  if (augmentation == experiment::Augmentation::kAuto) {
    augmentation = experiment::DefaultAugmentation(options.image_size);
  }
  if (augmentation == experiment::Augmentation::kLight) {
    transform.crop_area_min = 0.6;
    transform.brightness = 0;
    transform.saturation_lower = transform.saturation_upper = 1;
  }
  return transform;
}

absl::StatusOr<std::unique_ptr<data::BatchSource>> MakeDatasetBatchSource(
    const data::DatasetSpec& dataset, data::Split split,
    const TrainerOptions& options, data::LoaderOptions loader) {
  SSLAB_RETURN_IF_ERROR(ValidateTrainerOptions(options));
  SSLAB_ASSIGN_OR_RETURN(std::shared_ptr<const data::Dataset> ds,
                         data::OpenDataset(dataset, split));
  SSLAB_ASSIGN_OR_RETURN(
      std::shared_ptr<const data::Transform> t,
      data::MakeTransform(TrainingTransformOptions(options)));
  const DataParallelOptions& ranks = options.data_parallel;
  loader.batch_size =
      static_cast<int>(options.batch_size / std::max(1, ranks.world_size));
  loader.shard = {ranks.rank, ranks.world_size};
  loader.drop_last = true;
  return std::unique_ptr<data::BatchSource>(
      std::make_unique<data::Loader>(std::move(ds), std::move(t), loader));
}

}  // namespace sslab::trainer
