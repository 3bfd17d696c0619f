#include "experiment/run_config.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace sslab::experiment {
namespace {

// The paper's schedule at its budget: warm-up 5 epochs, decays at 15 and 25.
constexpr double kPaperWarmup = 5;
constexpr double kPaperDecays[] = {15, 25};
// Fewer optimisation steps at the full rate than this rarely learn a
// pretext task (Rotation on 4500 Fashion-MNIST images learns with ~85).
constexpr double kMinFullRateSteps = 50;

std::string Indexed(absl::string_view field, size_t i) {
  return absl::StrCat(field, "[", i, "]");
}

// Builds "<prefix><field>: <problem>" errors.
class Fields {
 public:
  explicit Fields(absl::string_view prefix) : prefix_(prefix) {}
  absl::Status Invalid(absl::string_view field,
                       absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix_, field, ": ", problem));
  }
  // 1 to `max_length` distinct values, each satisfying `ok` (`requirement`
  // says how, e.g. "in (0, 1]").
  absl::Status CheckDistinctValues(absl::string_view field,
                                   const std::vector<double>& values,
                                   size_t max_length, bool (*ok)(double),
                                   absl::string_view requirement) const {
    if (values.empty() || values.size() > max_length) {
      return Invalid(field, absl::StrCat("must hold 1 to ", max_length,
                                         " values, got ", values.size()));
    }
    std::set<double> seen;
    for (size_t i = 0; i < values.size(); ++i) {
      const std::string indexed = Indexed(field, i);
      if (!ok(values[i])) {
        return Invalid(indexed, absl::StrCat("must be ", requirement, ", got ",
                                             values[i]));
      }
      if (!seen.insert(values[i]).second) {
        return Invalid(indexed, absl::StrCat("duplicate value ", values[i]));
      }
    }
    return absl::OkStatus();
  }
  template <typename T>
  absl::Status CheckRange(absl::string_view field, T value, T low,
                          T high) const {
    if (value >= low && value <= high) return absl::OkStatus();
    return Invalid(
        field, absl::StrCat("must be in [", low, ", ", high, "], got ", value));
  }

 private:
  absl::string_view prefix_;
};

}  // namespace

const std::vector<std::string>& RepresentationLayers(
    Architecture architecture) {
  static const auto* const kResNet = new std::vector<std::string>{
      "after_root", "block1", "block2", "block3", "block4", "pre_logits"};
  static const auto* const kVgg = new std::vector<std::string>{
      "block1", "block2", "block3", "block4", "fc6", "pre_logits"};
  return architecture == Architecture::kVgg19Bn ? *kVgg : *kResNet;
}

int DefaultBatchSize(Method method) {
  switch (method) {
    case Method::kJigsaw:
    case Method::kRelativePatchLocation:
      return 128;
    case Method::kSupervised:
      return 256;
    case Method::kRotation:
    case Method::kExemplar:
      break;
  }
  return 64;
}

int DefaultImageSize(DatasetKind kind, Method method) {
  switch (kind) {
    case DatasetKind::kIdx:
      return IsPatchMethod(method) ? kSmallImagePatchMethodSize : 28;
    case DatasetKind::kCifar:
      return IsPatchMethod(method) ? kSmallImagePatchMethodSize : 32;
    case DatasetKind::kImageFolder:
      break;
  }
  return 224;
}

int ShortBudgetExamplesPerImage(Method method) {
  return method == Method::kRotation ? 4 : 1;
}

LrSchedule DefaultLrSchedule(int epochs, Method method) {
  LrSchedule s;
  if (epochs >= kShortBudgetEpochs) {
    const double scale = static_cast<double>(epochs) / kPaperEpochs;
    s.warmup_epochs = kPaperWarmup * scale;
    s.decay_epochs.clear();
    for (double e : kPaperDecays) s.decay_epochs.push_back(e * scale);
  } else {
    s.base_lr *= ShortBudgetExamplesPerImage(method);
    s.warmup_epochs = epochs / 7.0;
    s.decay_epochs = {epochs * 0.75};
  }
  return s;
}

bool UsesSmallInputStem(const RunConfig& config) {
  return !IsPatchMethod(config.method) &&
         config.dataset.image_size <= kSmallInputMaxSize;
}

Augmentation DefaultAugmentation(int image_size) {
  return image_size <= kLightAugmentationMaxSize ? Augmentation::kLight
                                                 : Augmentation::kInception;
}

