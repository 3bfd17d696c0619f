#include "services/common/run_config.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sslab::services {
namespace {

template <typename Enum>
using NameTable = std::initializer_list<std::pair<Enum, absl::string_view>>;

const NameTable<v1::Method> kMethods = {
    {v1::METHOD_ROTATION, "rotation"},
    {v1::METHOD_EXEMPLAR, "exemplar"},
    {v1::METHOD_JIGSAW, "jigsaw"},
    {v1::METHOD_RELATIVE_PATCH_LOCATION, "relative_patch_location"},
    {v1::METHOD_SUPERVISED, "supervised"}};
const NameTable<v1::Architecture> kArchitectures = {
    {v1::ARCHITECTURE_RESNET50_V1, "resnet50_v1"},
    {v1::ARCHITECTURE_RESNET50_V2, "resnet50_v2"},
    {v1::ARCHITECTURE_REVNET50, "revnet50"},
    {v1::ARCHITECTURE_VGG19_BN, "vgg19_bn"}};
const NameTable<v1::DatasetKind> kDatasetKinds = {
    {v1::DATASET_KIND_IDX, "idx"},
    {v1::DATASET_KIND_CIFAR, "cifar"},
    {v1::DATASET_KIND_IMAGEFOLDER, "imagefolder"}};
const NameTable<v1::ProbeKind> kProbeKinds = {{v1::PROBE_KIND_LBFGS, "lbfgs"},
                                              {v1::PROBE_KIND_SGD, "sgd"},
                                              {v1::PROBE_KIND_MLP, "mlp"}};
const NameTable<v1::DeviceKind> kDeviceKinds = {{v1::DEVICE_KIND_CPU, "cpu"},
                                                {v1::DEVICE_KIND_CUDA, "cuda"},
                                                {v1::DEVICE_KIND_AUTO, "auto"}};
const NameTable<v1::RunState> kRunStates = {
    {v1::RUN_STATE_PENDING, "pending"},
    {v1::RUN_STATE_RUNNING, "running"},
    {v1::RUN_STATE_SUCCEEDED, "succeeded"},
    {v1::RUN_STATE_FAILED, "failed"},
    {v1::RUN_STATE_CANCELLED, "cancelled"}};
const NameTable<v1::JobKind> kJobKinds = {{v1::JOB_KIND_TRAIN, "train"},
                                          {v1::JOB_KIND_EXTRACT, "extract"},
                                          {v1::JOB_KIND_PROBE, "probe"}};
const NameTable<v1::JobState> kJobStates = {
    {v1::JOB_STATE_PENDING, "pending"}, {v1::JOB_STATE_RUNNABLE, "runnable"},
    {v1::JOB_STATE_RUNNING, "running"}, {v1::JOB_STATE_SUCCEEDED, "succeeded"},
    {v1::JOB_STATE_FAILED, "failed"},   {v1::JOB_STATE_CANCELLED, "cancelled"}};

template <typename Enum>
absl::string_view NameOf(const NameTable<Enum>& table, Enum value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "";
}

// Accepts "rotation", "ROTATION" and "METHOD_ROTATION" (`proto_prefix`).
template <typename Enum>
std::optional<Enum> ParseName(const NameTable<Enum>& table,
                              absl::string_view proto_prefix,
                              absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  const std::string prefix = absl::AsciiStrToLower(proto_prefix);
  if (lower.size() > prefix.size() &&
      lower.compare(0, prefix.size(), prefix) == 0) {
    lower = lower.substr(prefix.size());
  }
  for (const auto& [e, n] : table) {
    if (n == lower) return e;
  }
  return std::nullopt;
}

template <typename Enum>
std::string Choices(const NameTable<Enum>& table) {
  std::vector<absl::string_view> names;
  for (const auto& [e, n] : table) names.push_back(n);
  return absl::StrJoin(names, "|");
}

absl::Status Invalid(absl::string_view prefix, absl::string_view field,
                     absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(prefix, field, ": ", what));
}

