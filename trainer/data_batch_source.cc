#include "trainer/data_batch_source.h"

#include <utility>

#include "common/status_macros.h"

namespace sslab::trainer {

LoaderBatchSource::LoaderBatchSource(std::unique_ptr<data::Loader> loader)
    : loader_(std::move(loader)) {}

absl::Status LoaderBatchSource::StartEpoch(int64_t epoch) {
  return loader_->StartEpoch(epoch);
}

absl::StatusOr<std::optional<TrainingBatch>> LoaderBatchSource::Next() {
  SSLAB_ASSIGN_OR_RETURN(std::optional<data::Batch> batch, loader_->Next());
  if (!batch.has_value()) return std::nullopt;
  TrainingBatch out;
  out.views = std::move(batch->views);
  out.labels = std::move(batch->labels);
  out.classes = std::move(batch->classes);
  return out;
}

int64_t LoaderBatchSource::batches_per_epoch() const {
  return loader_->batches_per_epoch();
}

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

absl::StatusOr<std::unique_ptr<BatchSource>> MakeDatasetBatchSource(
    const data::DatasetSpec& dataset, data::Split split,
    const TrainerOptions& options, data::LoaderOptions loader) {
  SSLAB_RETURN_IF_ERROR(ValidateTrainerOptions(options));
  SSLAB_ASSIGN_OR_RETURN(std::shared_ptr<const data::Dataset> ds,
                         data::OpenDataset(dataset, split));
  data::TransformOptions transform;
  transform.kind = TrainingTransformKind(options.method);
  transform.image_size = options.image_size;
  if (IsPatchMethod(options.method)) transform.patch_size = ViewSize(options);
  transform.channels = options.model.in_channels;
  SSLAB_ASSIGN_OR_RETURN(std::shared_ptr<const data::Transform> t,
                         data::MakeTransform(transform));
  loader.batch_size = static_cast<int>(options.batch_size);
  loader.drop_last = true;
  auto l = std::make_unique<data::Loader>(std::move(ds), std::move(t), loader);
  return std::unique_ptr<BatchSource>(
      std::make_unique<LoaderBatchSource>(std::move(l)));
}

}  // namespace sslab::trainer
