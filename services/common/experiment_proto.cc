#include "services/common/experiment_proto.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "common/status_macros.h"

namespace sslab::services {
namespace {

using experiment::Architecture;
using experiment::Augmentation;
using experiment::DatasetKind;
using experiment::DeviceRequest;
using experiment::JobKind;
using experiment::MemoryFormat;
using experiment::Method;
using experiment::Precision;
using experiment::ProbeKind;
using experiment::Split;

std::string Field(absl::string_view prefix, absl::string_view name) {
  return absl::StrCat(prefix, name);
}
std::string Field(absl::string_view prefix, absl::string_view name, int i) {
  return absl::StrCat(prefix, name, "[", i, "]");
}

absl::StatusOr<Split> SplitFromProto(const std::string& name,
                                     absl::string_view field) {
  return experiment::ParseName<Split>(name, field);
}

experiment::CheckpointRef CheckpointFromProto(const v1::Checkpoint& c) {
  return {c.checkpoint_id(), static_cast<int>(c.epoch()), c.step(), c.path(),
          c.sha256()};
}

}  // namespace

v1::Device ToProto(const experiment::DeviceId& device) {
  v1::Device out;
  out.set_kind(ToProto<v1::DeviceKind>(device.kind));
  out.set_index(device.index);
  return out;
}

absl::StatusOr<experiment::DeviceId> FromProto(const v1::Device& device,
                                               absl::string_view field) {
  SSLAB_ASSIGN_OR_RETURN(experiment::DeviceKind kind,
                         RequireFromProto<experiment::DeviceKind>(
                             device.kind(), Field(field, ".kind")));
  if (kind == experiment::DeviceKind::kCpu) return experiment::DeviceId::Cpu();
  if (device.index() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".index: must be >= 0, got ", device.index()));
  }
  return experiment::DeviceId::Cuda(device.index());
}

v1::Device ToProto(const experiment::DeviceInfo& device) {
  v1::Device out = ToProto(device.id);
  out.set_key(device.key);
  out.set_name(device.name);
  out.set_memory_bytes(device.memory_bytes);
  return out;
}

absl::StatusOr<experiment::DeviceInfo> DeviceInfoFromProto(
    const v1::Device& device, absl::string_view field) {
  experiment::DeviceInfo info;
  SSLAB_ASSIGN_OR_RETURN(info.id, FromProto(device, field));
  info.key = device.key();
  info.name = device.name();
  info.memory_bytes = device.memory_bytes();
  return info;
}

v1::RunConfig ToProto(const experiment::RunConfig& c) {
  v1::RunConfig out;
  out.set_method(ToProto<v1::Method>(c.method));
  out.set_architecture(ToProto<v1::Architecture>(c.architecture));
  out.set_width(c.width);
  out.set_last_relu(c.last_relu);
  v1::DatasetSpec* d = out.mutable_dataset();
  d->set_kind(ToProto<v1::DatasetKind>(c.dataset.kind));
  d->set_path(c.dataset.path);
  d->set_val_fraction(c.dataset.val_fraction);
  d->set_max_examples(c.dataset.max_examples);
  d->set_image_size(c.dataset.image_size);
  out.set_epochs(c.epochs);
  out.set_batch_size(c.batch_size);
  v1::LrSchedule* lr = out.mutable_lr_schedule();
  lr->set_base_lr(c.lr_schedule.base_lr);
  lr->set_warmup_epochs(c.lr_schedule.warmup_epochs);
  for (double e : c.lr_schedule.decay_epochs) lr->add_decay_epochs(e);
  lr->set_decay_factor(c.lr_schedule.decay_factor);
  v1::EvaluationPlan* e = out.mutable_evaluation();
  for (const std::string& layer : c.evaluation.layers) e->add_layers(layer);
  for (ProbeKind k : c.evaluation.probe_kinds) {
    e->add_probe_kinds(ToProto<v1::ProbeKind>(k));
  }
  for (double f : c.evaluation.label_fractions) e->add_label_fractions(f);
  e->set_every_epochs(c.evaluation.every_epochs);
  e->set_feature_dtype(ToProto<v1::FeatureDtype>(c.evaluation.feature_dtype));
  const experiment::ProbeSettings& ps = c.evaluation.probe;
  v1::ProbeSettings* probe = e->mutable_probe();
  for (double l2 : ps.l2_grid) probe->add_l2_grid(l2);
  probe->set_sgd_epochs(ps.sgd_epochs);
  probe->set_sgd_learning_rate(ps.sgd_learning_rate);
  probe->set_sgd_batch_size(ps.sgd_batch_size);
  probe->set_mlp_hidden_units(ps.mlp_hidden_units);
  probe->set_mlp_epochs(ps.mlp_epochs);
  out.set_seed(c.seed);
  out.set_device(ToProto<v1::DeviceKind>(c.device));
  out.set_threads(c.threads);
  out.set_probe_device(ToProto<v1::DeviceKind>(c.probe_device));
  out.set_precision(ToProto<v1::Precision>(c.precision));
  out.set_memory_format(ToProto<v1::MemoryFormat>(c.memory_format));
  out.set_augmentation(ToProto<v1::Augmentation>(c.augmentation));
  out.set_devices_per_run(c.devices_per_run);
  return out;
}

