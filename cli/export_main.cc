// sslab-export: the half of `sslab export` that reads checkpoints with
// LibTorch, kept out of the `sslab` binary so that every other command starts
// in milliseconds. `sslab export` runs it with the request as one JSON
// argument (cli/export_request.h); it is not meant to be run by hand.
#include <iostream>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "cli/export_command.h"
#include "cli/export_request.h"

namespace {

constexpr int kExitError = 1;  // as `sslab`'s local and server errors
constexpr int kExitUsage = 2;

int Fail(const absl::Status& status, int exit_code) {
  std::cerr << "sslab: error: " << absl::StatusCodeToString(status.code())
            << ": " << status.message() << "\n";
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: sslab-export REQUEST_JSON (run by `sslab export`)\n";
    return kExitUsage;
  }
  const absl::StatusOr<sslab::cli::ExportRequest> request =
      sslab::cli::ExportRequestFromJson(argv[1]);
  if (!request.ok()) return Fail(request.status(), kExitUsage);
  std::ostream quiet(nullptr);
  const absl::StatusOr<std::string> manifest =
      sslab::cli::ExportRun(*request, request->json_output ? quiet : std::cout);
  if (!manifest.ok()) return Fail(manifest.status(), kExitError);
  if (request->json_output) {
    std::cout << *manifest;
  } else {
    std::cout << "written to " << request->to.string()
              << "/ (manifest.json); in Python, from there: import "
                 "sslab_models; model = sslab_models.load(\"model.pt\")\n";
  }
  return 0;
}
