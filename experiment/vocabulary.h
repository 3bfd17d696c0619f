// The words runs and their job graphs are made of, each defined once here
// with its one name table. The names are the short lower-case forms used on
// the command line, in the database, in checkpoints and in logs; the gRPC
// protocol's enums map onto these tables by name (services/common).
//
//   Name(Method::kRotation) == "rotation"
//   Parse<Method>("Rotation") == Method::kRotation   (case-insensitive)
//   ParseName<Method>("rot", "config.method") -> INVALID_ARGUMENT
//       "config.method: unknown method \"rot\"; one of rotation|exemplar|..."
//
// Thread-safe (constants and pure functions).
#ifndef SSLAB_EXPERIMENT_VOCABULARY_H_
#define SSLAB_EXPERIMENT_VOCABULARY_H_

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace sslab::experiment {

// The pretext task a run trains (or the supervised baseline).
enum class Method {
  kRotation,
  kExemplar,
  kJigsaw,
  kRelativePatchLocation,
  kSupervised
};

// The study's networks; each is widened by a factor k.
enum class Architecture { kResNet50V1, kResNet50V2, kRevNet50, kVgg19Bn };

// On-disk dataset formats (data/dataset.h describes the layouts).
enum class DatasetKind { kIdx, kCifar, kImageFolder };

// The probes trained on frozen features: multinomial logistic regression by
// full-batch L-BFGS (the study's default), a linear layer by SGD, and an MLP.
enum class ProbeKind { kLbfgs, kSgd, kMlp };

// Dataset splits: train minus a held-out val part, val, and test.
enum class Split { kTrain, kVal, kTest };

// The job graph: TRAIN -> EXTRACT (per evaluated checkpoint) -> PROBE.
enum class JobKind { kTrain, kExtract, kProbe };

// kPending: waiting for its inputs; kRunnable: queued; kRunning: leased.
enum class JobState {
  kPending,
  kRunnable,
  kRunning,
  kSucceeded,
  kFailed,
  kCancelled
};

// A run's state, derived from its jobs.
enum class RunState { kPending, kRunning, kSucceeded, kFailed, kCancelled };

// Where a run asks its jobs to run: kAuto uses a GPU when the worker has one.
enum class DeviceRequest { kAuto, kCpu, kCuda };

// The kind of a physical device (see device.h for device ids).
enum class DeviceKind { kCpu, kCuda };

// Training arithmetic: fp32, or bfloat16 autocast for the forward pass;
// kAuto = bf16 on CUDA, fp32 on CPU (docs/benchmarks.md has the numbers).
enum class Precision { kAuto, kFp32, kBf16 };

// Memory layout of activations and convolution weights.
enum class MemoryFormat { kChannelsLast, kNchw };
// How extracted features are stored: float16 halves the disk (on ImageNet
// ~23 instead of ~46 GB per layer and checkpoint) at a rounding error far
// below what moves a probe's accuracy.
enum class FeatureDtype { kFloat32, kFloat16 };

// Training augmentation: the study's ImageNet pipeline (inception crop of
// 5-100% of the area, flip, colour jitter) or a light one for small images
// (crop of 60-100% of the area, flip); kAuto = light up to 64 px.
enum class Augmentation { kAuto, kInception, kLight };

// Vocabulary<Enum>::kNoun names the vocabulary in messages and kNames lists
// every value with its name, in declaration order.
template <typename Enum>
struct Vocabulary;

#define SSLAB_VOCABULARY_(Enum, noun, ...)                         \
  template <>                                                      \
  struct Vocabulary<Enum> {                                        \
    static constexpr absl::string_view kNoun = noun;               \
    static constexpr std::pair<Enum, absl::string_view> kNames[] = \
        __VA_ARGS__;                                               \
  }

SSLAB_VOCABULARY_(Method, "method",
                  {{Method::kRotation, "rotation"},
                   {Method::kExemplar, "exemplar"},
                   {Method::kJigsaw, "jigsaw"},
                   {Method::kRelativePatchLocation, "relative_patch_location"},
                   {Method::kSupervised, "supervised"}});
SSLAB_VOCABULARY_(Architecture, "architecture",
                  {{Architecture::kResNet50V1, "resnet50_v1"},
                   {Architecture::kResNet50V2, "resnet50_v2"},
                   {Architecture::kRevNet50, "revnet50"},
                   {Architecture::kVgg19Bn, "vgg19_bn"}});
SSLAB_VOCABULARY_(DatasetKind, "dataset kind",
                  {{DatasetKind::kIdx, "idx"},
                   {DatasetKind::kCifar, "cifar"},
                   {DatasetKind::kImageFolder, "imagefolder"}});
SSLAB_VOCABULARY_(ProbeKind, "probe kind",
                  {{ProbeKind::kLbfgs, "lbfgs"},
                   {ProbeKind::kSgd, "sgd"},
                   {ProbeKind::kMlp, "mlp"}});
SSLAB_VOCABULARY_(Split, "split",
                  {{Split::kTrain, "train"},
                   {Split::kVal, "val"},
                   {Split::kTest, "test"}});
SSLAB_VOCABULARY_(JobKind, "job kind",
                  {{JobKind::kTrain, "train"},
                   {JobKind::kExtract, "extract"},
                   {JobKind::kProbe, "probe"}});
SSLAB_VOCABULARY_(JobState, "job state",
                  {{JobState::kPending, "pending"},
                   {JobState::kRunnable, "runnable"},
                   {JobState::kRunning, "running"},
                   {JobState::kSucceeded, "succeeded"},
                   {JobState::kFailed, "failed"},
                   {JobState::kCancelled, "cancelled"}});
SSLAB_VOCABULARY_(RunState, "run state",
                  {{RunState::kPending, "pending"},
                   {RunState::kRunning, "running"},
                   {RunState::kSucceeded, "succeeded"},
                   {RunState::kFailed, "failed"},
                   {RunState::kCancelled, "cancelled"}});
SSLAB_VOCABULARY_(DeviceRequest, "device",
                  {{DeviceRequest::kAuto, "auto"},
                   {DeviceRequest::kCpu, "cpu"},
                   {DeviceRequest::kCuda, "cuda"}});
SSLAB_VOCABULARY_(DeviceKind, "device kind",
                  {{DeviceKind::kCpu, "cpu"}, {DeviceKind::kCuda, "cuda"}});
SSLAB_VOCABULARY_(Precision, "precision",
                  {{Precision::kAuto, "auto"},
                   {Precision::kFp32, "fp32"},
                   {Precision::kBf16, "bf16"}});
SSLAB_VOCABULARY_(MemoryFormat, "memory format",
                  {{MemoryFormat::kChannelsLast, "channels_last"},
                   {MemoryFormat::kNchw, "nchw"}});
SSLAB_VOCABULARY_(FeatureDtype, "feature dtype",
                  {{FeatureDtype::kFloat32, "float32"},
                   {FeatureDtype::kFloat16, "float16"}});
SSLAB_VOCABULARY_(Augmentation, "augmentation",
                  {{Augmentation::kAuto, "auto"},
                   {Augmentation::kInception, "inception"},
                   {Augmentation::kLight, "light"}});

#undef SSLAB_VOCABULARY_

// The name of `value`; "" for a value outside the table (a cast integer).
template <typename Enum>
constexpr absl::string_view Name(Enum value) {
  for (const auto& [e, name] : Vocabulary<Enum>::kNames) {
    if (e == value) return name;
  }
  return "";
}

// The value named `name` (case-insensitive), or nullopt.
template <typename Enum>
std::optional<Enum> Parse(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (const auto& [e, n] : Vocabulary<Enum>::kNames) {
    if (n == lower) return e;
  }
  return std::nullopt;
}

// Every name, '|'-separated: "lbfgs|sgd|mlp".
template <typename Enum>
std::string Choices() {
  std::string out;
  for (const auto& [e, n] : Vocabulary<Enum>::kNames) {
    absl::StrAppend(&out, out.empty() ? "" : "|", n);
  }
  return out;
}

// Every value, in table order.
template <typename Enum>
std::vector<Enum> AllValues() {
  std::vector<Enum> out;
  for (const auto& [e, n] : Vocabulary<Enum>::kNames) out.push_back(e);
  return out;
}

// Parse(), or INVALID_ARGUMENT naming `field` and listing the choices.
template <typename Enum>
absl::StatusOr<Enum> ParseName(absl::string_view name,
                               absl::string_view field) {
  if (std::optional<Enum> value = Parse<Enum>(name)) return *value;
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": unknown ", Vocabulary<Enum>::kNoun, " \"", name,
                   "\"; one of ", Choices<Enum>()));
}

