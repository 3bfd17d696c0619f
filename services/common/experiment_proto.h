// The one mapping between the gRPC protocol (sslab.v1) and the experiment
// model (experiment/), both ways: vocabularies, device ids, run configs,
// sweeps and job assignments. Used by the scheduler's services, the workers
// and the CLI.
//
// Enums map by name: a proto value is its enum's prefix plus the upper-case
// vocabulary name (METHOD_ROTATION <-> Method::kRotation "rotation"), so
// the names live only in experiment/vocabulary.h.
//
// Proto -> domain returns INVALID_ARGUMENT naming the field (after a
// prefix such as "config.") for values the domain does not know. Domain ->
// proto never fails. Thread-safe (pure functions).
#ifndef SSLAB_SERVICES_COMMON_EXPERIMENT_PROTO_H_
#define SSLAB_SERVICES_COMMON_EXPERIMENT_PROTO_H_

#include <google/protobuf/generated_enum_reflection.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "experiment/device.h"
#include "experiment/job_graph.h"
#include "experiment/run_config.h"
#include "experiment/sweep.h"
#include "experiment/vocabulary.h"
#include "sslab/v1/experiment_service.pb.h"
#include "sslab/v1/types.pb.h"
#include "sslab/v1/worker_service.pb.h"

namespace sslab::services {
namespace internal {

// "METHOD_" for v1::Method: the name of its UNSPECIFIED value without it.
template <typename Proto>
std::string ProtoEnumPrefix() {
  const std::string& unspecified = google::protobuf::GetEnumDescriptor<Proto>()
                                       ->FindValueByNumber(0)
                                       ->name();
  return unspecified.substr(0, unspecified.size() - strlen("UNSPECIFIED"));
}

}  // namespace internal

// The proto value named like `value` (Method::kRotation -> METHOD_ROTATION).
template <typename Proto, typename Domain>
Proto ToProto(Domain value) {
  const auto* v = google::protobuf::GetEnumDescriptor<Proto>()->FindValueByName(
      absl::StrCat(internal::ProtoEnumPrefix<Proto>(),
                   absl::AsciiStrToUpper(experiment::Name(value))));
  return v == nullptr ? static_cast<Proto>(0) : static_cast<Proto>(v->number());
}

// The domain value of a proto value; nullopt for UNSPECIFIED, a number the
// proto does not define, or a name the domain does not have.
template <typename Domain, typename Proto>
std::optional<Domain> FromProto(Proto value) {
  const auto* v =
      google::protobuf::GetEnumDescriptor<Proto>()->FindValueByNumber(value);
  if (v == nullptr || v->number() == 0) return std::nullopt;
  const std::string prefix = internal::ProtoEnumPrefix<Proto>();
  if (!absl::StartsWith(v->name(), prefix)) return std::nullopt;
  return experiment::Parse<Domain>(v->name().substr(prefix.size()));
}

// FromProto(), or INVALID_ARGUMENT naming `field` (UNSPECIFIED included).
template <typename Domain, typename Proto>
absl::StatusOr<Domain> RequireFromProto(Proto value, absl::string_view field) {
  if (std::optional<Domain> d = FromProto<Domain>(value)) return *d;
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", value == 0 ? "must be set" : "unknown value",
                   value == 0 ? "" : absl::StrCat(" ", static_cast<int>(value)),
                   "; one of ", experiment::Choices<Domain>()));
}

// The vocabulary name of a proto value ("rotation"); "" when it has none.
template <typename Domain, typename Proto>
absl::string_view ShortName(Proto value) {
  const std::optional<Domain> d = FromProto<Domain>(value);
  return d ? experiment::Name(*d) : absl::string_view();
}
inline absl::string_view ShortName(v1::Method v) {
  return ShortName<experiment::Method>(v);
}
inline absl::string_view ShortName(v1::Architecture v) {
  return ShortName<experiment::Architecture>(v);
}
inline absl::string_view ShortName(v1::DatasetKind v) {
  return ShortName<experiment::DatasetKind>(v);
}
inline absl::string_view ShortName(v1::ProbeKind v) {
  return ShortName<experiment::ProbeKind>(v);
}
inline absl::string_view ShortName(v1::RunState v) {
  return ShortName<experiment::RunState>(v);
}
inline absl::string_view ShortName(v1::JobKind v) {
  return ShortName<experiment::JobKind>(v);
}
inline absl::string_view ShortName(v1::JobState v) {
  return ShortName<experiment::JobState>(v);
}
inline absl::string_view ShortName(v1::DeviceKind v) {
  return ShortName<experiment::DeviceRequest>(v);
}
inline absl::string_view ShortName(v1::Precision v) {
  return ShortName<experiment::Precision>(v);
}
inline absl::string_view ShortName(v1::MemoryFormat v) {
  return ShortName<experiment::MemoryFormat>(v);
}
inline absl::string_view ShortName(v1::Augmentation v) {
  return ShortName<experiment::Augmentation>(v);
}

// Device ids, and devices as workers describe them.
v1::Device ToProto(const experiment::DeviceId& device);
absl::StatusOr<experiment::DeviceId> FromProto(const v1::Device& device,
                                               absl::string_view field);
v1::Device ToProto(const experiment::DeviceInfo& device);
absl::StatusOr<experiment::DeviceInfo> DeviceInfoFromProto(
    const v1::Device& device, absl::string_view field);

// Run configs: a complete config to the proto, and a proto (whose zero or
// absent fields mean "default") to a spec for experiment::ExpandRunSpec.
v1::RunConfig ToProto(const experiment::RunConfig& config);
absl::StatusOr<experiment::RunSpec> FromProto(const v1::RunConfig& config,
                                              absl::string_view prefix);
// A complete config (as the scheduler hands out) back to the domain,
// validated.
absl::StatusOr<experiment::RunConfig> CompleteConfigFromProto(
    const v1::RunConfig& config, absl::string_view prefix);

// Sweeps (errors name the request's fields: "base.width", "methods[1]").
absl::StatusOr<experiment::SweepSpec> FromProto(
    const v1::SubmitSweepRequest& request);

// Job assignments, both ways: the scheduler sends what the worker runs.
// ToProto fills `out`'s config, device, checkpoint, layers, splits and
// features, and the target fields of out->job (the rest of the job comes
// from the scheduler's record).
void ToProto(const experiment::JobAssignment& assignment,
             v1::JobAssignment* out);
absl::StatusOr<experiment::JobAssignment> FromProto(
    const v1::JobAssignment& assignment);

// What jobs report (worker and job ids are the caller's to set).
v1::FeatureShard ToProto(const experiment::FeatureRef& feature);
absl::StatusOr<experiment::FeatureRef> FromProto(const v1::FeatureShard& shard,
                                                 absl::string_view field);
v1::RegisterCheckpointRequest ToProto(
    const experiment::CheckpointReport& checkpoint);
experiment::CheckpointReport FromProto(
    const v1::RegisterCheckpointRequest& request);
v1::RecordResultRequest ToProto(const experiment::ProbeResult& result);
absl::StatusOr<experiment::ProbeResult> FromProto(
    const v1::RecordResultRequest& request);

// A config file in the proto3 JSON mapping (the "config" of `sslab show
// --format json`); unknown fields are errors, to catch typos.
absl::StatusOr<v1::RunConfig> RunConfigFromJson(absl::string_view json);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_COMMON_EXPERIMENT_PROTO_H_
