// Exports for Python: a layer's feature matrix as .npy (numpy.load(...,
// mmap_mode="r") maps it without reading it) and a checkpoint's backbone as a
// state dict that python/sslab_models.py loads into a PyTorch module with the
// same parameter names and forward pass.
//
// Every output is written under a temporary name and renamed into place, so
// an interrupted export leaves no partial file. Functions are
// thread-compatible.
#ifndef SSLAB_EXPORTER_EXPORT_H_
#define SSLAB_EXPORTER_EXPORT_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sslab::exporter {

// The backbone export's "format" value, checked by sslab_models.load.
inline constexpr char kBackboneFormat[] = "sslab-backbone-1";

struct NpyFile {
  std::filesystem::path path;
  std::string descr;  // numpy dtype: "<f4", "<f2" or "<i8"
  std::vector<int64_t> shape;
  int64_t bytes = 0;  // file size
};

// Writes a CPU tensor (float32, float16 or int64; any layout) as .npy
// version 1.0, C order. INVALID_ARGUMENT for other dtypes; INTERNAL naming
// the path for I/O failures.
absl::StatusOr<NpyFile> WriteNpy(const std::filesystem::path& path,
                                 const at::Tensor& tensor);

// Copies a feature shard (evaluator/feature_shard.h) into an .npy file of
// the same dtype and shape ([rows, dims]; labels are int64 [rows, 1]),
// streaming, and verifying the shard's payload checksum on the way: a corrupt
// shard is DATA_LOSS naming it and leaves no .npy behind. NOT_FOUND for a
// missing shard.
absl::StatusOr<NpyFile> ExportFeatureShard(const std::filesystem::path& shard,
                                           const std::filesystem::path& npy);

struct BackboneExport {
  std::string architecture;  // as in the run config, e.g. "resnet50_v2"
  std::string method;
  int64_t epoch = 0;
  int64_t tensors = 0;  // parameters and buffers written
  int64_t bytes = 0;    // file size
};

// Writes the backbone of the training checkpoint at `checkpoint` (without the
// pretext head) to `out` as a torch pickle dict:
//   {"format": kBackboneFormat, "model_options": {architecture, width, ...}
//    (the run config's "model" object), "method", "epoch", "run_id",
//    "state_dict": {parameter name: tensor}}.
// torch.load reads it; sslab_models.load rebuilds the network from it.
// Errors as trainer::LoadModelFromCheckpoint (NOT_FOUND, DATA_LOSS naming
// the file, INVALID_ARGUMENT), INTERNAL for I/O failures.
absl::StatusOr<BackboneExport> ExportBackbone(
    const std::filesystem::path& checkpoint, const std::filesystem::path& out,
    int64_t run_id);

// The text of python/sslab_models.py, built into the library.
absl::string_view PythonModelsModule();

}  // namespace sslab::exporter

#endif  // SSLAB_EXPORTER_EXPORT_H_
