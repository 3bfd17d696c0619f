// Sweeps: a grid of runs over a base spec. Every combination of the
// non-empty axes is applied on top of the base; an empty axis keeps the
// base's value. Expansion is bounded before anything is allocated.
//
// Thread-safe (value types and pure functions).
#ifndef SSLAB_EXPERIMENT_SWEEP_H_
#define SSLAB_EXPERIMENT_SWEEP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "experiment/run_config.h"
#include "experiment/vocabulary.h"

namespace sslab::experiment {

struct SweepGrid {
  std::vector<Method> methods;
  std::vector<Architecture> architectures;
  std::vector<int> widths;
  std::vector<bool> last_relu_values;
  std::vector<int64_t> seeds;
  std::vector<int> epochs_values;

  friend bool operator==(const SweepGrid&, const SweepGrid&) = default;
};

struct SweepSpec {
  // Prefix of every run's name; non-empty, at most kMaxNameLength.
  std::string name;
  RunSpec base;
  SweepGrid grid;
};

// One point of an expanded sweep.
struct SweepRun {
  // "<sweep>/<method>-<architecture>-k<width>", then "(-)" without the last
  // ReLU, "-seed<S>" and "-e<E>" when those axes are swept.
  std::string name;
  RunConfig config;
};

// At most this many runs per sweep, and per axis.
inline constexpr int kMaxSweepRuns = 1000;
// Longest run or sweep name.
inline constexpr int kMaxNameLength = 200;

// Number of runs `grid` expands to (an empty axis counts 1), or
// INVALID_ARGUMENT naming "grid" once it exceeds kMaxSweepRuns; never
// overflows.
absl::StatusOr<int> GridSize(const SweepGrid& grid);

// Every run of the sweep, axes varying slowest to fastest in the order of
// SweepGrid's fields. Errors are INVALID_ARGUMENT naming the field: "name",
// an axis entry ("widths[1]"), "grid" (too many points) or a base field
// ("base.dataset.path").
absl::StatusOr<std::vector<SweepRun>> ExpandSweep(const SweepSpec& spec);

}  // namespace sslab::experiment

#endif  // SSLAB_EXPERIMENT_SWEEP_H_
