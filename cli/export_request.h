// What `sslab export` asks of sslab-export, its torch half: the CLI resolves
// the checkpoint through the scheduler and hands the request over as one
// JSON argument, so that the `sslab` binary itself never loads LibTorch
// (whose static initialisers cost ~0.8 s of CPU per command).
#ifndef SSLAB_CLI_EXPORT_REQUEST_H_
#define SSLAB_CLI_EXPORT_REQUEST_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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
  bool json_output = false;  // print the manifest, not the file lines
};

std::string ExportRequestToJson(const ExportRequest& request);

// INVALID_ARGUMENT naming what is malformed or missing.
absl::StatusOr<ExportRequest> ExportRequestFromJson(absl::string_view text);

}  // namespace sslab::cli

#endif  // SSLAB_CLI_EXPORT_REQUEST_H_