absl::StatusOr<experiment::RunSpec> FromProto(const v1::RunConfig& c,
                                              absl::string_view p) {
  experiment::RunSpec s;
  // Enums: UNSPECIFIED is "not given"; an unknown number is an error.
  if (c.method() != 0) {
    SSLAB_ASSIGN_OR_RETURN(
        s.method, RequireFromProto<Method>(c.method(), Field(p, "method")));
  }
  if (c.architecture() != 0) {
    SSLAB_ASSIGN_OR_RETURN(s.architecture,
                           RequireFromProto<Architecture>(
                               c.architecture(), Field(p, "architecture")));
  }
  if (c.has_width()) s.width = c.width();
  if (c.has_last_relu()) s.last_relu = c.last_relu();
  const v1::DatasetSpec& d = c.dataset();
  if (d.kind() != 0) {
    SSLAB_ASSIGN_OR_RETURN(
        s.dataset.kind,
        RequireFromProto<DatasetKind>(d.kind(), Field(p, "dataset.kind")));
  }
  s.dataset.path = d.path();
  if (d.has_val_fraction()) s.dataset.val_fraction = d.val_fraction();
  if (d.max_examples() != 0) s.dataset.max_examples = d.max_examples();
  if (d.image_size() != 0) s.dataset.image_size = d.image_size();
  if (c.has_epochs()) s.epochs = c.epochs();
  if (c.batch_size() != 0) s.batch_size = c.batch_size();
  const v1::LrSchedule& lr = c.lr_schedule();
  if (lr.base_lr() != 0) s.lr_schedule.base_lr = lr.base_lr();
  if (lr.has_warmup_epochs()) s.lr_schedule.warmup_epochs = lr.warmup_epochs();
  s.lr_schedule.decay_epochs.assign(lr.decay_epochs().begin(),
                                    lr.decay_epochs().end());
  if (lr.decay_factor() != 0) s.lr_schedule.decay_factor = lr.decay_factor();
  const v1::EvaluationPlan& e = c.evaluation();
  s.evaluation.layers.assign(e.layers().begin(), e.layers().end());
  for (int i = 0; i < e.probe_kinds_size(); ++i) {
    SSLAB_ASSIGN_OR_RETURN(ProbeKind kind,
                           RequireFromProto<ProbeKind>(
                               static_cast<v1::ProbeKind>(e.probe_kinds(i)),
                               Field(p, "evaluation.probe_kinds", i)));
    s.evaluation.probe_kinds.push_back(kind);
  }
  s.evaluation.label_fractions.assign(e.label_fractions().begin(),
                                      e.label_fractions().end());
  if (e.every_epochs() != 0) s.evaluation.every_epochs = e.every_epochs();
  if (e.feature_dtype() != 0) {
    SSLAB_ASSIGN_OR_RETURN(
        s.evaluation.feature_dtype,
        RequireFromProto<experiment::FeatureDtype>(
            e.feature_dtype(), Field(p, "evaluation.feature_dtype")));
  }
  const v1::ProbeSettings& ps = e.probe();
  experiment::RunSpec::Evaluation::Probe& probe = s.evaluation.probe;
  probe.l2_grid.assign(ps.l2_grid().begin(), ps.l2_grid().end());
  if (ps.sgd_epochs() != 0) probe.sgd_epochs = ps.sgd_epochs();
  if (ps.sgd_learning_rate() != 0) {
    probe.sgd_learning_rate = ps.sgd_learning_rate();
  }
  if (ps.sgd_batch_size() != 0) probe.sgd_batch_size = ps.sgd_batch_size();
  if (ps.mlp_hidden_units() != 0) {
    probe.mlp_hidden_units = ps.mlp_hidden_units();
  }
  if (ps.mlp_epochs() != 0) probe.mlp_epochs = ps.mlp_epochs();
  if (c.has_seed()) s.seed = c.seed();
  if (c.device() != 0) {
    SSLAB_ASSIGN_OR_RETURN(s.device, RequireFromProto<DeviceRequest>(
                                         c.device(), Field(p, "device")));
  }
  if (c.probe_device() != 0) {
    SSLAB_ASSIGN_OR_RETURN(s.probe_device,
                           RequireFromProto<DeviceRequest>(
                               c.probe_device(), Field(p, "probe_device")));
  }
  if (c.precision() != 0) {
    SSLAB_ASSIGN_OR_RETURN(
        s.precision,
        RequireFromProto<Precision>(c.precision(), Field(p, "precision")));
  }
  if (c.memory_format() != 0) {
    SSLAB_ASSIGN_OR_RETURN(s.memory_format,
                           RequireFromProto<MemoryFormat>(
                               c.memory_format(), Field(p, "memory_format")));
  }
  if (c.augmentation() != 0) {
    SSLAB_ASSIGN_OR_RETURN(s.augmentation,
                           RequireFromProto<Augmentation>(
                               c.augmentation(), Field(p, "augmentation")));
  }
  if (c.threads() != 0) s.threads = c.threads();
  if (c.devices_per_run() != 0) s.devices_per_run = c.devices_per_run();
  return s;
}

