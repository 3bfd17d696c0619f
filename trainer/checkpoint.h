// Pretext-training checkpoints: one file per checkpoint holding the network
// (backbone and pretext head), the optimizer's momentum buffers, epoch, step,
// random-generator states and the run's full config (JSON).
//
// The file is a torch pickle archive (`torch::pickle_save` of a dict), so it
// can also be opened from Python with `torch.load`. Files are written with
// WriteFileAtomically: readers see a whole checkpoint or none.
//
// Functions here are thread-compatible: they touch no shared state besides
// the file named.
#ifndef SSLAB_TRAINER_CHECKPOINT_H_
#define SSLAB_TRAINER_CHECKPOINT_H_

#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "experiment/vocabulary.h"
#include "models/model.h"

namespace sslab::trainer {

// A trained backbone read back from a checkpoint, for feature extraction.
struct LoadedModel {
  // In eval mode (BatchNorm uses its running statistics), on the requested
  // device. Has a head producing "logits" when the method's network has one
  // (model_options.num_outputs > 0).
  std::shared_ptr<models::BackboneImpl> backbone;
  models::ModelOptions model_options;
  // The pretext method that trained it. Patch methods
  // (experiment::IsPatchMethod) expect 3x3 grids of patches: average the 9
  // patch features as REFERENCE.md says.
  experiment::Method method = experiment::Method::kRotation;
  int64_t epoch = 0;  // Completed epochs when the checkpoint was written.
  int64_t step = 0;   // Optimizer steps taken.
  // The run's full trainer config, JSON (see TrainerOptionsToJson).
  std::string config_json;
};

// The file name of the checkpoint written after `epoch` epochs:
// "epoch-0007.ckpt".
std::string CheckpointFileName(int64_t epoch);

// Reads the backbone stored in the checkpoint at `path` onto `device`.
// Returns NOT_FOUND if the file does not exist, DATA_LOSS naming the file if
// it is truncated or not a checkpoint, INVALID_ARGUMENT if its tensors do not
// fit the architecture its config names, and FAILED_PRECONDITION if `device`
// is not usable in this build.
absl::StatusOr<LoadedModel> LoadModelFromCheckpoint(
    const std::filesystem::path& path, c10::Device device);

}  // namespace sslab::trainer

#endif  // SSLAB_TRAINER_CHECKPOINT_H_