std::string ShortRunWarning(const RunConfig& c) {
  if (c.epochs == 0) return "";  // the random-initialisation control
  const LrSchedule& lr = c.lr_schedule;
  const double full_rate_end =
      lr.decay_epochs.empty() ? c.epochs
                              : std::min<double>(lr.decay_epochs[0], c.epochs);
  const double full_rate_epochs =
      std::max(0.0, full_rate_end - lr.warmup_epochs);
  if (full_rate_epochs < 1) {
    return absl::StrCat(
        "only ", full_rate_epochs,
        " epochs run at the full learning rate (warm-up ", lr.warmup_epochs,
        ", first decay at ", full_rate_end,
        "): the pretext task is unlikely to be learned; leave the schedule "
        "to its default or give more epochs");
  }
  if (c.dataset.max_examples > 0) {
    const double steps = full_rate_epochs * c.dataset.max_examples *
                         (1 - c.dataset.val_fraction) / c.batch_size;
    if (steps < kMinFullRateSteps) {
      return absl::StrCat(
          "only ~", static_cast<int64_t>(steps),
          " optimisation steps run at the full learning rate (",
          c.dataset.max_examples, " examples, batch ", c.batch_size, ", ",
          full_rate_epochs,
          " epochs at full rate): the pretext task is unlikely to be "
          "learned; give more epochs or examples");
    }
  }
  return "";
}

std::string DefaultRunName(const RunConfig& config) {
  return absl::StrCat(Name(config.method), "-", Name(config.architecture), "-k",
                      config.width);
}

int64_t FreshSeed() {
  static std::mutex mu;
  static std::mt19937_64 engine(std::random_device{}());
  std::lock_guard<std::mutex> lock(mu);
  return std::uniform_int_distribution<int64_t>(1,
                                                (int64_t{1} << 31) - 1)(engine);
}

absl::StatusOr<RunConfig> ExpandRunSpec(const RunSpec& spec,
                                        absl::string_view field_prefix) {
  const Fields f(field_prefix);
  RunConfig c;
  if (!spec.method) {
    return f.Invalid("method",
                     absl::StrCat("must be set; one of ", Choices<Method>()));
  }
  c.method = *spec.method;
  if (!spec.architecture) {
    return f.Invalid("architecture", absl::StrCat("must be set; one of ",
                                                  Choices<Architecture>()));
  }
  c.architecture = *spec.architecture;
  c.width = spec.width.value_or(4);
  c.last_relu = spec.last_relu.value_or(true);

  if (!spec.dataset.kind) {
    return f.Invalid("dataset.kind", absl::StrCat("must be set; one of ",
                                                  Choices<DatasetKind>()));
  }
  c.dataset.kind = *spec.dataset.kind;
  c.dataset.path = spec.dataset.path;
  c.dataset.val_fraction = spec.dataset.val_fraction.value_or(0.1);
  c.dataset.max_examples = spec.dataset.max_examples.value_or(0);
  c.dataset.image_size = spec.dataset.image_size.value_or(
      DefaultImageSize(c.dataset.kind, c.method));

  c.epochs = spec.epochs.value_or(kPaperEpochs);
  c.batch_size = spec.batch_size.value_or(DefaultBatchSize(c.method));

  const RunSpec::Schedule& lr = spec.lr_schedule;
  const LrSchedule defaults = DefaultLrSchedule(c.epochs, c.method);
  c.lr_schedule.base_lr = lr.base_lr.value_or(defaults.base_lr);
  c.lr_schedule.warmup_epochs =
      lr.warmup_epochs.value_or(defaults.warmup_epochs);
  c.lr_schedule.decay_epochs =
      lr.decay_epochs.empty() ? defaults.decay_epochs : lr.decay_epochs;
  c.lr_schedule.decay_factor = lr.decay_factor.value_or(defaults.decay_factor);

  const RunSpec::Evaluation& e = spec.evaluation;
  c.evaluation.layers =
      e.layers.empty() ? RepresentationLayers(c.architecture) : e.layers;
  if (!e.probe_kinds.empty()) c.evaluation.probe_kinds = e.probe_kinds;
  if (!e.label_fractions.empty()) {
    c.evaluation.label_fractions = e.label_fractions;
  }
  c.evaluation.every_epochs = e.every_epochs.value_or(0);
  c.evaluation.feature_dtype = e.feature_dtype.value_or(FeatureDtype::kFloat32);
  const RunSpec::Evaluation::Probe& p = e.probe;
  ProbeSettings& probe = c.evaluation.probe;
  if (!p.l2_grid.empty()) probe.l2_grid = p.l2_grid;
  probe.sgd_epochs = p.sgd_epochs.value_or(probe.sgd_epochs);
  probe.sgd_learning_rate =
      p.sgd_learning_rate.value_or(probe.sgd_learning_rate);
  probe.sgd_batch_size = p.sgd_batch_size.value_or(probe.sgd_batch_size);
  probe.mlp_hidden_units = p.mlp_hidden_units.value_or(probe.mlp_hidden_units);
  probe.mlp_epochs = p.mlp_epochs.value_or(probe.mlp_epochs);

  c.augmentation = spec.augmentation.value_or(Augmentation::kAuto);
  if (c.augmentation == Augmentation::kAuto) {
    c.augmentation = DefaultAugmentation(c.dataset.image_size);
  }
  c.seed = spec.seed.value_or(0);
  c.device = spec.device.value_or(DeviceRequest::kAuto);
  c.probe_device = spec.probe_device.value_or(DeviceRequest::kCpu);
  c.precision = spec.precision.value_or(Precision::kAuto);
  c.memory_format = spec.memory_format.value_or(MemoryFormat::kChannelsLast);
  c.threads = spec.threads.value_or(0);
  c.devices_per_run = spec.devices_per_run.value_or(1);
  SSLAB_RETURN_IF_ERROR(ValidateRunConfig(c, field_prefix));
  return c;
}