absl::StatusOr<experiment::RunConfig> CompleteConfigFromProto(
    const v1::RunConfig& config, absl::string_view prefix) {
  SSLAB_ASSIGN_OR_RETURN(experiment::RunSpec spec, FromProto(config, prefix));
  // A complete config expands to itself; anything unset is a bad message.
  return experiment::ExpandRunSpec(spec, prefix);
}

absl::StatusOr<experiment::SweepSpec> FromProto(
    const v1::SubmitSweepRequest& r) {
  experiment::SweepSpec s;
  s.name = r.name();
  SSLAB_ASSIGN_OR_RETURN(s.base, FromProto(r.base(), "base."));
  experiment::SweepGrid& g = s.grid;
  for (int i = 0; i < r.methods_size(); ++i) {
    SSLAB_ASSIGN_OR_RETURN(Method m, RequireFromProto<Method>(
                                         static_cast<v1::Method>(r.methods(i)),
                                         Field("", "methods", i)));
    g.methods.push_back(m);
  }
  for (int i = 0; i < r.architectures_size(); ++i) {
    SSLAB_ASSIGN_OR_RETURN(
        Architecture a, RequireFromProto<Architecture>(
                            static_cast<v1::Architecture>(r.architectures(i)),
                            Field("", "architectures", i)));
    g.architectures.push_back(a);
  }
  g.widths.assign(r.widths().begin(), r.widths().end());
  g.last_relu_values.assign(r.last_relu_values().begin(),
                            r.last_relu_values().end());
  g.seeds.assign(r.seeds().begin(), r.seeds().end());
  g.epochs_values.assign(r.epochs_values().begin(), r.epochs_values().end());
  for (const v1::SweepAxis& axis : r.axes()) {
    g.axes.push_back(
        {axis.field(), {axis.values().begin(), axis.values().end()}});
  }
  for (const v1::SweepZip& zip : r.zip()) {
    g.zip.emplace_back(zip.fields().begin(), zip.fields().end());
  }
  return s;
}

void ToProto(const experiment::JobAssignment& a, v1::JobAssignment* out) {
  v1::Job* job = out->mutable_job();
  job->set_job_id(a.job_id);
  job->set_run_id(a.run_id);
  job->set_kind(ToProto<v1::JobKind>(a.kind));
  job->set_attempts(a.attempt);
  if (a.probe) {
    job->set_layer(a.probe->layer);
    job->set_probe_kind(ToProto<v1::ProbeKind>(a.probe->probe_kind));
    job->set_label_fraction(a.probe->label_fraction);
  }
  *out->mutable_config() = ToProto(a.config);
  *out->mutable_device() = ToProto(a.device);
  for (const experiment::DeviceId& d : a.devices) {
    *out->add_devices() = ToProto(d);
  }
  auto checkpoint_proto = [&](const experiment::CheckpointRef& ref,
                              v1::Checkpoint* c) {
    c->set_checkpoint_id(ref.id);
    c->set_run_id(a.run_id);
    c->set_epoch(ref.epoch);
    c->set_step(ref.step);
    c->set_path(ref.path);
    c->set_sha256(ref.sha256);
  };
  if (a.checkpoint) checkpoint_proto(*a.checkpoint, out->mutable_checkpoint());
  for (const experiment::CheckpointRef& ref : a.fallback_checkpoints) {
    checkpoint_proto(ref, out->add_fallback_checkpoints());
  }
  for (const std::string& layer : a.layers) out->add_layers(layer);
  for (Split split : a.splits)
    out->add_splits(std::string(experiment::Name(split)));
  for (const experiment::FeatureRef& f : a.features) {
    *out->add_features() = ToProto(f);
  }
}

