// A run's configuration: what a user asks for (RunSpec, every field
// optional) and what the system runs (RunConfig, every field set), with the
// study's defaults and the validation between the two.
//
// Defaults (REFERENCE.md): width 4, last ReLU on, val split 10% of train,
// image size by dataset kind (idx 28, cifar 32, imagefolder 224), 35 epochs,
// the lr schedule of DefaultLrSchedule (the paper's at its budget), batch
// size by method (Rotation/Exemplar 64, Jigsaw/RPL 128, supervised 256),
// the study's ImageNet augmentation above 64 px and a light one up to 64 px,
// every representation layer probed by L-BFGS on the full labels with the
// study's probe settings, final checkpoint only, seed 0 (the scheduler draws
// a fresh one for a run submitted without: FreshSeed), training on a GPU
// when one is free (else the CPU), probes on the CPU, bf16 autocast on CUDA
// and fp32 on CPU, channels-last, the worker's threads.
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

// Hyper-parameters of the probes (the study's defaults).
struct ProbeSettings {
  // L-BFGS: L2 weights tried, the best on val is refit (non-empty, > 0).
  std::vector<double> l2_grid = {1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6};
  // SGD linear probe: epochs (decays by 0.1 at 1/2 and 3/4), base rate,
  // batch.
  int sgd_epochs = 100;
  double sgd_learning_rate = 0.1;
  int sgd_batch_size = 2048;
  // MLP probe: one hidden layer of this many ReLU units.
  int mlp_hidden_units = 1000;
  int mlp_epochs = 30;

  friend bool operator==(const ProbeSettings&, const ProbeSettings&) = default;
};

// What to evaluate: every checkpoint evaluated gets one EXTRACT job for all
// `layers` and one PROBE job per layer x probe kind x label fraction.
struct EvaluationPlan {
  // Representation layers of the architecture, and/or kPixelsLayer;
  // non-empty, no duplicates.
  std::vector<std::string> layers;
  std::vector<ProbeKind> probe_kinds = {ProbeKind::kLbfgs};
  // Fractions of the labels in (0, 1], no duplicates: a probe at fraction f
  // learns from a class-balanced f of train and of val (the L2 choice and
  // the train + val refit included); test stays whole.
  std::vector<double> label_fractions = {1.0};
  // Also evaluate every N-th epoch's checkpoint; 0 = the final one only.
  int every_epochs = 0;
  ProbeSettings probe;
  // How the EXTRACT jobs store features.
  FeatureDtype feature_dtype = FeatureDtype::kFloat32;

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
  // Training augmentation; never kAuto once expanded.
  Augmentation augmentation = Augmentation::kLight;
  int64_t seed = 0;
  // Where TRAIN and EXTRACT jobs run: kAuto = a GPU when one is free, else
  // the CPU.
  DeviceRequest device = DeviceRequest::kAuto;
  // Where PROBE jobs run.
  DeviceRequest probe_device = DeviceRequest::kCpu;
  // kAuto = bf16 autocast on CUDA, fp32 on CPU (decided per job: the device
  // is known at lease time; checkpoints record what ran).
  Precision precision = Precision::kAuto;
  MemoryFormat memory_format = MemoryFormat::kChannelsLast;
  // LibTorch intra-op threads; 0 = the worker's setting.
  int threads = 0;
  // Data-parallel ranks training the run together, leased as one gang on
  // one worker: that many GPUs of it (all or none), or on the CPU that many
  // ranks sharing its threads. batch_size is the global batch and must
  // divide by it; BatchNorm normalises per rank.
  int devices_per_run = 1;

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
    struct Probe {
      std::vector<double> l2_grid;
      std::optional<int> sgd_epochs;
      std::optional<double> sgd_learning_rate;
      std::optional<int> sgd_batch_size;
      std::optional<int> mlp_hidden_units;
      std::optional<int> mlp_epochs;
    } probe;
    std::optional<FeatureDtype> feature_dtype;
  } evaluation;
  std::optional<Augmentation> augmentation;  // kAuto = unset
  std::optional<int64_t> seed;
  std::optional<DeviceRequest> device;
  std::optional<DeviceRequest> probe_device;
  std::optional<Precision> precision;
  std::optional<MemoryFormat> memory_format;
  std::optional<int> threads;
  std::optional<int> devices_per_run;
};

