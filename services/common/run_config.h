// RunConfig rules shared by the scheduler service and the CLI: the short
// lower-case names of the protocol's enums (as stored in the database and
// typed on the command line), validation, default expansion and JSON.
//
// Thread-safe (pure functions).
#ifndef SSLAB_SERVICES_COMMON_RUN_CONFIG_H_
#define SSLAB_SERVICES_COMMON_RUN_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sslab/v1/types.pb.h"

namespace sslab::services {

// "rotation", "exemplar", "jigsaw", "relative_patch_location", "supervised".
// Names return "" for UNSPECIFIED or unknown values; parsers accept the short
// name or the proto name (e.g. "METHOD_ROTATION"), case-insensitively.
absl::string_view MethodName(v1::Method method);
std::optional<v1::Method> ParseMethod(absl::string_view name);
// "resnet50_v1", "resnet50_v2", "revnet50", "vgg19_bn".
absl::string_view ArchitectureName(v1::Architecture architecture);
std::optional<v1::Architecture> ParseArchitecture(absl::string_view name);
// "idx", "cifar", "imagefolder".
absl::string_view DatasetKindName(v1::DatasetKind kind);
std::optional<v1::DatasetKind> ParseDatasetKind(absl::string_view name);
// "lbfgs", "sgd", "mlp".
absl::string_view ProbeKindName(v1::ProbeKind kind);
std::optional<v1::ProbeKind> ParseProbeKind(absl::string_view name);
// "cpu", "cuda", "auto".
absl::string_view DeviceKindName(v1::DeviceKind kind);
std::optional<v1::DeviceKind> ParseDeviceKind(absl::string_view name);
// "pending", "running", "succeeded", "failed", "cancelled".
absl::string_view RunStateName(v1::RunState state);
std::optional<v1::RunState> ParseRunState(absl::string_view name);
// "train", "extract", "probe".
absl::string_view JobKindName(v1::JobKind kind);
std::optional<v1::JobKind> ParseJobKind(absl::string_view name);
// "pending", "runnable", "running", "succeeded", "failed", "cancelled".
absl::string_view JobStateName(v1::JobState state);

// The representation layers of an architecture, in network order (the
// endpoints of models/model.h without "logits"); empty for UNSPECIFIED.
std::vector<std::string> RepresentationLayers(v1::Architecture architecture);

// A pseudo-layer any run may also ask for: the network's input pixels (after
// the evaluation transform), pooled like a layer. Probing it gives the
// raw-pixel baseline that the learned layers are compared with.
inline constexpr char kPixelsLayer[] = "pixels";

// Images per batch for a method (the paper's values): Rotation and Exemplar
// 64, Jigsaw and Relative Patch Location 128, supervised 256.
int DefaultBatchSize(v1::Method method);

// Validates `config` and fills every unset field with its default (see
// types.proto). Returns INVALID_ARGUMENT naming the field, prefixed with
// `field_prefix` (e.g. "config.width: must be >= 1, got 0").
absl::StatusOr<v1::RunConfig> ExpandRunConfig(
    const v1::RunConfig& config, absl::string_view field_prefix = "config.");

// The proto3 JSON mapping of a config (enum names, all fields present).
std::string RunConfigToJson(const v1::RunConfig& config);
// Parses the proto3 JSON mapping; INVALID_ARGUMENT with the parser's message.
// `ignore_unknown_fields` accepts fields of newer protocol versions (for
// stored configs); a user's file is parsed strictly to catch typos.
absl::StatusOr<v1::RunConfig> RunConfigFromJson(
    absl::string_view json, bool ignore_unknown_fields = false);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_COMMON_RUN_CONFIG_H_