absl::StatusOr<experiment::JobAssignment> FromProto(
    const v1::JobAssignment& in) {
  experiment::JobAssignment a;
  const v1::Job& job = in.job();
  a.run_id = job.run_id();
  a.job_id = job.job_id();
  SSLAB_ASSIGN_OR_RETURN(a.kind,
                         RequireFromProto<JobKind>(job.kind(), "job.kind"));
  a.attempt = job.attempts();
  SSLAB_ASSIGN_OR_RETURN(a.config,
                         CompleteConfigFromProto(in.config(), "config."));
  SSLAB_ASSIGN_OR_RETURN(a.device, FromProto(in.device(), "device"));
  for (int i = 0; i < in.devices_size(); ++i) {
    SSLAB_ASSIGN_OR_RETURN(experiment::DeviceId d,
                           FromProto(in.devices(i), Field("", "devices", i)));
    a.devices.push_back(d);
  }
  if (in.has_checkpoint()) a.checkpoint = CheckpointFromProto(in.checkpoint());
  for (const v1::Checkpoint& c : in.fallback_checkpoints()) {
    a.fallback_checkpoints.push_back(CheckpointFromProto(c));
  }
  a.layers.assign(in.layers().begin(), in.layers().end());
  for (int i = 0; i < in.splits_size(); ++i) {
    SSLAB_ASSIGN_OR_RETURN(
        Split split, SplitFromProto(in.splits(i), Field("", "splits", i)));
    a.splits.push_back(split);
  }
  if (a.kind == JobKind::kProbe) {
    experiment::ProbeTarget target;
    target.layer = job.layer();
    SSLAB_ASSIGN_OR_RETURN(
        target.probe_kind,
        RequireFromProto<ProbeKind>(job.probe_kind(), "job.probe_kind"));
    target.label_fraction = job.label_fraction();
    a.probe = std::move(target);
  }
  for (int i = 0; i < in.features_size(); ++i) {
    SSLAB_ASSIGN_OR_RETURN(experiment::FeatureRef f,
                           FromProto(in.features(i), Field("", "features", i)));
    a.features.push_back(std::move(f));
  }
  return a;
}

v1::FeatureShard ToProto(const experiment::FeatureRef& f) {
  v1::FeatureShard out;
  out.set_layer(f.layer);
  out.set_split(std::string(experiment::Name(f.split)));
  out.set_path(f.path);
  out.set_sha256(f.sha256);
  out.set_rows(f.rows);
  out.set_dims(f.dims);
  out.set_bytes(f.bytes);
  return out;
}

absl::StatusOr<experiment::FeatureRef> FromProto(const v1::FeatureShard& f,
                                                 absl::string_view field) {
  SSLAB_ASSIGN_OR_RETURN(Split split,
                         SplitFromProto(f.split(), Field(field, ".split")));
  return experiment::FeatureRef{f.layer(), split,    f.path(), f.sha256(),
                                f.rows(),  f.dims(), f.bytes()};
}

v1::RegisterCheckpointRequest ToProto(const experiment::CheckpointReport& c) {
  v1::RegisterCheckpointRequest out;
  out.set_epoch(c.epoch);
  out.set_step(c.step);
  out.set_path(c.path);
  out.set_sha256(c.sha256);
  out.set_bytes(c.bytes);
  for (const auto& [name, value] : c.metrics) {
    (*out.mutable_metrics())[name] = value;
  }
  out.set_is_final(c.is_final);
  return out;
}

experiment::CheckpointReport FromProto(const v1::RegisterCheckpointRequest& r) {
  experiment::CheckpointReport c;
  c.epoch = static_cast<int>(
      std::clamp<int64_t>(r.epoch(), -1, experiment::kMaxEpochs + 1));
  c.step = r.step();
  c.path = r.path();
  c.sha256 = r.sha256();
  c.bytes = r.bytes();
  for (const auto& [name, value] : r.metrics()) c.metrics[name] = value;
  c.is_final = r.is_final();
  return c;
}

v1::RecordResultRequest ToProto(const experiment::ProbeResult& r) {
  v1::RecordResultRequest out;
  out.set_split(std::string(experiment::Name(r.split)));
  out.set_top1(r.top1);
  out.set_top5(r.top5);
  for (const auto& [name, value] : r.hyperparameters) {
    (*out.mutable_hyperparameters())[name] = value;
  }
  return out;
}

absl::StatusOr<experiment::ProbeResult> FromProto(
    const v1::RecordResultRequest& r) {
  experiment::ProbeResult out;
  SSLAB_ASSIGN_OR_RETURN(out.split, SplitFromProto(r.split(), "split"));
  out.top1 = r.top1();
  out.top5 = r.top5();
  for (const auto& [name, value] : r.hyperparameters()) {
    out.hyperparameters[name] = value;
  }
  return out;
}

absl::StatusOr<v1::RunConfig> RunConfigFromJson(absl::string_view json) {
  v1::RunConfig config;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &config);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config JSON: ", status.message().ToString()));
  }
  return config;
}

}  // namespace sslab::services
