// Checkpoint loading (trainer/checkpoint.h): the input is a checkpoint file.
// The harness runs what LoadModelFromCheckpoint runs on it, with a small
// network in place of the config's (building a ResNet50 per input would
// leave the fuzzer a few executions a second): ReadCheckpoint, the config's
// JSON (TrainerOptionsFromJson, which must round-trip), and copying the
// "backbone." tensors into the network (LoadModuleState).
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "trainer/internal/checkpoint_io.h"
#include "trainer/options.h"

namespace {

// Parameters and buffers as a backbone names them: fc.weight, fc.bias,
// bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked.
struct TinyNet : torch::nn::Module {
  TinyNet()
      : fc(register_module("fc", torch::nn::Linear(2, 3))),
        bn(register_module("bn", torch::nn::BatchNorm1d(3))) {}
  torch::nn::Linear fc;
  torch::nn::BatchNorm1d bn;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sslab::fuzz;
  namespace trainer = sslab::trainer;
  const std::filesystem::path path = ScratchDir() / "epoch-0001.ckpt";
  WriteFile(path, absl::string_view(reinterpret_cast<const char*>(data), size));
  absl::StatusOr<trainer::internal::CheckpointContents> contents =
      trainer::internal::ReadCheckpoint(path);
  if (!contents.ok()) {
    CheckCode(contents.status(), "ReadCheckpoint",
              {absl::StatusCode::kDataLoss});
    return 0;
  }
  absl::StatusOr<trainer::TrainerOptions> options =
      trainer::TrainerOptionsFromJson(contents->config_json);
  if (!options.ok()) {
    CheckCode(options.status(), "TrainerOptionsFromJson",
              {absl::StatusCode::kInvalidArgument});
  } else {
    const std::string json = trainer::TrainerOptionsToJson(*options);
    absl::StatusOr<trainer::TrainerOptions> again =
        trainer::TrainerOptionsFromJson(json);
    if (!again.ok() || trainer::TrainerOptionsToJson(*again) != json) {
      Fail("TrainerOptions: JSON does not round-trip", again.status());
    }
  }
  TinyNet net;
  absl::Status loaded = trainer::internal::LoadModuleState(
      net, contents->model, "backbone.", path.string());
  CheckCode(loaded, "LoadModuleState", {absl::StatusCode::kInvalidArgument});
  return 0;
}
