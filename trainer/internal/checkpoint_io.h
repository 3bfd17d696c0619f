// Checkpoint file format shared by the trainer and LoadModelFromCheckpoint:
// torch::pickle_save of a dict
//   format: "sslab.checkpoint.v1", config: JSON string, torch_version,
//   epoch, step: int, model: {name: tensor} (parameters and buffers of the
//   PretextModel, "backbone.*" / "head.*"), momentum: {name: tensor},
//   rng_cpu, rng_trainer: uint8 generator states, permutations: int64 [P, 9]
//   (Jigsaw; absent otherwise).
#ifndef SSLAB_TRAINER_INTERNAL_CHECKPOINT_IO_H_
#define SSLAB_TRAINER_INTERNAL_CHECKPOINT_IO_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sslab::trainer::internal {

inline constexpr const char* kCheckpointFormat = "sslab.checkpoint.v1";

struct CheckpointContents {
  std::string config_json;
  int64_t epoch = 0;
  int64_t step = 0;
  std::map<std::string, at::Tensor> model;
  std::map<std::string, at::Tensor> momentum;
  at::Tensor rng_cpu;
  at::Tensor rng_trainer;
  at::Tensor permutations;
};

// Bytes of the checkpoint file (tensors copied to CPU, contiguous).
absl::StatusOr<std::string> SerializeCheckpoint(
    const CheckpointContents& contents);

// NOT_FOUND for a missing file, DATA_LOSS naming the file when it is
// truncated, corrupt or not an sslab checkpoint.
absl::StatusOr<CheckpointContents> ReadCheckpoint(
    const std::filesystem::path& path);

// Parameters and buffers of `module` (named as named_parameters /
// named_buffers, recursively), detached, on CPU.
std::map<std::string, at::Tensor> ModuleState(const torch::nn::Module& module);

// Copies the tensors of `state` whose name starts with `prefix` (prefix
// stripped) into `module`'s parameters and buffers. Returns INVALID_ARGUMENT
// naming `source` when a tensor is missing, unexpected or of another shape.
absl::Status LoadModuleState(torch::nn::Module& module,
                             const std::map<std::string, at::Tensor>& state,
                             const std::string& prefix,
                             const std::string& source);

}  // namespace sslab::trainer::internal

#endif  // SSLAB_TRAINER_INTERNAL_CHECKPOINT_IO_H_