RunSpec ToRunSpec(const RunConfig& c) {
  RunSpec s;
  s.method = c.method;
  s.architecture = c.architecture;
  s.width = c.width;
  s.last_relu = c.last_relu;
  s.dataset = {c.dataset.kind, c.dataset.path, c.dataset.val_fraction,
               c.dataset.max_examples, c.dataset.image_size};
  s.epochs = c.epochs;
  s.batch_size = c.batch_size;
  s.lr_schedule = {c.lr_schedule.base_lr, c.lr_schedule.warmup_epochs,
                   c.lr_schedule.decay_epochs, c.lr_schedule.decay_factor};
  const ProbeSettings& p = c.evaluation.probe;
  s.evaluation = {c.evaluation.layers,
                  c.evaluation.probe_kinds,
                  c.evaluation.label_fractions,
                  c.evaluation.every_epochs,
                  {p.l2_grid, p.sgd_epochs, p.sgd_learning_rate,
                   p.sgd_batch_size, p.mlp_hidden_units, p.mlp_epochs},
                  c.evaluation.feature_dtype};
  s.augmentation = c.augmentation;
  s.seed = c.seed;
  s.device = c.device;
  s.probe_device = c.probe_device;
  s.precision = c.precision;
  s.memory_format = c.memory_format;
  s.threads = c.threads;
  s.devices_per_run = c.devices_per_run;
  return s;
}

