// `sslab export`: a run's checkpoint and features as files a notebook opens
// (the local half, in the sslab-export binary: main.cc asks the scheduler
// which checkpoint and runs it). Reads the artifact directory directly, so it
// runs where that directory is (the scheduler's --data-dir, or a mount of it).
#ifndef SSLAB_CLI_EXPORT_COMMAND_H_
#define SSLAB_CLI_EXPORT_COMMAND_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "cli/export_request.h"

namespace sslab::cli {

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
