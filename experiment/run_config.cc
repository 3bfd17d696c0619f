#include "experiment/run_config.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace sslab::experiment {
namespace {

// The paper's schedule at its budget: warm-up 5 epochs, decays at 15 and 25.
constexpr double kPaperWarmup = 5;
constexpr double kPaperDecays[] = {15, 25};

// Builds "<prefix><field>: <problem>" errors.
class Fields {
 public:
  explicit Fields(absl::string_view prefix) : prefix_(prefix) {}
  absl::Status Invalid(absl::string_view field,
                       absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix_, field, ": ", problem));
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

std::string Indexed(absl::string_view field, size_t i) {
  return absl::StrCat(field, "[", i, "]");
}

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

int DefaultImageSize(DatasetKind kind) {
  switch (kind) {
    case DatasetKind::kIdx:
      return 28;
    case DatasetKind::kCifar:
      return 32;
    case DatasetKind::kImageFolder:
      break;
  }
  return 224;
}

std::string DefaultRunName(const RunConfig& config) {
  return absl::StrCat(Name(config.method), "-", Name(config.architecture), "-k",
                      config.width);
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
  c.dataset.image_size =
      spec.dataset.image_size.value_or(DefaultImageSize(c.dataset.kind));

  c.epochs = spec.epochs.value_or(kPaperEpochs);
  c.batch_size = spec.batch_size.value_or(DefaultBatchSize(c.method));

  // The paper's schedule, scaled to the run's epochs.
  const double scale = static_cast<double>(c.epochs) / kPaperEpochs;
  const RunSpec::Schedule& lr = spec.lr_schedule;
  c.lr_schedule.base_lr = lr.base_lr.value_or(0.1);
  c.lr_schedule.warmup_epochs = lr.warmup_epochs.value_or(kPaperWarmup * scale);
  c.lr_schedule.decay_epochs = lr.decay_epochs;
  if (lr.decay_epochs.empty()) {
    c.lr_schedule.decay_epochs.clear();
    for (double e : kPaperDecays)
      c.lr_schedule.decay_epochs.push_back(e * scale);
  }
  c.lr_schedule.decay_factor = lr.decay_factor.value_or(0.1);

  const RunSpec::Evaluation& e = spec.evaluation;
  c.evaluation.layers =
      e.layers.empty() ? RepresentationLayers(c.architecture) : e.layers;
  if (!e.probe_kinds.empty()) c.evaluation.probe_kinds = e.probe_kinds;
  if (!e.label_fractions.empty()) {
    c.evaluation.label_fractions = e.label_fractions;
  }
  c.evaluation.every_epochs = e.every_epochs.value_or(0);

  c.seed = spec.seed.value_or(0);
  c.device = spec.device.value_or(DeviceRequest::kAuto);
  c.threads = spec.threads.value_or(0);
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
  s.evaluation = {c.evaluation.layers, c.evaluation.probe_kinds,
                  c.evaluation.label_fractions, c.evaluation.every_epochs};
  s.seed = c.seed;
  s.device = c.device;
  s.threads = c.threads;
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
  if (e.label_fractions.empty() || e.label_fractions.size() > kMaxListLength) {
    return f.Invalid("evaluation.label_fractions",
                     absl::StrCat("must hold 1 to ", kMaxListLength,
                                  " values, got ", e.label_fractions.size()));
  }
  std::set<double> seen_fractions;
  for (size_t i = 0; i < e.label_fractions.size(); ++i) {
    const double x = e.label_fractions[i];
    if (!(x > 0 && x <= 1)) {
      return f.Invalid(Indexed("evaluation.label_fractions", i),
                       absl::StrCat("must be in (0, 1], got ", x));
    }
    if (!seen_fractions.insert(x).second) {
      return f.Invalid(Indexed("evaluation.label_fractions", i),
                       absl::StrCat("duplicate fraction ", x));
    }
  }
  if (e.every_epochs < 0) {
    return f.Invalid("evaluation.every_epochs",
                     absl::StrCat("must be >= 0, got ", e.every_epochs));
  }

  if (Name(c.device).empty()) return f.Invalid("device", "unknown value");
  return f.CheckRange("threads", c.threads, 0, kMaxThreads);
}

}  // namespace sslab::experiment