absl::Status ValidateRunConfig(const RunConfig& c,
                               absl::string_view field_prefix) {
  const Fields f(field_prefix);
  if (Name(c.method).empty()) return f.Invalid("method", "unknown value");
  if (Name(c.architecture).empty()) {
    return f.Invalid("architecture", "unknown value");
  }
  SSLAB_RETURN_IF_ERROR(f.CheckRange("width", c.width, 1, kMaxWidth));

  const DatasetSpec& d = c.dataset;
  if (Name(d.kind).empty()) return f.Invalid("dataset.kind", "unknown value");
  if (d.path.empty()) return f.Invalid("dataset.path", "must not be empty");
  if (!(d.val_fraction >= 0 && d.val_fraction < 1)) {
    return f.Invalid("dataset.val_fraction",
                     absl::StrCat("must be in [0, 1), got ", d.val_fraction));
  }
  if (d.max_examples < 0) {
    return f.Invalid("dataset.max_examples",
                     absl::StrCat("must be >= 0, got ", d.max_examples));
  }
  SSLAB_RETURN_IF_ERROR(
      f.CheckRange("dataset.image_size", d.image_size, 1, kMaxImageSize));
  if (c.architecture == Architecture::kVgg19Bn) {
    // Its pools leave nothing of a smaller input (models/internal/vgg.cc).
    const int needed = UsesSmallInputStem(c) ? 16 : 32;
    const bool patches = IsPatchMethod(c.method);
    const int side = patches ? PatchSide(d.image_size) : d.image_size;
    if (side < needed && !patches) {
      return f.Invalid("dataset.image_size",
                       absl::StrCat(d.image_size, " px is too small for ",
                                    "VGG19-BN (needs >= ", needed, ")"));
    }
    if (side < needed) {
      int enough = d.image_size;
      while (PatchSide(enough) < needed) ++enough;
      return f.Invalid(
          "dataset.image_size",
          absl::StrCat(Name(c.method), " cuts ", side, " px patches from ",
                       d.image_size, " px images, and VGG19-BN needs >= ",
                       needed, " px: use dataset.image_size >= ", enough,
                       " (images are resized to it)"));
    }
  }

  SSLAB_RETURN_IF_ERROR(f.CheckRange("epochs", c.epochs, 0, kMaxEpochs));
  SSLAB_RETURN_IF_ERROR(
      f.CheckRange("batch_size", c.batch_size, 1, kMaxBatchSize));

  const LrSchedule& lr = c.lr_schedule;
  if (!(std::isfinite(lr.base_lr) && lr.base_lr > 0)) {
    return f.Invalid("lr_schedule.base_lr",
                     absl::StrCat("must be > 0, got ", lr.base_lr));
  }
  if (!(lr.warmup_epochs >= 0 && lr.warmup_epochs <= c.epochs)) {
    return f.Invalid(
        "lr_schedule.warmup_epochs",
        absl::StrCat("must be in [0, epochs], got ", lr.warmup_epochs));
  }
  if (lr.decay_epochs.size() > kMaxListLength) {
    return f.Invalid("lr_schedule.decay_epochs",
                     absl::StrCat("at most ", kMaxListLength, " values"));
  }
  for (size_t i = 0; i < lr.decay_epochs.size(); ++i) {
    const double e = lr.decay_epochs[i];
    if (!(std::isfinite(e) && e >= 0) ||
        (i > 0 && e < lr.decay_epochs[i - 1])) {
      return f.Invalid(Indexed("lr_schedule.decay_epochs", i),
                       absl::StrCat("must be >= 0 and ascending, got ", e));
    }
  }
  if (!(lr.decay_factor > 0 && lr.decay_factor <= 1)) {
    return f.Invalid("lr_schedule.decay_factor",
                     absl::StrCat("must be in (0, 1], got ", lr.decay_factor));
  }

  const EvaluationPlan& e = c.evaluation;
  const std::vector<std::string>& layers = RepresentationLayers(c.architecture);
  if (e.layers.empty()) {
    return f.Invalid("evaluation.layers", "must not be empty");
  }
  std::set<std::string> seen_layers;
  for (size_t i = 0; i < e.layers.size(); ++i) {
    const std::string& l = e.layers[i];
    if (l != kPixelsLayer &&
        std::find(layers.begin(), layers.end(), l) == layers.end()) {
      return f.Invalid(
          Indexed("evaluation.layers", i),
          absl::StrCat("unknown layer \"", l, "\" for ", Name(c.architecture),
                       "; one of ", absl::StrJoin(layers, "|"), "|",
                       kPixelsLayer));
    }
    if (!seen_layers.insert(l).second) {
      return f.Invalid(Indexed("evaluation.layers", i),
                       absl::StrCat("duplicate layer \"", l, "\""));
    }
  }
  if (e.probe_kinds.empty()) {
    return f.Invalid("evaluation.probe_kinds", "must not be empty");
  }
  std::set<ProbeKind> seen_probes;
  for (size_t i = 0; i < e.probe_kinds.size(); ++i) {
    if (Name(e.probe_kinds[i]).empty()) {
      return f.Invalid(Indexed("evaluation.probe_kinds", i), "unknown value");
    }
    if (!seen_probes.insert(e.probe_kinds[i]).second) {
      return f.Invalid(Indexed("evaluation.probe_kinds", i),
                       absl::StrCat("duplicate probe kind \"",
                                    Name(e.probe_kinds[i]), "\""));
    }
  }
  // Bounded: each fraction multiplies the PROBE jobs of every checkpoint.
  SSLAB_RETURN_IF_ERROR(f.CheckDistinctValues(
      "evaluation.label_fractions", e.label_fractions, kMaxListLength,
      [](double x) { return x > 0 && x <= 1; }, "in (0, 1]"));
  if (e.every_epochs < 0) {
    return f.Invalid("evaluation.every_epochs",
                     absl::StrCat("must be >= 0, got ", e.every_epochs));
  }
  if (Name(e.feature_dtype).empty()) {
    return f.Invalid("evaluation.feature_dtype", "unknown value");
  }

  const ProbeSettings& p = e.probe;
  SSLAB_RETURN_IF_ERROR(f.CheckDistinctValues(
      "evaluation.probe.l2_grid", p.l2_grid, kMaxListLength,
      [](double l2) { return std::isfinite(l2) && l2 > 0; }, "> 0"));
  SSLAB_RETURN_IF_ERROR(f.CheckRange("evaluation.probe.sgd_epochs",
                                     p.sgd_epochs, 1, kMaxProbeEpochs));
  if (!(std::isfinite(p.sgd_learning_rate) && p.sgd_learning_rate > 0)) {
    return f.Invalid("evaluation.probe.sgd_learning_rate",
                     absl::StrCat("must be > 0, got ", p.sgd_learning_rate));
  }
  SSLAB_RETURN_IF_ERROR(f.CheckRange("evaluation.probe.sgd_batch_size",
                                     p.sgd_batch_size, 1, kMaxBatchSize));
  SSLAB_RETURN_IF_ERROR(f.CheckRange("evaluation.probe.mlp_hidden_units",
                                     p.mlp_hidden_units, 1, kMaxHiddenUnits));
  SSLAB_RETURN_IF_ERROR(f.CheckRange("evaluation.probe.mlp_epochs",
                                     p.mlp_epochs, 1, kMaxProbeEpochs));

  if (c.augmentation != Augmentation::kInception &&
      c.augmentation != Augmentation::kLight) {
    return f.Invalid("augmentation",
                     "must be inception or light once expanded");
  }
  if (Name(c.device).empty()) return f.Invalid("device", "unknown value");
  if (Name(c.probe_device).empty()) {
    return f.Invalid("probe_device", "unknown value");
  }
  if (Name(c.precision).empty()) return f.Invalid("precision", "unknown value");
  if (Name(c.memory_format).empty()) {
    return f.Invalid("memory_format", "unknown value");
  }
  SSLAB_RETURN_IF_ERROR(f.CheckRange("threads", c.threads, 0, kMaxThreads));
  SSLAB_RETURN_IF_ERROR(
      f.CheckRange("devices_per_run", c.devices_per_run, 1, kMaxDevicesPerRun));
  if (c.batch_size % c.devices_per_run != 0) {
    return f.Invalid("batch_size",
                     absl::StrCat("must be a multiple of devices_per_run = ",
                                  c.devices_per_run, ", got ", c.batch_size));
  }

  // Budgets, from fields already bounded above (no product can overflow
  // int64: at most 1e5 checkpoints x 12 layers x 3 kinds x 16 fractions, and
  // 2^20 x 8 x 3 x 4096^2 x 4 < 2^63).
  const int64_t checkpoints =
      1 + (e.every_epochs > 0 ? c.epochs / e.every_epochs : 0);
  const int64_t jobs =
      1 +
      checkpoints * (1 + static_cast<int64_t>(e.layers.size()) *
                             static_cast<int64_t>(e.probe_kinds.size()) *
                             static_cast<int64_t>(e.label_fractions.size()));
  if (jobs > kMaxJobsPerRun) {
    return f.Invalid(
        "evaluation.every_epochs",
        absl::StrCat("the run would plan ", jobs, " jobs (", checkpoints,
                     " evaluated checkpoints x layers x probe kinds x label "
                     "fractions); at most ",
                     kMaxJobsPerRun, ": evaluate fewer checkpoints"));
  }
  const int64_t views = c.method == Method::kRotation   ? 4
                        : c.method == Method::kExemplar ? 8
                                                        : 1;
  const int64_t batch_bytes = int64_t{c.batch_size} * views * 3 * d.image_size *
                              d.image_size * sizeof(float);
  if (batch_bytes > kMaxBatchInputBytes) {
    return f.Invalid(
        "batch_size",
        absl::StrCat("a batch of ", c.batch_size, " images of ", d.image_size,
                     "x", d.image_size, " px is ", batch_bytes >> 20,
                     " MiB of input alone; at most ", kMaxBatchInputBytes >> 20,
                     " MiB: use a smaller batch_size or dataset.image_size"));
  }
  return absl::OkStatus();
}

}  // namespace sslab::experiment