// True for the final states (succeeded, failed, cancelled).
constexpr bool IsFinal(RunState state) {
  return state == RunState::kSucceeded || state == RunState::kFailed ||
         state == RunState::kCancelled;
}
constexpr bool IsFinal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed ||
         state == JobState::kCancelled;
}

// Jigsaw and Relative Patch Location work on 3x3 grids of patches.
constexpr bool IsPatchMethod(Method method) {
  return method == Method::kJigsaw || method == Method::kRelativePatchLocation;
}

// The side of the patches those methods cut from an image_size image: the
// paper's 64 px patches of 85 px cells, scaled, i.e.
// round(floor(image_size / 3) * 64 / 85) (7 px at 28, 64 at 255).
constexpr int PatchSide(int image_size) {
  return (image_size / 3 * 128 + 85) / 170;
}

// The representation layers of an architecture in network order (the
// networks' endpoints without "logits"):
//   ResNet50 v1/v2, RevNet50: after_root, block1..block4, pre_logits
//   VGG19-BN:                 block1..block4, fc6, pre_logits
const std::vector<std::string>& RepresentationLayers(Architecture architecture);

// A pseudo-layer any run may also probe: the network's input pixels (after
// the evaluation transform), pooled like a layer. It gives the raw-pixel
// baseline the learned layers are compared with.
inline constexpr char kPixelsLayer[] = "pixels";

}  // namespace sslab::experiment

#endif  // SSLAB_EXPERIMENT_VOCABULARY_H_
