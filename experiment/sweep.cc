#include "experiment/sweep.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sslab::experiment {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// An axis's values, or one nullopt ("keep the base's value") when empty.
template <typename T>
std::vector<std::optional<T>> Axis(const std::vector<T>& values) {
  if (values.empty()) return {std::nullopt};
  return {values.begin(), values.end()};
}

template <typename T>
absl::Status CheckAxis(const std::vector<T>& values, absl::string_view field,
                       T low, T high) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < low || values[i] > high) {
      return Invalid(
          absl::StrCat(field, "[", i, "]"),
          absl::StrCat("must be in [", low, ", ", high, "], got ", values[i]));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> GridSize(const SweepGrid& grid) {
  const size_t axes[] = {grid.methods.size(), grid.architectures.size(),
                         grid.widths.size(),  grid.last_relu_values.size(),
                         grid.seeds.size(),   grid.epochs_values.size()};
  int64_t total = 1;
  for (size_t n : axes) {
    // Each factor is checked before multiplying, so `total` stays small.
    if (n > static_cast<size_t>(kMaxSweepRuns) ||
        total * static_cast<int64_t>(n == 0 ? 1 : n) > kMaxSweepRuns) {
      return Invalid("grid",
                     absl::StrCat("has more than ", kMaxSweepRuns, " points"));
    }
    total *= static_cast<int64_t>(n == 0 ? 1 : n);
  }
  return static_cast<int>(total);
}

absl::StatusOr<std::vector<SweepRun>> ExpandSweep(const SweepSpec& spec) {
  if (spec.name.empty()) return Invalid("name", "must not be empty");
  if (spec.name.size() > kMaxNameLength) {
    return Invalid("name",
                   absl::StrCat("longer than ", kMaxNameLength, " characters"));
  }
  const SweepGrid& g = spec.grid;
  SSLAB_ASSIGN_OR_RETURN(const int size, GridSize(g));
  SSLAB_RETURN_IF_ERROR(CheckAxis(g.widths, "widths", 1, kMaxWidth));
  SSLAB_RETURN_IF_ERROR(
      CheckAxis(g.epochs_values, "epochs_values", 0, kMaxEpochs));

  std::vector<SweepRun> runs;
  runs.reserve(size);
  for (auto method : Axis(g.methods)) {
    for (auto architecture : Axis(g.architectures)) {
      for (auto width : Axis(g.widths)) {
        for (auto last_relu : Axis(g.last_relu_values)) {
          for (auto seed : Axis(g.seeds)) {
            for (auto epochs : Axis(g.epochs_values)) {
              RunSpec point = spec.base;
              if (method) point.method = *method;
              if (architecture) point.architecture = *architecture;
              if (width) point.width = *width;
              if (last_relu) point.last_relu = *last_relu;
              if (seed) point.seed = *seed;
              if (epochs) point.epochs = *epochs;
              SSLAB_ASSIGN_OR_RETURN(RunConfig config,
                                     ExpandRunSpec(point, "base."));
              std::string name =
                  absl::StrCat(spec.name, "/", Name(config.method), "-",
                               Name(config.architecture), "-k", config.width,
                               config.last_relu ? "" : "(-)");
              if (seed) absl::StrAppend(&name, "-seed", *seed);
              if (epochs) absl::StrAppend(&name, "-e", *epochs);
              runs.push_back({std::move(name), std::move(config)});
            }
          }
        }
      }
    }
  }
  return runs;
}

}  // namespace sslab::experiment
