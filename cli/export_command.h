// `sslab export`: a run's checkpoint and features as files a notebook opens
// (the local half; main.cc asks the scheduler which checkpoint). Reads the
// artifact directory directly, so it runs where that directory is (the
// scheduler's --data-dir, or a mount of it).
#ifndef SSLAB_CLI_EXPORT_COMMAND_H_
#define SSLAB_CLI_EXPORT_COMMAND_H_

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sslab/v1/types.pb.h"

namespace sslab::cli {

struct ExportRequest {
  int64_t run_id = 0;
  v1::Checkpoint checkpoint;        // as ListCheckpoints returns it
  std::filesystem::path artifacts;  // the artifact directory
  std::filesystem::path to;         // output directory, created
  std::vector<std::string> layers;  // empty: every layer extracted
  std::vector<std::string> splits;  // empty: every split extracted
  bool model = true;
  bool features = true;
};

// Writes under `to`:
//   model.pt + sslab_models.py   the backbone (sslab_models.load("model.pt"))
//   features/<split>/<layer>.npy and labels.npy (numpy.load(...,
//   mmap_mode="r")) manifest.json                what was written, with shapes
//   and dtypes
// and prints one line per file to `progress`. Returns the manifest JSON.
// The checkpoint is checked against its registered SHA-256 before torch
// reads it (DATA_LOSS naming it otherwise); NOT_FOUND naming --artifacts when
// a file is not under it; NOT_FOUND when a --layer or --split asked for has no
// shards (never extracted, or deleted by retention).
absl::StatusOr<std::string> ExportRun(const ExportRequest& request,
                                      std::ostream& progress);

}  // namespace sslab::cli

#endif  // SSLAB_CLI_EXPORT_COMMAND_H_
