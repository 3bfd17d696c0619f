#include "cli/export_command.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/format.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "exporter/export.h"
#include "services/jobs/artifacts.h"

namespace sslab::cli {
namespace {

absl::Status NotUnderArtifacts(const std::filesystem::path& file,
                               const std::filesystem::path& artifacts) {
  return absl::NotFoundError(absl::StrCat(
      file.string(), " does not exist; --artifacts (", artifacts.string(),
      ") must be the scheduler's --data-dir or a mount of it"));
}

bool Contains(const std::vector<std::string>& v, const std::string& name) {
  return std::find(v.begin(), v.end(), name) != v.end();
}

// An empty selection (no --layer / --split) wants everything.
bool Wanted(const std::vector<std::string>& wanted, const std::string& name) {
  return wanted.empty() || Contains(wanted, name);
}

nlohmann::json NpyJson(const exporter::NpyFile& npy,
                       const std::filesystem::path& to) {
  return {{"file", npy.path.lexically_relative(to).string()},
          {"shape", npy.shape},
          {"dtype", npy.descr}};
}

// Lists the entries of `dir` (sorted by name) that `keep` accepts.
template <typename Keep>
std::vector<std::filesystem::path> SortedEntries(
    const std::filesystem::path& dir, Keep keep) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (keep(entry)) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status ExportFeatures(const ExportRequest& r, nlohmann::json& manifest,
                            std::ostream& progress) {
  const std::filesystem::path dir =
      services::FeatureDir(r.artifacts, r.run_id, r.checkpoint.checkpoint_id());
  std::vector<std::string> layers_seen, splits_seen;
  for (const auto& split_dir :
       SortedEntries(dir, [](const auto& e) { return e.is_directory(); })) {
    const std::string split = split_dir.filename().string();
    if (!Wanted(r.splits, split)) continue;
    splits_seen.push_back(split);
    bool any = false;
    for (const auto& shard : SortedEntries(split_dir, [](const auto& e) {
           return e.is_regular_file() && e.path().extension() == ".feat";
         })) {
      const std::string layer = shard.stem().string();
      if (layer == "labels" || !Wanted(r.layers, layer)) continue;
      layers_seen.push_back(layer);
      const std::filesystem::path npy =
          r.to / "features" / split / (layer + ".npy");
      SSLAB_ASSIGN_OR_RETURN(exporter::NpyFile file,
                             exporter::ExportFeatureShard(shard, npy));
      manifest["features"][split][layer] = NpyJson(file, r.to);
      progress << npy.lexically_relative(r.to).string() << "  "
               << absl::StrJoin(file.shape, "x") << " " << file.descr << "  "
               << HumanBytes(file.bytes) << "\n";
      any = true;
    }
    if (!any) continue;
    const std::filesystem::path labels =
        r.to / "features" / split / "labels.npy";
    SSLAB_ASSIGN_OR_RETURN(
        exporter::NpyFile file,
        exporter::ExportFeatureShard(split_dir / "labels.feat", labels));
    manifest["features"][split]["labels"] = NpyJson(file, r.to);
    progress << labels.lexically_relative(r.to).string() << "  "
             << absl::StrJoin(file.shape, "x") << " " << file.descr << "\n";
  }
  const std::string where = absl::StrCat(
      "run ", r.run_id, " epoch ", r.checkpoint.epoch(),
      " (never extracted, or deleted by retention: `sslab pin` keeps them)");
  for (const std::string& split : r.splits) {
    if (!Contains(splits_seen, split)) {
      return absl::NotFoundError(
          absl::StrCat("--split ", split, ": no feature shards for ", where));
    }
  }
  for (const std::string& layer : r.layers) {
    if (!Contains(layers_seen, layer)) {
      return absl::NotFoundError(
          absl::StrCat("--layer ", layer, ": no feature shards for ", where));
    }
  }
  if (layers_seen.empty()) {
    progress << "no feature shards for " << where << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ExportRun(const ExportRequest& r,
                                      std::ostream& progress) {
  nlohmann::json manifest = {{"run_id", r.run_id},
                             {"epoch", r.checkpoint.epoch()},
                             {"checkpoint_sha256", r.checkpoint.sha256()},
                             {"features", nlohmann::json::object()}};
  std::error_code ec;
  std::filesystem::create_directories(r.to, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("creating ", r.to.string(), ": ", ec.message()));
  }
  if (r.model) {
    const std::filesystem::path checkpoint = r.artifacts / r.checkpoint.path();
    if (!std::filesystem::exists(checkpoint)) {
      return NotUnderArtifacts(checkpoint, r.artifacts);
    }
    SSLAB_ASSIGN_OR_RETURN(std::string sha, Sha256OfFile(checkpoint));
    if (sha != r.checkpoint.sha256()) {
      return absl::DataLossError(
          absl::StrCat("checkpoint ", checkpoint.string(),
                       " does not match its registered SHA-256"));
    }
    SSLAB_ASSIGN_OR_RETURN(
        exporter::BackboneExport model,
        exporter::ExportBackbone(checkpoint, r.to / "model.pt", r.run_id));
    SSLAB_RETURN_IF_ERROR(WriteFileAtomically(r.to / "sslab_models.py",
                                              exporter::PythonModelsModule()));
    manifest["model"] = {{"file", "model.pt"},
                         {"architecture", model.architecture},
                         {"method", model.method},
                         {"tensors", model.tensors}};
    progress << "model.pt  " << model.architecture << " (" << model.method
             << ", epoch " << model.epoch << "), " << model.tensors
             << " tensors, " << HumanBytes(model.bytes) << "\n";
  }
  if (r.features) SSLAB_RETURN_IF_ERROR(ExportFeatures(r, manifest, progress));
  const std::string text = manifest.dump(2) + "\n";
  SSLAB_RETURN_IF_ERROR(WriteFileAtomically(r.to / "manifest.json", text));
  return text;
}

}  // namespace sslab::cli
