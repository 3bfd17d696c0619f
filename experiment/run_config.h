// A run's configuration: what a user asks for (RunSpec, every field
// optional) and what the system runs (RunConfig, every field set), with the
// study's defaults and the validation between the two.
//
// Defaults (REFERENCE.md): width 4, last ReLU on, val split 10% of train,
// image size by dataset kind (idx 28, cifar 32, imagefolder 224), 35 epochs
// with the paper's schedule (base lr 0.1 per 256 images, warm-up 5 epochs,
// decays by 0.1 at epochs 15 and 25) scaled to the run's epochs, batch size
// by method (Rotation/Exemplar 64, Jigsaw/RPL 128, supervised 256), every
// representation layer probed by L-BFGS on the full labels, final
// checkpoint only, seed 0, device auto, the worker's threads.
//
// Thread-safe (value types and pure functions).
#ifndef SSLAB_EXPERIMENT_RUN_CONFIG_H_
#define SSLAB_EXPERIMENT_RUN_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiment/vocabulary.h"

namespace sslab::experiment {

struct DatasetSpec {
  DatasetKind kind = DatasetKind::kIdx;
  // A directory (data/dataset.h describes the layouts); non-empty.
  std::string path;
  // Fraction of train held out as the val split, in [0, 1).
  double val_fraction = 0.1;
  // Use at most this many examples of each split; 0 = all.
  int64_t max_examples = 0;
  // Square input side in pixels, in [1, kMaxImageSize].
  int image_size = 28;

  friend bool operator==(const DatasetSpec&, const DatasetSpec&) = default;
};

// The learning rate is base_lr * batch_size / 256, warmed up linearly from 0
// over warmup_epochs and multiplied by decay_factor at each decay epoch.
struct LrSchedule {
  double base_lr = 0.1;                         // > 0
  double warmup_epochs = 5;                     // in [0, epochs]
  std::vector<double> decay_epochs = {15, 25};  // >= 0, ascending
  double decay_factor = 0.1;                    // in (0, 1]

  friend bool operator==(const LrSchedule&, const LrSchedule&) = default;
};

// What to evaluate: every checkpoint evaluated gets one EXTRACT job for all
// `layers` and one PROBE job per layer x probe kind x label fraction.
struct EvaluationPlan {
  // Representation layers of the architecture, and/or kPixelsLayer;
  // non-empty, no duplicates.
  std::vector<std::string> layers;
  std::vector<ProbeKind> probe_kinds = {ProbeKind::kLbfgs};
  // Fractions of the labelled train split in (0, 1], no duplicates.
  std::vector<double> label_fractions = {1.0};
  // Also evaluate every N-th epoch's checkpoint; 0 = the final one only.
  int every_epochs = 0;

  friend bool operator==(const EvaluationPlan&,
                         const EvaluationPlan&) = default;
};

// The complete configuration of a run, as stored and run.
struct RunConfig {
  Method method = Method::kRotation;
  Architecture architecture = Architecture::kResNet50V2;
  // Widening factor k in [1, kMaxWidth].
  int width = 4;
  // False gives the (-) variants (no ReLU before global pooling).
  bool last_relu = true;
  DatasetSpec dataset;
  // Pretext epochs; 0 evaluates the random initialisation.
  int epochs = 35;
  // Source images per step.
  int batch_size = 64;
  LrSchedule lr_schedule;
  EvaluationPlan evaluation;
  int64_t seed = 0;
  DeviceRequest device = DeviceRequest::kAuto;
  // LibTorch intra-op threads; 0 = the worker's setting.
  int threads = 0;

  friend bool operator==(const RunConfig&, const RunConfig&) = default;
};

// A run as a user specifies it: unset fields (nullopt, or an empty list)
// take the defaults above.
struct RunSpec {
  std::optional<Method> method;              // required
  std::optional<Architecture> architecture;  // required
  std::optional<int> width;
  std::optional<bool> last_relu;
  struct Dataset {
    std::optional<DatasetKind> kind;  // required
    std::string path;                 // required
    std::optional<double> val_fraction;
    std::optional<int64_t> max_examples;
    std::optional<int> image_size;
  } dataset;
  std::optional<int> epochs;
  std::optional<int> batch_size;
  struct Schedule {
    std::optional<double> base_lr;
    std::optional<double> warmup_epochs;
    std::vector<double> decay_epochs;
    std::optional<double> decay_factor;
  } lr_schedule;
  struct Evaluation {
    std::vector<std::string> layers;
    std::vector<ProbeKind> probe_kinds;
    std::vector<double> label_fractions;
    std::optional<int> every_epochs;
  } evaluation;
  std::optional<int64_t> seed;
  std::optional<DeviceRequest> device;
  std::optional<int> threads;
};

// Limits on what one run may ask for.
inline constexpr int kMaxWidth = 64;
inline constexpr int kMaxImageSize = 4096;
inline constexpr int kMaxEpochs = 100000;
inline constexpr int kMaxBatchSize = 1 << 20;
inline constexpr int kMaxThreads = 1024;
// Longest decay_epochs / label_fractions list.
inline constexpr int kMaxListLength = 16;

// The paper's budget and schedule (35 epochs; warm-up 5; decays at 15, 25).
inline constexpr int kPaperEpochs = 35;

// Images per batch for a method (the paper's values).
int DefaultBatchSize(Method method);
// The image side a dataset kind defaults to.
int DefaultImageSize(DatasetKind kind);

// Fills every unset field of `spec` with its default and validates the
// result (ValidateRunConfig). Errors are INVALID_ARGUMENT naming the field
// after `field_prefix`, e.g. "config.width: must be in [1, 64], got 0".
absl::StatusOr<RunConfig> ExpandRunSpec(const RunSpec& spec,
                                        absl::string_view field_prefix = "");

// The spec that expands to `config` (every field set).
RunSpec ToRunSpec(const RunConfig& config);

// Checks every field of a complete config against the limits above and the
// architecture's layers; INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateRunConfig(const RunConfig& config,
                               absl::string_view field_prefix = "");

// "<method>-<architecture>-k<width>", the name of a run submitted unnamed.
std::string DefaultRunName(const RunConfig& config);

}  // namespace sslab::experiment

#endif  // SSLAB_EXPERIMENT_RUN_CONFIG_H_
