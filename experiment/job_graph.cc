#include "experiment/job_graph.h"

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sslab::experiment {

std::vector<ProbeTarget> ProbeTargets(const EvaluationPlan& plan) {
  std::vector<ProbeTarget> targets;
  targets.reserve(plan.layers.size() * plan.probe_kinds.size() *
                  plan.label_fractions.size());
  for (const std::string& layer : plan.layers) {
    for (ProbeKind kind : plan.probe_kinds) {
      for (double fraction : plan.label_fractions) {
        targets.push_back({layer, kind, fraction});
      }
    }
  }
  return targets;
}

bool IsEvaluatedEpoch(const EvaluationPlan& plan, int epoch, bool is_final) {
  return is_final ||
         (plan.every_epochs > 0 && epoch > 0 && epoch % plan.every_epochs == 0);
}

absl::Status CheckArtifactPath(absl::string_view path,
                               absl::string_view field) {
  auto invalid = [&](absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
  };
  if (path.empty()) return invalid("must be set");
  if (path.size() > kMaxArtifactPathLength) {
    return invalid(
        absl::StrCat("longer than ", kMaxArtifactPathLength, " bytes"));
  }
  if (path.front() == '/') {
    return invalid("must be relative to the artifact directory");
  }
  if (path.find('\0') != absl::string_view::npos) {
    return invalid("contains a NUL byte");
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") {
      return invalid("must stay inside the artifact directory (no \"..\")");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSha256(absl::string_view sha256, absl::string_view field) {
  const bool hex = absl::c_all_of(sha256, [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (sha256.empty() || (sha256.size() == 64 && hex)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be 64 lowercase hex digits (a SHA-256), got ",
                   sha256.size(), " characters"));
}

}  // namespace sslab::experiment
