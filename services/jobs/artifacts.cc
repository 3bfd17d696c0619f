#include "services/jobs/artifacts.h"

#include <system_error>

#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "experiment/job_graph.h"

namespace sslab::services {

namespace fs = std::filesystem;

namespace {

// Whether `path` is `root` or lies below it (both canonical).
bool IsUnder(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<fs::path> OpenArtifact(const fs::path& artifact_dir,
                                      const std::string& path,
                                      absl::string_view field) {
  SSLAB_RETURN_IF_ERROR(experiment::CheckArtifactPath(path, field));
  std::error_code ec;
  const fs::path root = fs::canonical(artifact_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("the artifact directory ", artifact_dir.string(),
                     " is not usable: ", ec.message()));
  }
  const fs::path file = fs::canonical(root / path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return MissingOnThisWorker(absl::NotFoundError(
          absl::StrCat(field, ": ", path,
                       " is not in the artifact directory of this worker")));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", path, ": ", ec.message()));
  }
  if (!IsUnder(file, root)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", path, " leads out of the artifact directory"));
  }
  if (!fs::is_regular_file(file, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", path, " is not a regular file"));
  }
  return file;
}

absl::StatusOr<fs::path> OpenVerifiedArtifact(const fs::path& artifact_dir,
                                              const std::string& path,
                                              const std::string& sha256,
                                              absl::string_view field) {
  SSLAB_ASSIGN_OR_RETURN(fs::path file,
                         OpenArtifact(artifact_dir, path, field));
  SSLAB_ASSIGN_OR_RETURN(std::string actual, Sha256OfFile(file));
  if (actual != sha256) {
    return absl::DataLossError(
        absl::StrCat(path, ": its SHA-256 differs from the one registered (",
                     sha256, "); the file was changed or is corrupt"));
  }
  return file;
}

absl::Status MissingOnThisWorker(const absl::Status& status) {
  if (!absl::IsNotFound(status)) return status;
  return absl::UnavailableError(
      absl::StrCat(status.message(), " (on this worker; retried elsewhere)"));
}

absl::Status CheckDatasetPath(const std::string& path,
                              const std::vector<fs::path>& roots) {
  if (roots.empty()) return absl::OkStatus();
  std::error_code ec;
  const fs::path target = fs::weakly_canonical(fs::absolute(path, ec), ec);
  std::vector<std::string> names;
  for (const fs::path& root : roots) {
    names.push_back(root.string());
    std::error_code root_ec;
    const fs::path canonical_root = fs::canonical(root, root_ec);
    if (!ec && !root_ec && IsUnder(target, canonical_root)) {
      return absl::OkStatus();
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "dataset.path: ", path, " is outside this worker's dataset roots (",
      absl::StrJoin(names, ", "), ")"));
}

}  // namespace sslab::services