// Limits on what one run may ask for.
inline constexpr int kMaxWidth = 64;
inline constexpr int kMaxImageSize = 4096;
inline constexpr int kMaxEpochs = 100000;
inline constexpr int kMaxBatchSize = 1 << 20;
inline constexpr int kMaxThreads = 1024;
inline constexpr int kMaxDevicesPerRun = 64;
// Longest decay_epochs / label_fractions / l2_grid list.
inline constexpr int kMaxListLength = 16;
inline constexpr int kMaxProbeEpochs = 10000;
inline constexpr int kMaxHiddenUnits = 1 << 16;
// Jobs one run may plan: TRAIN, one EXTRACT per evaluated checkpoint, and
// layers x probe kinds x label fractions PROBE jobs per checkpoint.
inline constexpr int64_t kMaxJobsPerRun = 10000;
// One training batch's decoded input (batch x views x 3 x image_size^2
// floats, views: Rotation 4, Exemplar 8): a bound on what a run may make a
// worker allocate before its first step.
inline constexpr int64_t kMaxBatchInputBytes = int64_t{16} << 30;

// The paper's budget and schedule (35 epochs; warm-up 5; decays at 15, 25).
inline constexpr int kPaperEpochs = 35;
// Below this many epochs a run gets the short-budget schedule.
inline constexpr int kShortBudgetEpochs = 20;
// Largest image side that gets the light augmentation by default.
inline constexpr int kLightAugmentationMaxSize = 64;

// The schedule a `method` run of `epochs` gets by default:
//  - at least kShortBudgetEpochs: the paper's (base lr 0.1 per 256 source
//    images, as the study's code counts them: views and patches do not;
//    warm-up 5, decays by 0.1 at 15 and 25 of 35 epochs) scaled to `epochs`;
//  - shorter: warm-up over the first 1/7 of the run, one decay by 0.1 at
//    3/4, so that most steps run at the full rate (the scaled paper
//    schedule would leave only 2/7 of them there), and base lr 0.1 per 256
//    of the loss's examples: Rotation's 4 rotated views each count, so its
//    rate is 0.4 per 256 images (ShortBudgetExamplesPerImage). Measured on
//    Fashion-MNIST (docs/study-fmnist.md): with the paper's per-image rate
//    a 2-epoch Rotation run ends at pretext accuracy ~0.6, with this one
//    above 0.9.
LrSchedule DefaultLrSchedule(int epochs, Method method);

// How many of the loss's examples one source image gives, for the short
// budget's lr rule: Rotation 4 (one per rotation); 1 for the others
// (Exemplar's views form one triplet problem, Jigsaw's and RPL's patches
// one example).
int ShortBudgetExamplesPerImage(Method method);

// Largest image side whose network gets the small-input stem.
inline constexpr int kSmallInputMaxSize = 64;

// Whether the run's network gets the small-input stem (3x3 stride-1 root,
// no max-pool): images up to kSmallInputMaxSize px (Fashion-MNIST, CIFAR),
// except for patch methods, whose patch strides are their own.
bool UsesSmallInputStem(const RunConfig& config);

// The augmentation a run gets by default: kLight up to
// kLightAugmentationMaxSize px, the study's kInception above.
Augmentation DefaultAugmentation(int image_size);

// Why a config is unlikely to learn its pretext task, or "" (e.g. too few
// optimisation steps at the full rate). For `sslab submit` and `show`.
std::string ShortRunWarning(const RunConfig& config);

// Images per batch for a method (the paper's values).
int DefaultBatchSize(Method method);
// The image side a run defaults to: the dataset kind's (28 idx, 32 cifar,
// 224 imagefolder), except that patch methods on those small images get
// kSmallImagePatchMethodSize: their 3x3 patches of a quarter of the side
// would be 7-8 px, too small for VGG19-BN and for the ResNets' ImageNet
// stem to learn from (docs/study-fmnist.md).
inline constexpr int kSmallImagePatchMethodSize = 128;  // 32 px patches
int DefaultImageSize(DatasetKind kind, Method method);

// A random seed in [1, 2^31 - 1] for a run submitted without one (small and
// positive: it reads the same in JSON, YAML and every tool).
int64_t FreshSeed();

// Fills every unset field of `spec` with its default and validates the
// result (ValidateRunConfig). Errors are INVALID_ARGUMENT naming the field
// after `field_prefix`, e.g. "config.width: must be in [1, 64], got 0".
absl::StatusOr<RunConfig> ExpandRunSpec(const RunSpec& spec,
                                        absl::string_view field_prefix = "");

// The spec that expands to `config` (every field set).
RunSpec ToRunSpec(const RunConfig& config);

// Checks every field of a complete config against the limits above and the
// architecture's layers; INVALID_ARGUMENT naming the field otherwise (for
// the job and batch-memory budgets: the fields that set them, with the
// estimate and the limit).
absl::Status ValidateRunConfig(const RunConfig& config,
                               absl::string_view field_prefix = "");

// "<method>-<architecture>-k<width>", the name of a run submitted unnamed.
std::string DefaultRunName(const RunConfig& config);

}  // namespace sslab::experiment

#endif  // SSLAB_EXPERIMENT_RUN_CONFIG_H_
