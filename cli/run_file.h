// Run and sweep files for `sslab submit -f FILE` and `sslab sweep -f FILE`:
// YAML (JSON is YAML too) whose keys are the command's flags without their
// dashes (`batch-size` or `batch_size`), with the same values: scalars as
// on the command line, lists for the comma-separated flags and the sweep's
// axes. configs/ has the study's experiments written this way.
//
//   method: rotation
//   arch: revnet50
//   width: 16
//   dataset: imagefolder:/data/imagenet
//   layers: [block3, block4, pre_logits]
//
// A sweep's further axes are a map, one `--axis FIELD=VALUES` per entry,
// and a list of lists joins its inner lists with ';' (a list setting's
// values, or several zip groups):
//
//   axes:
//     lr: [0.1, 0.4]
//     decay-epochs: [[15, 25], [20]]
//   zip: [[epochs, decay-epochs]]
//
// Flags given on the command line override the file's keys, and an
// `--axis` the file's entry for the same field.
#ifndef SSLAB_CLI_RUN_FILE_H_
#define SSLAB_CLI_RUN_FILE_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sslab/v1/types.pb.h"

namespace sslab::cli {

// The arguments `path` stands for under `command` ("--batch-size=64", ...),
// leaving out every option the command line already gave. INVALID_ARGUMENT
// naming the file and the key for a key that is not a flag of `command`, a
// nested map, or an empty value; NOT_FOUND if the file cannot be read.
absl::StatusOr<std::vector<std::string>> RunFileArguments(
    const std::string& path, const CLI::App& command);

// The run file of a complete config: every setting under its flag's name,
// numbers in their shortest exact form, so that `sslab submit -f` of it
// asks for exactly `config` (file -> config -> file is a fixed point). What
// `--dry-run` prints, and `sslab show RUN --as-file` (to run it again).
std::string RunFileFromConfig(const v1::RunConfig& config);

}  // namespace sslab::cli

#endif  // SSLAB_CLI_RUN_FILE_H_
