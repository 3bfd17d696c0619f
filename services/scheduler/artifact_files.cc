#include "services/scheduler/artifact_files.h"

#include <string>
#include <system_error>

#include "common/log.h"
#include "experiment/job_graph.h"
#include "services/jobs/artifacts.h"

namespace sslab::services {
namespace {

// Removes a regular file, adding it to `removed`; false if it could not be.
bool RemoveFile(const std::filesystem::path& path, Removed& removed) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return ec == std::errc::no_such_file_or_directory;
  if (!std::filesystem::remove(path, ec) || ec) {
    SSLAB_LOG(WARNING) << "cannot remove " << path << ": " << ec.message();
    return false;
  }
  ++removed.files;
  removed.bytes += static_cast<int64_t>(size);
  return true;
}

bool OnlyLabelsLeft(const std::filesystem::path& split_dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(split_dir, ec)) {
    if (entry.path().filename() != "labels.feat") return false;
  }
  return !ec;
}

}  // namespace

Removed ArtifactFiles::Remove(
    const std::vector<scheduler::Artifact>& artifacts) const {
  Removed removed;
  for (const scheduler::Artifact& a : artifacts) {
    // Registered paths were checked when registered; a database edited by
    // hand must still not reach outside the directory.
    if (!experiment::CheckArtifactPath(a.path, "path").ok()) {
      SSLAB_LOG(ERROR) << "not removing " << a.path
                       << ": not a relative path inside the artifact dir";
      continue;
    }
    const std::filesystem::path path = dir_ / a.path;
    if (!RemoveFile(path, removed)) continue;
    std::error_code ec;
    if (a.kind == scheduler::Artifact::Kind::kCheckpoint) {
      // An attempt's directory once its last checkpoint is gone (remove()
      // leaves a directory that is not empty alone).
      std::filesystem::remove(path.parent_path(), ec);
      continue;
    }
    const std::filesystem::path split_dir = path.parent_path();
    if (!OnlyLabelsLeft(split_dir)) continue;
    RemoveFile(split_dir / "labels.feat", removed);
    // Empty directories only: remove() fails on one that is not.
    std::filesystem::remove(split_dir, ec);
    std::filesystem::remove(split_dir.parent_path(), ec);
  }
  return removed;
}

Removed ArtifactFiles::RemoveRun(int64_t run_id) const {
  Removed removed;
  const std::filesystem::path run_dir = RunDir(dir_, run_id);
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(run_dir, ec)) {
    if (!entry.is_regular_file()) continue;
    ++removed.files;
    removed.bytes += static_cast<int64_t>(entry.file_size(ec));
  }
  std::filesystem::remove_all(run_dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    SSLAB_LOG(WARNING) << "cannot remove " << run_dir << ": " << ec.message();
  }
  return removed;
}

}  // namespace sslab::services