// Longest accepted label_fractions / decay_epochs list.
constexpr int kMaxListLength = 16;

// Paper schedule: 35 epochs, warm-up 5, decays at 15 and 25.
constexpr double kPaperEpochs = 35;
constexpr double kPaperWarmup = 5;
constexpr double kPaperDecays[] = {15, 25};

}  // namespace

absl::string_view MethodName(v1::Method m) { return NameOf(kMethods, m); }
std::optional<v1::Method> ParseMethod(absl::string_view n) {
  return ParseName(kMethods, "method_", n);
}
absl::string_view ArchitectureName(v1::Architecture a) {
  return NameOf(kArchitectures, a);
}
std::optional<v1::Architecture> ParseArchitecture(absl::string_view n) {
  return ParseName(kArchitectures, "architecture_", n);
}
absl::string_view DatasetKindName(v1::DatasetKind k) {
  return NameOf(kDatasetKinds, k);
}
std::optional<v1::DatasetKind> ParseDatasetKind(absl::string_view n) {
  return ParseName(kDatasetKinds, "dataset_kind_", n);
}
absl::string_view ProbeKindName(v1::ProbeKind k) {
  return NameOf(kProbeKinds, k);
}
std::optional<v1::ProbeKind> ParseProbeKind(absl::string_view n) {
  return ParseName(kProbeKinds, "probe_kind_", n);
}
absl::string_view DeviceKindName(v1::DeviceKind k) {
  return NameOf(kDeviceKinds, k);
}
std::optional<v1::DeviceKind> ParseDeviceKind(absl::string_view n) {
  return ParseName(kDeviceKinds, "device_kind_", n);
}
absl::string_view RunStateName(v1::RunState s) { return NameOf(kRunStates, s); }
std::optional<v1::RunState> ParseRunState(absl::string_view n) {
  return ParseName(kRunStates, "run_state_", n);
}
absl::string_view JobKindName(v1::JobKind k) { return NameOf(kJobKinds, k); }
std::optional<v1::JobKind> ParseJobKind(absl::string_view n) {
  return ParseName(kJobKinds, "job_kind_", n);
}
absl::string_view JobStateName(v1::JobState s) { return NameOf(kJobStates, s); }

std::vector<std::string> RepresentationLayers(v1::Architecture architecture) {
  switch (architecture) {
    case v1::ARCHITECTURE_RESNET50_V1:
    case v1::ARCHITECTURE_RESNET50_V2:
    case v1::ARCHITECTURE_REVNET50:
      return {"after_root", "block1", "block2",
              "block3",     "block4", "pre_logits"};
    case v1::ARCHITECTURE_VGG19_BN:
      return {"block1", "block2", "block3", "block4", "fc6", "pre_logits"};
    default:
      return {};
  }
}

int DefaultBatchSize(v1::Method method) {
  switch (method) {
    case v1::METHOD_JIGSAW:
    case v1::METHOD_RELATIVE_PATCH_LOCATION:
      return 128;
    case v1::METHOD_SUPERVISED:
      return 256;
    default:
      return 64;
  }
}

