// Sweeps: a grid of runs over a base spec. Every combination of the
// non-empty axes is applied on top of the base; an empty axis keeps the
// base's value. Axes named in a zip group advance together instead (lr
// 0.1,0.4 zipped with batch-size 64,256 is two runs, not four). Expansion is
// bounded before anything is allocated.
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

// Any other setting swept: `field` is its name on the command line
// (run_spec_fields.h: "lr", "batch-size", "decay-epochs", ...), each value
// its text there (a list setting's items comma-separated).
struct SweepAxis {
  std::string field;
  std::vector<std::string> values;

  friend bool operator==(const SweepAxis&, const SweepAxis&) = default;
};

struct SweepGrid {
  // The study's axes, by field: method, arch, width, last-relu, seed, epochs.
  std::vector<Method> methods;
  std::vector<Architecture> architectures;
  std::vector<int> widths;
  std::vector<bool> last_relu_values;
  std::vector<int64_t> seeds;
  std::vector<int> epochs_values;
  // Further axes, after the study's; each field at most once and none of
  // the six above.
  std::vector<SweepAxis> axes;
  // Groups of fields (of the axes above, by field name) that advance
  // together: their axes have equal lengths and make one dimension of the
  // grid, where the group's first axis is. A field is in one group at most.
  std::vector<std::vector<std::string>> zip;

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
  // ReLU, "-seed<S>" and "-e<E>" when those axes are swept, and
  // "-<field><value>" for each further axis ("-lr0.4-batch-size256").
  std::string name;
  RunConfig config;
};

// At most this many runs per sweep, and per axis.
inline constexpr int kMaxSweepRuns = 1000;
// Longest run or sweep name.
inline constexpr int kMaxNameLength = 200;

// The settings a SweepAxis may name ("|"-separated): every setting of
// run_spec_fields.h but the six with their own axis.
std::string FurtherAxisFieldNames();

// Number of runs `grid` expands to (an empty axis counts 1; a zip group
// counts once), or INVALID_ARGUMENT naming "grid" once it exceeds
// kMaxSweepRuns, or naming the zip group that is not well-formed; never
// overflows.
absl::StatusOr<int> GridSize(const SweepGrid& grid);

// Every run of the sweep, dimensions varying slowest to fastest in the
// order of SweepGrid's fields (then `axes` in order). Errors are
// INVALID_ARGUMENT naming the field: "name", an axis entry ("widths[1]",
// "axes[0].values[2]"), "zip[0]", "grid" (too many points) or a base field
// ("base.dataset.path").
absl::StatusOr<std::vector<SweepRun>> ExpandSweep(const SweepSpec& spec);

}  // namespace sslab::experiment

#endif  // SSLAB_EXPERIMENT_SWEEP_H_