absl::StatusOr<v1::RunConfig> ExpandRunConfig(const v1::RunConfig& config,
                                              absl::string_view p) {
  v1::RunConfig c = config;
  if (MethodName(c.method()).empty()) {
    return Invalid(p, "method",
                   absl::StrCat("unset or unknown method (", c.method(),
                                "); one of ", Choices(kMethods)));
  }
  if (ArchitectureName(c.architecture()).empty()) {
    return Invalid(
        p, "architecture",
        absl::StrCat("unset or unknown architecture (", c.architecture(),
                     "); one of ", Choices(kArchitectures)));
  }
  if (!c.has_width()) c.set_width(4);
  if (c.width() < 1 || c.width() > 64) {
    return Invalid(p, "width",
                   absl::StrCat("must be in [1, 64], got ", c.width()));
  }
  if (!c.has_last_relu()) c.set_last_relu(true);

  // Dataset.
  v1::DatasetSpec* d = c.mutable_dataset();
  if (DatasetKindName(d->kind()).empty()) {
    return Invalid(p, "dataset.kind",
                   absl::StrCat("unset or unknown dataset kind (", d->kind(),
                                "); one of ", Choices(kDatasetKinds)));
  }
  if (d->path().empty()) return Invalid(p, "dataset.path", "must not be empty");
  if (!d->has_val_fraction()) d->set_val_fraction(0.1);
  if (!(d->val_fraction() >= 0 && d->val_fraction() < 1)) {
    return Invalid(p, "dataset.val_fraction",
                   absl::StrCat("must be in [0, 1), got ", d->val_fraction()));
  }
  if (d->max_examples() < 0) {
    return Invalid(p, "dataset.max_examples",
                   absl::StrCat("must be >= 0, got ", d->max_examples()));
  }
  if (d->image_size() < 0 || d->image_size() > 4096) {
    return Invalid(p, "dataset.image_size",
                   absl::StrCat("must be in [0, 4096], got ", d->image_size()));
  }
  if (d->image_size() == 0) {
    d->set_image_size(d->kind() == v1::DATASET_KIND_IDX     ? 28
                      : d->kind() == v1::DATASET_KIND_CIFAR ? 32
                                                            : 224);
  }

  // Training.
  if (!c.has_epochs()) c.set_epochs(static_cast<int>(kPaperEpochs));
  if (c.epochs() < 0 || c.epochs() > 100000) {
    return Invalid(p, "epochs",
                   absl::StrCat("must be in [0, 100000], got ", c.epochs()));
  }
  if (c.batch_size() < 0 || c.batch_size() > 1 << 20) {
    return Invalid(p, "batch_size",
                   absl::StrCat("must be >= 0, got ", c.batch_size()));
  }
  if (c.batch_size() == 0) c.set_batch_size(DefaultBatchSize(c.method()));

  v1::LrSchedule* lr = c.mutable_lr_schedule();
  const double scale = c.epochs() / kPaperEpochs;
  if (!(std::isfinite(lr->base_lr()) && lr->base_lr() >= 0)) {
    return Invalid(p, "lr_schedule.base_lr",
                   absl::StrCat("must be >= 0, got ", lr->base_lr()));
  }
  if (lr->base_lr() == 0) lr->set_base_lr(0.1);
  if (!lr->has_warmup_epochs()) lr->set_warmup_epochs(kPaperWarmup * scale);
  if (!(lr->warmup_epochs() >= 0 && lr->warmup_epochs() <= c.epochs())) {
    return Invalid(
        p, "lr_schedule.warmup_epochs",
        absl::StrCat("must be in [0, epochs], got ", lr->warmup_epochs()));
  }
  if (lr->decay_epochs().empty()) {
    for (double e : kPaperDecays) lr->add_decay_epochs(e * scale);
  }
  if (lr->decay_epochs_size() > kMaxListLength) {
    return Invalid(p, "lr_schedule.decay_epochs",
                   absl::StrCat("at most ", kMaxListLength, " values"));
  }
  for (int i = 0; i < lr->decay_epochs_size(); ++i) {
    const double e = lr->decay_epochs(i);
    if (!(e >= 0) || (i > 0 && e < lr->decay_epochs(i - 1))) {
      return Invalid(p, absl::StrCat("lr_schedule.decay_epochs[", i, "]"),
                     absl::StrCat("must be >= 0 and ascending, got ", e));
    }
  }
  if (lr->decay_factor() == 0) lr->set_decay_factor(0.1);
  if (!(lr->decay_factor() > 0 && lr->decay_factor() <= 1)) {
    return Invalid(p, "lr_schedule.decay_factor",
                   absl::StrCat("must be in (0, 1], got ", lr->decay_factor()));
  }

  // Evaluation plan.
  v1::EvaluationPlan* e = c.mutable_evaluation();
  const std::vector<std::string> layers =
      RepresentationLayers(c.architecture());
  if (e->layers().empty()) {
    for (const std::string& l : layers) e->add_layers(l);
  }
  std::set<std::string> seen_layers;
  for (int i = 0; i < e->layers_size(); ++i) {
    const std::string& l = e->layers(i);
    if (l != kPixelsLayer &&
        std::find(layers.begin(), layers.end(), l) == layers.end()) {
      return Invalid(
          p, absl::StrCat("evaluation.layers[", i, "]"),
          absl::StrCat("unknown layer \"", l, "\" for ",
                       ArchitectureName(c.architecture()), "; one of ",
                       absl::StrJoin(layers, "|"), "|", kPixelsLayer));
    }
    if (!seen_layers.insert(l).second) {
      return Invalid(p, absl::StrCat("evaluation.layers[", i, "]"),
                     absl::StrCat("duplicate layer \"", l, "\""));
    }
  }
  if (e->probe_kinds().empty()) e->add_probe_kinds(v1::PROBE_KIND_LBFGS);
  std::set<int> seen_probes;
  for (int i = 0; i < e->probe_kinds_size(); ++i) {
    const auto k = static_cast<v1::ProbeKind>(e->probe_kinds(i));
    if (ProbeKindName(k).empty()) {
      return Invalid(p, absl::StrCat("evaluation.probe_kinds[", i, "]"),
                     absl::StrCat("unset or unknown probe kind (", k,
                                  "); one of ", Choices(kProbeKinds)));
    }
    if (!seen_probes.insert(k).second) {
      return Invalid(p, absl::StrCat("evaluation.probe_kinds[", i, "]"),
                     "duplicate probe kind");
    }
  }
  if (e->label_fractions().empty()) e->add_label_fractions(1.0);
  // Bounded: each fraction multiplies the PROBE jobs of every checkpoint.
  if (e->label_fractions_size() > kMaxListLength) {
    return Invalid(p, "evaluation.label_fractions",
                   absl::StrCat("at most ", kMaxListLength, " values"));
  }
  std::set<double> seen_fractions;
  for (int i = 0; i < e->label_fractions_size(); ++i) {
    const double f = e->label_fractions(i);
    if (!(f > 0 && f <= 1)) {
      return Invalid(p, absl::StrCat("evaluation.label_fractions[", i, "]"),
                     absl::StrCat("must be in (0, 1], got ", f));
    }
    if (!seen_fractions.insert(f).second) {
      return Invalid(p, absl::StrCat("evaluation.label_fractions[", i, "]"),
                     absl::StrCat("duplicate fraction ", f));
    }
  }
  if (e->every_epochs() < 0) {
    return Invalid(p, "evaluation.every_epochs",
                   absl::StrCat("must be >= 0, got ", e->every_epochs()));
  }

  // Execution.
  if (c.device() == v1::DEVICE_KIND_UNSPECIFIED) {
    c.set_device(v1::DEVICE_KIND_AUTO);
  }
  if (DeviceKindName(c.device()).empty()) {
    return Invalid(p, "device",
                   absl::StrCat("unknown device kind (", c.device(),
                                "); one of ", Choices(kDeviceKinds)));
  }
  if (c.threads() < 0 || c.threads() > 1024) {
    return Invalid(p, "threads",
                   absl::StrCat("must be in [0, 1024], got ", c.threads()));
  }
  return c;
}

std::string RunConfigToJson(const v1::RunConfig& config) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  // Cannot fail for a message without Any fields.
  (void)google::protobuf::util::MessageToJsonString(config, &json, options);
  return json;
}

absl::StatusOr<v1::RunConfig> RunConfigFromJson(absl::string_view json,
                                                bool ignore_unknown_fields) {
  v1::RunConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = ignore_unknown_fields;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &config,
      options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config JSON: ", status.message().ToString()));
  }
  return config;
}

}  // namespace sslab::services
